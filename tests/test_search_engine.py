"""The searches' engine and parts, cheaply: tiny networks and stand-in estimators.

The tests of ``tests/test_search.py``, ``tests/test_halving.py`` and
``tests/test_checkpoint.py`` fit networks on MNIST slices (minutes per
mutant under mutmut); these check the same logic in a second or two each, in
this process (``n_jobs=1``: mutmut records only code run here):

- :func:`sk_mnist._search_engine.fit_search` run with a ``LogisticRegression``
  stand-in gives scikit-learn's own ``GridSearchCV`` and
  ``HalvingGridSearchCV`` results, attributes and refit;
- the epoch-sharing and halving searches on a network of 8 hidden units and
  120 rows of four well separated classes (the ``blobs`` fixture), which it
  learns in a few epochs at ``learning_rate=0.03``: seeded, their results are
  scikit-learn's bit for bit, and the candidates score apart (log loss), so a
  network scored at the wrong epoch changes the numbers;
- the helpers (``why_not_shared``, ``same_params``, ``run_tasks``,
  ``resolved``, ``kept_on_dask``, the verbose lines) on their own.
"""

import json
import sys
import types
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from search_helpers import assert_candidates_differ, count_epochs
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import delayed

from sk_mnist import (
    EpochGridSearchCV,
    EpochHalvingGridSearchCV,
    EpochHalvingRandomSearchCV,
    MNISTClassifier,
    make_mnist_pipeline,
)
from sk_mnist import _search_engine as engine
from sk_mnist import search as epoch_search
from sk_mnist.halving import _continue_and_score

SPLIT = [(np.arange(0, 120, 2), np.arange(1, 120, 2))]  # 60 rows each, all classes
EPOCHS = {"epochs": [1, 2, 3]}


def tiny(**params):
    """A network the blobs teach in a few epochs, seeded."""
    return MNISTClassifier(
        **{"hidden_units": 8, "learning_rate": 0.03, "batch_size": 16,
           "random_state": 0, **params}
    )  # fmt: skip


def assert_same_results(got, expected, X=None):
    """cv_results_ (but times) and the best, bit for bit; the refits predict alike."""
    assert list(got.cv_results_) == list(expected.cv_results_)
    for key, value in expected.cv_results_.items():
        if key == "params":
            assert got.cv_results_[key] == value
        elif key.endswith("_time"):
            assert got.cv_results_[key].shape == value.shape, key
        else:
            assert type(got.cv_results_[key]) is type(value), key
            np.testing.assert_array_equal(
                got.cv_results_[key], value, err_msg=key, strict=True
            )
    for name in ["best_index_", "best_params_", "best_score_", "n_splits_",
                 "multimetric_", "n_resources_", "n_candidates_"]:  # fmt: skip
        assert hasattr(got, name) == hasattr(expected, name), name
        if hasattr(expected, name):
            assert getattr(got, name) == getattr(expected, name), name
    assert hasattr(got, "best_estimator_") == hasattr(expected, "best_estimator_")
    if X is not None:
        assert 0 < got.refit_time_ < 60  # seconds
        np.testing.assert_array_equal(
            got.best_estimator_.predict_proba(X),
            expected.best_estimator_.predict_proba(X),
        )


# --- fit_search with a stand-in estimator: scikit-learn's own fit ------------------


@pytest.fixture
def noisy(blobs):
    """The blobs with noise: the stand-in's candidates score apart on them."""
    X, y = blobs
    return X + 0.2 * np.random.RandomState(1).randn(*X.shape), y


def evaluate_each(base_estimator, X, y, candidates, splits, common, params):
    """What GridSearchCV's fit does per candidate and split, through single_fit."""
    out = []
    for index, candidate in enumerate(candidates):
        for split, (train, test) in enumerate(splits):
            key, tagged = engine.keyed_call(
                (index, split),
                engine.single_fit,
                index,
                clone(base_estimator),
                X,
                y,
                train=train,
                test=test,
                parameters=candidate,
                split_progress=(split, len(splits)),
                candidate_progress=(index, len(candidates)),
                return_n_test_samples=True,
                return_times=True,
                **common,
            )
            assert key == (index, split) and tagged[0][0] == index
            out.append(tagged[0][1])
    return out


def two_scores(estimator, X, y):
    """A callable scorer that returns two metrics."""
    return {"accuracy": estimator.score(X, y), "first": float(estimator.predict(X)[0])}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.parametrize(
    "settings",
    [
        dict(),
        dict(scoring=["accuracy", "neg_log_loss"], refit="neg_log_loss",
             return_train_score=True),
        dict(scoring={"acc": "accuracy", "ll": "neg_log_loss"}, refit=False),
        dict(refit=lambda results: 2),
        dict(scoring=two_scores, refit="accuracy"),
        # C=-1 fails: the callable scorer's error scores are put in.
        dict(scoring=two_scores, refit="accuracy", error_score=-5.0,
             param_grid={"C": [0.01, -1.0, 1.0]}),
        dict(cv=[SPLIT[0], SPLIT[0][::-1]], scoring="neg_log_loss"),
        dict(param_grid={"C": [0.1]}, cv=SPLIT),  # one fit in all
        dict(refit=False),  # one metric: the best without a refit
    ],
    ids=["default", "two-metrics", "no-refit", "callable-refit", "callable-scoring",
         "error-score", "iterable-cv", "one-fit", "one-metric-no-refit"],
)  # fmt: skip
def test_fit_search_is_grid_search_cvs_fit(noisy, settings):
    X, y = noisy
    X = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    settings = {"param_grid": {"C": [0.01, 0.1, 1.0]}, "cv": 3, **settings}
    ours = GridSearchCV(LogisticRegression(), **settings)
    engine.fit_search(ours, X, y, {}, evaluate_each)
    reference = GridSearchCV(LogisticRegression(), **settings).fit(X, y)
    assert_same_results(ours, reference, X if reference.refit else None)
    first_metric = next(k for k in reference.cv_results_ if k.startswith("mean_test_"))
    if len(ours.cv_results_["params"]) > 1:
        assert_candidates_differ(ours, first_metric)
    if reference.refit:
        assert list(ours.feature_names_in_) == list(X.columns)
        assert ours.best_estimator_.C == reference.best_estimator_.C
    assert type(ours.scorer_) is type(reference.scorer_)
    if isinstance(reference.scorer_, dict):
        assert ours.scorer_.keys() == reference.scorer_.keys()


def test_fit_search_passes_fit_params_and_refits_with_them(noisy):
    X, y = noisy
    weight = np.where(y == 0, 10.0, 0.1)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": [0.01, 1.0]}
    ours = GridSearchCV(pipe, grid, cv=2)
    engine.fit_search(
        ours, X, y, {"logisticregression__sample_weight": weight}, evaluate_each
    )
    reference = GridSearchCV(pipe, grid, cv=2)
    reference.fit(X, y, logisticregression__sample_weight=weight)
    assert_same_results(ours, reference, X)
    unweighted = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert np.any(
        unweighted.best_estimator_.predict_proba(X)
        != ours.best_estimator_.predict_proba(X)
    )
    assert not hasattr(ours, "feature_names_in_")  # an array has no names


def test_fit_search_runs_successive_halving_rung_by_rung(noisy):
    X, y = noisy
    settings = dict(param_grid={"C": [0.001, 0.01, 0.1, 1.0]}, factor=2, cv=2,
                    min_resources=30, random_state=0)  # fmt: skip
    ours = HalvingGridSearchCV(LogisticRegression(), **settings)
    ours._n_samples_orig = len(X)
    rungs = []

    def evaluate(base_estimator, X, y, candidates, splits, common, params):
        rungs.append((len(candidates), [len(train) for train, _ in splits]))
        return evaluate_each(base_estimator, X, y, candidates, splits, common, params)

    engine.fit_search(ours, X, y, {}, evaluate)
    ours.best_score_ = ours.cv_results_["mean_test_score"][ours.best_index_]
    reference = HalvingGridSearchCV(LogisticRegression(), **settings).fit(X, y)
    assert_same_results(ours, reference, X)
    # Each rung on its own subsample (the halving's cv, not the original folds).
    assert rungs == [(4, [15, 15]), (2, [30, 30]), (1, [60, 60])]
    assert ours.cv_results_["iter"].tolist() == [0] * 4 + [1] * 2 + [2]


def test_fit_search_refuses_inconsistent_splits_and_no_fits(blobs):
    X, y = blobs

    class TwoSplits:
        def split(self, X, y=None, groups=None):
            yield np.arange(60), np.arange(60, 120)

        def get_n_splits(self, X=None, y=None, groups=None):
            return 2

    search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=TwoSplits())
    with pytest.raises(ValueError) as error:
        engine.fit_search(search, X, y, {}, evaluate_each)
    assert str(error.value) == (
        "cv.split and cv.get_n_splits return inconsistent results. "
        "Expected 2 splits, got 1"
    )
    search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2)
    with pytest.raises(ValueError) as error:
        engine.fit_search(search, X, y, {}, lambda *args: [])
    assert str(error.value) == (
        "No fits were performed. Was the CV iterator empty? Were there no candidates?"
    )


def test_fit_search_raises_when_every_fit_fails(blobs):
    X, y = blobs
    search = GridSearchCV(LogisticRegression(), {"C": [-1.0]}, cv=2)
    with pytest.raises(ValueError, match="All the 2 fits failed"):
        engine.fit_search(search, X, y, {}, evaluate_each)


# --- The helpers --------------------------------------------------------------------


def test_classifier_prefix_follows_the_last_step_of_nested_pipelines():
    assert engine.classifier_prefix(MNISTClassifier()) == ""
    assert engine.classifier_prefix(make_mnist_pipeline()) == "classifier__"
    nested = Pipeline([("scale", StandardScaler()), ("inner", make_mnist_pipeline())])
    assert engine.classifier_prefix(nested) == "inner__classifier__"
    assert engine.classifier_prefix(LogisticRegression()) is None
    assert engine.classifier_prefix(make_pipeline(LogisticRegression())) is None
    first = Pipeline([("net", MNISTClassifier()), ("lr", LogisticRegression())])
    assert engine.classifier_prefix(first) is None


def test_same_params_needs_the_same_keys_types_and_values():
    same = engine.same_params
    array = np.arange(3)
    assert same({}, {})
    assert same({"a": 1, "b": "x"}, {"b": "x", "a": 1})
    assert same({"a": array}, {"a": array})  # the same object
    assert same({"a": [1, (2, 3)]}, {"a": [1, (2, 3)]})
    assert not same({"a": 1}, {"a": 1, "b": 2})
    assert not same({"a": 1, "b": 2}, {"a": 1})
    assert not same({"a": 1}, {"b": 1})
    assert not same({"a": 1}, {"a": 2})
    assert not same({"a": 1}, {"a": 1.0})  # equal, of another type
    assert not same({"a": 1}, {"a": True})
    assert not same({"a": array}, {"a": array.copy()})  # no plain equality
    assert not same({"a": 1, "b": 2}, {"a": 1, "b": 3})  # every key compared


@keras.saving.register_keras_serializable("sk_mnist_engine_tests")
class OwnFinalize(keras.optimizers.SGD):
    """SGD with an end-of-fit step of its own."""

    def finalize_variable_values(self, var_list):
        super().finalize_variable_values(var_list)


def test_why_not_shared_says_why_or_none():
    why = engine.why_not_shared
    pipe = make_mnist_pipeline()
    assert why(pipe, "classifier__", {}) is None
    assert why(pipe, "classifier__", {"classifier__sample_weight": 1}) is None
    assert why(MNISTClassifier(), "", {"sample_weight": 1}) is None
    assert why(pipe, "", {}) == "the last step is not an MNISTClassifier"
    assert why(MNISTClassifier(), "", {"shuffle": False, "class_weight": 1}) == (
        "fit parameters ['class_weight', 'shuffle']"
    )
    # sample_weight of another prefix is another fit parameter.
    assert why(MNISTClassifier(), "", {"classifier__sample_weight": 1}) == (
        "fit parameters ['classifier__sample_weight']"
    )
    callbacks = MNISTClassifier(callbacks=[keras.callbacks.TerminateOnNaN()])
    assert why(callbacks, "", {"shuffle": False}) == (
        "callbacks (they may change training or depend on epochs)"
    )
    own = "an optimizer (OwnFinalize) with its own finalize_variable_values " + (
        "(the end of a fit, which a shared fit cannot replay exactly)"
    )
    assert why(MNISTClassifier(optimizer=OwnFinalize()), "", {}) == own
    assert why(MNISTClassifier(optimizer=OwnFinalize), "", {}) == own  # a class
    assert why(MNISTClassifier(optimizer=keras.optimizers.SGD), "", {}) is None
    assert why(MNISTClassifier(optimizer="sgd"), "", {}, continued=True) is None
    wrapped = keras.optimizers.LossScaleOptimizer(OwnFinalize(use_ema=True))
    assert why(MNISTClassifier(optimizer=wrapped), "", {"x": 1}) == own
    ema = MNISTClassifier(optimizer=keras.optimizers.RMSprop(use_ema=True))
    assert why(ema, "", {}) is None  # a shared fit replays the moving averages
    assert why(ema, "", {}, continued=True) == (
        "an optimizer with use_ema=True (a fit ends on the moving averages, "
        "not on the weights training goes on from)"
    )
    wrapped_ema = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.RMSprop(use_ema=True)
    )
    assert "use_ema=True" in why(
        MNISTClassifier(optimizer=wrapped_ema), "", {}, continued=True
    )
    plain = MNISTClassifier(optimizer=keras.optimizers.RMSprop())
    assert why(plain, "", {}, continued=True) is None
    assert why(plain, "", {"epochs": 2}, continued=True) == "fit parameters ['epochs']"


def test_optimizers_are_found_inside_lists_dicts_and_wrappers():
    inner = OwnFinalize(use_ema=True)
    assert engine._nested_optimizers(inner) == [inner]
    wrapper = keras.optimizers.LossScaleOptimizer(inner)
    found = engine._nested_optimizers(wrapper)
    assert found[0] is wrapper and any(item is inner for item in found)
    assert len(found) == 2  # each once, however often it is referred to
    for holder in ([1, inner], (inner,), {"a": inner}):
        found = engine._nested_optimizers(holder)
        assert len(found) == 1 and found[0] is inner
    assert engine._own_end_of_fit_step(wrapper) == "OwnFinalize"
    assert engine._own_end_of_fit_step(keras.optimizers.SGD()) is None
    assert engine._own_end_of_fit_step("sgd") is None
    assert engine._uses_ema(wrapper)
    assert not engine._uses_ema(keras.optimizers.LossScaleOptimizer(OwnFinalize()))
    assert not engine._uses_ema("rmsprop")
    assert not engine._uses_ema(keras.optimizers.RMSprop)

    class OptimizerMap:
        """Like Keras' map of optimizers: a default one and others by name."""

        def __init__(self, default, **others):
            self.default_optimizer, self.others = default, others

        def values(self):
            return self.others.values()

    other = keras.optimizers.SGD(use_ema=True)
    found = engine._nested_optimizers(OptimizerMap(inner, x=other))
    assert {id(item) for item in found} == {id(inner), id(other)}
    # A map without other optimizers; one seen twice before another is found.
    only_default = types.SimpleNamespace(default_optimizer=inner)
    assert engine._nested_optimizers(only_default) == [inner]
    found = engine._nested_optimizers([other, inner, inner])
    assert {id(item) for item in found} == {id(inner), id(other)}


def test_run_tasks_records_each_output_and_hides_only_joblibs_cancel_warning():
    recorded = []

    def task(i):
        warnings.warn(f"{i} tasks which were still being processed", UserWarning)
        return i * 10

    tasks = [delayed(task)(i) for i in range(5)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine.run_tasks(
            tasks, n_jobs=1, pre_dispatch="2*n_jobs", record=recorded.append
        )
        warnings.warn("another warning", UserWarning)
    assert sorted(recorded) == [0, 10, 20, 30, 40]
    assert [str(w.message) for w in caught] == ["another warning"]


def test_run_tasks_without_generators_records_all_at_the_end(monkeypatch):
    made = []

    class NoGenerators(engine.Parallel):
        def __init__(self, *args, **kwargs):
            if "return_as" in kwargs:
                raise ValueError("no generators here")
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(engine, "Parallel", NoGenerators)
    recorded = []
    engine.run_tasks(
        [delayed(abs)(-i) for i in range(4)],
        n_jobs=1,
        pre_dispatch="3",
        record=recorded.append,
    )
    assert recorded == [0, 1, 2, 3]
    assert made == [{"n_jobs": 1, "pre_dispatch": "3"}]


def test_run_tasks_stops_at_a_failing_record_and_closes_the_tasks():
    ran = []

    def task(i):
        ran.append(i)
        return i

    def record(output):
        raise KeyboardInterrupt

    tasks = [delayed(task)(i) for i in range(50)]
    with pytest.raises(KeyboardInterrupt):
        engine.run_tasks(tasks, n_jobs=1, pre_dispatch="1", record=record)
    assert len(ran) < 50  # the generator was closed: the rest never ran


class FakeFuture:
    def __init__(self, value):
        self.value = value

    def result(self):
        return ("resolved", self.value)


def test_resolved_replaces_dask_futures_only(monkeypatch):
    future = FakeFuture(1)
    monkeypatch.delitem(sys.modules, "distributed", raising=False)
    assert engine.resolved(future, 2) == (future, 2)  # no Dask: nothing to resolve
    monkeypatch.setitem(
        sys.modules, "distributed", types.SimpleNamespace(Future=FakeFuture)
    )
    assert engine.resolved(future, 2, [future]) == (("resolved", 1), 2, [future])
    assert engine.resolved() == ()


class FakeClient:
    def __init__(self):
        self.submitted = []

    def submit(self, function, value, key):
        warnings.warn("Sending large graph of size 9 MiB", UserWarning)
        self.submitted.append((function, value, key))
        return ("future", key)


def fake_backend(name, client):
    backend = type(name, (), {})()
    backend.client = client
    return lambda: (backend, 1)


def test_kept_on_dask_makes_each_array_a_task_under_dask_only(monkeypatch):
    import joblib.parallel

    arrays = [np.arange(3), np.arange(4)]
    assert engine.kept_on_dask(arrays) is arrays  # joblib's default backend
    client = FakeClient()
    for name, holder in [("DaskDistributedBackend", None), ("LokyBackend", client)]:
        monkeypatch.setattr(
            joblib.parallel, "get_active_backend", fake_backend(name, holder)
        )
        assert engine.kept_on_dask(arrays) is arrays
    assert client.submitted == []
    monkeypatch.setattr(
        joblib.parallel,
        "get_active_backend",
        fake_backend("DaskDistributedBackend", client),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the large-graph warning is hidden
        futures = engine.kept_on_dask(arrays)
    assert [f for f, _, _ in client.submitted] == [engine._itself] * 2
    assert [v for _, v, _ in client.submitted] == arrays
    keys = [k for _, _, k in client.submitted]
    assert futures == [("future", k) for k in keys]
    assert all(k.startswith("sk-mnist-data-") and len(k) == 14 + 32 for k in keys)
    assert keys[0] != keys[1]
    assert engine._itself(arrays) is arrays


def test_no_callbacks_context_answers_every_call_with_itself():
    context = engine._NoCallbacks()
    assert context.subcontext(a=1) is context
    assert context.call_on_fit_task_begin(a=1) is context
    assert context.call_on_fit_task_end(a=1) is context


# --- EpochGridSearchCV on a tiny network --------------------------------------------


@pytest.mark.parametrize(
    "params, settings",
    [
        ({}, dict(scoring="neg_log_loss", return_train_score=True)),
        ({}, dict(scoring=["neg_log_loss", "accuracy"], refit="accuracy", cv=2)),
        # Made in the test: a Keras optimizer made when the module is imported
        # starts TensorFlow's runtime there, and mutmut's fork server, which
        # imports the tests first, then forks children that hang.
        ({"optimizer": "ema"}, dict(scoring="neg_log_loss")),
    ],
    ids=["one-split", "two-metrics-two-folds", "ema"],
)  # fmt: skip
def test_epoch_search_of_a_tiny_network_is_grid_search_cv(
    blobs, monkeypatch, params, settings
):
    X, y = blobs
    if params.get("optimizer") == "ema":
        params = {"optimizer": keras.optimizers.RMSprop(0.03, use_ema=True)}
    settings = {"cv": SPLIT, **settings}
    epochs = count_epochs(monkeypatch)
    search = EpochGridSearchCV(tiny(**params), EPOCHS, **settings).fit(X, y)
    shared = list(epochs)
    reference = GridSearchCV(tiny(**params), EPOCHS, **settings).fit(X, y)
    assert search.shared_fits_ == [[0, 1, 2]] and search.resumed_fits_ == 0
    n_splits = search.n_splits_
    assert shared == [3] * n_splits + [search.best_params_["epochs"]]
    assert_candidates_differ(search, list(search.cv_results_)[-3])
    assert_same_results(search, reference, X)
    fit_times = search.cv_results_["mean_fit_time"]
    assert np.all(np.diff(fit_times) > 0), fit_times  # later epochs, later times
    assert np.all(fit_times < 60), fit_times  # seconds from the fit's start
    score_times = search.cv_results_["mean_score_time"]
    assert np.all((score_times > 0) & (score_times < 60)), score_times


def test_epoch_search_groups_by_the_other_parameters_in_a_pipeline(blobs, capsys):
    X, y = blobs
    grid = {"classifier__epochs": [1, 2], "classifier__batch_size": [16, 32]}
    estimator = Pipeline([("classifier", tiny())])
    settings = dict(cv=SPLIT, scoring="neg_log_loss", refit=False)
    search = EpochGridSearchCV(estimator, grid, **settings).fit(X, y)
    assert capsys.readouterr().out == ""  # verbose=0
    reference = GridSearchCV(estimator, grid, **settings).fit(X, y)
    assert search.shared_fits_ == [[0, 1], [2, 3]]
    assert_candidates_differ(search)
    assert_same_results(search, reference)


def trained_epochs(estimator, X, y):
    """A scorer of what a fit leaves besides weights: epochs, history, callbacks."""
    assert len(estimator.history_["loss"]) == estimator.epochs
    assert estimator.callbacks is None
    return estimator.epochs


def test_each_candidate_is_scored_as_its_own_fit_left_the_estimator(blobs):
    X, y = blobs
    scoring = {"epochs": trained_epochs, "neg_log_loss": "neg_log_loss"}
    search = EpochGridSearchCV(
        tiny(), EPOCHS, cv=SPLIT, scoring=scoring, refit=False, return_train_score=True
    ).fit(X, y)
    assert search.cv_results_["mean_test_epochs"].tolist() == [1, 2, 3]
    assert search.cv_results_["mean_train_epochs"].tolist() == [1, 2, 3]


def test_a_candidates_own_epochs_or_the_estimators_are_shared(blobs):
    X, y = blobs
    # The estimator's own epochs (3) for the candidates that do not set them.
    grid = [{"epochs": [1]}, {}]
    search = EpochGridSearchCV(tiny(epochs=3), grid, cv=SPLIT, scoring="neg_log_loss",
                               refit=False).fit(X, y)  # fmt: skip
    reference = GridSearchCV(tiny(epochs=3), grid, cv=SPLIT, scoring="neg_log_loss",
                             refit=False).fit(X, y)  # fmt: skip
    assert search.shared_fits_ == [[0, 1]]
    assert_candidates_differ(search)
    assert_same_results(search, reference)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_failed_shared_fit_is_redone_candidate_by_candidate(blobs):
    X, y = blobs
    grid = {"epochs": [1, 2], "hidden_units": [8, 0]}  # 0 cannot fit
    settings = dict(
        cv=SPLIT, scoring="neg_log_loss", refit=False, return_train_score=True
    )
    with pytest.warns(FitFailedWarning, match="2 fits failed"):
        search = EpochGridSearchCV(tiny(), grid, **settings).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        reference = GridSearchCV(tiny(), grid, **settings).fit(X, y)
    assert search.shared_fits_ == [[0, 2], [1, 3]]
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[[1, 3]]).all() and scores[0] != scores[2], scores
    assert_same_results(search, reference)
    with pytest.raises(ValueError, match="'hidden_units' parameter"):
        EpochGridSearchCV(tiny(), grid, error_score="raise", **settings).fit(X, y)


def test_a_shared_fit_that_stops_early_is_redone(blobs, monkeypatch):
    X, y = blobs
    settings = dict(cv=SPLIT, scoring="neg_log_loss", refit=False)
    limit = keras.config.max_epochs()
    keras.config.set_max_epochs(2)  # Keras' debugging cap
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Limiting epochs to 2", UserWarning)
            epochs = count_epochs(monkeypatch)
            search = EpochGridSearchCV(tiny(), EPOCHS, **settings).fit(X, y)
            reference = GridSearchCV(tiny(), EPOCHS, **settings).fit(X, y)
    finally:
        keras.config.set_max_epochs(limit)
    assert epochs[:4] == [3, 1, 2, 3]  # the shared fit, then one each
    assert_same_results(search, reference)


def test_candidates_that_cannot_share_are_fitted_alone_with_one_warning(blobs):
    X, y = blobs
    estimator = tiny(callbacks=[keras.callbacks.TerminateOnNaN()])
    settings = dict(cv=SPLIT, scoring="neg_log_loss", refit=False)
    with pytest.warns(UserWarning) as caught:
        search = EpochGridSearchCV(estimator, EPOCHS, **settings)
        search.fit(X, y, shuffle=False)
    messages = [str(w.message) for w in caught if "separately" in str(w.message)]
    assert messages == [
        "EpochGridSearchCV fits some candidates separately, as GridSearchCV does, "
        "because of callbacks (they may change training or depend on epochs)."
    ]
    assert search.shared_fits_ == [[0], [1], [2]]
    reference = GridSearchCV(estimator, EPOCHS, **settings).fit(X, y, shuffle=False)
    assert_same_results(search, reference)


def test_group_candidates_shares_only_equal_parameters_but_epochs():
    search = EpochGridSearchCV(MNISTClassifier(), {})
    group = search._group_candidates
    array = np.zeros(2)
    candidates = [
        {"epochs": 1, "batch_size": 16},
        {"epochs": 2, "batch_size": 32},
        {"epochs": 3, "batch_size": 16},
        {"epochs": 1, "batch_size": 16.0},  # another type: another fit
        {"epochs": 4, "batch_size": 32},
    ]
    assert group(MNISTClassifier(), candidates, "", {}) == [[0, 2], [1, 4], [3]]
    # Every candidate alone, and one warning with the reasons sorted and joined.
    refused = [
        {"epochs": 1, "callbacks": [keras.callbacks.TerminateOnNaN()]},
        {"epochs": 2, "callbacks": [keras.callbacks.TerminateOnNaN()]},
        {"epochs": 1, "class_weight": array},
        {"epochs": 2, "class_weight": array},
    ]
    with pytest.warns(UserWarning) as caught:
        groups = group(MNISTClassifier(), refused, "", {"shuffle": False})
    assert groups == [[0], [1], [2], [3]]
    assert [str(w.message) for w in caught] == [
        "EpochGridSearchCV fits some candidates separately, as GridSearchCV does, "
        "because of callbacks (they may change training or depend on epochs); "
        "fit parameters ['shuffle']."
    ]
    # A candidate alone does not stop later ones from sharing.
    mixed = [{"epochs": 1, "callbacks": [keras.callbacks.TerminateOnNaN()]},
             {"epochs": 1}, {"epochs": 2}]  # fmt: skip
    with pytest.warns(UserWarning, match="callbacks"):
        assert group(MNISTClassifier(), mixed, "", {}) == [[0], [1, 2]]


def test_epochs_of_a_candidate():
    search = EpochGridSearchCV(make_mnist_pipeline(epochs=7), {})
    search._prefix = "classifier__"
    estimator = search.estimator
    assert search._epochs_of(estimator, {"classifier__epochs": 2}) == 2
    assert search._epochs_of(estimator, {"classifier__batch_size": 2}) == 7


def test_epoch_search_of_another_estimator_is_refused_with_what_to_do(blobs):
    with pytest.raises(TypeError) as error:
        EpochGridSearchCV(LogisticRegression(), {"C": [1.0]}).fit(*blobs)
    assert str(error.value) == (
        "EpochGridSearchCV needs an MNISTClassifier or a Pipeline whose last step is "
        "one; got LogisticRegression. Use sklearn.model_selection.GridSearchCV for "
        "other estimators."
    )


def test_verbose_epoch_search_says_what_it_shares(blobs, capsys, tmp_path):
    X, y = blobs
    search = EpochGridSearchCV(tiny(), EPOCHS, cv=SPLIT, refit=False, verbose=3,
                               checkpoint=tmp_path / "search.ckpt")  # fmt: skip
    search.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "Fitting 1 folds for each of 3 candidates in 1 shared fits, totalling 1 fits"
    )
    assert out[1] == f"0 of 1 fits read from {tmp_path / 'search.ckpt'}, 1 to train"
    ends = [line for line in out if "shared fit" in line and "END" in line]
    assert len(ends) == 3 and all(len(line) == 80 for line in ends), ends
    assert ends[0].startswith("[CV 1/1] END ...")
    assert "epochs=1; shared fit, score=" in ends[0]
    search.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"1 of 1 fits read from {tmp_path / 'search.ckpt'}, 0 to train"
    assert search.resumed_fits_ == 1


def test_print_end_writes_fit_and_scores_line_as_fit_and_score_does(capsys):
    result = {"test_scores": 0.5, "fit_time": 1.0, "score_time": 0.25}
    params = {"epochs": 3, "batch_size": 16}
    epoch_search._print_end(1, params, (0, 2), (1, 4), result)
    assert capsys.readouterr().out == ""

    def line(start, message):
        return start.ljust(80 - len(message), ".") + message + "\n"

    epoch_search._print_end(2, params, (0, 2), (1, 4), result)
    assert capsys.readouterr().out == line(
        "[CV] END ", "batch_size=16, epochs=3; shared fit total time=1.2s"
    )
    epoch_search._print_end(3, params, (0, 2), (1, 4), result)
    assert capsys.readouterr().out == line(
        "[CV 1/2] END ",
        "batch_size=16, epochs=3; shared fit, score=0.500 total time=1.2s",
    )
    epoch_search._print_end(10, params, (1, 2), (1, 4), result)
    assert capsys.readouterr().out == line(
        "[CV 2/2; 2/4] END ",
        "batch_size=16, epochs=3; shared fit, score=0.500 total time=1.2s",
    )
    scores = dict(result, test_scores={"b": 0.25, "a": 1.0})
    epoch_search._print_end(9, params, (1, 2), (1, 4), scores)
    assert capsys.readouterr().out == line(
        "[CV 2/2] END ",
        "batch_size=16, epochs=3; shared fit a: 1.000 b: 0.250 total time=1.2s",
    )


def test_end_of_fit_weights_are_finalized_on_a_copy(blobs):
    X, y = blobs
    optimizer = keras.optimizers.RMSprop(0.03, use_ema=True, ema_momentum=0.9)
    model = tiny(epochs=2, optimizer=optimizer).fit(X, y).model_
    # A step on, not finalized: the weights are not the moving averages.
    model.train_on_batch(X, keras.utils.to_categorical(y, 4))
    before = model.get_weights()
    variables = [np.array(v.numpy(), copy=True) for v in model.optimizer.variables]
    finalized = epoch_search._end_of_fit_weights(model)
    for got, expected in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, expected, strict=True)
    for got, expected in zip(model.optimizer.variables, variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), expected, strict=True)
    assert any(np.any(a != b) for a, b in zip(finalized, before))  # the averages
    model.optimizer.finalize_variable_values(model.trainable_weights)
    for got, expected in zip(finalized, model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected, strict=True)
    # A model without a Keras optimizer: the weights as they are.
    stand_in = types.SimpleNamespace(optimizer="sgd", get_weights=lambda: ["w"])
    assert epoch_search._end_of_fit_weights(stand_in) == ["w"]


# --- Halving on a tiny network ------------------------------------------------------

HALVING_GRID = {"batch_size": [8, 16, 32, 64]}
HALVING = dict(factor=2, max_resources=4, cv=SPLIT, scoring="neg_log_loss")


def test_halving_of_a_tiny_network_is_halving_grid_search_cv(
    blobs, monkeypatch, capsys
):
    X, y = blobs
    with monkeypatch.context() as patch:
        ours = count_epochs(patch)
        search = EpochHalvingGridSearchCV(tiny(), HALVING_GRID, verbose=10, **HALVING)
        search.fit(X, y)
    out = capsys.readouterr().out
    with monkeypatch.context() as patch:
        theirs = count_epochs(patch)
        reference = HalvingGridSearchCV(
            tiny(), HALVING_GRID, resource="epochs", **HALVING
        ).fit(X, y)
    assert search.n_resources_ == [1, 2, 4] and search.n_candidates_ == [4, 2, 1]
    assert_candidates_differ(search)
    assert_same_results(search, reference, X)
    # Survivors train only the epochs they lack: 4 x 1, 2 x 1, 1 x 2, the refit.
    assert ours == [1] * 6 + [2, 4] and theirs == [1] * 4 + [2] * 2 + [4, 4]
    scores = search.cv_results_["mean_test_score"]
    assert "Fitting 1 folds for each of 4 candidates, totalling 4 fits" in out
    # Each fit's line says its fold and its candidate in the rung.
    for progress in ["1/1; 1/4", "1/1; 4/4", "1/1; 2/2", "1/1; 1/1"]:
        assert f"[CV {progress}] END " in out, progress
    for rung, (candidates, epochs, best) in enumerate(
        [(4, 1, scores[:4].max()), (2, 2, scores[4:6].max()), (1, 4, scores[6])]
    ):
        expected = f"rung {rung}: {candidates} candidates at {epochs} epochs, "
        assert f"{expected}best mean score {best:.4f}\n" in out, out


def test_halving_with_aggressive_elimination_scores_the_kept_networks(
    blobs, monkeypatch, capsys
):
    X, y = blobs
    settings = dict(factor=2, max_resources=2, min_resources=1, cv=SPLIT,
                    scoring="neg_log_loss", aggressive_elimination=True,
                    refit=False)  # fmt: skip
    epochs = count_epochs(monkeypatch)
    search = EpochHalvingGridSearchCV(tiny(), HALVING_GRID, **settings).fit(X, y)
    assert capsys.readouterr().out == ""  # verbose=0
    reference = HalvingGridSearchCV(
        tiny(), HALVING_GRID, resource="epochs", **settings
    ).fit(X, y)
    # Rungs at 1 epoch until two are left: the survivors only scored again.
    assert search.n_resources_ == [1, 1, 2] and search.n_candidates_ == [4, 2, 1]
    assert search.cv_results_["mean_fit_time"][4:6].tolist() == [0.0, 0.0]
    assert epochs[:5] == [1, 1, 1, 1, 1]  # 4 fits, then one epoch more for the last
    assert_same_results(search, reference)


def test_halving_random_search_on_a_pipeline_is_scikit_learns(blobs):
    X, y = blobs
    estimator = make_pipeline(StandardScaler(), tiny(epochs=2))
    settings = dict(n_candidates=2, factor=2, cv=2, scoring="neg_log_loss",
                    random_state=0, refit=False, return_train_score=True)  # fmt: skip
    space = {"mnistclassifier__batch_size": [8, 16, 32, 64]}
    search = EpochHalvingRandomSearchCV(estimator, space, **settings).fit(X, y)
    reference = HalvingRandomSearchCV_(estimator, space, **settings).fit(X, y)
    # max_resources "auto": the classifier's own 2 epochs.
    assert search.n_resources_ == [1, 2] and search.max_resources == "auto"
    assert_candidates_differ(search, "mean_train_score")
    assert_same_results(search, reference)


def HalvingRandomSearchCV_(estimator, space, **settings):
    from sklearn.model_selection import HalvingRandomSearchCV

    return HalvingRandomSearchCV(
        estimator,
        space,
        resource="mnistclassifier__epochs",
        max_resources=2,
        **settings,
    )


def test_halving_trains_survivors_again_when_they_cannot_continue(blobs, monkeypatch):
    X, y = blobs
    optimizer = keras.optimizers.RMSprop(0.03, use_ema=True)
    settings = dict(factor=2, max_resources=2, cv=SPLIT, scoring="neg_log_loss",
                    refit=False)  # fmt: skip
    grid = {"batch_size": [8, 16]}
    epochs = count_epochs(monkeypatch)
    import sk_mnist.halving

    fits_before_warning = []

    def warn(message):
        fits_before_warning.append(len(epochs))
        warnings.warn(message, UserWarning)

    monkeypatch.setattr(sk_mnist.halving, "warn_at_caller", warn)
    with pytest.warns(UserWarning) as caught:
        search = EpochHalvingGridSearchCV(tiny(optimizer=optimizer), grid, **settings)
        search.fit(X, y)
    assert fits_before_warning == [2]  # once, when the first survivor trains again
    assert [str(w.message) for w in caught] == [
        "EpochHalvingGridSearchCV trains some survivors again from scratch, as "
        "scikit-learn's successive halving does, because of an optimizer with "
        "use_ema=True (a fit ends on the moving averages, not on the weights "
        "training goes on from)."
    ]
    assert epochs == [1, 1, 2]  # the survivor from 0 to 2
    reference = HalvingGridSearchCV(
        tiny(optimizer=optimizer), grid, resource="epochs", **settings
    ).fit(X, y)
    assert_same_results(search, reference)


def test_halving_of_another_estimator_is_refused_with_what_to_do(blobs):
    with pytest.raises(TypeError) as error:
        EpochHalvingRandomSearchCV(LogisticRegression(), {"C": [1.0]}).fit(*blobs)
    assert str(error.value) == (
        "EpochHalvingRandomSearchCV needs an MNISTClassifier or a Pipeline whose last "
        "step is one; got LogisticRegression. Use scikit-learn's "
        "HalvingRandomSearchCV for other estimators."
    )
    search = EpochHalvingGridSearchCV(LogisticRegression(), {"C": [1.0]})
    assert search.resource == "epochs"
    search.resource = "n_samples"  # scikit-learn's __init__ sets it: ignored
    assert search.resource == "epochs"
    nested = Pipeline([("inner", make_mnist_pipeline())])
    assert EpochHalvingGridSearchCV(nested, {}).resource == "inner__classifier__epochs"


def test_continue_and_score_continues_a_kept_network(blobs):
    X, y = blobs
    train, test = SPLIT[0]
    common = dict(scorer=None, train=train, test=test, verbose=0, fit_params=None,
                  score_params=None, return_train_score=False,
                  error_score=np.nan, split_progress=(0, 1),
                  candidate_progress=(0, 1))  # fmt: skip
    from sklearn.metrics import check_scoring

    scorer = check_scoring(tiny(), "neg_log_loss")
    common["scorer"] = scorer
    base = tiny(warm_start=False, random_state=np.random.RandomState(3))
    key, first, network = _continue_and_score(
        "k", None, base, X, y, parameters={"epochs": 1}, prefix="", **common
    )
    assert key == "k" and first["fit_error"] is None
    estimator, seed = network
    assert estimator.current_epoch == 1 and isinstance(seed, int)
    # The candidate's settings are put back: warm_start and its own random_state.
    assert estimator.warm_start is False
    assert isinstance(estimator.random_state, np.random.RandomState)
    _, second, again = _continue_and_score(
        "k", network, base, X, y, parameters={"epochs": 3}, prefix="", **common
    )
    assert again[0] is estimator and again[1] == seed
    assert estimator.current_epoch == 3
    fresh = tiny(epochs=3, random_state=seed).fit(X[train], y[train])
    np.testing.assert_array_equal(
        estimator.predict_proba(X[test]), fresh.predict_proba(X[test]), strict=True
    )
    assert second["test_scores"] == scorer(fresh, X[test], y[test])
    # Already at its epochs: scored only.
    _, third, same = _continue_and_score(
        "k", network, base, X, y, parameters={"epochs": 2}, prefix="", **common
    )
    assert same is network and third["fit_time"] == 0.0
    assert third["test_scores"] == second["test_scores"]
    assert third["n_test_samples"] == len(test) and "train_scores" not in third


class CountingCallback:
    """A scikit-learn callback (``set_callbacks``) that counts the fit tasks."""

    def __init__(self):
        self.ended = 0

    def setup(self, *args, **kwargs):
        pass

    def teardown(self, *args, **kwargs):
        pass

    def on_fit_task_begin(self, *args, **kwargs):
        pass

    def on_fit_task_end(self, *args, **kwargs):
        self.ended += 1


def test_scikit_learn_callbacks_make_the_epoch_search_grid_search_cv(blobs, tmp_path):
    X, y = blobs
    settings = dict(cv=SPLIT, scoring="neg_log_loss", refit=False)
    callback = CountingCallback()
    search = EpochGridSearchCV(tiny(), EPOCHS, **settings).set_callbacks(callback)
    with pytest.warns(UserWarning) as caught:
        search.fit(X, y)
    assert [str(w.message) for w in caught] == [
        "EpochGridSearchCV does not run scikit-learn callbacks set with "
        "set_callbacks; searching as GridSearchCV does, one fit per candidate."
    ]
    assert callback.ended > 0  # GridSearchCV's fit ran them
    assert search.shared_fits_ == [[0], [1], [2]] and search.resumed_fits_ == 0
    reference = GridSearchCV(tiny(), EPOCHS, **settings).fit(X, y)
    assert_same_results(search, reference)
    search.checkpoint = tmp_path / "search.ckpt"
    with pytest.warns(UserWarning), pytest.raises(ValueError) as error:
        search.fit(X, y)
    assert str(error.value) == (
        "EpochGridSearchCV keeps no checkpoint of a search with scikit-learn "
        "callbacks; set checkpoint=None or remove them"
    )
    assert not search.checkpoint.exists()


def test_scikit_learn_callbacks_make_halving_scikit_learns(blobs, monkeypatch):
    X, y = blobs
    settings = dict(factor=2, max_resources=2, cv=SPLIT, scoring="neg_log_loss",
                    refit=False)  # fmt: skip
    grid = {"batch_size": [8, 16]}
    callback = CountingCallback()
    search = EpochHalvingGridSearchCV(tiny(), grid, **settings)
    epochs = count_epochs(monkeypatch)
    with pytest.warns(UserWarning) as caught:
        search.set_callbacks(callback).fit(X, y)
    assert [str(w.message) for w in caught] == [
        "EpochHalvingGridSearchCV does not run scikit-learn callbacks set with "
        "set_callbacks; searching as scikit-learn does, each survivor trained "
        "from scratch at each rung."
    ]
    assert callback.ended > 0
    assert epochs == [1, 1, 2]  # the survivor from 0 to 2, as scikit-learn does
    reference = HalvingGridSearchCV(tiny(), grid, resource="epochs", **settings)
    assert_same_results(search, reference.fit(X, y))


def test_constructors_are_scikit_learns_with_a_checkpoint_and_without_resource():
    from sklearn.model_selection import HalvingRandomSearchCV

    estimator = MNISTClassifier()
    grid = {"batch_size": [16]}
    ours = EpochGridSearchCV(estimator, grid).get_params(deep=False)
    theirs = GridSearchCV(estimator, grid).get_params(deep=False)
    assert ours == {**theirs, "checkpoint": None}
    # Every parameter passed on, none at its default.
    settings = dict(scoring="accuracy", n_jobs=2, refit=False, cv=3, verbose=1,
                    pre_dispatch="n_jobs", error_score=0.0,
                    return_train_score=True)  # fmt: skip
    ours = EpochGridSearchCV(estimator, grid, checkpoint="x.ckpt", **settings)
    theirs = GridSearchCV(estimator, grid, **settings).get_params(deep=False)
    assert ours.get_params(deep=False) == {**theirs, "checkpoint": "x.ckpt"}
    settings = dict(factor=2, max_resources=5, min_resources=2,
                    aggressive_elimination=True, cv=3, scoring="accuracy",
                    refit=False, error_score=0.0, return_train_score=False,
                    random_state=3, n_jobs=2, verbose=1)  # fmt: skip
    for search, reference, more in [
        (EpochHalvingGridSearchCV, HalvingGridSearchCV, {}),
        (EpochHalvingRandomSearchCV, HalvingRandomSearchCV, {"n_candidates": 4}),
    ]:
        ours = search(estimator, grid).get_params(deep=False)
        theirs = reference(estimator, grid).get_params(deep=False)
        del theirs["resource"]
        assert ours == theirs, search
        ours = search(estimator, grid, **settings, **more).get_params(deep=False)
        theirs = reference(estimator, grid, **settings, **more).get_params(deep=False)
        del theirs["resource"]
        assert ours == theirs, search


class FlushCounter:
    """A stdout that keeps what is written and counts the flushes."""

    def __init__(self):
        self.text, self.flushes = "", 0

    def write(self, text):
        self.text += text

    def flush(self):
        self.flushes += 1


def test_a_rungs_line_is_flushed_and_says_nan_when_every_fit_failed(monkeypatch):
    search = EpochHalvingGridSearchCV(make_mnist_pipeline(), {})
    search._prefix, search.n_resources_ = "classifier__", [1, 3]
    candidates = [{"classifier__epochs": 3, "x": 1}, {"classifier__epochs": 3}]
    out = [{"test_scores": score} for score in [0.5, 0.75, np.nan, np.nan]]
    stdout = FlushCounter()
    monkeypatch.setattr(sys, "stdout", stdout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "All-NaN slice" from nanmax
        search._print_rung(candidates, out, 2)
        assert stdout.flushes == 1  # at once, even into a pipe
        search._print_rung(candidates[1:], out[2:], 2)
    assert stdout.text == (
        "rung 1: 2 candidates at 3 epochs, best mean score 0.6250\n"
        "rung 1: 1 candidates at 3 epochs, best mean score nan\n"
    )
    # Several metrics (a callable scorer's dict): no line.
    search._print_rung(candidates[1:], [{"test_scores": {"a": 1.0}}] * 2, 2)
    assert stdout.text.count("\n") == 2


def weight_of_rows(estimator, X, y, sample_weight=None):
    """A scorer that gives the sum of the weights it is handed, and the rows' count."""
    return float(np.sum(sample_weight)) + len(X) / 1000


def failing_scorer(estimator, X, y, **params):
    raise RuntimeError("no score")


def test_score_only_scores_on_the_fold_with_the_folds_score_params(noisy):
    from sk_mnist.halving import _score_only

    X, y = noisy
    estimator = LogisticRegression().fit(X, y)
    train, test = (
        np.arange(0, 120, 3),
        np.setdiff1d(np.arange(120), np.arange(0, 120, 3)),
    )
    weight = np.arange(120.0)
    common = dict(train=train, test=test, verbose=0, error_score=np.nan,
                  split_progress=(0, 1), candidate_progress=(0, 1))  # fmt: skip
    result = _score_only(
        estimator, X, y, scorer=weight_of_rows, return_train_score=True,
        score_params={"sample_weight": weight}, **common,
    )  # fmt: skip
    assert result["test_scores"] == weight[test].sum() + len(test) / 1000
    assert result["train_scores"] == weight[train].sum() + len(train) / 1000
    assert result["n_test_samples"] == len(test) == 80
    assert result["fit_time"] == 0.0 and result["fit_error"] is None
    assert 0.0 <= result["score_time"] < 60  # seconds from its start
    common["error_score"] = -7.0
    for train_score in [False, True]:
        with pytest.warns(UserWarning, match="Scoring failed"):
            result = _score_only(
                estimator, X, y, scorer=failing_scorer,
                return_train_score=train_score, score_params=None, **common,
            )  # fmt: skip
        assert result["test_scores"] == -7.0
        assert result.get("train_scores", "none") == (-7.0 if train_score else "none")


def test_sample_weight_reaches_the_shared_fit_and_the_scorer_of_its_fold(blobs):
    import sklearn
    from sklearn.metrics import log_loss, make_scorer

    X, y = blobs
    weight = np.where(y < 2, 1.0, 0.05)
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = tiny().set_fit_request(sample_weight=True)
        scorer = make_scorer(
            log_loss, greater_is_better=False, response_method="predict_proba"
        ).set_score_request(sample_weight=True)
        settings = dict(scoring=scorer, cv=2, return_train_score=True, refit=False)
        search = EpochGridSearchCV(estimator, EPOCHS, **settings)
        search.fit(X, y, sample_weight=weight)
        reference = GridSearchCV(estimator, EPOCHS, **settings)
        reference.fit(X, y, sample_weight=weight)
        unweighted = EpochGridSearchCV(estimator, EPOCHS, **settings).fit(X, y)
    assert search.shared_fits_ == [[0, 1, 2]]
    assert_candidates_differ(search)
    assert_same_results(search, reference)
    for key in ["mean_test_score", "mean_train_score"]:
        assert np.all(search.cv_results_[key] != unweighted.cv_results_[key]), key


def test_the_searches_warnings_name_the_line_that_called_fit(blobs):
    X, y = blobs
    ema = keras.optimizers.RMSprop(0.03, use_ema=True)
    one, two = {"epochs": [1]}, {"batch_size": [8, 16]}
    halving = dict(factor=2, max_resources=2, cv=SPLIT, refit=False)
    for search, said in [
        (EpochGridSearchCV(tiny(callbacks=[keras.callbacks.TerminateOnNaN()]), one,
                           cv=SPLIT, refit=False), "separately"),
        (EpochGridSearchCV(tiny(), one, cv=SPLIT, refit=False).set_callbacks(
            CountingCallback()), "does not run"),
        (EpochHalvingGridSearchCV(tiny(optimizer=ema), two, **halving), "again"),
        (EpochHalvingGridSearchCV(tiny(), two, **halving).set_callbacks(
            CountingCallback()), "does not run"),
    ]:  # fmt: skip
        with pytest.warns(UserWarning, match=said) as caught:
            line = sys._getframe().f_lineno + 1
            search.fit(X, y)
        warning = next(w for w in caught if said in str(w.message))
        assert (warning.filename, warning.lineno) == (__file__, line), search


def test_halvings_warning_gives_every_reason_of_the_rung_once_sorted(blobs):
    X, y = blobs
    # Three candidates, three reasons: any two survivors have two of them.
    grid = [
        {"optimizer": [keras.optimizers.RMSprop(0.03, use_ema=True)]},
        {"callbacks": [[keras.callbacks.TerminateOnNaN()]]},
        {"batch_size": [8]},
    ]
    search = EpochHalvingGridSearchCV(
        tiny(), grid, factor=2, max_resources=2, cv=SPLIT, refit=False
    )
    with pytest.warns(UserWarning) as caught:
        search.fit(X, y, shuffle=True)
    assert search.n_candidates_ == [3, 2]
    (message,) = [str(w.message) for w in caught]
    start = (
        "EpochHalvingGridSearchCV trains some survivors again from scratch, as "
        "scikit-learn's successive halving does, because of "
    )
    assert message.startswith(start) and message.endswith(".")
    reasons = message[len(start) : -1].split("; ")
    assert reasons == sorted(reasons) and len(reasons) == 2, reasons
    assert set(reasons) <= {
        "an optimizer with use_ema=True (a fit ends on the moving averages, not on "
        "the weights training goes on from)",
        "callbacks (they may change training or depend on epochs)",
        "fit parameters ['shuffle']",
    }


def test_a_checkpoint_of_another_search_is_refused_before_any_fit(
    blobs, tmp_path, monkeypatch
):
    from sk_mnist import CheckpointError

    X, y = blobs
    path = tmp_path / "search.ckpt"
    settings = dict(cv=SPLIT, refit=False, checkpoint=path)
    EpochGridSearchCV(tiny(), {"epochs": [1]}, **settings).fit(X, y)
    written = path.read_bytes()
    epochs = count_epochs(monkeypatch)
    for changed, differs in [
        (dict(estimator=tiny(batch_size=8)), "estimator"),
        (dict(param_grid={"epochs": [2]}), "grid"),
        (dict(cv=[SPLIT[0][::-1]]), "folds"),
        (dict(X=X[::-1]), "data"),
        (dict(y=y[::-1]), "data"),
        (dict(params={"shuffle": False}), "fit_params"),
        (dict(scoring="neg_log_loss"), "scoring"),
        (dict(return_train_score=True), "return_train_score"),
        (dict(error_score=0.0), "error_score"),
    ]:
        arguments = {
            "estimator": tiny(), "param_grid": {"epochs": [1]}, "X": X, "y": y,
            "params": {}, **settings, **changed,
        }  # fmt: skip
        X_, y_, params = (arguments.pop(k) for k in ["X", "y", "params"])
        with pytest.raises(CheckpointError) as error:
            EpochGridSearchCV(**arguments).fit(X_, y_, **params)
        assert f"holds the fits of another search: its {differs} differs" in str(
            error.value
        ), (differs, str(error.value))
    assert epochs == [] and path.read_bytes() == written
    header = json.loads(written.splitlines()[0])
    assert header["search"]["search"] == "EpochGridSearchCV"
    assert header["search"]["versions"] and header["search"]["fit_params"] == {}


def test_the_searches_run_their_tasks_with_their_n_jobs_and_pre_dispatch(
    blobs, monkeypatch
):
    import sk_mnist.halving
    import sk_mnist.search

    X, y = blobs
    calls = []

    def in_process(tasks, *, n_jobs, pre_dispatch, record):
        calls.append((n_jobs, pre_dispatch))
        engine.run_tasks(tasks, n_jobs=1, pre_dispatch=pre_dispatch, record=record)

    for module in (sk_mnist.search, sk_mnist.halving):
        monkeypatch.setattr(module, "run_tasks", in_process)
    EpochGridSearchCV(
        tiny(), {"epochs": [1]}, cv=SPLIT, refit=False, n_jobs=3,
        pre_dispatch="3*n_jobs",
    ).fit(X, y)  # fmt: skip
    assert calls == [(3, "3*n_jobs")]
    search = EpochHalvingGridSearchCV(
        tiny(), {"batch_size": [8, 16]}, factor=2, max_resources=2, cv=SPLIT,
        refit=False, n_jobs=3,
    )  # fmt: skip
    search.pre_dispatch = "4*n_jobs"  # scikit-learn's halving sets it in __init__
    search.fit(X, y)
    assert calls[1:] == [(3, "4*n_jobs")] * 2  # one call per rung
