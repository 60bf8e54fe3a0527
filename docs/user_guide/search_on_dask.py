"""EpochGridSearchCV on a Dask cluster, as a whole script.

Run it as ``python search_on_dask.py [N_IMAGES]`` (default 10000 training images).
``Client()`` starts a local cluster in new processes, which import this script
again: the work is under ``if __name__ == "__main__":``, as in every script that
starts processes.
"""

import sys

import joblib
from dask.distributed import Client

import sk_mnist


def main(n_images=10000):
    sk_mnist.hide_tensorflow_startup_lines()  # also for the workers it starts
    (X, y), _ = sk_mnist.load_mnist()
    X, y = X[:n_images], y[:n_images]
    search = sk_mnist.EpochGridSearchCV(
        sk_mnist.make_mnist_pipeline(random_state=0),
        {"classifier__epochs": [1, 3, 5], "classifier__batch_size": [64, 128]},
        cv=3,
    )
    # Client("tcp://scheduler-host:8786") joins a running cluster instead.
    with Client(n_workers=2, threads_per_worker=1):
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    print(search.best_params_, f"{search.best_score_:.4f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
