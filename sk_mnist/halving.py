"""Successive halving over epochs, where the survivors train on instead of again.

scikit-learn's ``HalvingGridSearchCV(resource="classifier__epochs")`` fits
every survivor from scratch at each rung: a candidate that reaches 27 epochs
is trained 1 + 3 + 9 + 27 = 40. Here each candidate's network for each fold is
kept between rungs (returned by the task that trained it, wherever it ran)
and the next rung trains only the epochs it lacks. A seeded fit's epoch order
is a function of the seed and the epoch's number
(:func:`~sk_mnist._seeding.epoch_order`), and the optimizer's state travels
with the network, so a survivor continued from 3 to 9 epochs is the network a
fresh 9-epoch fit gives. Rungs, candidates, ``cv_results_`` and the choice of
the best are scikit-learn's own (its ``_run_search``), through
:func:`sk_mnist._search_engine.fit_search`.
"""

import copy
import time

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV
from sklearn.model_selection._validation import _fit_and_score, _num_samples, _score
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.parallel import delayed
from sklearn.utils.validation import _check_method_params

from sk_mnist._search_engine import (
    classifier_prefix,
    fit_search,
    kept_on_dask,
    resolved,
    run_tasks,
    same_params,
    warn_at_caller,
    why_not_shared,
)

__all__ = ["EpochHalvingGridSearchCV", "EpochHalvingRandomSearchCV"]


def _classifier_of(estimator):
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def _score_only(estimator, X, y, *, train, test, scorer, score_params, **common):
    """``_fit_and_score``'s result for a network that already has its epochs."""
    X_train, y_train = _safe_split(estimator, X, y, train)
    X_test, y_test = _safe_split(estimator, X, y, test, train)
    start = time.time()
    error_score = common["error_score"]
    params_test = _check_method_params(X, params=score_params or {}, indices=test)
    result = {
        "fit_error": None,
        "fit_time": 0.0,
        "test_scores": _score(
            estimator, X_test, y_test, scorer, params_test, error_score
        ),
        "n_test_samples": _num_samples(X_test),
    }
    result["score_time"] = time.time() - start
    if common["return_train_score"]:
        params_train = _check_method_params(X, params=score_params or {}, indices=train)
        result["train_scores"] = _score(
            estimator, X_train, y_train, scorer, params_train, error_score
        )
    return result


def _continue_and_score(
    key, network, base_estimator, X, y, *, parameters, prefix, **kwargs
):
    """Train one candidate on one fold to its epochs and score it.

    ``network`` is ``(estimator, seed)`` as an earlier rung left it, or None
    for a fresh fit. A continued fit keeps the network, the optimizer's state
    and the seed of its first fit (so that each epoch gets the order a fresh
    fit gives it: a ``RandomState`` or None is drawn once, at the first fit)
    and trains ``epochs - current_epoch`` more epochs. Returns ``key``, the
    result shaped as ``_fit_and_score``'s and the network to continue, or None
    when the fit failed.
    """
    X, y, kwargs["train"], kwargs["test"] = resolved(
        X, y, kwargs["train"], kwargs["test"]
    )
    from sk_mnist._seeding import fit_seed

    epochs_key = f"{prefix}epochs"
    epochs = parameters[epochs_key]
    if network is None:
        estimator = clone(base_estimator).set_params(**clone(parameters, safe=False))
        classifier = _classifier_of(estimator)
        given = classifier.random_state
        # The seed a fresh fit would draw (None: unseeded, each fit draws anew).
        seed = None if given is None else fit_seed(copy.deepcopy(given))
        done = 0
    else:
        estimator, seed = network
        classifier = _classifier_of(estimator)
        given = classifier.random_state
        done = classifier.current_epoch
    if done >= epochs:  # aggressive elimination: the same epochs again
        return key, _score_only(estimator, X, y, **kwargs), network
    # The candidate's parameters but its epochs, which come as a fit parameter:
    # the epochs it lacks, on top of the ones it has (warm start).
    parameters = {k: v for k, v in parameters.items() if k != f"{prefix}warm_start"}
    warm_start = classifier.warm_start
    fit_params = dict(kwargs.pop("fit_params") or {}, **{epochs_key: epochs - done})
    if seed is not None:
        parameters[f"{prefix}random_state"] = seed
    try:
        classifier.warm_start = True
        result = _fit_and_score(
            estimator,
            X,
            y,
            parameters=parameters,
            fit_params=fit_params,
            return_n_test_samples=True,
            return_times=True,
            **kwargs,
        )
    finally:
        classifier.set_params(warm_start=warm_start, random_state=given)
    if result["fit_error"] is not None:
        return key, result, None
    return key, result, (estimator, seed)


class _EpochHalving:
    """What the two halving searches add to scikit-learn's: survivors continue.

    The resource is always the ``MNISTClassifier``'s ``epochs``. Everything
    else (rungs, ``cv_results_``, the best, the refit) is
    ``BaseSuccessiveHalving``'s.
    """

    @property
    def resource(self):
        """``epochs`` of the search's ``MNISTClassifier`` (``classifier__epochs``)."""
        prefix = classifier_prefix(self.estimator)
        return "epochs" if prefix is None else f"{prefix}epochs"

    @resource.setter
    def resource(self, value):
        pass  # scikit-learn's __init__ sets it; it is always the epochs

    def _check_input_parameters(self, X, y, split_params):
        if self.max_resources != "auto":
            return super()._check_input_parameters(X, y, split_params)
        # "auto": the estimator's own epochs.
        self.max_resources = self.estimator.get_params()[self.resource]
        try:
            return super()._check_input_parameters(X, y, split_params)
        finally:
            self.max_resources = "auto"

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Run successive halving over epochs, continuing the survivors.

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
        self
            The fitted search.
        """
        name = type(self).__name__
        prefix = classifier_prefix(self.estimator)
        if prefix is None:
            raise TypeError(
                f"{name} needs an MNISTClassifier or a Pipeline whose last step is "
                f"one; got {type(self.estimator).__name__}. Use scikit-learn's "
                f"{name.replace('Epoch', '')} for other estimators."
            )
        self._n_samples_orig = _num_samples(X)
        if getattr(self, "_skl_callbacks", None):
            warn_at_caller(
                f"{name} does not run scikit-learn callbacks set with "
                "set_callbacks; searching as scikit-learn does, each survivor "
                "trained from scratch at each rung."
            )
            return super().fit(X, y, **params)
        self._prefix, self._networks, self._continued = prefix, [], []
        try:
            fit_search(self, X, y, params, self._rung)
        finally:
            del self._prefix, self._networks, self._continued  # networks freed
        return self._best_score()

    def _best_score(self):
        # As BaseSuccessiveHalving.fit: refit may be a callable.
        self.best_score_ = self.cv_results_["mean_test_score"][self.best_index_]
        return self

    def _rung(self, base_estimator, X, y, candidates, splits, common, params):
        """Train the rung's candidates on every fold; results candidate-major.

        Candidates that continue get their networks from the last rung;
        networks of candidates that left the race are dropped here.
        """
        prefix, n_splits = self._prefix, len(splits)
        epochs_key = f"{prefix}epochs"
        previous, self._networks = self._networks, []
        fresh, reasons = [], set()
        for params in candidates:
            key = {k: v for k, v in params.items() if k != epochs_key}
            probe = clone(base_estimator).set_params(**clone(key, safe=False))
            reason = why_not_shared(probe, prefix, common["fit_params"], continued=True)
            networks = None
            for i, (other, kept) in enumerate(previous):
                if same_params(key, other):
                    networks = previous.pop(i)[1]  # each at most once
                    break
            if reason is not None:
                reasons.add(reason)
                networks = None
            fresh.append((key, networks, reason is None))
        self._continued = [ok for _, _, ok in fresh]
        del previous  # the losers' networks
        if reasons and len(self.n_resources_) == 2:  # once, at the first survivors
            warn_at_caller(
                f"{type(self).__name__} trains some survivors again from scratch, "
                "as scikit-learn's successive halving does, because of "
                f"{'; '.join(sorted(reasons))}."
            )
        if self.verbose > 0:
            print(
                f"Fitting {n_splits} folds for each of {len(candidates)} "
                f"candidates, totalling {len(candidates) * n_splits} fits"
            )
        shipped = kept_on_dask([X, y, *(a for split in splits for a in split)])
        X_sent, y_sent = shipped[0], shipped[1]
        tasks = []
        for index, params in enumerate(candidates):
            for split in range(n_splits):
                networks = fresh[index][1]
                tasks.append(
                    delayed(_continue_and_score)(
                        (index, split),
                        None if networks is None else networks[split],
                        base_estimator,
                        X_sent,
                        y_sent,
                        parameters=params,
                        prefix=prefix,
                        train=shipped[2 + 2 * split],
                        test=shipped[3 + 2 * split],
                        split_progress=(split, n_splits),
                        candidate_progress=(index, len(candidates)),
                        **common,
                    )
                )
        del fresh  # a network in flight lives in its task only
        out = [None] * (len(candidates) * n_splits)
        kept = [[None] * n_splits for _ in candidates]

        def record(output):
            (index, split), result, network = output
            out[index * n_splits + split] = result
            kept[index][split] = network

        run_tasks(
            tasks, n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch, record=record
        )
        for params, networks, ok in zip(candidates, kept, self._continued):
            key = {k: v for k, v in params.items() if k != epochs_key}
            if ok and all(network is not None for network in networks):
                self._networks.append((key, networks))
        if self.verbose > 0:
            self._print_rung(candidates, out, n_splits)
        return out

    def _print_rung(self, candidates, out, n_splits):
        """One line: the rung, its candidates and epochs, its best mean score."""
        scores = [r["test_scores"] for r in out]
        if scores and isinstance(scores[0], dict):
            return
        means = np.asarray(scores, dtype=float).reshape(len(candidates), n_splits)
        means = means.mean(axis=1)
        best = np.nan if np.all(np.isnan(means)) else np.nanmax(means)
        epochs = candidates[0][f"{self._prefix}epochs"]
        print(
            f"rung {len(self.n_resources_) - 1}: {len(candidates)} candidates at "
            f"{epochs} epochs, best mean score {best:.4f}",
            flush=True,
        )


_SHARED_DOC = """
    Same constructor (without ``resource``), attributes and ``cv_results_`` as
    scikit-learn's {base} with ``resource`` set to the epochs of
    the ``MNISTClassifier`` (``classifier__epochs`` in a pipeline, found through
    nested pipelines), and the same rungs, candidates and scores: with
    ``random_state`` set on the classifier (an int or a ``RandomState``), bit for
    bit, on TensorFlow and JAX. What differs is the cost: each candidate's
    network for each fold is kept between rungs, with its optimizer's state and
    its epoch count, wherever it was trained (in this process, loky's workers,
    a Dask cluster: the task returns it), and the next rung trains only the
    epochs it lacks. With ``factor=3`` and rungs of 3, 9 and 27 epochs, a
    survivor trains 27 epochs instead of 3 + 9 + 27 = 39. Networks of
    candidates that leave the race are dropped before the next rung trains; a
    candidate whose fit fails gets ``error_score``, as in scikit-learn.

    Where continuing could change the result, a survivor is trained from
    scratch at each rung, as scikit-learn does, and a ``UserWarning`` says why:
    ``callbacks`` (EarlyStopping and others), fit parameters other than
    ``sample_weight``, an optimizer whose ``finalize_variable_values`` is not
    Keras' own or that has ``use_ema=True`` (a fit ends on the moving averages,
    not on the weights training goes on from). scikit-learn callbacks set with
    ``set_callbacks`` make the whole search scikit-learn's, with a warning.
    ``fit_time`` in ``cv_results_`` is the time of a candidate's fit at its
    rung: only the epochs it trained there. As in scikit-learn, one metric
    only (``scoring`` a string or a callable).

    Parameters
    ----------
    estimator : MNISTClassifier or Pipeline
        An ``MNISTClassifier`` or a pipeline ending in one (else ``TypeError``).
    {candidates}
    factor : int or float, default=3
        1 / the fraction of candidates kept at each rung, and the growth of the
        epochs from rung to rung.
    max_resources : int or "auto", default="auto"
        The epochs of the last rung; "auto": the estimator's own ``epochs``.
    min_resources : int, "exhaust" or "smallest", default={min_resources}
        The epochs of the first rung, as in scikit-learn ("smallest": 1,
        "exhaust": as many as lets the last rung reach ``max_resources``).
    aggressive_elimination : bool, default=False
        As in scikit-learn: rungs at ``min_resources`` until few enough are left.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn (an int means stratified k-fold).
    scoring : str or callable, default=None
        One metric; None uses the estimator's ``score`` (accuracy).
    refit : bool or callable, default=True
        Refit the best candidate on all of ``X`` (``best_estimator_``).
    error_score : "raise" or float, default=np.nan
        Score of a candidate whose fit fails.
    return_train_score : bool, default=True
        Also score the training folds.
    random_state : int, RandomState or None, default=None
        As in scikit-learn: for its sampling of candidates{random_note}. The
        networks' seeds are the classifier's own ``random_state``.
    n_jobs : int, default=None
        (candidate, fold) tasks of a rung in parallel through joblib, the Dask
        backend included.
    verbose : int, default=0
        Messages: scikit-learn's, and one line per rung with its candidates,
        its epochs and its best mean score.

    Attributes
    ----------
    n_resources_ : list of int
        The epochs of each rung.
    n_candidates_ : list of int
        Candidates at each rung.
    n_remaining_candidates_ : int
        Candidates left after the last rung.
    n_iterations_, n_required_iterations_, n_possible_iterations_ : int
        Rungs run, needed and possible, as in scikit-learn.
    max_resources_, min_resources_ : int
        The epochs of the last and first possible rungs.
    cv_results_ : dict of numpy arrays
        scikit-learn's, with ``iter`` (the rung) and ``n_resources`` (epochs).
    best_estimator_, best_score_, best_params_, best_index_ : object
        The best candidate of the last rung, as in scikit-learn.
    scorer_, n_splits_, refit_time_, multimetric_ : object
        As in scikit-learn.

    See Also
    --------
    {see_also}
    EpochGridSearchCV : The whole grid, candidates differing in epochs sharing
        one fit per fold.
"""


class EpochHalvingGridSearchCV(_EpochHalving, HalvingGridSearchCV):
    __doc__ = (
        """``HalvingGridSearchCV`` over epochs whose survivors train on, not again.
"""
        + _SHARED_DOC.format(
            base="``HalvingGridSearchCV``",
            candidates="param_grid : dict or list of dict\n"
            "        The grid, as for ``GridSearchCV``; not the epochs.",
            min_resources='"exhaust"',
            random_note=" (unused by a grid)",
            see_also="sklearn.model_selection.HalvingGridSearchCV : Survivors "
            "fitted again at each rung.",
        )
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sk_mnist import EpochHalvingGridSearchCV, MNISTClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(60, 8), np.tile([0, 1, 2], 20)
    >>> search = EpochHalvingGridSearchCV(
    ...     MNISTClassifier(hidden_units=8, epochs=4, random_state=0),
    ...     {"batch_size": [8, 16, 32, 64]},
    ...     factor=2,
    ...     cv=2,
    ... ).fit(X, y)
    >>> search.n_resources_, search.n_candidates_
    ([1, 2, 4], [4, 2, 1])
"""
    )

    _parameter_constraints = {
        k: v
        for k, v in HalvingGridSearchCV._parameter_constraints.items()
        if k != "resource"
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        factor=3,
        max_resources="auto",
        min_resources="exhaust",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            estimator,
            param_grid,
            factor=factor,
            max_resources=max_resources,
            min_resources=min_resources,
            aggressive_elimination=aggressive_elimination,
            cv=cv,
            scoring=scoring,
            refit=refit,
            error_score=error_score,
            return_train_score=return_train_score,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )


class EpochHalvingRandomSearchCV(_EpochHalving, HalvingRandomSearchCV):
    __doc__ = (
        """``HalvingRandomSearchCV`` over epochs whose survivors train on, not again.
"""
        + _SHARED_DOC.format(
            base="``HalvingRandomSearchCV``",
            candidates="param_distributions : dict or list of dict\n"
            "        Lists or distributions to sample, as for "
            "``RandomizedSearchCV``; not the epochs.\n"
            '    n_candidates : int or "exhaust", default="exhaust"\n'
            "        Candidates of the first rung, as in scikit-learn.",
            min_resources='"smallest"',
            random_note="",
            see_also="sklearn.model_selection.HalvingRandomSearchCV : Survivors "
            "fitted again at each rung.",
        )
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sk_mnist import EpochHalvingRandomSearchCV, MNISTClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(60, 8), np.tile([0, 1, 2], 20)
    >>> search = EpochHalvingRandomSearchCV(
    ...     MNISTClassifier(hidden_units=8, epochs=4, random_state=0),
    ...     {"batch_size": [8, 16, 32, 64], "learning_rate": [1e-3, 1e-2]},
    ...     n_candidates=4,
    ...     factor=2,
    ...     min_resources=2,
    ...     cv=2,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> search.n_resources_, search.n_candidates_
    ([2, 4], [4, 2])
"""
    )

    _parameter_constraints = {
        k: v
        for k, v in HalvingRandomSearchCV._parameter_constraints.items()
        if k != "resource"
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_candidates="exhaust",
        factor=3,
        max_resources="auto",
        min_resources="smallest",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            estimator,
            param_distributions,
            n_candidates=n_candidates,
            factor=factor,
            max_resources=max_resources,
            min_resources=min_resources,
            aggressive_elimination=aggressive_elimination,
            cv=cv,
            scoring=scoring,
            refit=refit,
            error_score=error_score,
            return_train_score=return_train_score,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )
