"""TensorFlow and JAX: the same estimator, the same model files, the same tests.

The suite runs under one backend (``KERAS_BACKEND``, TensorFlow by default); the
tests here run what must hold under the other one in subprocesses, so that the
one command ``python -m pytest`` covers both.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from sk_mnist import dump, load, make_mnist_pipeline

BACKEND = keras.backend.backend()
OTHER = "jax" if BACKEND == "tensorflow" else "tensorflow"
TESTS = Path(__file__).parent
#: The tests that the other backend must pass too: fit, seeded fits identical
#: across processes, partial_fit, warm_start, rollback, dump/load, pickle, threads,
#: a search's checkpoint.
OTHER_BACKEND_TESTS = [
    "test_checkpoint.py",
    "test_classifier.py",
    "test_forward.py",
    "test_persistence.py",
    "test_reliability.py",
]


def _run(argv, backend, timeout=900):
    """Run ``python argv`` under ``backend``; fail with its output if it fails."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True,
        timeout=timeout, cwd=TESTS.parent,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} under KERAS_BACKEND={backend} exited with "
            f"{done.returncode}:\n{done.stdout[-20000:]}\n{done.stderr[-10000:]}",
            pytrace=False,
        )
    return done


def test_the_other_backend_passes_the_classifier_persistence_reliability_tests():
    done = _run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + [str(TESTS / name) for name in OTHER_BACKEND_TESTS],
        OTHER,
        timeout=1500,
    )
    assert " passed" in done.stdout.splitlines()[-1]
    assert "failed" not in done.stdout.splitlines()[-1]


_FIT_AND_DUMP = """
import sys
import numpy as np
from sk_mnist import dump, load_mnist, make_mnist_pipeline
(X, y), (X_test, _) = load_mnist()
pipe = make_mnist_pipeline(hidden_units=32, epochs=1, random_state=0)
pipe.fit(X[:2000], y[:2000])
dump(pipe, sys.argv[1])
np.save(sys.argv[2], pipe.predict_proba(X_test[:1000]))
"""

_LOAD_AND_PREDICT = """
import sys, warnings
import numpy as np
from sk_mnist import load, load_mnist
_, (X_test, _) = load_mnist()
with warnings.catch_warnings():
    warnings.simplefilter("error")  # the backend is recorded, not compared
    model = load(sys.argv[1])
np.save(sys.argv[2], model.predict_proba(X_test[:1000]))
"""


def test_model_files_load_under_the_other_backend(tmp_path, mnist_small):
    _, (X_test, _) = mnist_small
    X_test = X_test[:1000]
    # Written here, read there.
    pipe = make_mnist_pipeline(hidden_units=32, epochs=1, random_state=0)
    pipe.fit(*mnist_small[0])
    here = dump(pipe, tmp_path / f"{BACKEND}.skmnist")
    _run(["-c", _LOAD_AND_PREDICT, str(here), str(tmp_path / "there.npy")], OTHER)
    there = np.load(tmp_path / "there.npy")
    np.testing.assert_allclose(there, pipe.predict_proba(X_test), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(there.argmax(axis=1), pipe.predict(X_test))
    # Written there, read here.
    file, proba = tmp_path / f"{OTHER}.skmnist", tmp_path / "written-there.npy"
    _run(["-c", _FIT_AND_DUMP, str(file), str(proba)], OTHER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the backend is recorded, not compared
        loaded = load(file)
    written_there = np.load(proba)
    np.testing.assert_allclose(
        loaded.predict_proba(X_test), written_there, rtol=0, atol=1e-5
    )
    np.testing.assert_array_equal(
        loaded.predict(X_test), loaded.classes_[written_there.argmax(axis=1)]
    )


_JAX_WITHOUT_TENSORFLOW = """
import pickle, sys
sys.modules["tensorflow"] = None  # any import of TensorFlow raises ImportError
import keras
import numpy as np
from sk_mnist import MNISTClassifier, dump, load
assert keras.backend.backend() == "jax"
rng = np.random.RandomState(0)
X, y = rng.rand(120, 8).astype(np.float32), np.repeat(np.arange(4), 30)
params = dict(hidden_units=16, epochs=2, batch_size=16, random_state=0)
a = MNISTClassifier(**params).fit(X, y)
b = MNISTClassifier(**params).fit(X, y)
np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
a.partial_fit(X, y)
assert not np.allclose(a.predict_proba(X), b.predict_proba(X))
warm = MNISTClassifier(**params, warm_start=True).fit(X, y)
model = warm.model_
warm.fit(X, y)
assert warm.model_ is model
dump(a, sys.argv[1])
np.testing.assert_array_equal(load(sys.argv[1]).predict_proba(X), a.predict_proba(X))
copy = pickle.loads(pickle.dumps(a))
np.testing.assert_array_equal(copy.predict_proba(X), a.predict_proba(X))
assert sys.modules["tensorflow"] is None
print("ok")
"""


def test_jax_fits_seeds_and_saves_without_tensorflow(tmp_path):
    done = _run(["-c", _JAX_WITHOUT_TENSORFLOW, str(tmp_path / "model.skmnist")], "jax")
    assert done.stdout.strip().endswith("ok")


_CLI_THEN_BACKEND = """
import sys
from sk_mnist.cli import main
status = main(sys.argv[1:])
import keras
print("backend:", keras.backend.backend())
sys.exit(status)
"""


def test_cli_backend_option_picks_the_backend(tmp_path, mnist_small):
    (X, y), (X_test, _) = mnist_small
    pipe = make_mnist_pipeline(hidden_units=16, epochs=1, random_state=0).fit(X, y)
    model = dump(pipe, tmp_path / "model.skmnist")
    np.save(tmp_path / "digits.npy", X_test[:5])
    done = _run(
        ["-c", _CLI_THEN_BACKEND, "--backend", OTHER, "predict", str(model),
         str(tmp_path / "digits.npy")],
        BACKEND,  # the environment says one backend, the option the other
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"backend: {OTHER}"
    labels = [int(line.split()[1]) for line in lines[:-1]]
    assert labels == list(pipe.predict(X_test[:5]))


def test_cli_backend_option_after_keras_is_imported_is_refused(tmp_path, capsys):
    from sk_mnist.cli import main

    assert main(["--backend", OTHER, "predict", "model", "digit.png"]) == 2
    error = capsys.readouterr().err
    assert f"Keras is already imported in this process with the {BACKEND}" in error
    assert os.environ.get("KERAS_BACKEND", "tensorflow") == BACKEND
