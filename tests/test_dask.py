"""A grid search spread over a Dask cluster gives the same results as one machine."""

import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from dask import distributed
from sklearn.model_selection import GridSearchCV

from sk_mnist import EpochGridSearchCV, make_mnist_pipeline


@pytest.fixture(scope="module")
def client():
    """A local two-worker cluster, one thread each, shared by the module's tests."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_grid_search_on_a_dask_cluster_matches_a_local_one(mnist_small, client):
    (X_train, y_train), _ = mnist_small
    X, y = X_train[:800], y_train[:800]
    grid = {"classifier__epochs": [1, 2]}

    local = GridSearchCV(make_mnist_pipeline(random_state=0), grid, cv=2).fit(X, y)

    search = GridSearchCV(make_mnist_pipeline(random_state=0), grid, cv=2)
    with (
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_backend("dask"),
    ):
        search.fit(X, y)

    assert len(tasks.data) >= 4, tasks.data  # 2 candidates x 2 folds, as Dask tasks
    # Dask's workers run with OMP_NUM_THREADS=1: another thread layout sums floats
    # in another order, so scores agree closely rather than bit for bit.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        atol=0.02,
    )
    assert search.best_params_ == local.best_params_


def test_epoch_grid_search_on_a_dask_cluster_matches_grid_search_there(
    mnist_small, client
):
    (X_train, y_train), _ = mnist_small
    X, y = X_train[:800], y_train[:800]
    grid = {"classifier__epochs": [1, 2], "classifier__batch_size": [64, 128]}
    pipe = make_mnist_pipeline(random_state=0)
    searches = {}
    for search_class in (EpochGridSearchCV, GridSearchCV):
        search = search_class(pipe, grid, cv=2, refit=False)
        with (
            distributed.get_task_stream(client) as tasks,
            joblib.parallel_backend("dask"),
        ):
            search.fit(X, y)
        searches[search_class] = search, len(tasks.data)

    (epoch_search, epoch_tasks), (grid_search, grid_tasks) = searches.values()
    # 2 batch sizes x 2 folds as Dask tasks, against 4 candidates x 2 folds.
    assert (epoch_tasks, grid_tasks) == (4, 8), (epoch_tasks, grid_tasks)
    # Not bit for bit: on Dask workers even GridSearchCV's seeded scores change from
    # run to run (measured: one candidate and fold gave 0.46, 0.4725 and 0.435 in
    # three runs with 32 hidden units), unlike in-process and loky runs.
    np.testing.assert_allclose(
        epoch_search.cv_results_["mean_test_score"],
        grid_search.cv_results_["mean_test_score"],
        atol=0.02,
    )


# --- sk-mnist search --scheduler / --dask-workers ---------------------------------

_SEARCH = ["search", "--train-size", "400", "--epochs", "1", "--batch-size", "32",
           "64", "--hidden-units", "16", "--cv", "2"]  # fmt: skip


def test_cli_search_on_a_scheduler_sends_the_data_once_and_reports_each_fit(
    client, tmp_path, capsys, monkeypatch
):
    from sk_mnist.cli import main

    scattered = []  # (arrays' sizes in bytes, broadcast) per call of Client.scatter
    scatter = distributed.Client.scatter

    def spy(self, data, *args, **kwargs):
        items = data if isinstance(data, list | tuple) else [data]
        sizes = [getattr(item, "nbytes", 0) for item in items]
        scattered.append((sizes, kwargs.get("broadcast", False)))
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", spy)
    output = tmp_path / "results.csv"
    address = client.scheduler.address
    with distributed.get_task_stream(client) as tasks:
        status = main([*_SEARCH, "--scheduler", address, "--output", str(output)])
    out = capsys.readouterr().out
    assert status == 0, out

    # 2 batch sizes x 2 folds, each a Dask task on one of the cluster's workers.
    assert len(tasks.data) == 4, tasks.data
    progress = [line for line in out.splitlines() if line.startswith("fit ")]
    workers = set(client.scheduler_info()["workers"])
    assert [line.split(" done on ")[0] for line in progress] == [
        f"fit {k}/4" for k in range(1, 5)
    ]
    assert {line.split(" done on ")[1] for line in progress} <= workers
    # The 400 images went once, to every worker; no task carried them again.
    images = 400 * 28 * 28
    with_images = [call for call in scattered if images in call[0]]
    assert len(with_images) == 1 and with_images[0][1] is True, scattered
    assert all(max(sizes) < images for sizes, _ in scattered if images not in sizes)
    results = pd.read_csv(output)
    assert len(results) == 2 and (results["mean_test_score"] > 0.15).all()  # chance 0.1


def test_cli_search_with_a_wrong_scheduler_address_is_one_error_line(
    capsys, monkeypatch
):
    from sk_mnist import _dask
    from sk_mnist.cli import main

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1)
    for address, reason in [
        ("tcp://127.0.0.1:1", "within 1 s"),  # nothing listens there
        ("no-port", "missing port number"),
    ]:
        assert main([*_SEARCH, "--scheduler", address]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"sk-mnist: error: cannot reach a Dask scheduler at "
                              f"{address}"), err  # fmt: skip
        assert reason in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_search_without_dask_says_how_to_install_it(capsys, monkeypatch):
    from sk_mnist.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    assert main([*_SEARCH, "--dask-workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "sk-mnist: error: running on a Dask cluster needs Dask; install it in the "
        'sk_mnist project folder with pip install ".[dask]"'
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (["--dask-workers", "1"], "expected an integer of at least 2"),
        (["--n-jobs", "2", "--scheduler", "tcp://h:1"], "not allowed with argument"),
        (["--scheduler", "tcp://h:1", "--dask-workers", "2"], "not allowed with"),
    ],
)
def test_cli_search_cluster_options_are_checked(options, message, capsys):
    from sk_mnist.cli import main

    assert main([*_SEARCH, *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "error:" in err
