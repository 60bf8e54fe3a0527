"""dump/load: a model file that cannot run code, versions, atomic writes; pickles."""

import errno
import io
import json
import os
import pickle
import re
import struct
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path

import joblib
import keras
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.decomposition import PCA
from sklearn.ensemble import BaggingClassifier
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    StandardScaler,
)
from sklearn.random_projection import SparseRandomProjection

import sk_mnist
from sk_mnist import (
    MNISTClassifier,
    ModelFormatError,
    PixelScaler,
    SkMnistVersionWarning,
    UnsafeModelFileError,
    _versions,
    dump,
    load,
    make_mnist_pipeline,
    persistence,
)

TINY = dict(hidden_units=8, epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def data(mnist_small):
    (X, y), (X_test, _) = mnist_small
    return X[:300], y[:300], X_test[:100]


@pytest.fixture(scope="module")
def pipe(data):
    X, y, _ = data
    return make_mnist_pipeline(**TINY).fit(X, y)


@pytest.fixture
def saved(pipe, tmp_path):
    return dump(pipe, tmp_path / "model.skmnist")


def _rewrite(path, change_manifest=None, extra=None, drop=()):
    """Copy a model file with its manifest changed and members added or dropped."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    manifest = json.loads(members["manifest.json"])
    if change_manifest is not None:
        change_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    members.update(extra or {})
    copy = path.with_name(f"changed-{len(os.listdir(path.parent))}.skmnist")
    with zipfile.ZipFile(copy, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return copy


# --- round trips --------------------------------------------------------------


def test_pipeline_round_trip_predicts_identically(pipe, saved, data):
    _, _, X_test = data
    loaded = load(saved)
    assert [name for name, _ in loaded.steps] == ["scaler", "classifier"]
    assert loaded.get_params()["classifier__hidden_units"] == 8
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), pipe.predict_proba(X_test)
    )
    np.testing.assert_array_equal(loaded.predict(X_test), pipe.predict(X_test))
    # scikeras' encoders come back fitted as a fit leaves them.
    clf, fitted = loaded.named_steps["classifier"], pipe.named_steps["classifier"]
    assert clf.feature_encoder_.n_features_in_ == fitted.feature_encoder_.n_features_in_
    np.testing.assert_array_equal(
        clf.target_encoder_.classes_, fitted.target_encoder_.classes_
    )


def test_the_training_history_comes_back(pipe, saved):
    history = pipe.named_steps["classifier"].history_
    loaded = load(saved).named_steps["classifier"].history_
    assert sorted(history) == sorted(loaded) == ["accuracy", "loss"]
    assert {key: list(map(float, values)) for key, values in history.items()} == {
        key: list(values) for key, values in loaded.items()
    }


def test_loaded_classifier_keeps_training(saved, data):
    X, y, X_test = data
    X, X_test = _scaled(X), _scaled(X_test)
    clf = load(saved).named_steps["classifier"]
    before = clf.predict_proba(X_test)
    clf.set_params(warm_start=True, epochs=1).fit(X, y)
    assert not np.array_equal(clf.predict_proba(X_test), before)
    assert [len(clf.history_[key]) for key in ("accuracy", "loss")] == [3, 3]
    # A validation split adds its own keys to the history, as in a fit never saved.
    clf.set_params(validation_split=0.2).partial_fit(X, y)
    assert len(clf.history_["val_loss"]) == 1 and len(clf.history_["loss"]) == 4


@pytest.mark.parametrize(
    "labels", [["zero", "one", "two"], [3, 5, 7]], ids=["strings", "ints"]
)
def test_classifier_with_scikit_learn_steps_and_labels_round_trips(tmp_path, labels):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 6).astype(np.float32)
    y = np.array(labels)[np.repeat([0, 1, 2], 20)]
    model = Pipeline(
        [
            ("std", StandardScaler()),
            ("classifier", MNISTClassifier(**TINY, optimizer="adam")),
        ]
    ).fit(X, y)
    loaded = load(dump(model, tmp_path / "m.skmnist"))
    clf = loaded.named_steps["classifier"]
    assert clf.classes_.dtype == model.named_steps["classifier"].classes_.dtype
    np.testing.assert_array_equal(clf.classes_, sorted(labels))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        loaded.named_steps["std"].scale_, model.named_steps["std"].scale_
    )
    assert type(clf.model_.optimizer).__name__ == "Adam"


def test_optimizer_instance_and_unfitted_estimators_round_trip(tmp_path):
    clf = MNISTClassifier(optimizer=keras.optimizers.SGD(momentum=0.5))
    loaded = load(dump(clf, tmp_path / "clf.skmnist"))
    assert isinstance(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.momentum == 0.5
    assert not loaded.initialized_
    scaler = load(dump(PixelScaler(), tmp_path / "s.skmnist"))
    assert isinstance(scaler, PixelScaler)


def test_optimizer_and_loss_classes_round_trip(tmp_path):
    clf = MNISTClassifier(
        optimizer=keras.optimizers.Adam, loss=keras.losses.CategoricalCrossentropy
    )
    loaded = load(dump(clf, tmp_path / "clf.skmnist"))
    assert loaded.optimizer is keras.optimizers.Adam
    assert loaded.loss is keras.losses.CategoricalCrossentropy


def test_an_optimizer_that_cannot_be_stored_gets_a_message_about_optimizers(
    tmp_path,
):
    class MyAdam(keras.optimizers.Adam):
        pass

    for optimizer in (MyAdam, MyAdam()):
        with pytest.raises(TypeError, match="optimizer") as info:
            dump(MNISTClassifier(optimizer=optimizer), tmp_path / "a.skmnist")
        message = str(info.value)
        assert "keras.optimizers.Adam" in message
        assert "callbacks=None" not in message and "activation=" not in message
    assert os.listdir(tmp_path) == []


def test_what_cannot_be_stored_safely_is_refused_at_dump(pipe, tmp_path):
    clf = MNISTClassifier(callbacks=[keras.callbacks.EarlyStopping()])
    with pytest.raises(TypeError, match="callbacks.*set_params\\(callbacks=None\\)"):
        dump(clf, tmp_path / "a.skmnist")
    bagged = Pipeline([("bag", BaggingClassifier(MNISTClassifier()))])
    with pytest.raises(TypeError, match="step 'bag'.*holds an MNISTClassifier"):
        dump(bagged, tmp_path / "b.skmnist")
    # Two levels down: found by get_params(deep=True), named by its path.
    deeper = BaggingClassifier(Pipeline([("net", MNISTClassifier())]))
    with pytest.raises(
        TypeError, match=r"holds an MNISTClassifier \(estimator__steps\)"
    ):
        dump(Pipeline([("bag", deeper)]), tmp_path / "b.skmnist")
    sparse = SparseRandomProjection(4, random_state=0).fit(np.ones((3, 8)))
    with pytest.raises(TypeError, match="SparseRandomProjection.*sparse matrices"):
        dump(sparse, tmp_path / "b.skmnist")
    with pytest.raises(TypeError, match="activation"):
        dump(MNISTClassifier(activation=np.tanh), tmp_path / "c.skmnist")
    assert os.listdir(tmp_path) == []


_SAFE_FORMAT_HOLDS = (
    "in the safe format, which holds only numbers, strings, lists, dicts, NumPy "
    "arrays, Keras' built-in optimizers and losses, and the networks "
    "MNISTClassifier builds. To store it, "
)


def test_what_cannot_be_stored_is_named_with_what_to_do_instead(tmp_path):
    sparse = SparseRandomProjection(4, random_state=0).fit(np.ones((3, 8)))
    edited = PixelScaler().fit(np.zeros((2, 4)))
    edited.ratio_ = Fraction(1, 3)  # a fitted attribute of no kind the format holds
    refused = {
        edited: re.escape(
            "sk_mnist.dump cannot store sk_mnist.PixelScaler.ratio_ = Fraction(1, 3) "
            f"(of type Fraction) {_SAFE_FORMAT_HOLDS}replace it with plain data; or "
            "use pickle/joblib for files you trust."
        ),
        MNISTClassifier(class_weight={0: Fraction(1, 3)}): re.escape(
            "sk_mnist.dump cannot store sk_mnist.MNISTClassifier.class_weight = "
            f"Fraction(1, 3) (of type Fraction) {_SAFE_FORMAT_HOLDS}replace it with "
            "plain data; or use pickle/joblib for files you trust."
        ),
        MNISTClassifier(callbacks=[]): re.escape(
            "sk_mnist.dump cannot store sk_mnist.MNISTClassifier.callbacks = [] (of "
            f"type list) {_SAFE_FORMAT_HOLDS}set_params(callbacks=None) after "
            "training; or use pickle/joblib for files you trust."
        ),
        MNISTClassifier(callbacks=[keras.callbacks.EarlyStopping()]): (
            re.escape(
                "sk_mnist.dump cannot store sk_mnist.MNISTClassifier.callbacks = <"
            )
            + ".*"
            + re.escape(
                f"> (of type EarlyStopping) {_SAFE_FORMAT_HOLDS}set_params("
                "callbacks=None) after training; or use pickle/joblib for files you "
                "trust."
            )
        ),
        sparse: re.escape(
            "sk_mnist.dump cannot store the estimator (a SparseRandomProjection): "
            "skops writes it with members ['"
        )
        + r"\d+\.npz"
        + re.escape(
            "'], such as sparse matrices, which sk_mnist does not read. Use "
            "pickle/joblib for files you trust."
        ),
        Pipeline([("scaler", PixelScaler())], memory="cache"): re.escape(
            "sk_mnist.dump cannot store Pipeline.memory = 'cache' (of type str) "
            f"{_SAFE_FORMAT_HOLDS}set_params(memory=None) first: a cache of fitted "
            "transformers is no part of the model; or use pickle/joblib for files "
            "you trust."
        ),
        Pipeline([("scaler", PixelScaler())], verbose=Fraction(1, 2)): re.escape(
            "sk_mnist.dump cannot store Pipeline.verbose = Fraction(1, 2) (of type "
            f"Fraction) {_SAFE_FORMAT_HOLDS}replace it with plain data; or use "
            "pickle/joblib for files you trust."
        ),
        Pipeline([("bag", BaggingClassifier(MNISTClassifier()))]): re.escape(
            "sk_mnist.dump cannot store the step 'bag': it holds an MNISTClassifier "
            "(estimator), which the safe format stores only alone or as a step of a "
            "Pipeline (nested Pipelines included). Use pickle/joblib for files you "
            "trust."
        ),
    }
    for estimator, message in refused.items():
        with pytest.raises(TypeError) as info:
            dump(estimator, tmp_path / "a.skmnist")
        assert re.fullmatch(message, str(info.value)), str(info.value)
    assert os.listdir(tmp_path) == []


# --- loading cannot run code --------------------------------------------------


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "sklearn.Pipeline"])
def test_a_class_outside_the_allowlist_is_refused(saved, name):
    def change(manifest):
        manifest["estimator"]["steps"][0][1]["class"] = name

    with pytest.raises(UnsafeModelFileError, match=f"refusing to load class '{name}'"):
        load(_rewrite(saved, change))


@pytest.mark.parametrize(
    "entry, error, message",
    [
        (
            {"__keras_optimizer_class__": "serialize"},  # a function of the module
            UnsafeModelFileError,
            "'serialize' is not a built-in Keras optimizer.",
        ),
        (
            {"__keras_loss_class__": "Adam"},
            UnsafeModelFileError,
            "'Adam' is not a built-in Keras loss.",
        ),
        (
            {"__keras_optimizer__": {"class_name": "deserialize", "config": {}}},
            UnsafeModelFileError,
            "'deserialize' is not a built-in Keras optimizer.",
        ),
        (
            {"__keras_optimizer_class__": 3},  # no name at all
            UnsafeModelFileError,
            "3 is not a built-in Keras optimizer.",
        ),
        (
            {"__keras_optimizer__": "Adam"},
            ModelFormatError,
            "malformed __keras_optimizer__ entry.",
        ),
        (
            {"__keras_optimizer__": {"class_name": "Adam", "config": {"beta_1": {}}}},
            ModelFormatError,
            "the __keras_optimizer__ configuration may hold only plain values.",
        ),
    ],
    ids=[
        "class-function",
        "loss-class",
        "instance-function",
        "class-not-named",
        "no-dict",
        "nested",
    ],
)
def test_keras_entries_other_than_builtin_optimizers_and_losses_are_refused(
    tmp_path, entry, error, message
):
    path = dump(MNISTClassifier(), tmp_path / "clf.skmnist")

    def change(manifest):
        manifest["estimator"]["params"]["optimizer"] = entry

    changed = _rewrite(path, change)
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert type(info.value) is error
    assert str(info.value) == f"sk_mnist model file '{changed}': {message}"


def test_a_pickle_inside_is_never_unpickled(saved, tmp_path, monkeypatch):
    class Bomb:
        def __reduce__(self):
            return (os.remove, (str(saved),))

    monkeypatch.setattr(pickle, "loads", _fail)
    monkeypatch.setattr(pickle, "load", _fail)
    payload = pickle.dumps(Bomb())
    with pytest.raises(UnsafeModelFileError, match="not part of the format"):
        load(_rewrite(saved, extra={"payload.pkl": payload}))
    # An object array (pickled inside .npy) in place of a real array.
    buffer = io.BytesIO()
    np.save(buffer, np.array([Bomb()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(saved) as archive:
        array = next(n for n in archive.namelist() if n.startswith("arrays/"))
    with pytest.raises(UnsafeModelFileError, match="cannot be read without pickle"):
        load(_rewrite(saved, extra={array: buffer.getvalue()}))
    assert saved.exists()


def _fail(*args, **kwargs):
    raise AssertionError("pickle was called")


def test_unknown_tags_in_the_manifest_are_refused(saved):
    def change(manifest):
        params = manifest["estimator"]["steps"][1][1]["params"]
        params["loss"] = {"__reduce__": ["os", "system", "echo hi"]}

    with pytest.raises(UnsafeModelFileError, match="unknown entry '__reduce__'"):
        load(_rewrite(saved, change))


def test_a_keras_archive_with_a_lambda_layer_is_refused(saved, tmp_path):
    lam = keras.Sequential([keras.Input((784,)), keras.layers.Lambda(lambda x: x * 2)])
    lam.compile(loss="mse")
    path = tmp_path / "lambda.keras"
    lam.save(path)
    with zipfile.ZipFile(saved) as archive:
        network = next(n for n in archive.namelist() if n.startswith("network-"))
    # Refused from its configuration, before Keras (in safe mode) reads it.
    with pytest.raises(UnsafeModelFileError, match="Lambda"):
        load(_rewrite(saved, extra={network: path.read_bytes()}))


def test_a_network_with_other_layers_is_refused(saved, tmp_path):
    other = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dropout(0.1), keras.layers.Dense(10)]
    )
    path = tmp_path / "other.keras"
    other.save(path)
    with zipfile.ZipFile(saved) as archive:
        network = next(n for n in archive.namelist() if n.startswith("network-"))
    with pytest.raises(UnsafeModelFileError, match="Dropout"):
        load(_rewrite(saved, extra={network: path.read_bytes()}))


@pytest.mark.parametrize("kind", ["functional", "dropout"])
def test_a_network_past_the_config_check_is_checked_again_once_loaded(
    saved, tmp_path, monkeypatch, kind
):
    # The loaded network must be a Sequential of Dense layers even if the
    # configuration's check (the first line of defence) let another one through.
    inputs = keras.Input((784,))
    if kind == "functional":
        other = keras.Model(inputs, keras.layers.Dense(10)(inputs))
        layers = ["Dense", "InputLayer"]
    else:
        other = keras.Sequential(
            [inputs, keras.layers.Dropout(0.1), keras.layers.Dense(10)]
        )
        layers = ["Dense", "Dropout"]
    path = tmp_path / "other.keras"
    other.save(path)
    with zipfile.ZipFile(saved) as archive:
        network = next(n for n in archive.namelist() if n.startswith("network-"))
    changed = _rewrite(saved, extra={network: path.read_bytes()})
    monkeypatch.setattr(
        persistence._Reader, "_check_network_config", lambda self, name, config: None
    )
    with pytest.raises(UnsafeModelFileError) as refused:
        load(changed)
    assert str(refused.value) == (
        f"sk_mnist model file '{changed}': the network {network!r} is not one "
        "MNISTClassifier builds (a "
        f"Sequential of Dense layers); it holds {layers}."
    )


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not an sk_mnist model file"),
        (os.urandom(2000), "not an sk_mnist model file"),
        (pickle.dumps({"a": 1}), "not an sk_mnist model file"),
    ],
    ids=["empty", "random bytes", "a pickle"],
)
def test_files_that_are_not_model_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.skmnist"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=match):
        load(path)


def test_a_joblib_pickle_holding_a_keras_zip_gets_the_pickle_hint(pipe, tmp_path):
    """joblib's pickle of a pipeline holds the network's zip: still a pickle."""
    path = tmp_path / "model.joblib"
    joblib.dump(pipe, path)  # as the manual's saving page shows
    assert zipfile.is_zipfile(path)  # the inner zip's directory is found
    with pytest.raises(ModelFormatError, match="not an sk_mnist model file") as info:
        load(path)
    assert "joblib.load" in str(info.value)
    assert not isinstance(info.value, UnsafeModelFileError)


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "nothing.skmnist")


def test_truncated_and_foreign_zips_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.skmnist"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError):
        load(truncated)
    with pytest.raises(ModelFormatError, match="wrong manifest"):
        load(_rewrite(saved, lambda m: m.update(format="other")))
    with pytest.raises(ModelFormatError, match="Upgrade sk_mnist"):
        load(_rewrite(saved, lambda m: m.update(format_version=99)))
    with pytest.raises(ModelFormatError, match="missing"):
        load(_rewrite(saved, drop=[n for n in zipfile.ZipFile(saved).namelist()
                                   if n.startswith("network-")]))  # fmt: skip


# --- versions -----------------------------------------------------------------


def test_loading_under_other_versions_warns(saved):
    def change(manifest):
        manifest["versions"]["scikit-learn"] = "0.1"
        manifest["versions"]["keras"] = "2.0"

    with pytest.warns(SkMnistVersionWarning, match="scikit-learn 0.1.*keras 2.0"):
        load(_rewrite(saved, change))
    assert issubclass(SkMnistVersionWarning, InconsistentVersionWarning)


def test_loading_under_the_same_versions_is_silent(saved, recwarn):
    load(saved)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p.named_steps["scaler"]])
def test_pickles_carry_versions_and_warn_on_mismatch(pipe, make, monkeypatch, data):
    estimator = make(pipe)
    blob = pickle.dumps(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same versions: any warning fails the test
        copy = pickle.loads(blob)
    assert not hasattr(copy, _versions.PICKLE_KEY)
    real = _versions.current_versions()
    monkeypatch.setattr(
        _versions, "current_versions", lambda: dict(real, sk_mnist="9.9")
    )
    with pytest.warns(SkMnistVersionWarning, match=r"sk_mnist .* \(now 9.9\)"):
        pickle.loads(blob)


def test_pickle_without_versions_warns(pipe):
    clf = pipe.named_steps["classifier"]
    state = clf.__getstate__()
    del state[_versions.PICKLE_KEY]
    with pytest.warns(SkMnistVersionWarning, match="MNISTClassifier"):
        MNISTClassifier.__new__(MNISTClassifier).__setstate__(state)


# --- atomic writes ------------------------------------------------------------


def test_a_crash_while_writing_leaves_the_old_file_intact(
    pipe, saved, monkeypatch, data
):
    _, _, X_test = data
    good = saved.read_bytes()
    real_writestr = zipfile.ZipFile.writestr

    def crash_on_network(self, name, *args, **kwargs):
        if str(name).startswith("network-"):
            raise KeyboardInterrupt("power cut")
        return real_writestr(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_on_network)
    with pytest.raises(KeyboardInterrupt):
        dump(pipe, saved)
    monkeypatch.undo()
    assert saved.read_bytes() == good
    assert os.listdir(saved.parent) == [saved.name]
    np.testing.assert_array_equal(load(saved).predict(X_test), pipe.predict(X_test))


def test_public_api_is_exported():
    for name in [
        "dump",
        "load",
        "ModelFormatError",
        "UnsafeModelFileError",
        "SkMnistVersionWarning",
        "TemporaryStorageError",
    ]:
        assert name in sk_mnist.__all__
    assert issubclass(UnsafeModelFileError, ModelFormatError)
    assert issubclass(ModelFormatError, ValueError)
    assert issubclass(sk_mnist.TemporaryStorageError, OSError)
    assert persistence.SAFE_CLASSES["sk_mnist.MNISTClassifier"] is MNISTClassifier


def test_written_file_is_readable_by_others(tmp_path):
    path = sk_mnist.dump(sk_mnist.PixelScaler(), tmp_path / "scaler.skmnist")
    assert path.stat().st_mode & 0o044 == 0o044  # not mkstemp's private 0o600


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o002])
def test_a_new_file_gets_the_mode_open_gives_under_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain", "wb"):
            pass
        path = sk_mnist.dump(sk_mnist.PixelScaler(), tmp_path / "scaler.skmnist")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    assert os.stat(tmp_path / "plain").st_mode & 0o777 == expected
    assert path.stat().st_mode & 0o777 == expected


# --- edited manifests: the rebuilt estimator is validated ---------------------


_UNFITTED_CLASSIFIER = {"class": "sk_mnist.MNISTClassifier", "params": {}}


def _classifier_node(manifest):
    return manifest["estimator"]["steps"][1][1]


def _scaler_node(manifest):
    return manifest["estimator"]["steps"][0][1]


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda m: _classifier_node(m)["params"].update(
                epochs={"__scalar__": "<i8", "value": [1, 2]}
            ),
            "malformed scalar",
        ),
        (
            lambda m: _classifier_node(m)["params"].update(epochs=-3),
            "'epochs' parameter of MNISTClassifier must be an int",
        ),
        (
            lambda m: _classifier_node(m)["params"].update(optimizer="no-such"),
            "'optimizer' parameter",
        ),
        (
            lambda m: _classifier_node(m)["params"].update(
                batch_size={"__scalar__": "<i8", "value": "x"}
            ),
            "malformed scalar",
        ),
        (
            lambda m: _classifier_node(m)["params"].update(
                batch_size={"__scalar__": "<i8"}
            ),
            "malformed scalar",
        ),
        (
            lambda m: _classifier_node(m).update(state={}),
            r"MNISTClassifier\.classes_ must be a 1-D",
        ),
        (
            lambda m: _classifier_node(m)["state"].pop("classes_"),
            r"MNISTClassifier\.classes_ must be a 1-D",
        ),
        (
            lambda m: _classifier_node(m)["state"].update(
                n_features_in_=783, X_shape_={"__tuple__": [300, 783]}
            ),
            "maps 784 features to 10 classes, but the classifier was fitted on 783",
        ),
        (
            lambda m: _classifier_node(m)["state"].update(n_features_in_="784"),
            r"MNISTClassifier\.n_features_in_ must be a positive int",
        ),
        (
            lambda m: _classifier_node(m)["state"].update(n_classes_=3),
            r"MNISTClassifier\.n_classes_ is 3, expected 10",
        ),
        (
            lambda m: _classifier_node(m)["state"].pop("y_ndim_"),
            r"MNISTClassifier is fitted but has no y_ndim_\.",
        ),
        (
            lambda m: _classifier_node(m)["state"].update(
                X_shape_={"__tuple__": [300, 783]}
            ),
            r"MNISTClassifier\.X_shape_ is \(300, 783\), expected \(n, 784\)\.",
        ),
        (
            lambda m: _classifier_node(m)["state"].update(
                X_dtype_={"__dtype__": "<U3"}
            ),
            r"MNISTClassifier\.X_dtype_ is dtype\('<U3'\), not a number type\.",
        ),
        (
            lambda m: _classifier_node(m).update(history={"loss": ["low"]}),
            r"malformed training history of MNISTClassifier\.",
        ),
        (lambda m: _classifier_node(m).pop("network"), "fitted state but no network"),
        (
            lambda m: m["estimator"]["steps"][0].__setitem__(1, _UNFITTED_CLASSIFIER),
            "transformers",  # a classifier where the scaler should be
        ),
        (
            lambda m: _scaler_node(m)["state"].update(
                n_features_in_=785, image_shape_=None
            ),
            "steps disagree on the number of features: 'scaler' gives 785, "
            "'classifier' takes 784",
        ),
        (
            lambda m: _scaler_node(m)["state"].update(
                image_shape_={"__tuple__": [28, 27]}
            ),
            r"image_shape_ is \(28, 27\), not None or \(height, width\) of 784",
        ),
        (
            lambda m: _scaler_node(m)["state"].update(
                feature_names_in_=_classifier_node(m)["state"]["classes_"]
            ),
            "feature_names_in_ must be an array of 784 names",
        ),
    ],
    ids=[
        "array-as-scalar",
        "negative-epochs",
        "unknown-optimizer",
        "scalar-of-text",
        "scalar-without-value",
        "state-without-arrays",
        "no-classes",
        "features-vs-network",
        "features-as-text",
        "n-classes",
        "no-y-ndim",
        "x-shape-vs-features",
        "x-dtype-of-text",
        "history-of-text",
        "no-network",
        "not-a-transformer",
        "scaler-wider-than-classifier",
        "image-shape-vs-features",
        "feature-names-vs-features",
    ],
)
def test_an_edited_manifest_gives_a_model_format_error(saved, change, match):
    with pytest.raises(ModelFormatError, match=match) as info:
        load(_rewrite(saved, change))
    assert "changed-" in str(info.value)  # names the file


# --- hostile and damaged files: refused quickly, without large allocations ----


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _unzip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _zip(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _with_skops_member(path, change):
    """A copy of ``path`` whose skops member's bytes are ``change(bytes)``."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    member = next(n for n in members if n.startswith("skops-"))
    members[member] = change(members[member])
    copy = path.with_name(f"changed-{path.name}")
    copy.write_bytes(_zip(members, zipfile.ZIP_DEFLATED))
    return copy


def _declare_size(data, name, size):
    """A zip whose central directory says member ``name`` unpacks to ``size``."""
    data = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        position = archive.start_dir
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from(
            "<HHH", data, position + 28
        )
        if data[position + 46 : position + 46 + name_length].decode() == name:
            struct.pack_into("<I", data, position + 24, size)
        position += 46 + name_length + extra_length + comment_length
    return bytes(data)


def _refused_quickly(path, match):
    start = time.perf_counter()
    with pytest.raises(ModelFormatError, match=match) as info:
        load(path)
    assert time.perf_counter() - start < 5
    assert str(path) in str(info.value)


def test_a_flipped_byte_in_a_compressed_member(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("manifest.json")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0xFF
    saved.write_bytes(bytes(data))
    _refused_quickly(saved, "damaged")


def test_a_manifest_nested_deeper_than_the_limit(saved):
    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(manifest).replace('"verbose": false', f'"verbose": {deep}', 1)
    members["manifest.json"] = text.encode()
    deep_file = _write_members(saved, members)
    _refused_quickly(deep_file, "nested more than 64 levels deep")


def test_an_array_header_claiming_a_trillion_elements(saved):
    members = _members(saved)
    name = next(n for n in members if n.startswith("arrays/"))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    members[name] = header.getvalue() + b"\0" * 64
    _refused_quickly(_write_members(saved, members), "claims shape")


@pytest.mark.parametrize(
    "array, found",
    [
        (np.arange(11, dtype=np.uint8), "shape (11,) and dtype |u1"),
        (np.arange(10, dtype=np.int16), "shape (10,) and dtype <i2"),
    ],
    ids=["shape", "dtype"],
)
def test_an_array_that_differs_from_the_manifest(saved, array, found):
    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    classes = _classifier_node(manifest)["state"]["classes_"]["__ndarray__"]
    buffer = io.BytesIO()
    np.save(buffer, array)
    members[classes] = buffer.getvalue()
    _refused_quickly(
        _write_members(saved, members),
        re.escape(
            f"array '{classes}' has {found}, but the manifest says [10] and |u1."
        ),
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(estimator=5), "malformed estimator entry."),
        (
            lambda m: _classifier_node(m).update({"class": ["x"]}),
            "refusing to load class ['x']: a model file may name only "
            + ", ".join(sorted(persistence.SAFE_CLASSES))
            + ".",
        ),
        (
            lambda m: _classifier_node(m).update(params=[]),
            "malformed parameters of sk_mnist.MNISTClassifier.",
        ),
        (
            lambda m: _classifier_node(m)["params"].update(no_such=1, other=2),
            "unknown parameters ['no_such', 'other'] of sk_mnist.MNISTClassifier.",
        ),
        (lambda m: m["estimator"].update(steps=5), "malformed Pipeline steps."),
        (
            lambda m: m["estimator"].update(steps=[["scaler", {}, {}]]),
            "malformed Pipeline steps.",
        ),
        (
            lambda m: m["estimator"].update(steps=[[1, {}]]),
            "malformed Pipeline steps.",
        ),
    ],
    ids=[
        "estimator-not-a-dict",
        "class-not-a-name",
        "params-not-a-dict",
        "unknown-params",
        "steps-not-a-list",
        "step-of-three",
        "step-name-not-text",
    ],
)
def test_an_edited_entry_is_refused_with_what_is_wrong(saved, change, message):
    changed = _rewrite(saved, change)
    with pytest.raises(ModelFormatError) as refused:
        load(changed)
    assert str(refused.value) == f"sk_mnist model file '{changed}': {message}"


@pytest.mark.parametrize(
    "classes, message",
    [
        (
            np.array([3], np.uint8),
            "classes_ must be a 1-D array of at least 2 classes, got "
            "array([3], dtype=uint8).",
        ),
        (
            np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8], np.uint8),
            "classes_ repeats a class: "
            "array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8], dtype=uint8).",
        ),
    ],
    ids=["one-class", "a-class-twice"],
)
def test_classes_a_fit_cannot_give_are_refused(saved, classes, message):
    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    entry = _classifier_node(manifest)["state"]["classes_"]
    buffer = io.BytesIO()
    np.save(buffer, classes)
    members[entry["__ndarray__"]] = buffer.getvalue()
    entry["shape"] = list(classes.shape)
    members["manifest.json"] = json.dumps(manifest).encode()
    path = _write_members(saved, members)
    with pytest.raises(ModelFormatError) as refused:
        load(path)
    assert (
        str(refused.value) == f"sk_mnist model file '{path}': MNISTClassifier.{message}"
    )


def test_a_classifier_of_one_feature_and_two_classes_round_trips(tmp_path, blobs):
    # The fewest features and classes a fit allows.
    X = blobs[0][:, :1]
    y = np.where(X[:, 0] > np.median(X), "high", "low")
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    loaded = load(dump(clf, tmp_path / "one.skmnist"))
    assert loaded.n_features_in_ == 1
    np.testing.assert_array_equal(loaded.classes_, ["high", "low"])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("pixels", [1, 2])
def test_a_pixel_scaler_of_one_or_two_features_round_trips(tmp_path, pixels):
    scaler = PixelScaler().fit(np.zeros((2, pixels)))
    assert load(dump(scaler, tmp_path / "s.skmnist")).n_features_in_ == pixels


@pytest.mark.parametrize("width", ["6.0", "true"], ids=["float", "bool"])
def test_a_skops_first_steps_width_that_is_no_int_is_refused(tmp_path, width):
    changed = _with_skops_member(
        _pca_then_logistic_regression(tmp_path), _set_width(width)
    )
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    shown = {"6.0": "6.0", "true": "True"}[width]
    assert str(info.value) == (
        f"sk_mnist model file '{changed}': pca.n_features_in_ is {shown}; it must be "
        "from 1 to 67108864 within the limit of 1073741824 bytes. Pass "
        "load(..., max_bytes=...) to read a wider model from a file you trust."
    )


def test_a_member_declaring_a_huge_size_is_refused_before_decompressing(saved):
    data = _declare_size(saved.read_bytes(), "manifest.json", 0xFFFF_FFF0)
    saved.write_bytes(data)
    _refused_quickly(saved, "more than the limit of 1073741824")


def test_the_size_limit_can_be_raised(saved, data):
    size = sum(info.file_size for info in zipfile.ZipFile(saved).infolist())
    with pytest.raises(ModelFormatError, match="pass load.*max_bytes"):
        load(saved, max_bytes=size // 2)
    _, _, X_test = data
    assert load(saved, max_bytes=4 * size).predict(X_test).shape == (len(X_test),)


def test_a_network_archive_declaring_a_huge_member(saved):
    members = _members(saved)
    network = next(n for n in members if n.startswith("network-"))
    inner = zipfile.ZipFile(io.BytesIO(members[network])).namelist()
    weights = next(n for n in inner if n.endswith(".h5"))
    members[network] = _declare_size(members[network], weights, 0xFFFF_FFF0)
    _refused_quickly(_write_members(saved, members), f"'{network}' unpacks to")


def test_a_network_declaring_a_billion_weights(saved):
    members = _members(saved)
    network = next(n for n in members if n.startswith("network-"))
    inner = _members(io.BytesIO(members[network]))
    config = json.loads(inner["config.json"])
    config["config"]["layers"][1]["config"]["units"] = 10**9
    inner["config.json"] = json.dumps(config).encode()
    members[network] = _write_members(io.BytesIO(), inner).getvalue()
    _refused_quickly(_write_members(saved, members), "declares 795000000010 weights")


def _with_weights_file(saved, tmp_path, change):
    """A copy of ``saved`` whose network's weights file is ``change(path)``-ed."""
    members = _members(saved)
    network = next(n for n in members if n.startswith("network-"))
    inner = _members(io.BytesIO(members[network]))
    path = tmp_path / "weights.h5"
    path.write_bytes(inner["model.weights.h5"])
    change(path)
    inner["model.weights.h5"] = path.read_bytes()
    members[network] = _write_members(io.BytesIO(), inner).getvalue()
    return _write_members(tmp_path / "changed.skmnist", members), network


def test_a_weights_file_declaring_a_huge_array(saved, tmp_path):
    import h5py

    def declare(path):  # a few bytes on disk, 4 TB declared
        with h5py.File(path, "a") as weights:
            weights.create_dataset("huge", shape=(10**6,) * 2, dtype="f4", chunks=True)

    changed, _ = _with_weights_file(saved, tmp_path, declare)
    _refused_quickly(changed, "bytes of weights, more than")


def _declared_weight_bytes(path):
    import h5py

    sizes = []
    with h5py.File(path, "r") as weights:
        weights.visititems(
            lambda _, item: (
                sizes.append(item.size * item.dtype.itemsize)
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return sum(sizes)


@pytest.mark.parametrize("past_the_limit", [0, 4], ids=["at", "past"])
def test_the_weights_bound_is_max_bytes_exactly(saved, tmp_path, past_the_limit):
    """Declared, not written: 1 GiB in all costs the file a few bytes."""
    import h5py

    limit = 2**30  # load's default

    def declare(path):
        extra = limit + past_the_limit - _declared_weight_bytes(path)
        with h5py.File(path, "a") as weights:
            weights.create_dataset(
                "extra", shape=(extra // 4,), dtype="f4", chunks=True
            )

    changed, network = _with_weights_file(saved, tmp_path, declare)
    try:
        load(changed)
    except ModelFormatError as error:
        refusal = str(error)
    else:
        refusal = ""
    weights_refusal = (
        f"sk_mnist model file '{changed}': the network {network!r} declares "
        f"{limit + past_the_limit} bytes of weights, more than the limit of {limit}; "
        "pass load(..., max_bytes=...) to read bigger models from files you trust."
    )
    if past_the_limit:
        assert refusal == weights_refusal
    else:
        assert "bytes of weights" not in refusal


def test_an_unreadable_weights_file_is_named(saved, tmp_path):
    changed, network = _with_weights_file(
        saved, tmp_path, lambda path: path.write_bytes(b"not HDF5")
    )
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert re.fullmatch(
        re.escape(
            f"sk_mnist model file '{changed}': the network {network!r} has an "
            "unreadable weights file (OSError: "
        )
        + r".*\)\.",
        str(info.value),
    ), str(info.value)


def test_every_member_of_a_model_file_is_compressed(saved):
    with zipfile.ZipFile(saved) as archive:
        assert {info.compress_type for info in archive.infolist()} == {
            zipfile.ZIP_DEFLATED
        }


# --- claimed sizes: checked against the limit and each other before allocating --


def _refused_within(path, match, most_bytes, max_bytes=None):
    """``load`` refuses ``path``, and Python and NumPy allocate < ``most_bytes``."""
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match=match):
            load(path, max_bytes=max_bytes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < most_bytes, f"{peak} bytes allocated"


def test_a_huge_manifest_is_refused_before_it_is_read(saved):
    """20 MB of manifest (20 KB compressed): refused by its declared size."""
    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    _classifier_node(manifest)["params"]["verbose"] = "x" * 20_000_000
    members["manifest.json"] = json.dumps(manifest).encode()
    path = _write_members(saved, members)
    del members, manifest
    _refused_within(path, r"manifest of 200\d{5} bytes; the format allows 4194", 10**6)
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert type(info.value) is ModelFormatError  # damaged, not unsafe


def test_the_nesting_check_allocates_nothing_per_character(saved):
    """A manifest within the limit: parsed at a few bytes per character at most."""
    members = _members(saved)
    text = members["manifest.json"].decode()
    filler = '"' + "x" * 3_000_000 + '"'
    text = text.replace('"verbose": false', f'"verbose": {filler}', 1)
    assert filler in text
    members["manifest.json"] = text.encode()
    path = _write_members(saved, members)
    del members
    # the text read, decoded, parsed: three copies; NumPy arrays per character
    # (8 bytes each, several of them) would take ten times more
    _refused_within(path, "'verbose' parameter", 5 * len(text))


def test_the_manifest_limit_shrinks_with_max_bytes(saved):
    """Parsed JSON takes up to 64 bytes a character: "[]," is a 56-byte list."""
    members = _members(saved)
    text = members["manifest.json"].decode()
    lists = "[" + "[]," * 300_000 + "[]]"  # 900 KB of text, 40 MB of lists
    members["manifest.json"] = text.replace('"verbose": false', f'"verbose": {lists}')
    assert lists in members["manifest.json"]
    path = _write_members(saved, members)
    match = "the format allows 156250 with max_bytes=10000000"
    _refused_within(path, match, 10**6, max_bytes=10_000_000)


@pytest.mark.parametrize(
    "text, too_deep",
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ("{" * 33 + "[" * 32 + "]" * 32 + "}" * 33, True),
        ('["' + "[" * 100 + '"]', False),  # brackets in a string do not count
        ('["a\\"[[[", ' + "[" * 63 + "]" * 64, False),  # nor after an escaped quote
        ("[" * 64 + '"x",' * 10 + "[" + "]" * 65, True),  # strings do not close
        ("[]" * 1000, False),
    ],
)
def test_the_nesting_check_counts_brackets_outside_strings(text, too_deep):
    assert persistence._nested_too_deeply(text) is too_deep


def test_dump_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "private.skmnist"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    dump(PixelScaler().fit(np.zeros((2, 4))), path)
    assert (os.stat(path).st_mode & 0o777, load(path).n_features_in_) == (0o600, 4)


def test_a_huge_network_configuration_is_refused_before_it_is_read(saved):
    members = _members(saved)
    network = next(n for n in members if n.startswith("network-"))
    inner = _members(io.BytesIO(members[network]))
    config = json.loads(inner["config.json"])
    config["config"]["name"] = "x" * 5_000_000
    inner["config.json"] = json.dumps(config).encode()
    members[network] = _write_members(io.BytesIO(), inner).getvalue()
    path = _write_members(saved, members)
    _refused_within(path, "has a configuration of 500\\d{4} bytes", 10**6)
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert "not a Keras archive" not in str(info.value)  # said once, plainly


@pytest.mark.parametrize("standalone", [False, True], ids=["in-pipeline", "alone"])
def test_a_scaler_claiming_half_a_billion_features_is_refused(
    saved, tmp_path, standalone
):
    """Its claim is checked against max_bytes before a row that wide is made."""
    if standalone:
        saved = dump(PixelScaler().fit(np.zeros((2, 28, 28))), tmp_path / "s.skmnist")

    def claim(manifest):
        node = manifest["estimator"]
        node = node if standalone else node["steps"][0][1]
        node["state"].update(n_features_in_=500_000_000, image_shape_=None)

    _refused_within(
        _rewrite(saved, claim),
        # The step's own check comes first: it names the class, not the step.
        r"': sk_mnist\.PixelScaler\.n_features_in_ is 500000000; it must be from 1 "
        "to 625000 within the limit of 10000000 bytes",
        10**6,
        max_bytes=10_000_000,
    )


def test_a_scaler_claiming_no_features_is_refused_by_its_claim(tmp_path):
    saved = dump(PixelScaler().fit(np.zeros((2, 4))), tmp_path / "s.skmnist")
    zero = _rewrite(saved, lambda m: m["estimator"]["state"].update(n_features_in_=0))
    with pytest.raises(ModelFormatError, match="n_features_in_ is 0; it must be from"):
        load(zero)


def test_a_pixel_scaler_of_one_pixel_high_images_loads(tmp_path):
    scaler = PixelScaler().fit(np.zeros((2, 1, 6), np.uint8))
    assert load(dump(scaler, tmp_path / "s.skmnist")).image_shape_ == (1, 6)


@pytest.mark.parametrize(
    "state, message",
    [
        (
            {"n_features_in_": True},
            "sk_mnist.PixelScaler is fitted but has no n_features_in_.",
        ),
        (
            {"n_features_in_": None},
            "sk_mnist.PixelScaler is fitted but has no n_features_in_.",
        ),
        (
            {"n_features_in_": 0},
            "sk_mnist.PixelScaler.n_features_in_ is 0; it must be from 1 to "
            "67108864 within the limit of 1073741824 bytes. Pass load(..., "
            "max_bytes=...) to read a wider model from a file you trust.",
        ),
        (
            {"image_shape_": {"__tuple__": [True, 6]}},
            "sk_mnist.PixelScaler.image_shape_ is (True, 6), not None or (height, "
            "width) of 6 pixels.",
        ),
    ],
    ids=["bool-width", "no-width", "zero-width", "bool-height"],
)
def test_a_pixel_scalers_edited_state_is_refused_by_name(tmp_path, state, message):
    saved = dump(PixelScaler().fit(np.zeros((2, 1, 6))), tmp_path / "s.skmnist")

    def edit(manifest):
        node = manifest["estimator"]["state"]
        node.update(state)
        if node["n_features_in_"] is None:
            del node["n_features_in_"]

    changed = _rewrite(saved, edit)
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert str(info.value) == f"sk_mnist model file '{changed}': {message}"


def _plus_member(skops_bytes):
    return _zip({**_unzip(skops_bytes), "evil.py": b"import os"})


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            _plus_member,
            UnsafeModelFileError,
            "the skops member 'skops-0.skops' holds ['evil.py']; sk_mnist reads "
            "only its schema.json and .npy arrays.",
        ),
        (
            lambda data: data[:100],
            ModelFormatError,
            "the skops member 'skops-0.skops' is not a skops archive (BadZipFile: "
            "File is not a zip file).",
        ),
    ],
    ids=["extra-member", "truncated"],
)
def test_a_skops_member_that_is_no_clean_skops_archive_is_refused(
    tmp_path, change, error, message
):
    scaler = MinMaxScaler().fit(np.arange(6.0).reshape(2, 3))
    changed = _with_skops_member(dump(scaler, tmp_path / "s.skmnist"), change)
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert type(info.value) is error
    assert str(info.value) == f"sk_mnist model file '{changed}': {message}"


def _min_max_scaler_in_format_2(tmp_path, drop=None):
    """The committed format-2 file of scalers, its MaxAbsScaler a MinMaxScaler.

    Format 2 kept scikit-learn's scalers in the manifest, with their fitted
    arrays checked on load; no committed file has a MinMaxScaler.
    """
    original = Path(__file__).parent / "data" / "model_format2_scalers.skmnist"
    path = tmp_path / "scalers.skmnist"
    path.write_bytes(original.read_bytes())

    def to_min_max(manifest):
        inner = manifest["estimator"]["steps"][1][1]
        node = inner["steps"][1][1]
        arrays = node["state"]
        max_abs, scale = arrays["max_abs_"], arrays["scale_"]  # 784 floats each
        state = {
            "n_features_in_": 784,
            "n_samples_seen_": 1000,
            "min_": max_abs,
            "scale_": scale,
            "data_min_": max_abs,
            "data_max_": scale,
            "data_range_": scale,
        }
        state.pop(drop, None)
        inner["steps"][1] = [
            "minmax",
            {
                "class": "sklearn.preprocessing.MinMaxScaler",
                "params": {
                    "feature_range": {"__tuple__": [0, 1]},
                    "copy": True,
                    "clip": False,
                },
                "state": state,
            },
        ]

    return _rewrite(path, to_min_max)


@pytest.mark.parametrize("attribute", ["min_", "scale_", "data_min_", "data_max_"])
def test_a_min_max_scaler_without_a_fitted_array_is_refused_by_name(
    tmp_path, attribute
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkMnistVersionWarning)  # a format-2 file
        whole = load(_min_max_scaler_in_format_2(tmp_path))
        assert isinstance(whole[1][1], MinMaxScaler)
        changed = _min_max_scaler_in_format_2(tmp_path, drop=attribute)
        with pytest.raises(ModelFormatError) as info:
            load(changed)
    assert str(info.value) == (
        f"sk_mnist model file '{changed}': sklearn.preprocessing.MinMaxScaler."
        f"{attribute} must be a float array of shape (784,), got None."
    )


def test_a_standalone_scaler_within_the_limit_loads(tmp_path):
    scaler = PixelScaler().fit(np.zeros((2, 100_000)))
    loaded = load(dump(scaler, tmp_path / "s.skmnist"), max_bytes=1_600_000)
    assert loaded.n_features_in_ == 100_000 and loaded.image_shape_ is None
    with pytest.raises(ModelFormatError, match="it must be from 1 to 99999 within"):
        load(tmp_path / "s.skmnist", max_bytes=1_599_999)


# --- a failing temporary folder is not blamed on the model file ---------------


def test_a_full_temporary_folder_is_named_not_the_model_file(saved, file_size_limit):
    with file_size_limit(1000):  # the network (70 KB) cannot be unpacked
        with pytest.raises(persistence.TemporaryStorageError) as info:
            load(saved)
    assert not isinstance(info.value, ModelFormatError)
    assert info.value.errno == errno.EFBIG
    assert info.value.filename == tempfile.gettempdir()
    assert str(info.value) == (
        f"cannot unpack a network of sk_mnist model file '{saved}' to the "
        f"temporary folder {tempfile.gettempdir()!r}: File too large. The model "
        "file is not at fault: free space there, or set TMPDIR to a folder with room."
    )
    assert str(persistence.TemporaryStorageError()) == ""  # as OSError()'s


def test_a_missing_temporary_folder_is_named(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(persistence.TemporaryStorageError, match="gone") as info:
        load(saved)
    assert info.value.errno == errno.ENOENT


# --- the manifest's values: every kind the format holds comes back as it went --

_NUMPY_SCALAR_DTYPES = [
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
    np.uint32, np.uint64, np.float16, np.float32, np.float64,
]  # fmt: skip


def _numpy_scalars():
    return st.sampled_from(_NUMPY_SCALAR_DTYPES).flatmap(
        lambda dtype: hnp.arrays(dtype, ()).map(lambda zero_d: zero_d[()])
    )


def _arrays():
    numbers = hnp.arrays(
        st.sampled_from(_NUMPY_SCALAR_DTYPES + ["<U3", ">i4", ">f8"]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    )
    # A string ending in NUL is refused (the test below): NumPy's strings drop it.
    label = st.text(max_size=3).filter(lambda text: not text.endswith("\x00"))
    labels = st.lists(label, min_size=1, max_size=4).map(
        lambda texts: np.array(texts, dtype=object)
    )
    return numbers | labels


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)  # past int64 and float's 2**53
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | _numpy_scalars()
    | _arrays()
    | st.sampled_from([np.dtype(c) for c in ("?", "i1", "<u8", "<f2", ">f8", "O")])
    | st.sampled_from([np.dtype("<U7")])
    | st.integers(0, 2**32 - 1).map(np.random.RandomState)
    | st.sampled_from([keras.optimizers.RMSprop, keras.losses.CategoricalCrossentropy])
)
_KEYS = st.text(max_size=4) | st.integers(-5, 5) | st.tuples(st.text(max_size=2))
_MANIFEST_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


def _assert_same(got, want):
    """``got`` is ``want``: the same type, dtype, shape, order and value (NaN too)."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, np.ndarray):
        assert (got.dtype, got.shape) == (want.dtype, want.shape)
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and repr(got) == repr(want)
    elif isinstance(want, float):
        assert repr(got) == repr(want)  # nan, inf and -0.0 as well
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            _assert_same(got[key], want[key])
    elif isinstance(want, np.random.RandomState):
        _assert_same(list(got.get_state()), list(want.get_state()))
    else:
        assert got == want


def _through_a_file(value):
    """``value`` encoded as ``dump`` writes it, then decoded as ``load`` reads it."""
    writer = persistence._Writer()
    text = json.dumps(persistence._encode(value, writer, "x"), allow_nan=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in writer.members.items():
            archive.writestr(name, data)
    with zipfile.ZipFile(buffer) as archive:
        reader = persistence._Reader(
            archive, "file", persistence.MAX_UNCOMPRESSED_BYTES
        )
        return persistence._decode(json.loads(text), reader)


@settings(max_examples=150, deadline=None)
@given(_MANIFEST_VALUES)
@example([float("inf"), -float("inf"), float("nan"), -0.0, np.float32("nan")])
@example({("a",): (1, [2.5, None]), 3: True, "": np.array(["x", ""], dtype=object)})
def test_every_kind_of_value_the_format_holds_comes_back_as_it_went(value):
    _assert_same(_through_a_file(value), value)


def test_a_string_label_ending_in_nul_is_refused_not_cut(tmp_path, blobs):
    # NumPy's fixed-width strings, which the format stores, drop a trailing NUL:
    # "a\x00" would load as "a" and predict another label than the one fitted.
    labels = np.array(["a\x00", "b", "c", "d"], dtype=object)
    with pytest.raises(TypeError) as refused:
        persistence._encode(labels, persistence._Writer(), "Est.classes_")
    assert str(refused.value) == (
        f"sk_mnist.dump cannot store Est.classes_ = {labels!r} (of type ndarray) in "
        "the safe format: a string in it ends in a NUL character ('\\x00'), which "
        "the format's NumPy strings drop. Remove the trailing NULs "
        "(labels.astype(str) gives the strings that would be stored), or use "
        "pickle/joblib for files you trust."
    )
    inner = np.array(["a\x00b"], dtype=object)  # a NUL inside is kept
    _assert_same(_through_a_file(inner), inner)
    X, y = blobs
    clf = MNISTClassifier(hidden_units=8, epochs=1, random_state=0)
    clf.fit(X, labels[y])
    with pytest.raises(TypeError, match="ends in a NUL character"):
        sk_mnist.dump(clf, tmp_path / "model.skmnist")
    assert not (tmp_path / "model.skmnist").exists()


@pytest.mark.parametrize(
    "value",
    [
        np.array([1 + 2j]),
        np.complex64(1),
        np.array(["a", 1], dtype=object),
        np.array([b"a"]),
        np.dtype([("a", "i4")]),
        np.dtype("c16"),
        [1, {"a": object()}],
        keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9),
    ],
    ids=[
        "complex-array",
        "complex-scalar",
        "mixed-objects",
        "bytes",
        "structured-dtype",
        "complex-dtype",
        "object-in-a-list",
        "schedule",
    ],
)
def test_values_the_format_does_not_hold_are_refused_by_name(value):
    with pytest.raises(TypeError) as refused:
        persistence._encode(value, persistence._Writer(), "Est.param")
    shown = value[1]["a"] if isinstance(value, list) else value  # the part refused
    assert str(refused.value).startswith(
        f"sk_mnist.dump cannot store Est.param = {shown!r} (of type "
        f"{type(shown).__name__}) in the safe format"
    )


def _scaled(X):
    return (X.reshape(len(X), -1) / 255).astype(np.float32)


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: make_mnist_pipeline(),
        lambda X, y: Pipeline(
            [
                ("scaler", PixelScaler()),
                ("skip", "passthrough"),
                ("classifier", MNISTClassifier(**TINY)),
            ]
        ).fit(X, y),
        lambda X, y: Pipeline([("classifier", MNISTClassifier(**TINY))]).fit(
            _scaled(X), y
        ),
        lambda X, y: Pipeline(
            [("scaler", PixelScaler()), ("lr", LogisticRegression(max_iter=20))]
        ).fit(X, y),
    ],
    ids=["unfitted", "passthrough-inside", "classifier-alone", "scikit-learn-last"],
)
def test_pipelines_of_other_shapes_load_and_predict_the_same(data, tmp_path, make):
    """The width check of a pipeline's steps passes every pipeline it should."""
    X, y, X_test = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LogisticRegression's convergence
        pipeline = make(X[:100], y[:100])
    loaded = load(dump(pipeline, tmp_path / "p.skmnist"))
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipeline.steps]
    if "classifier" in pipeline.named_steps:
        fitted = pipeline.named_steps["classifier"].initialized_
        assert loaded.named_steps["classifier"].initialized_ == fitted
        if not fitted:
            return
    rows = X_test if pipeline.steps[0][0] == "scaler" else _scaled(X_test)
    np.testing.assert_array_equal(
        loaded.predict_proba(rows), pipeline.predict_proba(rows)
    )


def test_a_step_unfitted_after_fitted_ones_is_refused_by_name(saved):
    def unfit_the_classifier(manifest):
        for key in ("state", "network", "history"):
            _classifier_node(manifest).pop(key, None)

    changed = _rewrite(saved, unfit_the_classifier)
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert str(info.value) == (
        f"sk_mnist model file '{changed}': the pipeline's step 'classifier' is not "
        "fitted, but the steps before it are."
    )


def _pca_then_logistic_regression(tmp_path):
    X = np.random.RandomState(0).rand(30, 6)
    pipeline = Pipeline([("pca", PCA(2)), ("lr", LogisticRegression())])
    return dump(pipeline.fit(X, np.arange(30) % 2), tmp_path / "p.skmnist")


def _schema(change):
    """A change of a skops member: ``change(schema)`` on its parsed schema.json."""

    def changed(skops_bytes):
        members = _unzip(skops_bytes)
        schema = json.loads(members["schema.json"])
        change(schema)
        return _zip({**members, "schema.json": json.dumps(schema).encode()})

    return changed


def _set_width(width):
    def change(schema):  # the estimator's state, its width as skops writes it
        schema["content"]["content"]["n_features_in_"]["content"] = str(width)

    return _schema(change)


def test_a_skops_first_step_claiming_a_huge_width_is_refused_by_its_step(tmp_path):
    """No row that wide is made: the claim is checked against max_bytes first."""
    saved = _pca_then_logistic_regression(tmp_path)
    changed = _with_skops_member(saved, _set_width(500_000_000))
    message = (
        f"sk_mnist model file '{changed}': pca.n_features_in_ is 500000000; it "
        "must be from 1 to 625000 within the limit of 10000000 bytes. Pass "
        "load(..., max_bytes=...) to read a wider model from a file you trust."
    )
    _refused_within(changed, f"^{re.escape(message)}$", 10**6, max_bytes=10_000_000)


def test_a_step_that_cannot_transform_a_row_is_named_with_its_error(tmp_path):
    """The PCA claims 5 features; its arrays hold 6: its transform fails."""
    changed = _with_skops_member(_pca_then_logistic_regression(tmp_path), _set_width(5))
    with pytest.raises(ModelFormatError) as info:
        load(changed)
    assert re.fullmatch(
        re.escape(f"sk_mnist model file '{changed}': pca cannot transform (")
        + r"ValueError: .*\)\.",
        str(info.value),
    )


@pytest.mark.parametrize(
    "function, shape",
    [(np.ravel, "(6,)"), (np.atleast_3d, "(1, 6, 1)")],
    ids=["ravel", "atleast_3d"],
)
def test_a_step_transforming_a_row_to_another_shape_is_refused(
    tmp_path, function, shape
):
    pipeline = Pipeline([("reshape", FunctionTransformer(function))]).fit(np.eye(6))
    saved = dump(pipeline, tmp_path / "p.skmnist")
    with pytest.raises(ModelFormatError) as info:
        load(saved, trusted=[f"numpy.{function.__name__}"])
    assert str(info.value) == (
        f"sk_mnist model file '{saved}': reshape transforms one row to shape {shape}."
    )


def _raises_a_future_check(self, X):
    raise ValueError("a future check")


@pytest.mark.parametrize(
    "transform, message",
    [
        (_raises_a_future_check, "cannot transform (ValueError: a future check)."),
        (lambda self, X: np.zeros(2), "transforms to shape (2,)."),
        (lambda self, X: np.zeros((2, 2)), "transforms to shape (2, 2)."),
    ],
    ids=["raises", "1-d", "two-rows"],
)
def test_a_checked_transformer_that_transforms_wrongly_is_named(
    tmp_path, monkeypatch, transform, message
):
    """A transform that refuses a file's state: load says which step."""
    saved = dump(PixelScaler().fit(np.eye(2)), tmp_path / "s.skmnist")
    monkeypatch.setattr(PixelScaler, "transform", transform)
    with pytest.raises(ModelFormatError) as info:
        load(saved)
    assert str(info.value) == (
        f"sk_mnist model file '{saved}': sk_mnist.PixelScaler {message}"
    )


# --- skops members: each check's bound and whole message, on a small PCA pipeline


def _refusal(path, **load_options):
    """``load``'s message for ``path`` without the file's name, or "" if it loads."""
    try:
        load(path, **load_options)
    except ModelFormatError as error:
        prefix = f"sk_mnist model file '{path}': "
        assert str(error).startswith(prefix)
        return str(error).removeprefix(prefix)
    return ""


def _skops_member_refusal(tmp_path, change, max_bytes=None):
    """``load``'s message for the PCA pipeline with its skops member changed."""
    changed = _with_skops_member(_pca_then_logistic_regression(tmp_path), change)
    with pytest.raises(ModelFormatError) as info:
        load(changed, max_bytes=max_bytes)
    prefix = f"sk_mnist model file '{changed}': "
    assert str(info.value).startswith(prefix)
    return str(info.value).removeprefix(prefix)


def _inner_total(skops_bytes):
    with zipfile.ZipFile(io.BytesIO(skops_bytes)) as inner:
        return sum(info.file_size for info in inner.infolist())


def _declare_total(total):
    """The skops member with its schema's declared size making ``total`` in all."""

    def declare(skops_bytes):
        schema = len(_unzip(skops_bytes)["schema.json"])
        size = total - (_inner_total(skops_bytes) - schema)
        return _declare_size(skops_bytes, "schema.json", size)

    return declare


def test_a_skops_member_unpacking_past_max_bytes_is_refused_at_the_limit(tmp_path):
    limit = 2**30  # load's default
    over = _skops_member_refusal(tmp_path, _declare_total(limit + 1))
    assert over == (
        f"the skops member 'skops-0.skops' unpacks to {limit + 1} bytes, more than "
        f"the limit of {limit}; pass load(..., max_bytes=...) to read a bigger model "
        "from a file you trust to be one."
    )
    at = _skops_member_refusal(tmp_path, _declare_total(limit))
    assert at.startswith("the skops member 'skops-0.skops' has a schema of ")


def test_a_skops_schema_past_its_limit_is_refused_at_the_limit(tmp_path):
    saved = _pca_then_logistic_regression(tmp_path)
    with zipfile.ZipFile(saved) as archive:
        schema = len(_unzip(archive.read("skops-0.skops"))["schema.json"])
    max_bytes = 64 * schema  # the schema's limit is max_bytes // 64
    load(saved, max_bytes=max_bytes)
    with pytest.raises(ModelFormatError) as info:
        load(saved, max_bytes=max_bytes - 1)
    assert str(info.value) == (
        f"sk_mnist model file '{saved}': the skops member 'skops-0.skops' has a "
        f"schema of {schema} bytes; the format allows {schema - 1} with "
        f"max_bytes={max_bytes - 1}."
    )


def _first_array(change):
    def changed(skops_bytes):
        members = _unzip(skops_bytes)
        name = next(n for n in members if n.endswith(".npy"))
        members[name] = change(members[name])
        return _zip(members)

    return changed


def _npy_header(shape):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return header.getvalue()


@pytest.mark.parametrize(
    "change, message",
    [
        (
            _schema(lambda s: s.update(padding=json.loads("[" * 65 + "]" * 65))),
            "the skops member 'skops-0.skops' has a schema nested more than 64 "
            "levels deep.",
        ),
        (
            _first_array(lambda npy: _npy_header((10**6, 10**6)) + b"\0" * 64),
            "array 'skops-0.skops/{array}' claims shape (1000000, 1000000) of "
            "float64 (8000000000000 bytes), but holds 64 bytes.",
        ),
        (
            _first_array(lambda npy: _npy_header((3,)) + b"\0" * 16),
            "array 'skops-0.skops/{array}' claims shape (3,) of float64 (24 bytes), "
            "but holds 16 bytes.",
        ),
        (
            _first_array(lambda npy: b"\x93NUMPY\x09\x00" + npy[8:]),
            "array 'skops-0.skops/{array}' has a malformed header (.npy format "
            "version (9, 0) is not supported).",
        ),
    ],
    ids=["nested", "trillion-elements", "short-array", "bad-version"],
)
def test_a_skops_members_schema_and_arrays_are_checked_before_skops_reads_them(
    tmp_path, monkeypatch, change, message
):
    def unread(*args, **kwargs):
        raise AssertionError("skops read a member that should have been refused")

    import skops.io

    monkeypatch.setattr(skops.io, "loads", unread)
    saved = _pca_then_logistic_regression(tmp_path)
    with zipfile.ZipFile(saved) as archive:
        members = _unzip(archive.read("skops-0.skops"))
    array = next(n for n in members if n.endswith(".npy"))  # its name varies
    changed = _with_skops_member(saved, change)
    assert _refusal(changed) == message.format(array=array)


def test_a_manifest_naming_a_skops_member_that_is_not_there_is_refused(saved):
    def misname(manifest):
        manifest["estimator"]["steps"][0][1] = {"class": "skops", "member": "x"}

    assert _refusal(_rewrite(saved, misname)) == "bad member reference 'x'."


def test_a_skops_member_holding_no_estimator_is_refused_by_its_type(tmp_path):
    import skops.io

    message = _skops_member_refusal(
        tmp_path, lambda skops_bytes: skops.io.dumps({"not": "an estimator"})
    )
    assert message == (
        "the skops member 'skops-0.skops' holds a dict, not an estimator."
    )


def test_what_skops_cannot_persist_is_refused_with_skops_reason(tmp_path):
    scaler = StandardScaler().fit(np.eye(2))
    scaler.rows_ = (row for row in range(3))  # a generator
    with pytest.raises(TypeError) as info:
        dump(scaler, tmp_path / "s.skmnist")
    assert str(info.value) == (
        "sk_mnist.dump cannot store the estimator (a StandardScaler): skops cannot "
        "persist it (TypeError: cannot pickle 'generator' object). Use "
        "pickle/joblib for files you trust."
    )
    assert not list(tmp_path.iterdir())


def test_a_network_load_would_refuse_is_not_written(blobs, tmp_path):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    clf.model_ = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dropout(0.5), keras.layers.Dense(4)]
    )
    with pytest.raises(TypeError) as info:
        dump(clf, tmp_path / "clf.skmnist")
    message = str(info.value)
    assert message.startswith("sk_mnist.dump cannot store this network: ")
    assert message.endswith(
        " load reads only the networks MNISTClassifier builds with Keras' built-in "
        "activations, optimizers, losses and metrics (sk_mnist._keras_config lists "
        "them). Use pickle/joblib for files you trust."
    )
    assert not list(tmp_path.iterdir())


def test_dump_and_load_leave_nothing_in_the_working_folder(pipe, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    load(dump(pipe, tmp_path / "model.skmnist"))
    assert not list(work.iterdir())


def test_keras_reads_the_network_in_safe_mode_even_when_unsafe_is_enabled(
    saved, monkeypatch
):
    """A second wall behind the configuration check, whatever the process allows."""
    calls = []
    load_model = keras.saving.load_model

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load_model(*args, **kwargs)

    from keras.src.backend.common import global_state

    monkeypatch.setattr(keras.saving, "load_model", spy)
    before = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        load(saved)
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)
    assert calls == [{"safe_mode": True}]


def test_what_keras_refuses_is_named_as_unsafe_or_broken(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("no")

    monkeypatch.setattr(keras.saving, "load_model", refuse)
    with pytest.raises(UnsafeModelFileError) as info:
        load(saved)
    assert str(info.value) == (
        f"sk_mnist model file '{saved}': the network 'network-0.keras' was refused "
        "by Keras' safe mode or is broken (ValueError: no)."
    )


def test_the_networks_weight_count_bound_is_max_bytes_exactly(data, tmp_path):
    """24 bytes a weight: in float64, with up to two optimizer slots each."""
    X, y, _ = data
    clf = MNISTClassifier(hidden_units=64, epochs=1, random_state=0)
    saved = dump(clf.fit(_scaled(X[:100]), y[:100]), tmp_path / "clf.skmnist")
    weights = (784 + 1) * 64 + (64 + 1) * 10
    assert load(saved, max_bytes=24 * weights).initialized_
    with pytest.raises(ModelFormatError) as info:
        load(saved, max_bytes=24 * weights - 1)
    assert str(info.value) == (
        f"sk_mnist model file '{saved}': the network 'network-0.keras' declares "
        f"{weights} weights, more than the limit of {24 * weights - 1} bytes holds; "
        "pass load(..., max_bytes=...) to read bigger models from files you trust."
    )
