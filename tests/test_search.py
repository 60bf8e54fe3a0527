"""EpochGridSearchCV gives GridSearchCV's results, with one fit per fold and group."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sk_mnist import EpochGridSearchCV, MNISTClassifier, make_mnist_pipeline

GRID = {"classifier__epochs": [1, 2, 3], "classifier__batch_size": [32, 64]}


def assert_same_results(epoch_search, grid_search):
    """Everything but the times is GridSearchCV's: keys, dtypes, values, bit for bit."""
    expected, got = grid_search.cv_results_, epoch_search.cv_results_
    assert list(got) == list(expected)
    for key, value in expected.items():
        if key == "params":
            assert got[key] == value
        elif key.endswith("_time"):
            assert got[key].dtype == value.dtype and got[key].shape == value.shape
        else:
            assert type(got[key]) is type(value), key
            assert got[key].dtype == value.dtype, key
            np.testing.assert_array_equal(got[key], value, err_msg=key, strict=True)
    for name in ["best_index_", "best_params_", "n_splits_", "multimetric_"]:
        assert getattr(epoch_search, name) == getattr(grid_search, name), name
    if hasattr(grid_search, "best_score_"):
        assert epoch_search.best_score_ == grid_search.best_score_
    if grid_search.refit:
        assert epoch_search.refit_time_ > 0
        assert epoch_search.best_estimator_.get_params().keys() == (
            grid_search.best_estimator_.get_params().keys()
        )


@pytest.fixture(scope="module")
def mnist_searches(mnist_small):
    """Both searches on 1000 MNIST images: epochs [1, 2, 3] x batch size [32, 64]."""
    (X_train, y_train), _ = mnist_small
    X, y = X_train[:1000], y_train[:1000]
    searches = [
        search_class(
            make_mnist_pipeline(hidden_units=32, random_state=0),
            GRID,
            cv=2,
            return_train_score=True,
        ).fit(X, y)
        for search_class in (EpochGridSearchCV, GridSearchCV)
    ]
    return (*searches, X, y)


def test_cv_results_are_grid_search_cv_results_bit_for_bit(mnist_searches):
    epoch_search, grid_search, X, y = mnist_searches
    assert_same_results(epoch_search, grid_search)
    # Candidates 0-2 (batch size 32) and 3-5 (64) each shared one fit per fold.
    assert epoch_search.shared_fits_ == [[0, 1, 2], [3, 4, 5]]
    np.testing.assert_array_equal(
        epoch_search.predict(X[:200]), grid_search.predict(X[:200])
    )


def test_fit_time_is_the_time_to_reach_the_candidates_epoch(mnist_searches):
    epoch_search, _, _, _ = mnist_searches
    results = epoch_search.cv_results_
    # In each fold, a shared fit reaches epoch 1, 2 then 3 later and later.
    fit_times = results["mean_fit_time"].reshape(2, 3)  # batch size x epochs
    assert np.all(np.diff(fit_times, axis=1) > 0), fit_times
    assert np.all(results["mean_score_time"] > 0)


def count_epochs(monkeypatch):
    """Record the epochs of every MNISTClassifier fit in this process."""
    epochs = []
    fit = MNISTClassifier.fit

    def counting_fit(self, *args, **kwargs):
        epochs.append(self.epochs)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(MNISTClassifier, "fit", counting_fit)
    return epochs


def test_each_fold_trains_the_largest_epochs_once(blobs, monkeypatch):
    X, y = blobs
    grid = {"epochs": [1, 2, 4]}
    estimator = MNISTClassifier(hidden_units=4, random_state=0)
    epochs = count_epochs(monkeypatch)
    search = EpochGridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)
    shared_epochs, epochs[:] = list(epochs), []
    reference = GridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)

    # One fit of 4 epochs per fold, against 1 + 2 + 4 per fold.
    assert shared_epochs == [4, 4]
    assert sorted(epochs) == [1, 1, 2, 2, 4, 4]
    assert_same_results(search, reference)


@pytest.mark.parametrize(
    "params, search_params",
    [
        # validation_split holds out the same rows at every epoch; warm_start does
        # nothing to a fresh clone; a RandomState is copied by clone, so every fit
        # draws the same seed; an optimizer's schedule is a function of the step;
        # sample weights are routed to fit and scorer.
        (
            {"validation_split": 0.25, "warm_start": True,
             "random_state": np.random.RandomState(7),
             "optimizer": keras.optimizers.RMSprop(
                 keras.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5))},
            {"refit": False},
        ),
        # Every epoch's network goes through the same scorers.
        (
            {"random_state": 0},
            {"scoring": ["accuracy", "neg_log_loss"], "refit": "accuracy",
             "return_train_score": True},
        ),
    ],
    ids=["validation_split-warm_start-RandomState-schedule-sample_weight", "metrics"],
)  # fmt: skip
def test_settings_that_keep_the_equivalence(blobs, params, search_params):
    X, y = blobs
    sample_weight = np.tile([1.0, 2.0, 0.5], len(y) // 3)
    estimator = MNISTClassifier(hidden_units=8, **params)
    grid = {"epochs": [1, 3]}
    search = EpochGridSearchCV(estimator, grid, cv=2, **search_params)
    search.fit(X, y, sample_weight=sample_weight)
    reference = GridSearchCV(estimator, grid, cv=2, **search_params)
    reference.fit(X, y, sample_weight=sample_weight)
    assert search.shared_fits_ == [[0, 1]]
    assert_same_results(search, reference)


def test_callbacks_are_fitted_separately_with_a_warning(blobs, monkeypatch):
    X, y = blobs
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=0.5)
    estimator = MNISTClassifier(hidden_units=8, random_state=0, callbacks=[stop])
    grid = {"epochs": [1, 3]}
    epochs = count_epochs(monkeypatch)
    with pytest.warns(UserWarning, match="separately.*callbacks"):
        search = EpochGridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)
    assert search.shared_fits_ == [[0], [1]]
    assert sorted(epochs) == [1, 1, 3, 3]
    assert_same_results(
        search, GridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)
    )


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_fits_come_out_as_in_grid_search(blobs):
    X, y = blobs
    grid = {"epochs": [1, 2], "hidden_units": [4, 0]}  # hidden_units=0 cannot fit
    estimator = MNISTClassifier(random_state=0)
    with pytest.warns(FitFailedWarning, match="4 fits failed"):
        search = EpochGridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        reference = GridSearchCV(estimator, grid, cv=2, refit=False).fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][[1, 3]]).all()
    assert_same_results(search, reference)
    with pytest.raises(ValueError, match="'hidden_units' parameter"):
        EpochGridSearchCV(estimator, grid, cv=2, error_score="raise").fit(X, y)


def test_n_jobs_runs_the_shared_fits_in_worker_processes(blobs):
    X, y = blobs
    grid = {"epochs": [1, 2], "batch_size": [16, 32]}
    estimator = MNISTClassifier(hidden_units=8, random_state=0)
    search = EpochGridSearchCV(estimator, grid, cv=2, n_jobs=2, refit=False)
    reference = GridSearchCV(estimator, grid, cv=2, n_jobs=2, refit=False)
    search.fit(X, y), reference.fit(X, y)
    assert search.shared_fits_ == [[0, 1], [2, 3]]
    assert_same_results(search, reference)


def test_other_estimators_are_refused_with_what_to_do(blobs):
    X, y = blobs
    search = EpochGridSearchCV(LogisticRegression(), {"C": [1.0, 2.0]})
    with pytest.raises(TypeError, match="MNISTClassifier.*got LogisticRegression.*"
                       "GridSearchCV"):  # fmt: skip
        search.fit(X, y)


def test_same_constructor_as_grid_search():
    estimator = MNISTClassifier()
    params = EpochGridSearchCV(estimator, {"epochs": [1]}).get_params(deep=False)
    assert params == GridSearchCV(estimator, {"epochs": [1]}).get_params(deep=False)
