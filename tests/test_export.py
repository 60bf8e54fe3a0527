"""ONNX export: onnxruntime gives sk_mnist's labels and probabilities, alone."""

import functools
import json
import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import keras
import numpy as np
import onnx
import onnxruntime
import pytest
import skl2onnx
from onnx.numpy_helper import to_array
from skl2onnx.common.exceptions import MissingShapeCalculator
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    StandardScaler,
)
from test_cli import assert_one_line_error

from sk_mnist import (
    MNISTClassifier,
    PixelScaler,
    cli,
    dump,
    make_mnist_pipeline,
    to_onnx,
)
from sk_mnist.cli import main
from sk_mnist.export import INPUT_METADATA_KEY, SUPPORTED_ACTIVATIONS, TARGET_OPSET

PROBA_TOLERANCE = 1e-5


def run_onnx(model, X):
    """(label, probabilities) of an ONNX model (ModelProto or path) by onnxruntime."""
    source = model if isinstance(model, str) else model.SerializeToString()
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    return session.run(None, {"X": X})


def assert_same_predictions(model, estimator, X_onnx, X=None):
    X = X_onnx if X is None else X
    label, proba = run_onnx(model, X_onnx)
    expected = estimator.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=PROBA_TOLERANCE)
    np.testing.assert_array_equal(label, estimator.predict(X))
    return label, proba


# --- The book's pipeline on the full MNIST test set. ------------------------------


@pytest.fixture(scope="module")
def mnist_pipeline(mnist):
    """The book's pipeline fitted on 10000 training images for 1 epoch."""
    (X_train, y_train), _ = mnist
    return make_mnist_pipeline(epochs=1, random_state=0).fit(
        X_train[:10000], y_train[:10000]
    )


@pytest.fixture(scope="module")
def onnx_file(mnist_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "mnist.onnx"
    to_onnx(mnist_pipeline, path)
    return path


def test_full_test_set_labels_equal_probabilities_within_1e_5(
    mnist, mnist_pipeline, onnx_file
):
    _, (X_test, y_test) = mnist
    assert X_test.shape == (10000, 28, 28) and X_test.dtype == np.uint8
    label, _ = assert_same_predictions(str(onnx_file), mnist_pipeline, X_test)
    assert label.dtype == np.int64
    assert (label == y_test).mean() > 0.8  # a trained network (0.87), not a constant


def test_to_onnx_returns_the_model_it_writes(mnist_pipeline, onnx_file):
    model, written = to_onnx(mnist_pipeline), onnx.load(onnx_file)
    assert [n.op_type for n in model.graph.node] == [
        n.op_type for n in written.graph.node
    ]
    for ours, theirs in zip(model.graph.initializer, written.graph.initializer):
        np.testing.assert_array_equal(to_array(ours), to_array(theirs))
    (graph_input,) = model.graph.input
    dims = [d.dim_value or None for d in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == "X" and dims == [None, 28, 28]
    assert graph_input.type.tensor_type.elem_type == 2  # uint8
    assert "ZipMap" not in {node.op_type for node in model.graph.node}


def test_float32_pixel_input(mnist, mnist_pipeline):
    _, (X_test, _) = mnist
    model = to_onnx(mnist_pipeline, dtype="float32")
    X = X_test[:2000]
    assert_same_predictions(model, mnist_pipeline, X.astype(np.float32), X)


def test_skl2onnx_own_to_onnx_works_once_sk_mnist_export_is_imported(
    mnist, mnist_pipeline
):
    _, (X_test, _) = mnist
    model = skl2onnx.to_onnx(mnist_pipeline, X_test[:1])
    assert "ZipMap" not in {node.op_type for node in model.graph.node}
    assert_same_predictions(model, mnist_pipeline, X_test[:2000])
    rows = X_test[:2000].reshape(2000, 784)  # flat rows of raw pixels
    model = skl2onnx.to_onnx(mnist_pipeline, rows[:1])
    assert_same_predictions(model, mnist_pipeline, rows)


def test_exported_file_runs_with_only_numpy_and_onnxruntime(
    mnist, mnist_pipeline, onnx_file, tmp_path
):
    _, (X_test, _) = mnist
    np.save(tmp_path / "X.npy", X_test)
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import onnxruntime as ort

        session = ort.InferenceSession({str(onnx_file)!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        label, proba = session.run(None, {{"X": X}})
        np.save({str(tmp_path / "proba.npy")!r}, proba)
        np.save({str(tmp_path / "label.npy")!r}, label)
        heavy = ["keras", "tensorflow", "sk_mnist", "sklearn", "skl2onnx", "jax"]
        print(json.dumps([name for name in heavy if name in sys.modules]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    np.testing.assert_array_equal(
        np.load(tmp_path / "label.npy"), mnist_pipeline.predict(X_test)
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"),
        mnist_pipeline.predict_proba(X_test),
        rtol=0,
        atol=PROBA_TOLERANCE,
    )


def test_export_from_the_jax_backend(tmp_path):
    pytest.importorskip("jax", reason="the JAX backend is optional ([jax] extra)")
    script = textwrap.dedent(
        """
        import json
        import numpy as np, onnxruntime, keras
        from sk_mnist import MNISTClassifier, to_onnx

        rng = np.random.RandomState(0)
        X, y = rng.rand(60, 8).astype(np.float32), np.repeat([0, 1, 2], 20)
        clf = MNISTClassifier(hidden_units=8, epochs=1, random_state=0).fit(X, y)
        session = onnxruntime.InferenceSession(to_onnx(clf).SerializeToString())
        label, proba = session.run(None, {"X": X})
        print(json.dumps([
            keras.backend.backend(),
            bool((label == clf.predict(X)).all()),
            float(np.abs(proba - clf.predict_proba(X)).max()),
        ]))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    backend, same_labels, max_diff = json.loads(result.stdout.strip().splitlines()[-1])
    assert backend == "jax" and same_labels and max_diff < PROBA_TOLERANCE


# --- Activations, labels and scalers, on small data. ------------------------------


@pytest.mark.parametrize("activation", SUPPORTED_ACTIVATIONS)
def test_every_supported_activation_matches_keras(blobs, activation):
    X, y = blobs
    X = (X - 0.5) * 4  # negative and positive inputs, beyond the linear parts
    clf = MNISTClassifier(
        hidden_units=16, activation=activation, epochs=1, random_state=0
    ).fit(X, y)
    assert_same_predictions(to_onnx(clf), clf, X)


def test_a_keras_activation_function_converts_as_its_name(blobs):
    X, y = blobs
    clf = MNISTClassifier(
        hidden_units=16, activation=keras.activations.gelu, epochs=1, random_state=0
    ).fit(X, y)
    assert_same_predictions(to_onnx(clf), clf, X)


def doubled(x):
    """A custom activation: no ONNX converter knows it."""
    return x * 2


@pytest.mark.parametrize(
    "activation, named, layers",
    [
        ("sparsemax", "activation='sparsemax'", "'sparsemax' has no ONNX converter"),
        (doubled, "activation=doubled", "'doubled' has no ONNX converter"),
        # A callable without __qualname__ or __name__ is named by its repr.
        (
            functools.partial(keras.activations.leaky_relu, negative_slope=0.1),
            "activation=functools.partial(<function leaky_relu",
            "functools.partial(<function leaky_relu",
        ),
    ],
    ids=["sparsemax", "callable", "partial"],
)
def test_a_custom_or_unsupported_activation_is_refused_by_name(
    blobs, activation, named, layers
):
    X, y = blobs
    clf = MNISTClassifier(
        hidden_units=4, activation=activation, epochs=1, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="Supported activations") as info:
        to_onnx(clf)
    message = str(info.value)
    assert named in message and "relu, " in message and "tanh" in message
    assert f"hidden activation {layers}" in message  # the layer's own name


@pytest.mark.parametrize(
    "make_labels, label_dtype",
    [
        (lambda y: np.array(["zero", "one", "two", "three"])[y], object),
        (lambda y: np.where(y < 2, "small", "large"), object),  # two classes
        (lambda y: y < 2, np.bool_),
        (lambda y: y.astype(np.float64) * 10, np.float64),
        (lambda y: y.astype(np.uint8) + 3, np.int64),
        (lambda y: np.uint64(2**63) + 3 * y.astype(np.uint64), np.uint64),
        # Beyond float64's 53 bits: labels that a float would merge.
        (lambda y: np.int64(2**62) + y.astype(np.int64), np.int64),
    ],
    ids=[
        "strings",
        "two-strings",
        "bool",
        "floats",
        "uint8",
        "uint64-from-2**63",
        "int64-from-2**62",
    ],
)
def test_labels_are_the_classes(blobs, make_labels, label_dtype):
    X, y = blobs
    labels = make_labels(y)
    clf = MNISTClassifier(hidden_units=16, epochs=2, random_state=0).fit(X, labels)
    label, proba = assert_same_predictions(to_onnx(clf), clf, X)
    assert label.dtype == label_dtype
    assert proba.shape == (len(X), len(np.unique(labels)))
    assert set(label.tolist()) <= set(clf.classes_.tolist())


def test_classes_of_another_kind_are_refused_with_the_first_five(blobs):
    # scikit-learn's fit takes no such labels; classes_ set by hand can be.
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    clf.classes_ = np.array([Fraction(i, 2) for i in range(8)], dtype=object)
    with pytest.raises(ValueError) as info:
        to_onnx(clf)
    assert str(info.value) == (
        "Cannot export MNISTClassifier to ONNX: its classes_ must be integers, "
        "floats, booleans or strings; got object values [Fraction(0, 1), "
        "Fraction(1, 2), Fraction(1, 1), Fraction(3, 2), Fraction(2, 1)]. Fit it "
        "on labels of one of those types."
    )


def test_a_network_with_a_layer_other_than_dense_is_refused_by_name(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    clf.model_ = keras.Sequential(
        [
            keras.Input((X.shape[1],)),
            keras.layers.Dropout(0.1, name="dropped"),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    with pytest.raises(ValueError) as info:
        to_onnx(clf)
    assert str(info.value) == (
        "Cannot export MNISTClassifier to ONNX: its network has a Dropout layer "
        "('dropped'); only Dense layers are converted."
    )


@pytest.mark.parametrize(
    "scaler", [StandardScaler(), MinMaxScaler(), MaxAbsScaler(), Normalizer()]
)
def test_pipelines_with_the_scalers_load_accepts(blobs, scaler):
    X, y = blobs
    pipeline = Pipeline(
        [
            ("scaler", scaler),
            ("classifier", MNISTClassifier(hidden_units=16, epochs=1, random_state=0)),
        ]
    ).fit(X, y)
    model = to_onnx(pipeline)
    assert model.graph.input[0].type.tensor_type.elem_type == 1  # float32
    assert_same_predictions(model, pipeline, X)


def test_pixel_scaler_then_standard_scaler(mnist_small):
    (X_train, y_train), (X_test, _) = mnist_small
    pipeline = Pipeline(
        [
            ("pixels", PixelScaler()),
            ("standard", StandardScaler()),
            ("classifier", MNISTClassifier(hidden_units=32, epochs=1, random_state=0)),
        ]
    ).fit(X_train[:1000], y_train[:1000])
    assert_same_predictions(to_onnx(pipeline), pipeline, X_test)


_SMALL = dict(hidden_units=32, epochs=8, batch_size=10, random_state=0)


def _input_dims(model):
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value or None for d in dims]


def _images(shape, n=60):
    """Two classes of images of ``shape`` (n, height, width): dark, or bright on top."""
    rng = np.random.RandomState(0)
    images = (rng.rand(n, *shape) * 40).astype(np.uint8)
    y = np.arange(n) % 2
    images[y == 1, : shape[0] // 2] = 255
    return images, y


@pytest.mark.parametrize(
    "fit_shape, other_shape",
    [((56, 14), (28, 28)), ((10, 7), (7, 10)), ((28, 28), (14, 56))],
)
def test_the_input_has_the_image_shape_the_pipeline_was_fitted_on(
    fit_shape, other_shape
):
    images, y = _images(fit_shape)
    pipeline = make_mnist_pipeline(**_SMALL)
    pipeline.fit(images, y)
    model = to_onnx(pipeline)
    dims = _input_dims(model)
    assert dims == [None, *fit_shape]
    label, _ = assert_same_predictions(model, pipeline, images)
    assert (label == y).mean() > 0.9  # learnt, so a wrong reshape would show
    others = images.reshape(len(images), *other_shape)  # as many pixels, other shape
    with pytest.raises(ValueError, match="fitted on images of shape"):
        pipeline.predict(others)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
        run_onnx(model, others)


def test_after_a_fit_on_flat_rows_the_input_is_flat_rows():
    images, y = _images((28, 28))  # a square count, but no shape was seen
    rows = images.reshape(len(images), 784)
    pipeline = make_mnist_pipeline(**_SMALL)
    model = to_onnx(pipeline.fit(rows, y))
    dims = _input_dims(model)
    assert dims == [None, 784]
    assert_same_predictions(model, pipeline, rows)


def test_an_image_shape_that_does_not_hold_the_features_is_refused():
    images, y = _images((4, 2))
    pipeline = make_mnist_pipeline(**_SMALL).fit(images, y)
    pipeline[0].image_shape_ = (3, 2)  # as a hand-edited estimator might have
    with pytest.raises(ValueError) as info:
        to_onnx(pipeline)
    assert str(info.value) == (
        "Cannot export this PixelScaler to ONNX: its image_shape_ (3, 2) does not "
        "hold its 8 features. Fit the pipeline again."
    )


def test_small_images_as_float32_pixels():
    images, y = _images((4, 2))
    pipeline = make_mnist_pipeline(**_SMALL).fit(images, y)
    model = to_onnx(pipeline, dtype="float32")
    assert model.graph.input[0].type.tensor_type.elem_type == 1  # float
    assert_same_predictions(model, pipeline, images.astype(np.float32), images)


def test_the_outputs_declare_a_label_per_row_and_a_probability_per_class(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    label, proba = to_onnx(clf).graph.output
    assert [label.name, proba.name] == ["label", "probabilities"]
    label_dims = label.type.tensor_type.shape.dim
    proba_dims = proba.type.tensor_type.shape.dim
    assert len(label_dims) == 1 and not label_dims[0].dim_value  # any batch
    assert len(proba_dims) == 2 and not proba_dims[0].dim_value
    assert proba_dims[1].dim_value == 4


def test_the_model_says_what_its_input_is(blobs):
    X, y = blobs
    images = (X * 255).astype(np.uint8)
    pipeline = make_pipeline(
        PixelScaler(), MNISTClassifier(hidden_units=4, epochs=1, random_state=0)
    ).fit(images, y)
    for estimator, kind, words in [
        (pipeline, "pixels", "sk_mnist Pipeline: input X (raw pixel values 0..255)"),
        (pipeline[-1], "features", "sk_mnist MNISTClassifier: input X (feature rows)"),
    ]:
        model = to_onnx(estimator)
        props = {p.key: p.value for p in model.metadata_props}
        assert props == {INPUT_METADATA_KEY: kind}
        assert model.doc_string == f"{words}, outputs label and probabilities"


def test_a_dense_layer_without_bias_converts(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    network = keras.Sequential(
        [
            keras.Input((X.shape[1],)),
            keras.layers.Dense(16, activation="relu", use_bias=False),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    network.set_weights(
        [np.random.RandomState(0).uniform(-1, 1, w.shape) for w in network.weights]
    )
    clf.model_ = network
    assert_same_predictions(to_onnx(clf), clf, X)


@pytest.mark.parametrize("writer", ["to_onnx", "sk-mnist export"])
def test_a_failed_write_leaves_the_old_onnx_file_intact(
    writer,
    mnist_pipeline,
    onnx_file,
    saved_model,
    tmp_path,
    file_size_limit,
    capsys,
    monkeypatch,
):
    path = tmp_path / "model.onnx"
    good = onnx_file.read_bytes()
    path.write_bytes(good)
    with file_size_limit(len(good) // 2):  # the disk fills up half way
        if writer == "to_onnx":
            with pytest.raises(OSError, match="File too large"):
                to_onnx(mnist_pipeline, path)
        else:  # the model loaded before the limit: only the write is tested
            monkeypatch.setattr(cli, "_load_model", lambda *a, **k: mnist_pipeline)
            status = main(["export", str(saved_model), str(path)])
    if writer != "to_onnx":
        assert_one_line_error(status, capsys.readouterr().err, "cannot write")
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left
    onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_nested_pipelines_first_and_last():
    """The input from a nested first step (images); the classifier in a nested last."""
    X, y = _images((4, 6))
    pre = make_pipeline(PixelScaler(), StandardScaler(), PCA(4, random_state=0))
    net = make_pipeline(MNISTClassifier(hidden_units=8, epochs=2, random_state=0))
    model = Pipeline([("pre", pre), ("net", net)]).fit(X, y)
    onnx_model = to_onnx(model)
    assert _input_dims(onnx_model) == [None, 4, 6]
    assert_same_predictions(onnx_model, model, X)


def test_a_new_onnx_file_gets_the_mode_open_gives_under_the_umask(blobs, tmp_path):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    old = os.umask(0o077)
    try:
        to_onnx(clf, tmp_path / "model.onnx")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "model.onnx").st_mode & 0o777 == 0o600


# --- Clear errors. ----------------------------------------------------------------


def test_unfitted_estimators_are_refused(blobs):
    unfitted = "Cannot export an unfitted MNISTClassifier to ONNX: fit it first."
    for estimator in (MNISTClassifier(), make_mnist_pipeline()):
        with pytest.raises(ValueError) as info:
            to_onnx(estimator)
        assert str(info.value) == unfitted
    # A fitted classifier behind a new first step.
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError) as info:
        to_onnx(Pipeline([("scaler", PixelScaler()), ("classifier", clf)]))
    assert str(info.value) == (
        "Cannot export an unfitted PixelScaler to ONNX: fit the pipeline first."
    )
    # A new PixelScaler inside a fitted pipeline (it needs no fit to transform,
    # but the ONNX graph needs its width), here set in after the fit.
    X, y = blobs
    pipeline = make_pipeline(
        MinMaxScaler(), PixelScaler(), MNISTClassifier(hidden_units=4, epochs=1)
    ).fit(X, y)
    pipeline.set_params(pixelscaler=PixelScaler())
    with pytest.raises(ValueError) as info:
        to_onnx(pipeline)
    assert str(info.value) == (
        "Cannot export an unfitted PixelScaler to ONNX: fit the pipeline first."
    )


def test_unsupported_steps_and_estimators_are_refused(blobs):
    X, y = blobs
    pipeline = Pipeline(
        [
            ("factors", FactorAnalysis(2)),  # skl2onnx has no converter for it
            ("classifier", MNISTClassifier(hidden_units=4, epochs=1)),
        ]
    ).fit(X, y)
    with pytest.raises(MissingShapeCalculator, match="FactorAnalysis"):
        to_onnx(pipeline)
    pixel_scaler = PixelScaler().fit(np.zeros((2, 8)))
    with pytest.raises(TypeError) as info:
        to_onnx(pixel_scaler)
    assert str(info.value).startswith(
        "to_onnx exports a fitted MNISTClassifier or a Pipeline ending in one; got "
        "a PixelScaler"
    )
    with pytest.raises(TypeError, match="last step 'scaler' is a PixelScaler"):
        to_onnx(Pipeline([("scaler", pixel_scaler)]))
    with pytest.raises(ValueError) as info:
        to_onnx(pipeline.named_steps["classifier"], dtype="uint8")
    assert str(info.value) == (
        "to_onnx: dtype must be one of ['float32'] for a model whose first step is "
        "a MNISTClassifier; got 'uint8'."
    )


def test_passthrough_steps_are_skipped_and_the_opsets_are_pinned(blobs):
    X, y = blobs
    images = (X * 255).astype(np.uint8)
    pipeline = Pipeline(
        [
            ("nothing", "passthrough"),
            ("scaler", PixelScaler()),
            ("none", None),
            ("classifier", MNISTClassifier(hidden_units=8, epochs=2, random_state=0)),
        ]
    ).fit(images, y)
    model = to_onnx(pipeline)
    opsets = {o.domain: o.version for o in model.opset_import}
    assert set(opsets) <= set(TARGET_OPSET)  # skl2onnx takes the lowest that serves
    assert all(opsets[domain] <= TARGET_OPSET[domain] for domain in opsets)
    assert "ZipMap" not in {node.op_type for node in model.graph.node}
    assert_same_predictions(model, pipeline, images)


# --- The command line: export, and predict with an .onnx model. -------------------


@pytest.fixture(scope="module")
def saved_model(mnist_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.skmnist"
    dump(mnist_pipeline, path)
    return path


def test_cli_export_then_predict_gives_the_same_lines(
    mnist, saved_model, tmp_path, capsys
):
    _, (X_test, _) = mnist
    np.save(tmp_path / "digits.npy", X_test[:5])
    out = tmp_path / "model.onnx"
    assert main(["export", str(saved_model), str(out)]) == 0
    assert capsys.readouterr().out == f"ONNX model written to {out}\n"
    assert main(["predict", str(saved_model), str(tmp_path / "digits.npy")]) == 0
    from_skmnist = capsys.readouterr().out
    assert main(["predict", str(out), str(tmp_path / "digits.npy")]) == 0
    from_onnx = capsys.readouterr().out
    assert len(from_onnx.splitlines()) == 5 and from_onnx == from_skmnist
    float_pixels = tmp_path / "float.onnx"
    assert (
        main(["export", str(saved_model), str(float_pixels), "--dtype", "float32"]) == 0
    )
    capsys.readouterr()
    assert main(["predict", str(float_pixels), str(tmp_path / "digits.npy")]) == 0
    assert capsys.readouterr().out == from_skmnist


def test_cli_help_lists_and_describes_export(capsys):
    assert main(["--help"]) == 0
    assert "export" in capsys.readouterr().out
    assert main(["export", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sk-mnist export") and "--dtype" in out


def test_cli_predict_with_onnx_imports_neither_keras_nor_tensorflow(
    onnx_file, tmp_path
):
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 13:16] = 255  # a 1
    np.save(tmp_path / "one.npy", image)
    script = textwrap.dedent(
        f"""
        import json, sys
        from sk_mnist.cli import main

        status = main(["predict", {str(onnx_file)!r}, {str(tmp_path / "one.npy")!r}])
        heavy = ["keras", "tensorflow", "skl2onnx", "jax", "sklearn"]
        print(json.dumps([status, [m for m in heavy if m in sys.modules]]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == [0, []]
    assert lines[0].startswith(str(tmp_path / "one.npy"))


def test_cli_export_errors_are_one_line(blobs, saved_model, tmp_path, capsys):
    missing = tmp_path / "missing.skmnist"
    status = main(["export", str(missing), str(tmp_path / "m.onnx")])
    assert_one_line_error(status, capsys.readouterr().err, "no such model file")

    status = main(["export", str(saved_model), str(tmp_path / "no" / "m.onnx")])
    assert_one_line_error(status, capsys.readouterr().err, "cannot write")

    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, activation="sparsemax", epochs=1)
    dump(clf.fit(X, y), tmp_path / "sparsemax.skmnist")
    status = main(["export", str(tmp_path / "sparsemax.skmnist"), "x.onnx"])
    assert_one_line_error(
        status, capsys.readouterr().err, "'sparsemax'", "Supported activations"
    )

    factors = Pipeline([("factors", FactorAnalysis(2)), ("classifier", clf)])
    dump(factors.fit(X, y), tmp_path / "factors.skmnist")
    status = main(["export", str(tmp_path / "factors.skmnist"), "x.onnx"])
    assert_one_line_error(
        status, capsys.readouterr().err, "factors.skmnist", "FactorAnalysis"
    )


def test_cli_predict_onnx_errors_are_one_line(blobs, mnist, tmp_path, capsys):
    _, (X_test, _) = mnist
    digits = tmp_path / "digits.npy"
    np.save(digits, X_test[:2])
    not_onnx = tmp_path / "junk.onnx"
    not_onnx.write_bytes(b"not a model at all")
    status = main(["predict", str(not_onnx), str(digits)])
    assert_one_line_error(status, capsys.readouterr().err, "not an ONNX model")

    X, y = blobs  # a bare classifier takes feature rows, not images
    features = tmp_path / "features.onnx"
    to_onnx(MNISTClassifier(hidden_units=4, epochs=1).fit(X, y), features)
    status = main(["predict", str(features), str(digits)])
    assert_one_line_error(status, capsys.readouterr().err, "feature rows, not images")

    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(
        skl2onnx.to_onnx(StandardScaler().fit(X), X).SerializeToString()
    )
    status = main(["predict", str(foreign), str(digits)])
    assert_one_line_error(status, capsys.readouterr().err, "not an ONNX model written")
