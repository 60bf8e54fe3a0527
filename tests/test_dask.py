"""A grid search spread over a Dask cluster gives the same results as one machine."""

import joblib
import numpy as np
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
