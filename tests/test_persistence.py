"""dump/load: a model file that cannot run code, versions, atomic writes; pickles."""

import io
import json
import os
import pickle
import zipfile

import keras
import numpy as np
import pytest
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

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


def test_loaded_classifier_keeps_training(saved, data):
    X, y, X_test = data
    X, X_test = X.reshape(len(X), -1) / 255, X_test.reshape(len(X_test), -1) / 255
    clf = load(saved).named_steps["classifier"]
    before = clf.predict_proba(X_test)
    clf.set_params(warm_start=True, epochs=1).fit(X, y)
    assert not np.array_equal(clf.predict_proba(X_test), before)


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


def test_what_cannot_be_stored_safely_is_refused_at_dump(pipe, tmp_path):
    clf = MNISTClassifier(callbacks=[keras.callbacks.EarlyStopping()])
    with pytest.raises(TypeError, match="callbacks.*set_params\\(callbacks=None\\)"):
        dump(clf, tmp_path / "a.skmnist")
    with pytest.raises(TypeError, match="FunctionTransformer.*only"):
        dump(Pipeline([("f", FunctionTransformer(np.log1p))]), tmp_path / "b.skmnist")
    with pytest.raises(TypeError, match="activation"):
        dump(MNISTClassifier(activation=np.tanh), tmp_path / "c.skmnist")
    assert os.listdir(tmp_path) == []


# --- loading cannot run code --------------------------------------------------


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "sklearn.Pipeline"])
def test_a_class_outside_the_allowlist_is_refused(saved, name):
    def change(manifest):
        manifest["estimator"]["steps"][0][1]["class"] = name

    with pytest.raises(UnsafeModelFileError, match=f"refusing to load class '{name}'"):
        load(_rewrite(saved, change))


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
    with pytest.raises(UnsafeModelFileError, match="safe mode"):
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
    copy = pickle.loads(blob)  # same versions: no warning (filterwarnings=error)
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
    ]:
        assert name in sk_mnist.__all__
    assert issubclass(UnsafeModelFileError, ModelFormatError)
    assert issubclass(ModelFormatError, ValueError)
    assert persistence.SAFE_CLASSES["sk_mnist.MNISTClassifier"] is MNISTClassifier


def test_written_file_is_readable_by_others(tmp_path):
    path = sk_mnist.dump(sk_mnist.PixelScaler(), tmp_path / "scaler.skmnist")
    assert path.stat().st_mode & 0o044 == 0o044  # not mkstemp's private 0o600
