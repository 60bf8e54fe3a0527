"""EpochGridSearchCV: a grid search over epochs at the cost of the longest candidate.

``GridSearchCV`` fits every candidate from scratch: ``epochs: [1, 3, 5]`` trains
1 + 3 + 5 = 9 epochs per fold where 5 would do. A seeded Keras fit is the same
network after epoch 3 whether it was asked for 3 epochs or for 5, so
candidates that differ only in ``epochs`` can share one fit per fold, to their
largest ``epochs``, with the network scored as it stood after each epoch a
candidate asks for. scikit-learn does the same for its own path estimators
(``LogisticRegressionCV``, ``LassoCV``: one pass per fold, every value scored).
The search loop, the refit and the attributes are scikit-learn's
(:func:`sk_mnist._search_engine.fit_search`).
"""

import os
import time

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.model_selection._validation import _fit_and_score, _num_samples, _score
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.parallel import delayed
from sklearn.utils.validation import _check_method_params

from sk_mnist._search_engine import (
    classifier_prefix,
    fit_search,
    kept_on_dask,
    keyed_call,
    resolved,
    run_tasks,
    same_params,
    single_fit,
    warn_at_caller,
    why_not_shared,
)

__all__ = ["EpochGridSearchCV"]


def _end_of_fit_weights(model):
    """The weights ``model.fit`` would return if it ended now.

    Applies what ``keras.Model.fit`` does after its last epoch on both backends,
    ``optimizer.finalize_variable_values(model.trainable_weights)``, then puts
    the model's and the optimizer's variables back, bit for bit, so that
    training goes on as if nothing had happened.
    """
    import keras
    import numpy as np

    optimizer = model.optimizer
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return model.get_weights()  # fit finalizes Keras optimizers only
    weights = model.get_weights()
    optimizer_variables = list(optimizer.variables)
    optimizer_values = [np.array(v.numpy(), copy=True) for v in optimizer_variables]
    optimizer.finalize_variable_values(model.trainable_weights)
    finalized = model.get_weights()
    model.set_weights(weights)
    for variable, value in zip(optimizer_variables, optimizer_values):
        variable.assign(value)
    return finalized


def _epoch_snapshots(epochs):
    """A Keras callback keeping the end-of-fit weights, and the time, after epochs.

    The weights kept after epoch ``n`` are those a fit of ``n`` epochs returns:
    see :func:`_end_of_fit_weights`. Built on call: ``sk_mnist.search`` itself
    imports no TensorFlow.
    """
    import keras

    class EpochSnapshots(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in epochs:
                self.times[epoch + 1] = time.time()
                self.weights[epoch + 1] = _end_of_fit_weights(self.model)

    snapshots = EpochSnapshots()
    snapshots.weights, snapshots.times = {}, {}
    return snapshots


def _print_end(verbose, parameters, split_progress, candidate_progress, result):
    """The line ``_fit_and_score`` prints at the end of a fit, for a shared fit."""
    if verbose <= 1:
        return
    progress = ""
    if verbose > 2:
        progress = f" {split_progress[0] + 1}/{split_progress[1]}"
        if verbose > 9:
            progress += f"; {candidate_progress[0] + 1}/{candidate_progress[1]}"
    message = ", ".join(f"{k}={parameters[k]}" for k in sorted(parameters))
    message += "; shared fit"
    if verbose > 2:
        scores = result["test_scores"]
        if isinstance(scores, dict):
            message += "".join(f" {k}: {v:.3f}" for k, v in sorted(scores.items()))
        else:
            message += f", score={scores:.3f}"
    total = result["fit_time"] + result["score_time"]
    message += f" total time={total:.1f}s"
    start = f"[CV{progress}] END "
    print(start + "." * (80 - len(start) - len(message)) + message)


def _fit_epochs_and_score(
    estimator,
    X,
    y,
    *,
    scorer,
    train,
    test,
    verbose,
    candidates,
    prefix,
    fit_params,
    score_params,
    return_train_score,
    error_score,
    split_progress,
    n_candidates,
):
    """One fit on one fold for candidates that differ only in epochs.

    Trains to the largest ``epochs`` of ``candidates`` (a list of
    ``(index, params, epochs)``), keeping the weights after each epoch asked
    for, then scores each candidate on the network of its epoch. Returns a list
    of ``(index, result)`` with ``result`` shaped as ``_fit_and_score``'s. If the
    shared fit fails, each candidate is fitted on its own, as ``GridSearchCV``
    does, so that failures and ``error_score`` come out the same.
    """
    X, y, train, test = resolved(X, y, train, test)
    epochs_key, callbacks_key = f"{prefix}epochs", f"{prefix}callbacks"
    fresh = clone(estimator)
    needed = [epochs for _, _, epochs in candidates]
    snapshots = _epoch_snapshots(set(needed))
    shared_params = clone(dict(candidates[0][1]), safe=False)
    shared_params[epochs_key] = max(needed)
    shared_params[callbacks_key] = [snapshots]
    estimator.set_params(**shared_params)

    all_fit_params = fit_params or {}
    fit_params = _check_method_params(X, params=all_fit_params, indices=train)
    score_params = score_params or {}
    score_params_train = _check_method_params(X, params=score_params, indices=train)
    score_params_test = _check_method_params(X, params=score_params, indices=test)

    start = time.time()
    X_train, y_train = _safe_split(estimator, X, y, train)
    X_test, y_test = _safe_split(estimator, X, y, test, train)
    try:
        estimator.fit(X_train, y_train, **fit_params)
        end = time.time()
        failed = not set(needed) <= snapshots.weights.keys()  # stopped early
    except Exception:
        if error_score == "raise":
            raise
        failed = True
    if failed:
        # Each candidate on its own, as GridSearchCV fits it: its own failure,
        # error_score and warning.
        return [
            (
                index,
                _fit_and_score(
                    clone(fresh),
                    X,
                    y,
                    scorer=scorer,
                    train=train,
                    test=test,
                    verbose=verbose,
                    parameters=params,
                    fit_params=all_fit_params,
                    score_params=score_params,
                    return_train_score=return_train_score,
                    return_n_test_samples=True,
                    return_times=True,
                    split_progress=split_progress,
                    candidate_progress=(index, n_candidates),
                    error_score=error_score,
                ),
            )
            for index, params, _ in candidates
        ]

    classifier = estimator
    while isinstance(classifier, Pipeline):
        classifier = classifier.steps[-1][1]
    history = classifier.history_
    results = []
    for index, params, epochs in candidates:
        # The estimator as the candidate's own fit would have left it, as far
        # as scoring can tell: its parameters, weights and history.
        estimator.set_params(**{epochs_key: epochs, callbacks_key: None})
        classifier.model_.set_weights(snapshots.weights[epochs])
        classifier.history_ = {key: values[:epochs] for key, values in history.items()}
        score_start = time.time()
        result = {
            "fit_error": None,
            "test_scores": _score(
                estimator, X_test, y_test, scorer, score_params_test, error_score
            ),
            "n_test_samples": _num_samples(X_test),
            # The time this fit took to reach the candidate's last epoch: what
            # the candidate costs alone (the largest gets the whole fit).
            "fit_time": (end if epochs == max(needed) else snapshots.times[epochs])
            - start,
        }
        result["score_time"] = time.time() - score_start
        if return_train_score:
            result["train_scores"] = _score(
                estimator, X_train, y_train, scorer, score_params_train, error_score
            )
        _print_end(verbose, params, split_progress, (index, n_candidates), result)
        results.append((index, result))
    return results


class EpochGridSearchCV(GridSearchCV):
    """``GridSearchCV`` that trains candidates differing only in epochs once per fold.

    Same constructor, attributes and ``cv_results_`` as
    :class:`~sklearn.model_selection.GridSearchCV`, for an ``MNISTClassifier``
    or a pipeline ending in one. Candidates whose parameters are equal but for
    ``epochs`` (``classifier__epochs`` in a pipeline) share one fit per fold, to
    their largest ``epochs``; each is scored on the network as it stood after
    its own epoch. ``epochs: [1, 3, 5]`` trains 5 epochs per fold instead of 9.

    What is shared: one ``keras.Model.fit`` per fold and group. After each
    epoch a candidate asks for, the weights that a fit of that many epochs
    returns are kept: the live weights with the end of ``fit`` applied to a
    copy, i.e. ``optimizer.finalize_variable_values`` (with ``use_ema=True``,
    also inside a ``LossScaleOptimizer``, the moving averages replace the
    weights), after which the weights and optimizer variables are put back and
    training goes on. Everything else that shapes the weights acts per step
    and so is the same in a shared fit: learning-rate schedules (functions of
    the step), weight decay, ``clipnorm``, ``clipvalue``, ``global_clipnorm``,
    loss scaling, ``ema_overwrite_frequency``, ``validation_split``,
    ``sample_weight`` and ``class_weight``. Each candidate is then scored on its
    epoch's weights, with ``history_`` cut to its epochs; scorer parameters
    are those of the fold scored.

    With ``random_state`` set (an int or a ``RandomState``), every score is the
    one ``GridSearchCV`` gives, bit for bit, on TensorFlow and JAX: a seeded fit
    reaches the same weights after epoch 3 whether it runs for 3 epochs or 5.
    Unseeded, scores agree in distribution only, and the candidates of one fit
    are correlated (they share the first epochs of one run). The refit is
    ``GridSearchCV``'s: the best parameters, fitted on all of ``X`` with the
    fit parameters (``sample_weight``).

    What falls back: where sharing could change the result, the candidates are
    fitted separately, exactly as ``GridSearchCV`` fits them, and a
    ``UserWarning`` says why: ``callbacks`` (EarlyStopping, learning-rate
    schedulers, any other: they may change training or depend on the number of
    epochs), fit parameters other than ``sample_weight``, and an optimizer (or
    an optimizer inside it) whose ``finalize_variable_values`` is not Keras'
    own (it might do what a snapshot cannot undo). scikit-learn callbacks set
    with ``set_callbacks`` make the whole search ``GridSearchCV``'s, with a
    warning. A shared fit that raises, or stops before its last epoch, is
    redone candidate by candidate, so failures and ``error_score`` come out as
    in ``GridSearchCV``. Any other estimator raises ``TypeError``.

    ``fit_time`` of a candidate is the time its shared fit took to reach the
    end of the candidate's last epoch (the largest ``epochs`` gets the whole
    fit): what the candidate would have cost alone. The mean fit times of one
    group therefore add up to more than the time spent; ``score_time`` is each
    candidate's own.

    Parameters
    ----------
    estimator : MNISTClassifier or Pipeline
        An ``MNISTClassifier`` or a pipeline ending in one.
    param_grid : dict or list of dict
        Parameter names to lists of values, as for ``GridSearchCV``.
    scoring : str, callable, list, tuple or dict, default=None
        As for ``GridSearchCV``; None uses the estimator's ``score``.
    n_jobs : int, default=None
        (group of candidates, fold) tasks run in parallel through joblib, the
        Dask backend included. On Dask, the data goes to the cluster as tasks
        that Dask recomputes when a worker holding them is lost, so a lost
        worker costs only the fits it was running, which run again elsewhere.
    refit : bool, str or callable, default=True
        As for ``GridSearchCV``.
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV`` (stratified folds for a classifier).
    verbose : int, default=0
        As for ``GridSearchCV``.
    pre_dispatch : int or str, default="2*n_jobs"
        As for ``GridSearchCV``.
    error_score : "raise" or float, default=np.nan
        As for ``GridSearchCV``.
    return_train_score : bool, default=False
        As for ``GridSearchCV``.
    checkpoint : str or os.PathLike, default=None
        A file where each finished fit (a group of candidates on one fold)
        appends its scores as it finishes, flushed to disk. Run again with the
        same file, the search trains only the fits missing from it and gives
        the same ``cv_results_`` (bit for bit with ``random_state`` set). A
        file written by another search (another estimator, grid, folds, data,
        fit parameters, scoring or versions) raises ``CheckpointError``, a
        ``ValueError`` that says what differs. The format is described on the
        manual's scale-out page.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As for :class:`~sklearn.model_selection.GridSearchCV`, and so are the
        attributes down to ``multimetric_``.
    best_estimator_ : estimator
        Refitted on all the data, on its own.
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    scorer_ : callable or dict
        The scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds taken to refit the best candidate.
    multimetric_ : bool
        Whether several metrics were scored.
    shared_fits_ : list of list of int
        Indices into ``cv_results_["params"]`` of the candidates trained by one
        fit per fold; a candidate fitted alone is a list of one.
    resumed_fits_ : int
        Fits (a group of ``shared_fits_`` on one fold) read from ``checkpoint``
        rather than trained; 0 without a checkpoint.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : One fit per candidate and fold.
    sklearn.linear_model.LogisticRegressionCV : The same idea for a path.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mnist import EpochGridSearchCV, MNISTClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(60, 8), np.tile([0, 1, 2], 20)
    >>> search = EpochGridSearchCV(
    ...     MNISTClassifier(hidden_units=8, random_state=0),
    ...     {"epochs": [1, 2, 3]},
    ...     cv=2,
    ... ).fit(X, y)
    >>> search.shared_fits_, search.cv_results_["param_epochs"].tolist()
    ([[0, 1, 2]], [1, 2, 3])
    """

    _parameter_constraints = {
        **GridSearchCV._parameter_constraints,
        "checkpoint": [str, os.PathLike, None],
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
        checkpoint=None,
    ):
        super().__init__(
            estimator,
            param_grid,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.checkpoint = checkpoint

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, sharing fits across epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training images or rows.
        y : array-like of shape (n_samples,)
            Labels.
        **params : dict of str -> object
            Parameters for the estimator's ``fit`` (``classifier__sample_weight``,
            ...), the scorer and the splitter (``groups``).

        Returns
        -------
        self : EpochGridSearchCV
            The fitted search.
        """
        prefix = classifier_prefix(self.estimator)
        if prefix is None:
            raise TypeError(
                "EpochGridSearchCV needs an MNISTClassifier or a Pipeline whose last "
                f"step is one; got {type(self.estimator).__name__}. Use "
                "sklearn.model_selection.GridSearchCV for other estimators."
            )
        if getattr(self, "_skl_callbacks", None):
            warn_at_caller(
                "EpochGridSearchCV does not run scikit-learn callbacks set with "
                "set_callbacks; searching as GridSearchCV does, one fit per candidate."
            )
            if self.checkpoint is not None:
                raise ValueError(
                    "EpochGridSearchCV keeps no checkpoint of a search with "
                    "scikit-learn callbacks; set checkpoint=None or remove them"
                )
            n_candidates = len(ParameterGrid(self.param_grid))
            self.shared_fits_ = [[i] for i in range(n_candidates)]
            self.resumed_fits_ = 0
            return super().fit(X, y, **params)
        self._prefix = prefix
        try:
            return fit_search(self, X, y, params, self._evaluate)
        finally:
            del self._prefix

    def _evaluate(self, base_estimator, X, y, candidates, splits, common, params):
        """Fit each group of candidates once per fold; results candidate-major."""
        prefix, n_splits = self._prefix, len(splits)
        self.shared_fits_ = groups = self._group_candidates(
            base_estimator, candidates, prefix, common["fit_params"]
        )
        if self.verbose > 0:
            print(
                f"Fitting {n_splits} folds for each of {len(candidates)} candidates "
                f"in {len(groups)} shared fits, totalling {len(groups) * n_splits} "
                "fits"
            )
        keys = [(group, split) for group in groups for split in range(n_splits)]
        checkpoint = self._open_checkpoint(
            X, y, params, candidates, splits, [self._fit_key(*key) for key in keys]
        )
        done = {} if checkpoint is None else checkpoint.done
        todo = [key for key in keys if self._fit_key(*key) not in done]
        self.resumed_fits_ = len(keys) - len(todo)
        if self.verbose > 0 and checkpoint is not None:
            print(
                f"{self.resumed_fits_} of {len(keys)} fits read from "
                f"{checkpoint.path}, {len(todo)} to train"
            )
        # Under joblib's Dask backend: data that a lost worker cannot take
        # away, so that it costs only its running fits (see kept_on_dask).
        shipped = kept_on_dask(
            [X, y, *(a for split in splits for a in split)] if todo else []
        )
        X_sent, y_sent = (shipped[0], shipped[1]) if todo else (X, y)
        splits_sent = [tuple(shipped[2 + 2 * i : 4 + 2 * i]) for i in range(n_splits)]

        tasks = []
        for group, split_index in todo:
            train, test = splits_sent[split_index]
            where = dict(
                train=train, test=test, split_progress=(split_index, n_splits), **common
            )
            if len(group) == 1:
                index = group[0]
                task = delayed(keyed_call)(
                    (group, split_index),
                    single_fit,
                    index,
                    clone(base_estimator),
                    X_sent,
                    y_sent,
                    parameters=candidates[index],
                    candidate_progress=(index, len(candidates)),
                    return_n_test_samples=True,
                    return_times=True,
                    **where,
                )
            else:
                members = [
                    (i, candidates[i], self._epochs_of(base_estimator, candidates[i]))
                    for i in group
                ]
                task = delayed(keyed_call)(
                    (group, split_index),
                    _fit_epochs_and_score,
                    clone(base_estimator),
                    X_sent,
                    y_sent,
                    candidates=members,
                    prefix=prefix,
                    n_candidates=len(candidates),
                    **where,
                )
            tasks.append(task)

        def record(output):
            key, results = output
            if checkpoint is not None:
                checkpoint.record(list(key), results)
            done[self._fit_key(*key)] = results

        try:
            run_tasks(
                tasks, n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch, record=record
            )
        finally:
            if checkpoint is not None:
                checkpoint.close()
        # In GridSearchCV's order: candidate-major, then split.
        out = [None] * (len(candidates) * n_splits)
        for group, split_index in keys:
            for index, result in done[self._fit_key(group, split_index)]:
                out[index * n_splits + split_index] = result
        return out

    @staticmethod
    def _fit_key(group, split_index):
        """The checkpoint's name of one fit: its candidates and its fold."""
        from sk_mnist._checkpoint import SearchCheckpoint

        return SearchCheckpoint.key([list(group), split_index])

    def _open_checkpoint(self, X, y, params, candidates, splits, keys):
        """The search's :class:`~sk_mnist._checkpoint.SearchCheckpoint`, or None."""
        if self.checkpoint is None:
            return None
        from sk_mnist._checkpoint import SearchCheckpoint, describe, fingerprint
        from sk_mnist._versions import current_versions

        identity = {
            "search": type(self).__name__,
            "estimator": describe(self.estimator),
            "grid": describe(candidates),
            "folds": fingerprint([(np.asarray(a), np.asarray(b)) for a, b in splits]),
            "data": fingerprint((X, y)),
            "fit_params": describe(params),
            "scoring": describe(self.scoring),
            "return_train_score": self.return_train_score,
            "error_score": describe(self.error_score),
            "versions": current_versions(),
        }
        return SearchCheckpoint(self.checkpoint, identity, valid_keys=set(keys))

    def _epochs_of(self, base_estimator, params):
        """The epochs a candidate trains for: its own, or the estimator's."""
        key = f"{self._prefix}epochs"
        return params[key] if key in params else base_estimator.get_params()[key]

    def _group_candidates(self, base_estimator, candidates, prefix, fit_params):
        """Lists of candidate indices that can share one fit per fold.

        Candidates share when all their parameters but epochs are the same and
        nothing that depends on the number of epochs or changes training
        (callbacks, fit parameters other than sample_weight) is set.
        """
        epochs_key = f"{prefix}epochs"
        groups, keys, reasons = [], [], set()
        for index, params in enumerate(candidates):
            key = {k: v for k, v in params.items() if k != epochs_key}
            probe = clone(base_estimator).set_params(**clone(key, safe=False))
            reason = why_not_shared(probe, prefix, fit_params)
            if reason is None:
                for group, group_key in zip(groups, keys):
                    if group_key is not None and same_params(key, group_key):
                        group.append(index)
                        break
                else:
                    groups.append([index])
                    keys.append(key)
            else:
                reasons.add(reason)
                groups.append([index])
                keys.append(None)
        if reasons:
            warn_at_caller(
                "EpochGridSearchCV fits some candidates separately, as GridSearchCV "
                f"does, because of {'; '.join(sorted(reasons))}."
            )
        return groups
