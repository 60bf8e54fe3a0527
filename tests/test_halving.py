"""Successive halving over epochs: scikit-learn's results, survivors continued.

Every search here is compared with scikit-learn's own ``HalvingGridSearchCV`` /
``HalvingRandomSearchCV`` with ``resource=<classifier>__epochs``, which trains
each survivor from scratch at each rung: seeded, ``cv_results_`` must be the
same bit for bit. The grids learn on an MNIST slice with candidates that score
apart, so a wrong continuation (a reset optimizer, a repeated epoch order, an
epoch lost or trained twice) changes the scores.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
from scipy.stats import loguniform
from search_helpers import count_epochs
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_mnist import (
    EpochHalvingGridSearchCV,
    EpochHalvingRandomSearchCV,
    MNISTClassifier,
    PixelScaler,
    make_mnist_pipeline,
)

OTHER = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
# Four candidates, factor 2: rungs of 1, 2 and 4 epochs with 4, 2 and 1 candidates.
GRID = {
    "classifier__batch_size": [32, 128],
    "classifier__learning_rate": [1e-3, 1e-2],
}
HALVING = dict(factor=2, max_resources=4, cv=2)
PCA_GRID = {"pca__n_components": [8, 30], "classifier__batch_size": [32, 64]}


def pca_pipeline():
    return Pipeline(
        [
            ("scale", PixelScaler()),
            ("pca", PCA(random_state=0)),
            ("standardize", StandardScaler()),
            (
                "classifier",
                MNISTClassifier(hidden_units=16, learning_rate=1e-2, random_state=0),
            ),
        ]
    )


def assert_same_results(search, reference):
    """cv_results_ (but times), best and rungs identical, bit for bit."""
    assert search.cv_results_.keys() == reference.cv_results_.keys()
    for key, value in reference.cv_results_.items():
        if key.endswith("_time"):
            continue
        ours = search.cv_results_[key]
        if key == "params":
            assert ours == value
        else:
            assert type(ours) is type(value), key
            np.testing.assert_array_equal(ours, value, err_msg=key, strict=True)
    for name in (
        "best_params_",
        "best_index_",
        "best_score_",
        "n_resources_",
        "n_candidates_",
        "n_remaining_candidates_",
        "n_iterations_",
        "min_resources_",
        "max_resources_",
    ):
        assert getattr(search, name) == getattr(reference, name), name


def assert_learning(search):
    """Candidates and rungs score apart: a wrong network would show."""
    scores = search.cv_results_["mean_test_score"]
    assert len(set(scores.tolist())) == len(scores)
    assert scores.max() - scores.min() > 0.1


@pytest.fixture(scope="module")
def mnist_900(mnist_small):
    (X_train, y_train), _ = mnist_small
    return X_train[:900], y_train[:900]


@pytest.fixture(scope="module")
def grid_searches(mnist_900):
    """Ours and scikit-learn's on GRID, in this process, and the epochs each trains."""
    X, y = mnist_900
    estimator = make_mnist_pipeline(hidden_units=16, random_state=0)
    searches, epochs = [], []
    for search in (
        EpochHalvingGridSearchCV(estimator, GRID, **HALVING),
        HalvingGridSearchCV(estimator, GRID, resource="classifier__epochs", **HALVING),
    ):
        with pytest.MonkeyPatch.context() as monkeypatch:
            epochs.append(count_epochs(monkeypatch))
            searches.append(search.fit(X, y))
    return searches, epochs


def test_cv_results_are_halving_grid_search_cv_results_bit_for_bit(grid_searches):
    (search, reference), _ = grid_searches
    assert search.n_resources_ == [1, 2, 4] and search.n_candidates_ == [4, 2, 1]
    assert_same_results(search, reference)
    assert_learning(search)
    assert search.cv_results_["iter"].tolist() == [0] * 4 + [1] * 2 + [2]
    assert search.best_estimator_.get_params()["classifier__epochs"] == 4


def test_survivors_train_only_the_epochs_they_lack(grid_searches):
    _, (ours, theirs) = grid_searches
    cv, refit = HALVING["cv"], 4
    # Per fold: 4 candidates x 1 epoch, 2 go from 1 to 2, 1 from 2 to 4.
    assert sum(ours) == cv * (4 * 1 + 2 * 1 + 1 * 2) + refit
    assert sum(theirs) == cv * (4 * 1 + 2 * 2 + 1 * 4) + refit


def test_pipeline_with_another_tuned_step_in_worker_processes(mnist_900):
    X, y = mnist_900
    search = EpochHalvingGridSearchCV(pca_pipeline(), PCA_GRID, n_jobs=2, **HALVING)
    reference = HalvingGridSearchCV(
        pca_pipeline(), PCA_GRID, resource="classifier__epochs", **HALVING
    )
    search.fit(X, y)
    assert_learning(search)
    assert_same_results(search, reference.fit(X, y))


def test_random_variant_is_halving_random_search_cv(mnist_900):
    X, y = mnist_900
    estimator = make_mnist_pipeline(hidden_units=16, random_state=0)
    space = {
        "classifier__learning_rate": loguniform(1e-4, 3e-2),
        "classifier__batch_size": [32, 128],
    }
    options = dict(n_candidates=3, factor=3, max_resources=3, cv=2, random_state=1)
    search = EpochHalvingRandomSearchCV(estimator, space, **options).fit(X, y)
    reference = HalvingRandomSearchCV(
        estimator, space, resource="classifier__epochs", **options
    ).fit(X, y)
    assert search.n_resources_ == [1, 3] and search.n_candidates_ == [3, 1]
    assert_learning(search)
    assert_same_results(search, reference)


def test_callbacks_make_survivors_train_again_with_a_warning(mnist_900):
    X, y = mnist_900
    estimator = make_mnist_pipeline(
        hidden_units=16, random_state=0, callbacks=[keras.callbacks.TerminateOnNaN()]
    )
    grid = {"classifier__batch_size": [32, 128]}
    options = dict(factor=2, max_resources=2, cv=2, refit=False)
    with pytest.MonkeyPatch.context() as monkeypatch:
        epochs = count_epochs(monkeypatch)
        with pytest.warns(UserWarning, match="from scratch.*callbacks"):
            search = EpochHalvingGridSearchCV(estimator, grid, **options).fit(X, y)
    assert sum(epochs) == 2 * (2 * 1 + 1 * 2)  # the survivor again from 0
    reference = HalvingGridSearchCV(
        estimator, grid, resource="classifier__epochs", **options
    )
    assert_same_results(search, reference.fit(X, y))


def test_a_failing_candidate_gets_error_score_and_leaves_the_race(blobs):
    X, y = blobs
    estimator = MNISTClassifier(hidden_units=8, random_state=0)
    grid = {"batch_size": [16, 32, 0]}  # 0: refused by MNISTClassifier.fit
    with pytest.warns(FitFailedWarning, match="fits failed"):
        search = EpochHalvingGridSearchCV(
            estimator, grid, factor=3, max_resources=3, cv=2, refit=False
        ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[2]) and not np.isnan(scores[:2]).any()
    assert search.n_candidates_ == [3, 1]
    assert search.cv_results_["params"][3]["batch_size"] != 0


def test_other_estimators_and_resources_are_refused(blobs):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="needs an MNISTClassifier.*HalvingGrid"):
        EpochHalvingGridSearchCV(LogisticRegression(), {"C": [1, 2]}).fit(*blobs)
    search = EpochHalvingGridSearchCV(MNISTClassifier(), {"epochs": [1, 2]})
    with pytest.raises(ValueError, match="Cannot use parameter epochs as the resource"):
        search.fit(*blobs)
    assert "resource" not in search.get_params()
    assert search.resource == "epochs"
    assert EpochHalvingGridSearchCV(make_mnist_pipeline(), {}).resource == (
        "classifier__epochs"
    )


def test_the_other_backend_gives_scikit_learns_results(tmp_path):
    """GRID and the PCA grid under the other Keras backend, in a subprocess."""
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {tests!r})
        import keras
        from test_halving import *
        from sk_mnist import load_mnist
        assert keras.backend.backend() == {other!r}
        (X, y), _ = load_mnist()
        X, y = X[:900], y[:900]
        for estimator, grid in [
            (make_mnist_pipeline(hidden_units=16, random_state=0), GRID),
            (pca_pipeline(), PCA_GRID),
        ]:
            search = EpochHalvingGridSearchCV(estimator, grid, **HALVING).fit(X, y)
            reference = HalvingGridSearchCV(
                estimator, grid, resource="classifier__epochs", **HALVING
            ).fit(X, y)
            assert_learning(search)
            assert_same_results(search, reference)
        print("same")
        """
    ).format(tests=os.path.dirname(__file__), other=OTHER)
    env = dict(os.environ, KERAS_BACKEND=OTHER, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0 and "same" in done.stdout, done.stderr[-3000:]


def test_survivors_continue_on_a_dask_cluster(grid_searches, mnist_900):
    distributed = pytest.importorskip("distributed")
    import joblib

    (_, reference), _ = grid_searches
    X, y = mnist_900
    estimator = make_mnist_pipeline(hidden_units=16, random_state=0)
    with (
        warnings.catch_warnings(),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        warnings.simplefilter("ignore", UserWarning)  # Dask's port messages
        search = EpochHalvingGridSearchCV(estimator, GRID, n_jobs=-1, **HALVING)
        search.fit(X, y)
    assert_same_results(search, reference)


def test_cli_halving_on_dask_gives_the_in_process_scores(tmp_path, capsys):
    import pandas as pd

    from sk_mnist.cli import main

    argv = ["search", "--halving", "--train-size", "300", "--cv", "2", "--epochs",
            "4", "--factor", "2", "--batch-size", "32", "128", "--hidden-units",
            "16"]  # fmt: skip
    on_dask, serial = tmp_path / "dask.csv", tmp_path / "serial.csv"
    assert main([*argv, "--dask-workers", "2", "--output", str(on_dask)]) == 0
    out = capsys.readouterr().out
    assert "rung 1: 1 candidates at 4 epochs" in out
    assert main([*argv, "--output", str(serial)]) == 0
    dask_results, serial_results = pd.read_csv(on_dask), pd.read_csv(serial)
    scores = [c for c in serial_results.columns if c.endswith("test_score")]
    pd.testing.assert_frame_equal(dask_results[scores], serial_results[scores])
