"""EpochGridSearchCV gives GridSearchCV's results, with one fit per fold and group.

Every search runs on 1000 MNIST images, which the network learns: the candidates
of one shared fit score differently, so scoring every candidate on the last
epoch's network, or on weights no fit returns, changes the numbers compared.
Most tests use one split of 500/500 images to keep the number of fits small.
"""

import warnings

import keras
import numpy as np
import pytest
import sklearn
from search_helpers import assert_candidates_differ, count_epochs
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV

from sk_mnist import EpochGridSearchCV, MNISTClassifier, make_mnist_pipeline

GRID = {"classifier__epochs": [1, 2], "classifier__batch_size": [32, 64]}
EPOCHS = {"classifier__epochs": [1, 3]}
ONE_SPLIT = [(np.arange(500), np.arange(500, 1000))]


def assert_same_results(epoch_search, grid_search, X=None):
    """Everything but the times is GridSearchCV's: keys, dtypes, values, bit for bit.

    With ``X``, the refitted best estimators predict the same labels on it too.
    """
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
    if X is not None:
        np.testing.assert_array_equal(
            epoch_search.best_estimator_.predict(X),
            grid_search.best_estimator_.predict(X),
        )


@pytest.fixture(scope="module")
def mnist_1000(mnist_small):
    (X_train, y_train), _ = mnist_small
    return X_train[:1000], y_train[:1000]


@pytest.fixture(scope="module")
def mnist_searches(mnist_1000):
    """Both searches, epochs [1, 2] x batch size [32, 64], and their fits' epochs."""
    X, y = mnist_1000
    searches, epochs = [], []
    for search_class in (EpochGridSearchCV, GridSearchCV):
        with pytest.MonkeyPatch.context() as monkeypatch:
            epochs.append(count_epochs(monkeypatch))
            searches.append(
                search_class(
                    make_mnist_pipeline(hidden_units=32, random_state=0),
                    GRID,
                    cv=2,
                    return_train_score=True,
                ).fit(X, y)
            )
    return (*searches, X, y, *epochs)


def test_cv_results_are_grid_search_cv_results_bit_for_bit(mnist_searches):
    epoch_search, grid_search, X, y, _, _ = mnist_searches
    assert_same_results(epoch_search, grid_search, X[:200])
    # Candidates 0-1 (batch size 32) and 2-3 (64) each shared one fit per fold.
    assert epoch_search.shared_fits_ == [[0, 1], [2, 3]]
    assert_candidates_differ(epoch_search)
    assert_candidates_differ(epoch_search, "mean_train_score")


def test_each_fold_trains_the_largest_epochs_once(mnist_searches):
    epoch_search, _, _, _, shared_epochs, epochs = mnist_searches
    refit_epochs = epoch_search.best_params_["classifier__epochs"]
    # One fit of 2 epochs per fold and group, against 1 + 2; then the refit.
    assert shared_epochs == [2, 2, 2, 2, refit_epochs]
    assert sorted(epochs[:-1]) == sorted([1, 2] * 4)
    assert epochs[-1] == refit_epochs


def test_fit_time_is_the_time_to_reach_the_candidates_epoch(mnist_searches):
    epoch_search, _, _, _, _, _ = mnist_searches
    results = epoch_search.cv_results_
    # In each fold, a shared fit reaches epoch 1 then 2 later.
    fit_times = results["mean_fit_time"].reshape(2, 2)  # batch size x epochs
    assert np.all(np.diff(fit_times, axis=1) > 0), fit_times
    assert np.all(results["mean_score_time"] > 0)


def test_n_jobs_runs_the_shared_fits_in_worker_processes(mnist_searches):
    _, grid_search, X, y, _, _ = mnist_searches
    search = EpochGridSearchCV(
        make_mnist_pipeline(hidden_units=32, random_state=0),
        GRID,
        cv=2,
        return_train_score=True,
        n_jobs=2,
        refit=False,
    ).fit(X, y)
    assert search.shared_fits_ == [[0, 1], [2, 3]]
    expected = grid_search.cv_results_
    for key in expected:
        if key.endswith(("_score", "_scores")) or key.startswith("split"):
            np.testing.assert_array_equal(search.cv_results_[key], expected[key], key)
    assert search.best_params_ == grid_search.best_params_


@keras.saving.register_keras_serializable("sk_mnist_tests")  # clone copies through it
class FinalizeCounter(keras.optimizers.RMSprop):
    """RMSprop with its own end-of-fit step (counted), which sharing cannot replay."""

    finalized = 0

    def finalize_variable_values(self, var_list):
        type(self).finalized += 1
        super().finalize_variable_values(var_list)


@pytest.mark.parametrize(
    "params",
    [
        # The moving average replaces the weights at the end of each fit.
        {"optimizer": keras.optimizers.RMSprop(use_ema=True, ema_momentum=0.9)},
        # ... also through a wrapping optimizer, with dynamic loss scaling.
        {"optimizer": keras.optimizers.LossScaleOptimizer(
            keras.optimizers.RMSprop(use_ema=True, ema_momentum=0.9))},
        # A schedule is a function of the step, the same in a shared fit.
        {"optimizer": keras.optimizers.RMSprop(
            keras.optimizers.schedules.ExponentialDecay(0.01, 4, 0.5))},
        {"optimizer": keras.optimizers.AdamW(weight_decay=0.5)},
        {"optimizer": keras.optimizers.SGD(0.5, clipnorm=0.1)},
        {"optimizer": keras.optimizers.SGD(0.5, global_clipnorm=0.1)},
        # validation_split holds out the same rows at every epoch; warm_start does
        # nothing to a fresh clone; a RandomState is copied by clone, so every fit
        # draws the same seed.
        {"validation_split": 0.25, "warm_start": True,
         "random_state": np.random.RandomState(7)},
    ],
    ids=["ema", "loss_scale-ema", "schedule", "weight_decay", "clipnorm",
         "global_clipnorm", "validation_split-warm_start-RandomState"],
)  # fmt: skip
def test_settings_that_keep_the_equivalence(mnist_1000, params):
    X, y = mnist_1000
    estimator = make_mnist_pipeline(hidden_units=32, **{"random_state": 0, **params})
    # The refit is the same code for every setting: checked where it matters most.
    refit = getattr(params.get("optimizer"), "use_ema", False)
    search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=refit)
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=refit)
    search.fit(X, y), reference.fit(X, y)
    assert search.shared_fits_ == [[0, 1]]
    assert_candidates_differ(search)
    assert_same_results(search, reference, X if refit else None)


def test_an_optimizers_own_end_of_fit_is_fitted_separately(mnist_1000):
    X, y = mnist_1000
    # Wrapped: the optimizers inside a LossScaleOptimizer are looked at too.
    optimizer = keras.optimizers.LossScaleOptimizer(FinalizeCounter(use_ema=True))
    estimator = make_mnist_pipeline(
        hidden_units=32, random_state=0, optimizer=optimizer
    )
    FinalizeCounter.finalized = 0
    with pytest.warns(UserWarning, match="separately.*FinalizeCounter.*finalize"):
        search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
        search.fit(X, y)
    assert search.shared_fits_ == [[0], [1]]
    assert FinalizeCounter.finalized == 2  # once at the end of each fit
    assert_candidates_differ(search)
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
    assert_same_results(search, reference.fit(X, y))


def test_sample_weight_reaches_the_shared_fits_and_the_refit(mnist_1000):
    X, y = mnist_1000
    weight = np.where(y % 2 == 0, 1.0, 0.05)  # odd digits barely count
    estimator = make_mnist_pipeline(hidden_units=32, random_state=0)
    search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT)
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT)
    search.fit(X, y, classifier__sample_weight=weight)
    reference.fit(X, y, classifier__sample_weight=weight)
    assert search.shared_fits_ == [[0, 1]]
    assert_candidates_differ(search)
    assert_same_results(search, reference, X)
    unweighted = clone(search.best_estimator_).fit(X, y)
    assert np.any(unweighted.predict(X) != search.best_estimator_.predict(X))


def trained_epochs(estimator, X, y):
    """A scorer reading what a fit leaves besides weights: ``epochs`` and history."""
    classifier = estimator[-1]
    assert len(classifier.history_["loss"]) == classifier.epochs
    return classifier.epochs


def test_every_epochs_network_goes_through_every_scorer(mnist_1000):
    X, y = mnist_1000
    estimator = make_mnist_pipeline(hidden_units=32, random_state=0)
    settings = dict(
        scoring={
            "accuracy": "accuracy",
            "neg_log_loss": "neg_log_loss",
            "trained_epochs": trained_epochs,
        },
        refit="neg_log_loss",
        return_train_score=True,
        cv=ONE_SPLIT,
    )
    search = EpochGridSearchCV(estimator, EPOCHS, **settings).fit(X, y)
    reference = GridSearchCV(estimator, EPOCHS, **settings).fit(X, y)
    for key in ["mean_test_accuracy", "mean_test_neg_log_loss", "mean_train_accuracy"]:
        assert_candidates_differ(search, key)
    assert search.cv_results_["mean_test_trained_epochs"].tolist() == [1, 3]
    assert_same_results(search, reference, X)


def test_score_params_reach_the_scorer_of_their_own_fold(mnist_1000):
    X, y = mnist_1000
    # Two folds of 500: the other fold's weights would fit, and change the scores.
    weight = np.where(y < 5, 1.0, 0.1)
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = make_mnist_pipeline(hidden_units=32, random_state=0)
        estimator.named_steps["classifier"].set_fit_request(sample_weight=True)
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        settings = dict(scoring=scorer, cv=2, return_train_score=True, refit=False)
        search = EpochGridSearchCV(estimator, EPOCHS, **settings)
        reference = GridSearchCV(estimator, EPOCHS, **settings)
        search.fit(X, y, sample_weight=weight)
        reference.fit(X, y, sample_weight=weight)
    assert search.shared_fits_ == [[0, 1]]
    assert_candidates_differ(search)
    assert_same_results(search, reference)


def keep_first_epoch(epoch, learning_rate):
    """Learning rate 0 after the first epoch: later epochs change nothing."""
    return learning_rate if epoch == 0 else 0.0


def test_callbacks_are_fitted_separately_with_a_warning(mnist_1000, monkeypatch):
    X, y = mnist_1000
    freeze = keras.callbacks.LearningRateScheduler(keep_first_epoch)
    estimator = make_mnist_pipeline(hidden_units=32, random_state=0, callbacks=[freeze])
    epochs = count_epochs(monkeypatch)
    with pytest.warns(UserWarning, match="separately.*callbacks"):
        search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
        search.fit(X, y)
    assert search.shared_fits_ == [[0], [1]]
    assert sorted(epochs) == [1, 3]
    # The callback ran: epochs 2 and 3 learned nothing (without it they do).
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] == scores[1] and scores[0] > 0.3, scores
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
    assert_same_results(search, reference.fit(X, y))


def test_other_fit_params_are_fitted_separately_with_a_warning(mnist_1000):
    X, y = mnist_1000
    estimator = make_mnist_pipeline(hidden_units=32, random_state=0)
    fit_params = {"classifier__shuffle": False}
    with pytest.warns(UserWarning, match=r"separately.*\['classifier__shuffle'\]"):
        search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
        search.fit(X, y, **fit_params)
    assert search.shared_fits_ == [[0], [1]]
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
    assert_same_results(search, reference.fit(X, y, **fit_params))


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_fits_come_out_as_in_grid_search(mnist_1000):
    X, y = mnist_1000
    # hidden_units=0 cannot fit
    grid = {**EPOCHS, "classifier__hidden_units": [32, 0]}
    estimator = make_mnist_pipeline(random_state=0)
    with pytest.warns(FitFailedWarning, match="2 fits failed"):
        search = EpochGridSearchCV(estimator, grid, cv=ONE_SPLIT, refit=False)
        search.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        reference = GridSearchCV(estimator, grid, cv=ONE_SPLIT, refit=False)
        reference.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[[1, 3]]).all() and scores[0] != scores[2], scores
    assert_same_results(search, reference)
    with pytest.raises(ValueError, match="'hidden_units' parameter"):
        EpochGridSearchCV(estimator, grid, cv=ONE_SPLIT, error_score="raise").fit(X, y)


def test_a_shared_fit_that_stops_early_is_redone_candidate_by_candidate(mnist_1000):
    X, y = mnist_1000
    estimator = make_mnist_pipeline(hidden_units=32, random_state=0)
    search = EpochGridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
    reference = GridSearchCV(estimator, EPOCHS, cv=ONE_SPLIT, refit=False)
    limit = keras.config.max_epochs()
    keras.config.set_max_epochs(1)  # Keras' debugging cap: every fit stops at 1
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Limiting epochs to 1", UserWarning)
            search.fit(X, y), reference.fit(X, y)
    finally:
        keras.config.set_max_epochs(limit)
    assert_same_results(search, reference)


def test_other_estimators_are_refused_with_what_to_do(mnist_1000):
    X, y = mnist_1000
    search = EpochGridSearchCV(LogisticRegression(), {"C": [1.0, 2.0]})
    with pytest.raises(TypeError, match="MNISTClassifier.*got LogisticRegression.*"
                       "GridSearchCV"):  # fmt: skip
        search.fit(X[:20].reshape(20, -1), y[:20])


def test_same_constructor_as_grid_search_and_a_checkpoint():
    estimator = MNISTClassifier()
    params = EpochGridSearchCV(estimator, {"epochs": [1]}).get_params(deep=False)
    expected = GridSearchCV(estimator, {"epochs": [1]}).get_params(deep=False)
    assert params == {**expected, "checkpoint": None}
