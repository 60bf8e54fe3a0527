"""The engine under sk_mnist's searches: scikit-learn's search loop, other tasks.

:class:`~sk_mnist.EpochGridSearchCV` and the halving searches
(:mod:`sk_mnist.halving`) keep scikit-learn's constructors, attributes and
``cv_results_``, and change only what one fit task does: share one fit among
candidates that differ in epochs, or continue a survivor's network for the
epochs it lacks. :func:`fit_search` is ``BaseSearchCV.fit`` with that task
left to the search (its ``evaluate`` function); the rest of this module is
what the searches share: finding the ``MNISTClassifier`` in a pipeline,
deciding when training cannot be shared or continued exactly, running tasks
through joblib (the Dask backend included) and keeping the data on Dask.
"""

import sys
import time
import uuid
import warnings
from collections import defaultdict
from inspect import signature

from sklearn.base import clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._split import check_cv
from sklearn.model_selection._validation import (
    _fit_and_score,
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel
from sklearn.utils.validation import _check_method_params, indexable


def classifier_prefix(estimator):
    """``"classifier__"`` for the book's pipeline, ``""`` for a bare classifier.

    Follows the last step of (nested) pipelines; None when the estimator found
    there is not an ``MNISTClassifier``.
    """
    from sk_mnist.classifier import MNISTClassifier

    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return prefix if isinstance(estimator, MNISTClassifier) else None


def _same_value(a, b):
    """True when two parameter values are certainly the same (else False)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # arrays and other objects without a plain equality
        return False


def same_params(a, b):
    return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)


def _nested_optimizers(optimizer):
    """``optimizer`` and the optimizers inside it (LossScaleOptimizer, ...)."""
    import keras

    found, todo = [], [optimizer]
    while todo:
        item = todo.pop()
        if isinstance(item, keras.optimizers.Optimizer):
            if any(item is seen for seen in found):
                continue
            found.append(item)
            todo.extend(vars(item).values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
        elif hasattr(item, "default_optimizer"):  # Keras' optimizer map
            todo.append(item.default_optimizer)
            todo.extend(item.values() if hasattr(item, "values") else [])
    return found


def _own_end_of_fit_step(optimizer):
    """Name of the class whose ``finalize_variable_values`` is not Keras' own, or None.

    ``keras.Model.fit`` ends with ``optimizer.finalize_variable_values`` (with
    ``use_ema``, the moving averages replace the weights). Keras' own
    implementations only assign variables, which a snapshot can apply to a
    copy and undo; a user's override might change anything, so it is not shared.
    """
    if isinstance(optimizer, str):  # a Keras optimizer by name
        return None
    classes = (
        [optimizer]
        if isinstance(optimizer, type)
        else [type(item) for item in _nested_optimizers(optimizer)]
    )
    for cls in classes:
        finalize = getattr(cls, "finalize_variable_values", None)
        if finalize is not None and not finalize.__module__.startswith("keras."):
            return cls.__name__
    return None


def _uses_ema(optimizer):
    """True when ``optimizer`` (or one inside) ends a fit on moving averages."""
    if isinstance(optimizer, (str, type)):  # by name or class: Keras' defaults
        return False
    return any(
        getattr(item, "use_ema", False) for item in _nested_optimizers(optimizer)
    )


def why_not_shared(probe, prefix, fit_params, *, continued=False):
    """Why training of ``probe`` cannot be shared or continued exactly, or None.

    ``probe`` is the estimator with a candidate's parameters. Callbacks may
    change training or depend on the number of epochs; fit parameters other
    than ``sample_weight`` may too; an optimizer with its own
    ``finalize_variable_values`` does at the end of a fit what no snapshot can
    undo. A continued fit (``continued=True``) also starts from the weights a
    fit ended with, which ``use_ema`` replaced by their moving averages.
    """
    unsafe_fit_params = sorted(
        name
        for name in fit_params
        if name not in {"sample_weight", f"{prefix}sample_weight"}
    )
    if classifier_prefix(probe) != prefix:
        return "the last step is not an MNISTClassifier"
    params = probe.get_params()
    if params[f"{prefix}callbacks"]:
        return "callbacks (they may change training or depend on epochs)"
    optimizer = params[f"{prefix}optimizer"]
    if owner := _own_end_of_fit_step(optimizer):
        return (
            f"an optimizer ({owner}) with its own finalize_variable_values "
            "(the end of a fit, which a shared fit cannot replay exactly)"
        )
    if continued and _uses_ema(optimizer):
        return (
            "an optimizer with use_ema=True (a fit ends on the moving averages, "
            "not on the weights training goes on from)"
        )
    if unsafe_fit_params:
        return f"fit parameters {unsafe_fit_params}"
    return None


def _package(frame):
    """The top-level package of the module a frame runs in."""
    return frame.f_globals.get("__name__", "").split(".")[0]


def warn_at_caller(message):
    """``warnings.warn(message)`` at the first caller outside sk_mnist and scikit-learn.

    The searches warn from inside scikit-learn's search loop (the task that
    decides what is shared runs under ``_run_search``, under ``fit``'s
    ``_fit_context``), at a depth scikit-learn may change: a fixed
    ``stacklevel`` named a line of sk_mnist or scikit-learn, not the user's.
    """
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and _package(frame) in ("sk_mnist", "sklearn"):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def run_tasks(tasks, *, n_jobs, pre_dispatch, record):
    """Run joblib ``tasks``, calling ``record(output)`` as each one finishes."""
    try:  # results as they finish, each recorded at once
        parallel = Parallel(
            n_jobs=n_jobs, pre_dispatch=pre_dispatch, return_as="generator_unordered"
        )
    except ValueError:  # a backend without generators: all at the end
        parallel = Parallel(n_jobs=n_jobs, pre_dispatch=pre_dispatch)
    with parallel, warnings.catch_warnings():
        # On Ctrl-C, joblib warns that it cancelled the running tasks: that is
        # what Ctrl-C asks.
        warnings.filterwarnings(
            "ignore", message=".* tasks which were still being processed"
        )
        outputs = parallel(tasks)
        try:
            for output in outputs:
                record(output)
        finally:  # here, not when the garbage collector gets to it
            if hasattr(outputs, "close"):
                outputs.close()


class _NoCallbacks:
    """The callback context that scikit-learn's ``_run_search`` takes (1.9+)."""

    def subcontext(self, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return self


def fit_search(search, X, y, params, evaluate):
    """``BaseSearchCV.fit`` of ``search``, with ``evaluate`` running the fits.

    ``evaluate(base_estimator, X, y, candidates, splits, common, params)`` returns
    one ``_fit_and_score`` result per candidate and split, candidate-major, for
    the candidates that ``search._run_search`` asks for (all at once for a grid,
    rung by rung for successive halving); ``common`` holds the keyword arguments
    of ``_fit_and_score`` that are the same for every fit. Everything else is
    scikit-learn's: routing, splits, ``_format_results``, the choice of the best
    candidate, the refit and the attributes.
    """
    scorers, refit_metric = search._get_scorers()
    X, y = indexable(X, y)
    params = _check_method_params(X, params=params)
    routed = search._get_routed_params_for_fit(params)
    search._checked_cv_orig = check_cv(
        search.cv, y, classifier=is_classifier(search.estimator)
    )
    # scikit-learn 1.9's BaseSearchCV.fit checks here; 1.8 has the check only in
    # its successive halving.
    check_input = getattr(search, "_check_input_parameters", None)
    if check_input is not None:
        check_input(X=X, y=y, split_params=routed.splitter.split)
    search.n_splits_ = n_splits = search._checked_cv_orig.get_n_splits(
        X, y, **routed.splitter.split
    )
    base_estimator = clone(search.estimator)
    common = dict(
        scorer=scorers,
        fit_params=routed.estimator.fit,
        score_params=routed.scorer.score,
        return_train_score=search.return_train_score,
        error_score=search.error_score,
        verbose=search.verbose,
    )
    all_candidates, all_out, all_more = [], [], defaultdict(list)
    results = {}

    def evaluate_candidates(candidates, cv=None, more_results=None, callback_ctx=None):
        nonlocal results
        cv = cv or search._checked_cv_orig
        candidates = list(candidates)
        splits = list(cv.split(X, y, **routed.splitter.split))
        if len(splits) != n_splits:
            raise ValueError(
                "cv.split and cv.get_n_splits return inconsistent results. "
                f"Expected {n_splits} splits, got {len(splits)}"
            )
        out = evaluate(base_estimator, X, y, candidates, splits, common, params)
        if len(out) < 1:
            raise ValueError(
                "No fits were performed. Was the CV iterator empty? "
                "Were there no candidates?"
            )
        _warn_or_raise_about_fit_failures(out, search.error_score)
        if callable(search.scoring):
            _insert_error_scores(out, search.error_score)
        all_candidates.extend(candidates)
        all_out.extend(out)
        for key, value in (more_results or {}).items():
            all_more[key].extend(value)
        results = search._format_results(all_candidates, n_splits, all_out, all_more)
        return results

    if "callback_ctx" in signature(search._run_search).parameters:
        search._run_search(evaluate_candidates, callback_ctx=_NoCallbacks())
    else:
        search._run_search(evaluate_candidates)

    first_test_score = all_out[0]["test_scores"]
    search.multimetric_ = isinstance(first_test_score, dict)
    if callable(search.scoring) and search.multimetric_:
        search._check_refit_for_multimetric(first_test_score)
        refit_metric = search.refit

    if search.refit or not search.multimetric_:
        search.best_index_ = search._select_best_index(
            search.refit, refit_metric, results
        )
        if not callable(search.refit):
            search.best_score_ = results[f"mean_test_{refit_metric}"][
                search.best_index_
            ]
        search.best_params_ = results["params"][search.best_index_]

    if search.refit:
        search.best_estimator_ = clone(base_estimator).set_params(
            **clone(search.best_params_, safe=False)
        )
        refit_start_time = time.time()
        search.best_estimator_.fit(X, y, **routed.estimator.fit)
        search.refit_time_ = time.time() - refit_start_time
        if hasattr(search.best_estimator_, "feature_names_in_"):
            search.feature_names_in_ = search.best_estimator_.feature_names_in_

    search.scorer_ = (
        scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
    )
    search.cv_results_ = results
    return search


def single_fit(index, estimator, X, y, *, train, test, **kwargs):
    """``_fit_and_score`` for one candidate, tagged with its index."""
    X, y, train, test = resolved(X, y, train, test)
    return [(index, _fit_and_score(estimator, X, y, train=train, test=test, **kwargs))]


def keyed_call(key, function, *args, **kwargs):
    """``function(*args, **kwargs)`` with the key of the fit it runs."""
    return key, function(*args, **kwargs)


def resolved(*values):
    """Values, with Dask futures replaced by what they hold.

    Dask resolves the futures among a task's arguments before the task runs;
    only a one-thread cluster, where joblib runs the calls in this process,
    hands them over as they are.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return values
    return tuple(
        value.result() if isinstance(value, distributed.Future) else value
        for value in values
    )


def _itself(value):
    """The task that holds the search's data on Dask: it returns its argument."""
    return value


def kept_on_dask(arrays):
    """Under joblib's Dask backend: ``arrays`` as futures that Dask can recompute.

    joblib's Dask backend sends each argument larger than 1 kB to one worker
    (its automatic scatter; ``scatter=`` broadcasts to every worker, but
    Dask's active memory manager soon drops the copies no task waits for).
    Scattered data has no task to recompute it: when its worker is lost, the
    fits that need it are cancelled ("already forgotten") and the search
    fails. Here each array is the result of a task that returns it: the
    scheduler keeps the task, so a lost copy is computed again on a worker
    that is left, and the lost fits rerun there. Under any other backend,
    ``arrays`` as they are.
    """
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    client = getattr(backend, "client", None)
    if type(backend).__name__ != "DaskDistributedBackend" or client is None:
        return arrays
    with warnings.catch_warnings():
        # The data goes to the scheduler once, inside its task: what this asks.
        warnings.filterwarnings("ignore", message="Sending large graph")
        return [
            client.submit(_itself, a, key=f"sk-mnist-data-{uuid.uuid4().hex}")
            for a in arrays
        ]
