"""Write the model files of ``tests/test_model_file_stability.py``.

Run from the repository root, with ``SK_MNIST_DATA`` set::

    python tests/data/make_model_files.py

It fits a small pipeline (PixelScaler, from format 3 on a PCA of 32
components, then MNISTClassifier with 16 hidden units, 2 epochs, seeded) on 1000
MNIST training images and writes, in this folder:

- ``model_format<N>.skmnist`` with ``sk_mnist.dump``, N being the format
  version of the sk_mnist that runs the script, and ``model.joblib`` with
  ``joblib.dump`` (only with ``--joblib``);
- ``inputs.npy``: the first 20 MNIST test images (uint8, (20, 28, 28));
- ``<file>.proba.npy`` and ``<file>.labels.npy``: what each file's model
  predicts for them.

The committed files must not be regenerated to make the test pass: they are
what older versions of sk_mnist wrote. ``model_format1.skmnist`` was written by
sk_mnist at commit 191051e (format version 1), by this script run on a copy of
that commit's tree; ``model_format2.skmnist`` and ``model.joblib`` by the
commit that added them. ``model_format2_scalers.skmnist`` (PixelScaler, a
nested Pipeline of StandardScaler and MaxAbsScaler, MNISTClassifier with 8
hidden units, 2 epochs, seeded, on the same 1000 images) was written by sk_mnist
at commit 9209a4c, format 2, whose manifest encodes the scikit-learn scalers as
JSON; format 3 stores such steps with skops and keeps reading this.
``model_format3.skmnist`` (its PCA in a skops member) by the commit that added
it. A new format version adds its file next to them.
"""

import argparse
from pathlib import Path

import joblib
import numpy as np
from sklearn.decomposition import PCA

import sk_mnist
from sk_mnist import load_mnist, make_mnist_pipeline
from sk_mnist.persistence import FORMAT_VERSION

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joblib", action="store_true", help="also a joblib pickle")
    parser.add_argument("--output", type=Path, default=HERE)
    args = parser.parse_args()
    (X, y), (X_test, _) = load_mnist()
    model = make_mnist_pipeline(hidden_units=16, epochs=2, random_state=0)
    if FORMAT_VERSION >= 3:  # a scikit-learn step, stored with skops
        model.steps.insert(1, ("pca", PCA(32, random_state=0)))
    model.fit(X[:1000], y[:1000])
    inputs = X_test[:20]
    np.save(args.output / "inputs.npy", inputs)
    name = f"model_format{FORMAT_VERSION}.skmnist"
    paths = [sk_mnist.dump(model, args.output / name)]
    if args.joblib:
        paths.append(args.output / "model.joblib")
        joblib.dump(model, paths[-1], compress=3)
    for path in paths:
        np.save(f"{path}.proba.npy", model.predict_proba(inputs))
        np.save(f"{path}.labels.npy", model.predict(inputs))
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
