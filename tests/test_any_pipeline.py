"""Any pipeline you can build, you can ship: dump/load, ONNX and the CLI.

Pipelines with scikit-learn steps between ``PixelScaler`` and ``MNISTClassifier``
are dumped, loaded in one fresh process (which also exports them to ONNX), and
must give bit-identical probabilities; onnxruntime must give the same labels and
probabilities within 1e-5. Untrusted types in a skops member are refused before
anything is built. The table of the manual's saving page is computed here.

Regenerate the table after a change (from the repository's root)::

    python tests/test_any_pipeline.py
"""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_selection import VarianceThreshold
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.random_projection import GaussianRandomProjection
from test_persistence import (
    _declare_size,
    _refused_within,
    _unzip,
    _with_skops_member,
    _zip,
)

from sk_mnist import (
    MNISTClassifier,
    ModelFormatError,
    PixelScaler,
    UnsafeModelFileError,
    dump,
    load,
)
from sk_mnist.cli import main

TABLE = Path(__file__).parent.parent / "docs" / "_data" / "steps.md"
SMALL = dict(hidden_units=16, epochs=2, random_state=0)
PROBA_TOLERANCE = 1e-5


def _middle_steps():
    """The steps the issue names, each between PixelScaler and MNISTClassifier."""
    return {
        "pca": PCA(20, random_state=0),
        "truncated_svd": TruncatedSVD(20, random_state=0),
        "standard_pca": make_pipeline(StandardScaler(), PCA(20, random_state=0)),
        "variance_threshold": VarianceThreshold(0.01),
        "random_projection": GaussianRandomProjection(40, random_state=0),
        "union": FeatureUnion(
            [("pca", PCA(10, random_state=0)), ("svd", TruncatedSVD(10))]
        ),
    }


@pytest.fixture(scope="module")
def data(mnist_small):
    (X, y), (X_test, _) = mnist_small
    return X[:600], y[:600], X_test[:100]


@pytest.fixture(scope="module")
def fitted(data):
    """Each pipeline, and the README's grid search's best estimator, fitted once."""
    X, y, _ = data
    models = {
        name: Pipeline(
            [
                ("scaler", PixelScaler()),
                (name, step),
                ("classifier", MNISTClassifier(**SMALL)),
            ]
        ).fit(X, y)
        for name, step in _middle_steps().items()
    }
    search = GridSearchCV(  # the README's search, smaller
        make_pipeline(PixelScaler(), PCA(), MNISTClassifier(**SMALL)),
        {"pca__n_components": [10, 20], "mnistclassifier__epochs": [1]},
        cv=2,
    ).fit(X, y)
    models["readme_search"] = search.best_estimator_
    return models


_FRESH_PROCESS = """
import sys
import numpy as np
from sk_mnist import load, to_onnx

images = np.load(sys.argv[1])
for path in sys.argv[2:]:
    model = load(path)
    np.save(path + ".proba.npy", model.predict_proba(images))
    to_onnx(model, path + ".onnx")
"""


@pytest.fixture(scope="module")
def shipped(fitted, data, tmp_path_factory):
    """Each model dumped, then loaded and exported in one fresh process."""
    _, _, X_test = data
    folder = tmp_path_factory.mktemp("shipped")
    np.save(folder / "images.npy", X_test)
    paths = {
        name: dump(model, folder / f"{name}.skmnist") for name, model in fitted.items()
    }
    subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(folder / "images.npy")]
        + [str(path) for path in paths.values()],
        check=True,
        capture_output=True,
    )
    return paths


NAMES = [*_middle_steps(), "readme_search"]


@pytest.mark.parametrize("name", NAMES)
def test_dump_then_load_in_a_fresh_process_is_bit_identical(
    name, fitted, shipped, data
):
    """Bit for bit what loading gives here, and the original's labels.

    Not always bit for bit the original's probabilities: a fitted PCA's
    ``components_`` is a strided view, which NumPy multiplies without BLAS;
    any copy (pickle's too) is contiguous and goes through BLAS, 1e-7 apart.
    """
    _, _, X_test = data
    path = shipped[name]
    with zipfile.ZipFile(path) as archive:  # the scikit-learn step is skops'
        assert any(n.startswith("skops-") for n in archive.namelist())
    original = fitted[name]
    fresh = np.load(f"{path}.proba.npy")
    np.testing.assert_array_equal(fresh, load(path).predict_proba(X_test))
    np.testing.assert_allclose(fresh, original.predict_proba(X_test), atol=1e-6)
    np.testing.assert_array_equal(
        original.classes_[fresh.argmax(axis=1)], original.predict(X_test)
    )


@pytest.mark.parametrize("name", NAMES)
def test_onnx_exported_in_the_fresh_process_gives_the_same_labels(
    name, fitted, shipped, data
):
    _, _, X_test = data
    session = onnxruntime.InferenceSession(
        f"{shipped[name]}.onnx", providers=["CPUExecutionProvider"]
    )
    labels, proba = session.run(None, {"X": X_test})
    np.testing.assert_array_equal(labels, fitted[name].predict(X_test))
    np.testing.assert_allclose(
        proba, fitted[name].predict_proba(X_test), atol=PROBA_TOLERANCE
    )


def test_the_readme_search_picked_a_pca_pipeline(fitted):
    best = fitted["readme_search"]
    assert [type(step).__name__ for _, step in best.steps] == [
        "PixelScaler",
        "PCA",
        "MNISTClassifier",
    ]


def test_sk_mnist_predict_and_export_take_such_a_file(
    fitted, shipped, data, tmp_path, capsys
):
    _, _, X_test = data
    np.save(tmp_path / "digits.npy", X_test[:5])
    digits = str(tmp_path / "digits.npy")
    path = str(shipped["union"])
    assert main(["predict", path, digits]) == 0
    lines = capsys.readouterr().out.splitlines()
    labels = fitted["union"].predict(X_test[:5])
    assert [line.split()[1] for line in lines] == [str(label) for label in labels]
    out = tmp_path / "union.onnx"
    assert main(["export", path, str(out)]) == 0
    capsys.readouterr()
    assert main(["predict", str(out), digits]) == 0
    assert capsys.readouterr().out.splitlines() == lines


# --- Untrusted types: refused by name, before anything is built -------------------


class Doubler(TransformerMixin, BaseEstimator):
    """A step of one's own: outside skops' default trust."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        return np.asarray(X) * 2


def _nothing_built(monkeypatch):
    """Make building the skops members or a network fail the test."""

    def fail(*args, **kwargs):
        raise AssertionError("something was built from a refused file")

    import keras
    import skops.io

    monkeypatch.setattr(skops.io, "loads", fail)
    monkeypatch.setattr(keras.saving, "load_model", fail)


@pytest.fixture(scope="module")
def tiny(data):
    """A classifier on 784 pixels, fitted in a second: the last step of the files."""
    X, y, _ = data
    flat = X.reshape(len(X), -1) / 255
    return MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(flat, y)


@pytest.mark.parametrize(
    "function, name",
    [(os.system, f"{os.system.__module__}.system"), (eval, "builtins.eval")],
    ids=["os.system", "builtins.eval"],
)
def test_a_function_outside_the_default_trust_is_refused_by_name(
    function, name, tiny, tmp_path, monkeypatch
):
    model = Pipeline(
        [
            ("scaler", PixelScaler().fit(np.zeros((1, 784)))),
            ("f", FunctionTransformer(function)),
            ("classifier", tiny),
        ]
    )
    path = dump(model, tmp_path / "f.skmnist")  # written: it is safe to write
    _nothing_built(monkeypatch)
    with pytest.raises(UnsafeModelFileError, match="not trusted by default") as info:
        load(path)
    assert f"'{name}'" in str(info.value) and "Nothing was loaded" in str(info.value)


def test_a_class_of_ones_own_loads_only_when_trusted_by_name(
    tiny, data, tmp_path, monkeypatch
):
    _, _, X_test = data
    model = Pipeline(
        [
            ("scaler", PixelScaler().fit(np.zeros((1, 784)))),
            ("double", Doubler().fit(np.zeros((1, 784)))),
            ("classifier", tiny),
        ]
    )
    path = dump(model, tmp_path / "own.skmnist")
    name = f"{Doubler.__module__}.Doubler"
    with pytest.raises(UnsafeModelFileError, match=f"trusted=\\['{name}'\\]"):
        load(path)
    loaded = load(path, trusted=[name])
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), model.predict_proba(X_test)
    )
    with pytest.raises(TypeError, match="list of type names"):
        load(path, trusted=name)


def test_a_hostile_schema_naming_os_system_is_refused(fitted, shipped, monkeypatch):
    """A file dump never wrote: the PCA's class changed to os.system in the schema."""
    path = shipped["pca"]
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    member = next(n for n in members if n.startswith("skops-"))
    inner = _unzip(members[member])
    schema = json.loads(inner["schema.json"])
    schema.update(__class__="system", __module__="os")
    inner["schema.json"] = json.dumps(schema).encode()
    members[member] = _zip(inner)
    hostile = path.with_name("hostile.skmnist")
    hostile.write_bytes(_zip(members))
    _nothing_built(monkeypatch)
    with pytest.raises(UnsafeModelFileError, match="'os.system'"):
        load(hostile)


def test_a_skops_array_claiming_a_trillion_elements_is_refused_by_its_header(
    shipped,
):
    def huge_header(member):
        inner = _unzip(member)
        name = next(n for n in inner if n.endswith(".npy"))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (10**6,) * 2}
        )
        inner[name] = header.getvalue() + b"\0" * 64
        return _zip(inner)

    path = _with_skops_member(shipped["pca"], huge_header)
    with pytest.raises(ModelFormatError, match="claims shape.*but holds 64 bytes"):
        load(path)


def test_a_skops_member_declaring_a_huge_inner_size_is_refused(shipped):
    def declare(member):
        return _declare_size(member, "schema.json", 0xFFFF_FFF0)

    path = _with_skops_member(shipped["pca"], declare)
    with pytest.raises(
        ModelFormatError, match=r"'skops-\d+\.skops' unpacks to 4295\d{6} bytes"
    ):
        load(path)


def test_a_huge_skops_schema_is_refused_before_it_is_read(shipped):
    """20 MB of schema (20 KB compressed): refused by its declared size."""

    def huge_schema(member):
        inner = _unzip(member)
        schema = json.loads(inner["schema.json"])
        schema["padding"] = "x" * 20_000_000
        inner["schema.json"] = json.dumps(schema).encode()
        return _zip(inner, zipfile.ZIP_DEFLATED)

    path = _with_skops_member(shipped["pca"], huge_schema)
    _refused_within(path, r"has a schema of 200\d{5} bytes; the format allows", 10**6)


# --- The table of the manual's saving page ----------------------------------------


def _table_steps():
    """(label, unfitted step) for each row of the table."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import FactorAnalysis
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.kernel_approximation import Nystroem
    from sklearn.preprocessing import (
        Binarizer,
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        PolynomialFeatures,
        SplineTransformer,
    )
    from sklearn.random_projection import SparseRandomProjection

    return [
        ("`PixelScaler`", PixelScaler()),
        ("`StandardScaler`", StandardScaler()),
        ("`MinMaxScaler`", MinMaxScaler()),
        ("`MaxAbsScaler`", MaxAbsScaler()),
        ("`Normalizer`", Normalizer()),
        ("`Binarizer`", Binarizer(threshold=0.5)),
        ("`PCA`", PCA(4, random_state=0)),
        ("`TruncatedSVD`", TruncatedSVD(4, random_state=0)),
        ("`VarianceThreshold`", VarianceThreshold(0.01)),
        ("`GaussianRandomProjection`", GaussianRandomProjection(4, random_state=0)),
        ("`SparseRandomProjection`", SparseRandomProjection(4, random_state=0)),
        ("`Nystroem`", Nystroem(n_components=4, random_state=0)),
        ("`PolynomialFeatures`", PolynomialFeatures(2)),
        ("`SelectKBest(f_classif)`", SelectKBest(f_classif, k=4)),
        ("`FunctionTransformer(np.log1p)`", FunctionTransformer(np.log1p)),
        ("`FactorAnalysis`", FactorAnalysis(2, random_state=0)),
        ("`SplineTransformer`", SplineTransformer()),
        ("`Pipeline` of `StandardScaler` and `PCA`", make_pipeline(
            StandardScaler(), PCA(4, random_state=0)
        )),
        ("`FeatureUnion` of `PCA` and `TruncatedSVD`", FeatureUnion(
            [("pca", PCA(2, random_state=0)), ("svd", TruncatedSVD(2))]
        )),
        ("`ColumnTransformer` of `PCA` and `StandardScaler`", ColumnTransformer(
            [("pca", PCA(2, random_state=0), [0, 1, 2]), ("std", StandardScaler(), [4])]
        )),
    ]  # fmt: skip


def _safe_file(step, X, folder):
    try:
        path = dump(step, folder / "step.skmnist")
    except TypeError as exc:
        reason = "sparse matrices" if "sparse" in str(exc) else "cannot store"
        return f"no ({reason})"
    try:
        loaded = load(path)
        how = "yes"
    except UnsafeModelFileError:
        with zipfile.ZipFile(path) as archive:
            import skops.io

            names = sorted(
                {
                    name
                    for member in archive.namelist()
                    if member.startswith("skops-")
                    for name in skops.io.get_untrusted_types(data=archive.read(member))
                }
            )
        loaded = load(path, trusted=names)
        how = "with `trusted=[...]`: " + ", ".join(f"`{n}`" for n in names)
    assert np.array_equal(loaded.transform(X), step.transform(X))
    return how


def _joblib(step, X):
    import joblib

    buffer = io.BytesIO()
    joblib.dump(step, buffer)
    buffer.seek(0)
    same = np.array_equal(joblib.load(buffer).transform(X), step.transform(X))
    return "yes" if same else "no"


def _onnx(step, X):
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType, UInt8TensorType

    import sk_mnist.export  # registers sk_mnist's converters

    pixels = isinstance(step, PixelScaler)
    kind = UInt8TensorType if pixels else FloatTensorType
    try:
        model = skl2onnx.convert_sklearn(
            step,
            initial_types=[("X", kind([None, X.shape[1]]))],
            target_opset=sk_mnist.export.TARGET_OPSET,
        )
    except (RuntimeError, NotImplementedError):  # MissingShapeCalculator...
        return "no converter"
    session = onnxruntime.InferenceSession(model.SerializeToString())
    (out,) = session.run(None, {"X": X.astype(np.uint8 if pixels else np.float32)})
    expected = step.transform(X)
    return "yes" if np.allclose(out, expected, atol=1e-4, rtol=1e-3) else "differs"


def steps_table(folder):
    """The Markdown table of which steps each way of saving holds."""
    rng = np.random.RandomState(0)
    X = rng.rand(60, 6).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    lines = [
        "| step | `sk_mnist.dump` (safe file) | `joblib.dump` (pickle) "
        "| `sk_mnist.to_onnx` |",
        "| --- | --- | --- | --- |",
    ]
    for label, step in _table_steps():
        data = np.round(X * 255) if isinstance(step, PixelScaler) else X
        step.fit(data, y)
        cells = [
            _safe_file(step, data, folder),
            _joblib(step, data),
            _onnx(step, data),
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_the_saving_page_table_is_what_the_steps_do(tmp_path):
    assert TABLE.read_text() == steps_table(tmp_path), (
        f"{TABLE} is out of date: run python tests/test_any_pipeline.py"
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        TABLE.write_text(steps_table(Path(folder)))
    print(f"wrote {TABLE}")
