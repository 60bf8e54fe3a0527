"""A network's config.json is checked whole by sk_mnist before Keras reads it.

Each hostile configuration names a function in one of the places where
``keras.saving.load_model`` deserializes an object by its ``module`` and name;
``load`` must refuse it, naming the place, without calling Keras' loader.
"""

import io
import json
import zipfile

import keras
import numpy as np
import pytest
from test_persistence import _declare_size, _refusal

from sk_mnist import (
    MNISTClassifier,
    ModelFormatError,
    UnsafeModelFileError,
    _keras_config,
    dump,
    load,
)
from sk_mnist.classifier import _keras_optimizer_names


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return dump(fitted, tmp_path_factory.mktemp("keras_config") / "model.skmnist")


@pytest.fixture
def no_keras_loader(monkeypatch):
    """Keras' loader fails the test if it is called."""

    def called(*args, **kwargs):
        pytest.fail("keras.saving.load_model was called on a hostile network")

    monkeypatch.setattr(keras.saving, "load_model", called)


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _network_config(saved):
    members = _members(saved.read_bytes())
    network = next(n for n in members if n.startswith("network-"))
    return json.loads(_members(members[network])["config.json"])


def _with_network(saved, tmp_path, change=None, inner_extra=None):
    """A copy of ``saved`` whose network's config.json is ``change``d."""
    members = _members(saved.read_bytes())
    network = next(n for n in members if n.startswith("network-"))
    inner = _members(members[network])
    if change is not None:
        config = json.loads(inner["config.json"])
        change(config)
        inner["config.json"] = json.dumps(config).encode()
    inner.update(inner_extra or {})
    members[network] = _zip(inner)
    path = tmp_path / "hostile.skmnist"
    path.write_bytes(_zip(members))
    return path


def _function(module, name):
    """How Keras writes a function it deserializes by module and name."""
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def _dense(config, i=1):
    return config["config"]["layers"][i]["config"]


def _set(where, key, value):
    def change(config):
        where(config)[key] = value

    return change


HIDDEN = "config.layers[1].config"
# (what is changed, the place the error must name)
HOSTILE = {
    "activation os.getcwd": (
        _set(_dense, "activation", _function("os", "getcwd")),
        f"{HIDDEN}.activation",
    ),
    "output activation named os.getcwd": (
        _set(lambda c: _dense(c, 2), "activation", "os.getcwd"),
        "config.layers[2].config.activation",
    ),
    "kernel_initializer keras.config.enable_unsafe_deserialization": (
        _set(
            _dense,
            "kernel_initializer",
            _function("keras.config", "enable_unsafe_deserialization"),
        ),
        f"{HIDDEN}.kernel_initializer.module",
    ),
    "bias_initializer builtins.print": (
        _set(
            _dense,
            "bias_initializer",
            {"module": "builtins", "class_name": "print", "config": {}},
        ),
        f"{HIDDEN}.bias_initializer.module",
    ),
    "kernel_regularizer subprocess.getoutput": (
        _set(_dense, "kernel_regularizer", _function("subprocess", "getoutput")),
        f"{HIDDEN}.kernel_regularizer",
    ),
    "bias_regularizer keras.utils.get_file": (
        _set(_dense, "bias_regularizer", _function("keras.utils", "get_file")),
        f"{HIDDEN}.bias_regularizer",
    ),
    "kernel_constraint numpy.load": (
        _set(_dense, "kernel_constraint", _function("numpy", "load")),
        f"{HIDDEN}.kernel_constraint",
    ),
    "bias_constraint os.system": (
        _set(_dense, "bias_constraint", _function("os", "system")),
        f"{HIDDEN}.bias_constraint",
    ),
    "layer dtype policy keras.config.enable_unsafe_deserialization": (
        _set(
            _dense,
            "dtype",
            _function("keras.config", "enable_unsafe_deserialization"),
        ),
        f"{HIDDEN}.dtype.module",
    ),
    "model dtype policy builtins.exec": (
        _set(lambda c: c["config"], "dtype", _function("builtins", "exec")),
        "config.dtype.module",
    ),
    "dtype policy named by a function": (
        _set(lambda c: _dense(c)["dtype"], "config", {"name": "os.getcwd"}),
        f"{HIDDEN}.dtype.config.name",
    ),
    "optimizer subprocess.Popen": (
        _set(
            lambda c: c["compile_config"],
            "optimizer",
            {"module": "subprocess", "class_name": "Popen", "config": {}},
        ),
        "compile_config.optimizer.module",
    ),
    "learning rate schedule inside the optimizer": (
        _set(
            lambda c: c["compile_config"]["optimizer"]["config"],
            "learning_rate",
            _function("os", "getcwd"),
        ),
        "compile_config.optimizer.config.learning_rate",
    ),
    "loss function builtins.print": (
        _set(lambda c: c["compile_config"], "loss", _function("builtins", "print")),
        "compile_config.loss.config",
    ),
    "metric numpy.load": (
        _set(lambda c: c["compile_config"], "metrics", [_function("numpy", "load")]),
        "compile_config.metrics[0].module",
    ),
    "registered_name os>getcwd": (
        _set(lambda c: _dense(c)["kernel_initializer"], "registered_name", "os>getcwd"),
        f"{HIDDEN}.kernel_initializer.registered_name",
    ),
    "top-level module": (_set(lambda c: c, "module", "os"), "module"),
    "layer-level module": (
        _set(lambda c: c["config"]["layers"][1], "module", "keras.src.ops"),
        "config.layers[1].module",
    ),
    "Lambda layer": (
        _set(lambda c: c["config"]["layers"][1], "class_name", "Lambda"),
        "config.layers[1].class_name",
    ),
    "unknown key in a layer's config": (
        _set(_dense, "function", _function("os", "getcwd")),
        f"{HIDDEN}.function",
    ),
    "unknown top-level key": (_set(lambda c: c, "exec", "print(1)"), "exec"),
    "unknown key in an initializer's config": (
        _set(lambda c: _dense(c)["kernel_initializer"]["config"], "module", "os"),
        f"{HIDDEN}.kernel_initializer.config.module",
    ),
    "units as a string": (_set(_dense, "units", "4"), f"{HIDDEN}.units"),
    "seed as an object": (
        _set(
            lambda c: _dense(c)["kernel_initializer"]["config"],
            "seed",
            _function("os", "getpid"),
        ),
        f"{HIDDEN}.kernel_initializer.config.seed",
    ),
    "a loss's name as an object": (
        _set(
            lambda c: c["compile_config"],
            "loss",
            {
                "module": "keras.losses",
                "class_name": "CategoricalCrossentropy",
                "config": {"name": _function("os", "getcwd")},
                "registered_name": None,
            },
        ),
        "compile_config.loss.config.name",
    ),
}


@pytest.mark.parametrize("change, place", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_configuration_is_refused_before_keras_reads_it(
    saved, tmp_path, no_keras_loader, change, place
):
    with pytest.raises(UnsafeModelFileError) as info:
        load(_with_network(saved, tmp_path, change))
    message = str(info.value)
    assert f"at {place}:" in message, message
    assert "nothing of it was given to Keras" in message


def test_the_places_are_json_paths_down_to_the_key(saved):
    """The error names the innermost place, not only the layer."""
    config = _network_config(saved)
    _dense(config)["kernel_initializer"]["module"] = "os"
    with pytest.raises(_keras_config.RefusedConfig) as info:
        _keras_config.check_network_config(config)
    assert info.value.path == "config.layers[1].config.kernel_initializer.module"
    assert "'os' is not a module MNISTClassifier writes" in str(info.value)


@pytest.mark.parametrize(
    "member",
    ["assets/../../escape.txt", "assets/vocabulary.txt", "model.weights.npz"],
)
def test_a_network_with_members_keras_does_not_write_is_refused(
    saved, tmp_path, no_keras_loader, member
):
    path = _with_network(saved, tmp_path, inner_extra={member: b"x"})
    with pytest.raises(UnsafeModelFileError, match="holds only"):
        load(path)


def test_a_metadata_json_with_an_object_is_refused(saved, tmp_path, no_keras_loader):
    metadata = {"keras_version": _function("os", "getcwd")}
    extra = {"metadata.json": json.dumps(metadata).encode()}
    with pytest.raises(UnsafeModelFileError, match="at keras_version: expected a"):
        load(_with_network(saved, tmp_path, inner_extra=extra))


def test_the_unchanged_file_reaches_keras_and_loads(saved, fitted, blobs):
    X, _ = blobs
    np.testing.assert_array_equal(load(saved).predict_proba(X), fitted.predict_proba(X))


# --- What MNISTClassifier can write passes ---------------------------------------


def _config_of(**params):
    """The config.json of the network MNISTClassifier(**params) builds (no fit)."""
    from keras.src.saving import saving_lib

    clf = MNISTClassifier(hidden_units=2, **params)
    clf._fit_seed = 0
    model = clf._keras_build_fn(
        {"n_features_in_": 8, "n_classes_": 3}, clf._get_compile_kwargs()
    )
    return json.loads(saving_lib._serialize_model_as_json(model)[0])


def _public(module):
    """The public names of a Keras module that name an object (not a helper)."""
    return [
        name
        for name in sorted(dir(module))
        if name[0] != "_"
        and name not in ("get", "serialize", "deserialize")
        and callable(getattr(module, name))
    ]


def test_a_refusal_names_the_top_level_and_cuts_long_values_at_80_characters():
    with pytest.raises(_keras_config.RefusedConfig) as info:
        _keras_config.check_network_config([])
    assert str(info.value) == (
        "the configuration: expected a serialized Keras object, got []."
    )
    assert info.value.path == ""
    exact, longer = "x" * 78, "x" * 79  # reprs of 80 and 81 characters
    assert _keras_config._describe(exact) == repr(exact)
    assert _keras_config._describe(longer) == repr(longer)[:77] + "..."
    assert len(_keras_config._describe("y" * 1000)) == 80


def test_every_activation_keras_names_passes():
    names = _public(keras.activations)
    assert len(names) >= 25
    for name in names:
        _keras_config.check_network_config(_config_of(activation=name))


def test_every_optimizer_the_estimator_accepts_passes():
    checked = 0
    for name in sorted(_keras_optimizer_names()):
        try:
            config = _config_of(optimizer=name, learning_rate=0.01)
        except (ValueError, KeyError):  # names Keras cannot build (MultiOptimizer)
            continue
        _keras_config.check_network_config(config)
        checked += 1
    assert checked >= 12


def _abstract(serialized):
    """Keras' base classes Loss and Metric, which compute nothing."""
    return isinstance(serialized, dict) and serialized["module"] == "keras"


def test_every_loss_and_metric_keras_names_passes():
    checked = 0
    for name in _public(keras.losses):
        obj = getattr(keras.losses, name)
        forms = [name] + ([obj] if isinstance(obj, type) else [])  # as obj()
        for loss in forms:
            try:
                config = _config_of(loss=loss)
            except (TypeError, ValueError):  # a wrapper; a name Keras cannot find
                continue
            if not _abstract(config["compile_config"]["loss"]):
                _keras_config.check_network_config(config)
                checked += 1
    for name in _public(keras.metrics) + ["acc", "crossentropy"]:
        try:
            config = _config_of(metrics=[name])
        except (TypeError, ValueError):  # metrics that need arguments (IoU...)
            continue
        if not _abstract(config["compile_config"]["metrics"][0]):
            _keras_config.check_network_config(config)
            checked += 1
    assert checked >= 120


def test_a_classifier_with_other_choices_round_trips(blobs, tmp_path):
    X, y = blobs
    clf = MNISTClassifier(
        hidden_units=4,
        epochs=1,
        random_state=0,
        activation="gelu",
        optimizer=keras.optimizers.AdamW(weight_decay=0.01),
        loss=keras.losses.CategoricalFocalCrossentropy(),
        metrics=["mae", "accuracy"],
    ).fit(X, y)
    loaded = load(dump(clf, tmp_path / "other.skmnist"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert type(loaded.model_.optimizer) is keras.optimizers.AdamW


def test_dump_refuses_a_network_that_load_would_refuse(fitted, tmp_path, monkeypatch):
    """Say an activation newer than the allow-list: refused when writing."""
    monkeypatch.setattr(
        _keras_config, "ACTIVATIONS", _keras_config.ACTIVATIONS - {"relu"}
    )
    with pytest.raises(TypeError, match=r"config.layers\[1\].config.activation"):
        dump(fitted, tmp_path / "refused.skmnist")
    assert not (tmp_path / "refused.skmnist").exists()


@pytest.mark.parametrize(
    "member, text, message",
    [
        (
            "config.json",
            b"{",
            "has a malformed configuration (JSONDecodeError: Expecting property name "
            "enclosed in double quotes: line 1 column 2 (char 1)).",
        ),
        (
            "config.json",
            b"[" * 65 + b"]" * 65,
            "has a malformed configuration (ValueError: nested too deeply).",
        ),
        (
            "metadata.json",
            b"{",
            "has a malformed metadata.json (JSONDecodeError: Expecting property name "
            "enclosed in double quotes: line 1 column 2 (char 1)).",
        ),
    ],
    ids=["config-no-json", "config-too-deep", "metadata-no-json"],
)
def test_a_network_member_that_is_no_json_is_named(
    saved, tmp_path, no_keras_loader, member, text, message
):
    path = _with_network(saved, tmp_path, inner_extra={member: text})
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert type(info.value) is ModelFormatError
    network = next(n for n in _members(saved.read_bytes()) if n.startswith("network-"))
    assert str(info.value) == (
        f"sk_mnist model file '{path}': the network {network!r} {message}"
    )


@pytest.mark.parametrize(
    "metadata, path, message",
    [
        ([], "", "the configuration: expected an object, got []."),
        (
            {"date_saved": "today", "extra": "x"},
            "extra",
            "extra: unknown key 'extra'; MNISTClassifier's network has only "
            f"{sorted(_keras_config.METADATA_KEYS)} here.",
        ),
    ],
    ids=["no-object", "unknown-key"],
)
def test_a_metadata_refusal_names_its_place(metadata, path, message):
    with pytest.raises(_keras_config.RefusedConfig) as info:
        _keras_config.check_metadata(metadata)
    assert (info.value.path, str(info.value)) == (path, message)


# --- The network member's own bounds, each at and past its limit ------------------


def _network_name(saved):
    return next(n for n in _members(saved.read_bytes()) if n.startswith("network-"))


def _with_network_bytes(saved, tmp_path, change):
    """A copy of ``saved`` whose network member's bytes are ``change(bytes)``."""
    members = _members(saved.read_bytes())
    network = _network_name(saved)
    members[network] = change(members[network])
    path = tmp_path / "changed.skmnist"
    path.write_bytes(_zip(members))
    return path


def test_a_network_that_is_no_zip_is_named(saved, tmp_path, no_keras_loader):
    path = _with_network_bytes(saved, tmp_path, lambda data: b"not a zip")
    assert _refusal(path) == (
        f"the network {_network_name(saved)!r} is not a Keras archive (File is not a "
        "zip file)."
    )


@pytest.mark.parametrize("past_the_limit", [0, 1], ids=["at", "past"])
def test_a_network_declaring_more_than_max_bytes_is_refused_past_it(
    saved, tmp_path, past_the_limit
):
    """Only the declared size changes: the file at the limit loads."""
    limit = 2**30  # load's default

    def declare(data):
        inner = _members(data)
        others = sum(len(v) for k, v in inner.items() if k != "model.weights.h5")
        size = limit + past_the_limit - others
        return _declare_size(data, "model.weights.h5", size)

    refusal = _refusal(_with_network_bytes(saved, tmp_path, declare))
    network = _network_name(saved)
    if past_the_limit:
        assert refusal == (
            f"the network {network!r} unpacks to {limit + 1} bytes, more than the "
            f"limit of {limit}; pass load(..., max_bytes=...) to read bigger models "
            "from files you trust to be models."
        )
    else:
        assert refusal == ""


@pytest.mark.parametrize("member", ["config.json", "metadata.json"])
def test_a_networks_json_members_are_bounded_at_their_limit(saved, tmp_path, member):
    """Each may hold max_bytes // 64 bytes of JSON, as the manifest may."""

    def pad(data):
        inner = _members(data)
        if member == "metadata.json":  # bigger than config.json, still valid
            metadata = json.loads(inner[member])
            metadata["keras_version"] += " " * len(inner["config.json"])
            inner[member] = json.dumps(metadata).encode()
        return _zip(inner)

    path = _with_network_bytes(saved, tmp_path, pad)
    size = len(_members(_members(path.read_bytes())[_network_name(saved)])[member])
    assert _refusal(path, max_bytes=64 * size) == ""
    what = {"config.json": "configuration", "metadata.json": "metadata.json"}[member]
    assert _refusal(path, max_bytes=64 * size - 1) == (
        f"the network {_network_name(saved)!r} has a {what} of {size} bytes; the "
        f"format allows {size - 1} with max_bytes={64 * size - 1}."
    )


# --- A loss or metric MNISTClassifier does not write, refused with its place ----

_LOSS = {
    "module": "keras.losses",
    "class_name": "CategoricalCrossentropy",
    "config": {"name": "categorical_crossentropy", "label_smoothing": 0.0},
    "registered_name": None,
}
_METRIC = {
    "module": "keras.metrics",
    "class_name": "CategoricalAccuracy",
    "config": {"name": "categorical_accuracy", "dtype": "float32"},
    "registered_name": None,
}


def _with_config(serialized, **config):
    return serialized | {"config": serialized["config"] | config}


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("loss", 3, "compile_config.loss: expected a serialized Keras loss, got 3."),
        (
            "loss",
            _function("builtins", "hinge2"),
            "compile_config.loss.config: 'hinge2' is not a loss function "
            "MNISTClassifier writes (one of ['binary_crossentropy', ",
        ),
        (
            "loss",
            _with_config(_LOSS, bogus=1),
            "compile_config.loss.config.bogus: unknown key 'bogus'; "
            "MNISTClassifier's network has only ['alpha', ",
        ),
        (
            "loss",
            _with_config(_LOSS, label_smoothing=float("inf")),
            "compile_config.loss.config.label_smoothing: expected null, true, "
            "false or a number, got inf.",
        ),
        (
            "loss",
            _with_config(_LOSS, axis=[-1, True]),
            "compile_config.loss.config.axis[1]: expected a number or a string, "
            "got True.",
        ),
        (
            "loss",
            _with_config(_LOSS, reduction=1),
            "compile_config.loss.config.reduction: expected a string, got 1.",
        ),
        (
            "metrics",
            ["accuracy2"],
            "compile_config.metrics[0]: 'accuracy2' is not a metric name "
            "MNISTClassifier writes "
            "(one of ['acc', 'accuracy', 'ce', 'crossentropy']).",
        ),
        (
            "metrics",
            [_with_config(_METRIC, bogus=1)],
            "compile_config.metrics[0].config.bogus: unknown key 'bogus'; "
            "MNISTClassifier's network has only ['average', ",
        ),
    ],
    ids=[
        "not an object",
        "function",
        "key",
        "infinite",
        "list item",
        "string",
        "name",
        "metric key",
    ],
)
def test_a_loss_or_metric_it_does_not_write_is_refused_at_its_place(
    key, value, message
):
    config = _config_of()
    config["compile_config"][key] = _LOSS if key == "loss" else [_METRIC]
    _keras_config.check_network_config(config)  # the class forms pass
    config["compile_config"][key] = value
    with pytest.raises(_keras_config.RefusedConfig) as info:
        _keras_config.check_network_config(config)
    assert str(info.value).startswith(message), str(info.value)
