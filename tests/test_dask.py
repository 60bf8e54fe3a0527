"""A grid search spread over a Dask cluster gives the same results as one machine."""

import joblib
import numpy as np
from dask import distributed
from sklearn.model_selection import GridSearchCV

from sk_mnist import make_mnist_pipeline


def test_grid_search_on_a_dask_cluster_matches_a_local_one(mnist_small):
    (X_train, y_train), _ = mnist_small
    X, y = X_train[:800], y_train[:800]
    grid = {"classifier__epochs": [1, 2]}

    local = GridSearchCV(make_mnist_pipeline(random_state=0), grid, cv=2).fit(X, y)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
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
