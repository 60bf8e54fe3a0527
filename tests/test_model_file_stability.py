"""Model files written by earlier versions keep loading and predicting the same.

``tests/data`` holds files written by earlier sk_mnist versions (how: see
``tests/data/make_model_files.py``), the inputs, and the predictions each file
must give. They are compared, never regenerated. Probabilities may move by
1e-6 (another predict path or Keras backend sums floats in another order);
labels may not move.
"""

import json
import shutil
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

from sk_mnist import ModelFormatError, SkMnistVersionWarning, load
from sk_mnist.persistence import FORMAT_VERSION

DATA = Path(__file__).parent / "data"
FILES = [
    "model_format1.skmnist",
    "model_format2.skmnist",
    "model_format2_scalers.skmnist",
    "model_format3.skmnist",
    "model.joblib",
]


def _load(path):
    with warnings.catch_warnings():
        # Files from other versions warn by design; the predictions decide.
        warnings.simplefilter("ignore", SkMnistVersionWarning)
        if path.suffix == ".joblib":
            return joblib.load(path)
        return load(path)


@pytest.mark.parametrize("name", FILES)
def test_committed_model_files_keep_loading_with_the_same_predictions(name):
    inputs = np.load(DATA / "inputs.npy")
    model = _load(DATA / name)
    np.testing.assert_allclose(
        model.predict_proba(inputs), np.load(DATA / f"{name}.proba.npy"), atol=1e-6
    )
    np.testing.assert_array_equal(
        model.predict(inputs), np.load(DATA / f"{name}.labels.npy")
    )


def test_every_format_version_has_a_committed_file():
    for version in range(1, FORMAT_VERSION + 1):
        assert (DATA / f"model_format{version}.skmnist").is_file(), (
            f"commit a file of format {version}: tests/data/make_model_files.py"
        )


def test_a_newer_format_version_is_refused_with_upgrade_advice(tmp_path):
    newer = tmp_path / "newer.skmnist"
    shutil.copy(DATA / f"model_format{FORMAT_VERSION}.skmnist", newer)
    with zipfile.ZipFile(newer) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["format_version"] = FORMAT_VERSION + 1
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(newer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFormatError, match="newer sk_mnist.*Upgrade sk_mnist"):
        load(newer)
