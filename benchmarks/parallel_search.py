"""A seeded search of 8 fits: one process, loky n_jobs=2, and a 2-worker Dask cluster.

The book's pipeline, ``random_state=0``, 4 candidates (epochs 1 and 2, batch
sizes 64 and 128) x 2 folds = 8 fits, run three ways in one process, in turns
(``--repeats`` rounds), so that a change in machine load hits all alike:

- ``serial``: ``GridSearchCV(n_jobs=1)``;
- ``loky``: ``GridSearchCV(n_jobs=2)`` (joblib's process pool);
- ``dask``: ``GridSearchCV`` under ``joblib.parallel_backend("dask")`` on a
  ``LocalCluster`` of 2 workers x 1 thread.

Printed: the best wall time of each, its ratio to serial, the threads one fit
got in each kind of worker (see ``sk_mnist/_threads.py``), and whether the test
scores of every fold are bit-identical to serial's. Worker start-up (and
TensorFlow's import there) is paid in a warm-up round, not timed.

Run: ``SK_MNIST_DATA=/path/to/mnist python benchmarks/parallel_search.py
[--n-train 6000] [--full] [--repeats 2]``
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GRID = {"classifier__epochs": [1, 2], "classifier__batch_size": [64, 128]}


def _fit_threads():
    """In a worker: the threads a fit got (run after a fit there)."""
    from sk_mnist import _threads

    return _threads.configure_threads()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--full", action="store_true", help="all 60000 images")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    import joblib
    from dask import distributed
    from sklearn.model_selection import GridSearchCV

    from sk_mnist import load_mnist, make_mnist_pipeline

    (X, y), _ = load_mnist()
    if not args.full:
        X, y = X[: args.n_train], y[: args.n_train]

    def search(n_jobs):
        pipe = make_mnist_pipeline(random_state=0)
        return GridSearchCV(pipe, GRID, cv=2, refit=False, n_jobs=n_jobs)

    keys = ["split0_test_score", "split1_test_score"]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        runs = {
            "serial": lambda: search(1).fit(X, y),
            "loky": lambda: search(2).fit(X, y),
            "dask": lambda: _on_dask(search(None), X, y, joblib),
        }
        small = X[:500], y[:500]
        search(2).fit(*small)  # warm-up: start loky's workers, import TensorFlow
        _on_dask(search(None), *small, joblib)  # and Dask's
        times = {name: [] for name in runs}
        scores = {}
        for repeat in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                fitted = run()
                times[name].append(time.perf_counter() - start)
                scores[name] = [fitted.cv_results_[key].tolist() for key in keys]
                print(f"repeat {repeat} {name:6} {times[name][-1]:7.2f} s", flush=True)
        dask_threads = client.run(_fit_threads)
    loky_threads = joblib.Parallel(n_jobs=2)(
        joblib.delayed(_fit_threads)() for _ in range(2)
    )
    print(f"{len(X)} images, 8 fits; best of {args.repeats}:")
    serial = min(times["serial"])
    for name in runs:
        best = min(times[name])
        same = scores[name] == scores["serial"]
        print(
            f"  {name:6} {best:7.2f} s  ratio to serial {best / serial:.2f}  "
            f"scores bit-identical to serial: {same}"
        )
    print(f"threads per fit: loky workers {loky_threads}, Dask workers {dask_threads}")
    print("  (False: left at the backend's default; in loky they are set by the")
    print("  first fit of the worker, which the call above may not have been)")


def _on_dask(search, X, y, joblib):
    with joblib.parallel_backend("dask"):
        return search.fit(X, y)


if __name__ == "__main__":
    main()
