"""On the JAX backend no sk_mnist process loads TensorFlow, though it is installed.

One subprocess under ``KERAS_BACKEND=jax`` fits, searches (in-process, on joblib's
loky workers and on a one-worker Dask cluster), saves, loads and predicts, also
through the command line, and reports after each step whether ``tensorflow`` is
in ``sys.modules`` there and in the workers. (tests/test_backends.py checks that
all this works with TensorFlow blocked; this checks that nothing loads it when it
is importable.)
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

_JAX_PROCESSES = r"""
import json, sys


def tensorflow_loaded():
    import sys
    return "tensorflow" in sys.modules


def fit_predict(estimator, X, y):
    estimator.fit(X, y).predict(X[:5])
    return tensorflow_loaded()


def load_predict(path, X):
    from sk_mnist import load
    load(path).predict(X[:5])
    return tensorflow_loaded()


def main(folder):
    import joblib
    import numpy as np
    from dask import distributed
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    import keras
    from sk_mnist import EpochGridSearchCV, dump, load, load_mnist
    from sk_mnist import make_mnist_pipeline
    from sk_mnist.cli import main as cli

    assert keras.backend.backend() == "jax"
    seen = {}
    (X, y), (X_test, _) = load_mnist()
    X, y = X[:600], y[:600]
    pipe = make_mnist_pipeline(hidden_units=16, epochs=1, random_state=0)
    pipe.fit(X, y)
    seen["fit"] = tensorflow_loaded()
    grid = {"classifier__epochs": [1, 2]}
    EpochGridSearchCV(pipe, grid, cv=2, refit=False).fit(X, y)
    seen["search"] = tensorflow_loaded()
    path = dump(pipe, f"{folder}/model.skmnist")
    seen["dump"] = tensorflow_loaded()
    load(path).predict(X_test[:10])
    seen["load, predict"] = tensorflow_loaded()
    np.save(f"{folder}/digits.npy", X_test[:3])
    assert cli(["predict", str(path), f"{folder}/digits.npy"]) == 0
    seen["command line predict"] = tensorflow_loaded()

    GridSearchCV(pipe, grid, cv=2, n_jobs=2, refit=False).fit(X, y)
    seen["search, loky"] = tensorflow_loaded()
    seen["loky workers"] = joblib.Parallel(n_jobs=2)(
        [joblib.delayed(fit_predict)(clone(pipe), X, y)]
        + [joblib.delayed(load_predict)(path, X_test)]
    )
    with (
        # One worker process, two threads: joblib runs the tasks of a one-thread
        # cluster in the calling process.
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask", scatter=[X, y]),
    ):
        with distributed.get_task_stream(client) as tasks:
            GridSearchCV(pipe, grid, cv=2, refit=False).fit(X, y)
        seen["dask tasks"] = len(tasks.data)
        seen["dask workers, search"] = list(client.run(tensorflow_loaded).values())
        seen["dask workers, fit, load"] = [
            client.submit(fit_predict, clone(pipe), X, y).result(),
            client.submit(load_predict, path, X_test).result(),
        ]
    seen["search, dask"] = tensorflow_loaded()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_jax_processes_and_their_workers_load_no_tensorflow(tmp_path):
    # TensorFlow is a dependency and JAX a test one: both are installed.
    assert importlib.util.find_spec("tensorflow") and importlib.util.find_spec("jax")
    script = tmp_path / "jax_processes.py"
    script.write_text(_JAX_PROCESSES)
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True,
        text=True, timeout=900, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-10000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "fit": False,
        "search": False,
        "dump": False,
        "load, predict": False,
        "command line predict": False,
        "search, loky": False,
        "loky workers": [False, False],
        "dask tasks": 4,  # 2 candidates x 2 folds, run on the worker
        "dask workers, search": [False],
        "dask workers, fit, load": [False, False],
        "search, dask": False,
    }
