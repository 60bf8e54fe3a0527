"""MNISTClassifier: scikeras' KerasClassifier with the book's network, made right.

scikeras 0.13.0 is unmaintained. Against scikit-learn 1.7+ its KerasClassifier
is not a classifier to scikit-learn (the mixin stands right of BaseEstimator and
its tags are declared the old way), does not check features at predict time,
accepts sparse input, turns a ``RandomState`` into seed 0, leaves TensorFlow's op
determinism switched on after a seeded fit, mutates the caller's
``sample_weight`` when ``class_weight`` is set, encodes two classes as one column
under categorical cross-entropy, and squeezes ``predict_proba`` of one sample to
1-D. Each is put right here, in the subclass.
"""

import copy
import inspect
from contextlib import contextmanager
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from sk_mnist import _versions
from sk_mnist._forward import forward_pass, predict_lock
from sk_mnist._scikeras import BaseWrapper, ClassifierLabelEncoder, KerasClassifier
from sk_mnist._seeding import (
    ShuffledBatches,
    batch_layout,
    deterministic_ops,
    fit_seed,
    tensorflow_batches,
    validation_split_of,
)
from sk_mnist._threads import configure_threads
from sk_mnist.network import build_dense_network

__all__ = ["MNISTClassifier"]


def _keras_optimizer_names():
    base = keras.optimizers.Optimizer
    return {
        obj.__name__.lower()
        for obj in vars(keras.optimizers).values()
        if isinstance(obj, type)
        and issubclass(obj, base)
        and obj is not base
        and obj.__name__ != "LossScaleOptimizer"
    }


class _MixinsBeforeBaseEstimator(type):
    """Metaclass that puts ``ClassifierMixin`` before ``BaseEstimator`` in the MRO.

    scikeras declares ``KerasClassifier(BaseWrapper, ClassifierMixin)``, the order
    scikit-learn forbids: ``BaseEstimator.__sklearn_tags__`` then hides the
    classifier tags, and no subclass can reorder its bases without an MRO
    conflict. Moving the mixin in the computed MRO is what scikit-learn's
    ``check_mixin_order`` asks for and keeps every ``super()`` chain intact.
    """

    def mro(cls):
        mro = super().mro()
        if ClassifierMixin in mro and BaseEstimator in mro:
            mro.remove(ClassifierMixin)
            mro.insert(mro.index(BaseEstimator), ClassifierMixin)
        return mro

    def __call__(cls, *args, **kwargs):
        """Refuse keywords that are no parameter with a message, not a bare TypeError.

        scikeras' routed parameters (``optimizer__momentum=0.9``) and typos met
        Python's "unexpected keyword argument" before any code of ours ran.
        ``__init__`` keeps its plain signature (scikit-learn reads it, and its
        checks pass every parameter to ``__init__`` and ``set_params``) and
        stores without validation; only names that no ``__init__`` takes are
        refused here, as Python would, with the message ``set_params`` gives.
        """
        unknown = set(kwargs) - set(cls._get_param_names())
        if unknown:
            raise TypeError(_unknown_parameters_message(sorted(unknown), cls))
        return super().__call__(*args, **kwargs)

    @property
    def __signature__(cls):
        """The signature of ``__init__`` (``inspect`` would read ``__call__``'s)."""
        init = inspect.signature(cls.__init__)
        return init.replace(parameters=list(init.parameters.values())[1:])


class _LabelEncoder(ClassifierLabelEncoder):
    """scikeras' label encoder, treating two classes like any other number.

    scikeras encodes two classes as one column, which crashes categorical
    cross-entropy on the network's two softmax units.
    """

    def _type_of_target(self, y):
        target_type = super()._type_of_target(y)
        if target_type == "binary":
            return "multiclass"  # one softmax unit per class, two included
        return target_type


_PREDICT_OPTIONS = ("batch_size", "verbose", "callbacks")
_PREDICT_HOOKS = (
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


def _callback_list(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return [cb for item in callbacks for cb in _callback_list(item)]
    return [callbacks]


def _has_predict_hooks(callbacks):
    """Whether any callback (instance or class) acts during predict."""
    for callback in _callback_list(callbacks):
        cls = callback if isinstance(callback, type) else type(callback)
        base = keras.callbacks.Callback
        for hook in _PREDICT_HOOKS:
            if getattr(cls, hook, getattr(base, hook)) is not getattr(base, hook):
                return True
    return False


def _network_state(model):
    """Copies of the weights and optimizer variables of a Keras model."""
    optimizer = getattr(model, "optimizer", None)
    optimizer_variables = list(getattr(optimizer, "variables", []))
    return (
        model.get_weights(),
        optimizer_variables,
        [np.array(v.numpy(), copy=True) for v in optimizer_variables],
    )


def _restore_network_state(model, state):
    weights, optimizer_variables, optimizer_values = state
    model.set_weights(weights)
    for variable, value in zip(optimizer_variables, optimizer_values):
        variable.assign(value)


def _check_labels_known(y, classes, *, given):
    """Refuse labels of ``y`` that are not in ``classes`` (the ones of partial_fit)."""
    if classes is None:
        return
    unknown = np.setdiff1d(np.unique(y), np.asarray(classes))
    if unknown.size:
        known = np.asarray(classes).tolist()
        if given is None:  # a warm-start fit
            raise ValueError(
                f"fit with warm_start=True got labels {unknown.tolist()} that the "
                f"fitted network has no output for; its classes are {known}. Set "
                "warm_start=False to start a new network on these labels."
            )
        where = (
            f"classes={known}"
            if given
            else f"the classes of the first partial_fit, {known}"
        )
        raise ValueError(
            f"partial_fit got labels {unknown.tolist()} that are not in {where}. "
            "Pass every label the data can hold in classes= on the first call to "
            "partial_fit (e.g. classes=range(10) for digits), or start again with "
            "fit."
        )


def _unknown_parameters_message(names, cls):
    """What is wrong with keywords that are no parameter, and what to do instead."""
    names = sorted(names)
    routed = [name for name in names if "__" in name]
    if routed:
        return (
            f"Invalid parameter {routed[0]!r} for {cls.__name__}: scikeras routed "
            "parameters are not supported, every parameter is named in "
            "__init__. For optimizer settings pass an optimizer instance, "
            "e.g. optimizer=keras.optimizers.SGD(momentum=0.9)."
        )
    import difflib

    valid = cls._get_param_names()
    hints = [
        f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
        for name in names
        for close in [difflib.get_close_matches(name, valid, n=1)]
    ]
    return (
        f"{cls.__name__} got unexpected keyword argument(s) {', '.join(hints)}; "
        f"its parameters are {', '.join(valid)}."
    )


class MNISTClassifier(KerasClassifier, metaclass=_MixinsBeforeBaseEstimator):
    """The network of "Deep Learning with Python" (chapter 2.1) as a classifier.

    Dense(``hidden_units``, ``activation``) then Dense(n_classes, softmax),
    compiled with ``optimizer``, ``loss`` and accuracy. The defaults are the
    book's. It expects flat rows already scaled to 0..1; use
    :func:`~sk_mnist.make_mnist_pipeline` to feed it raw images.

    Parameters
    ----------
    hidden_units : int, default=512
        Units of the hidden layer.
    activation : str, default="relu"
        Activation of the hidden layer (a Keras activation name).
    optimizer : str or keras.optimizers.Optimizer, default="rmsprop"
        Keras optimizer name (``"rmsprop"``, ``"adam"``, ``"sgd"``, ...), class or
        instance.
    learning_rate : float, default=None
        Learning rate of the optimizer; None keeps the optimizer's default.
    loss : str or keras.losses.Loss, default="categorical_crossentropy"
        Training loss. Labels are one-hot encoded for categorical cross-entropy.
    metrics : list, default=None
        Keras metrics reported in ``history_``; None means ``["accuracy"]``.
    epochs : int, default=5
        Passes over the training data.
    batch_size : int, default=128
        Samples per gradient update (and per batch when Keras' ``predict`` runs,
        see :meth:`predict_proba`).
    validation_split : float, default=0.0
        Fraction of the training data held out to report ``val_*`` in ``history_``:
        the last rows, before shuffling, cut where Keras cuts (at
        ``floor(n_samples * (1 - validation_split))``).
    validation_batch_size : int, default=None
        Batch size for the validation data; None means ``batch_size``.
    shuffle : bool, default=True
        Shuffle the training data before each epoch.
    class_weight : dict or "balanced", default=None
        Weights per class, multiplied into ``sample_weight``.
    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks for fit and predict (``EarlyStopping``, ...). One with
        ``on_predict_*`` hooks makes predict run through ``keras.Model.predict``.
    warm_start : bool, default=False
        If True, ``fit`` continues training the fitted network (same classes),
        counting epochs on as ``partial_fit`` does: ``history_`` grows and each
        epoch gets a new shuffle order.
    random_state : int, RandomState instance or None, default=None
        Seeds weights and shuffling and makes TensorFlow deterministic for the
        fit; two fits with the same int give the same network, bit for bit, in
        any thread, process or Dask worker, beside other fits or random draws
        (the fit draws from no process-wide generator). None draws the fit's
        seed from NumPy's global generator.
    verbose : int, default=0
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    run_eagerly : bool, default=False
        Run Keras eagerly (for debugging).

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    history_ : dict of list
        Loss and metrics per epoch.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_classes_ : int
        Number of classes.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, for DataFrame input only.

    See Also
    --------
    make_mnist_pipeline : PixelScaler then MNISTClassifier, for raw images.
    sklearn.neural_network.MLPClassifier : Scikit-learn's own dense network.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mnist import MNISTClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(40, 8), np.repeat([0, 1, 2, 3], 10)
    >>> clf = MNISTClassifier(hidden_units=16, epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 4)
    """

    _parameter_constraints = {
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "activation": [str, callable],
        "optimizer": [
            StrOptions(_keras_optimizer_names()),
            keras.optimizers.Optimizer,
            type,
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "loss": [str, keras.losses.Loss, callable],
        "metrics": [list, None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "validation_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "shuffle": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callbacks": [list, HasMethods(["on_epoch_end"]), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "run_eagerly": ["boolean"],
    }

    def __init__(
        self,
        hidden_units=512,
        activation="relu",
        optimizer="rmsprop",
        learning_rate=None,
        loss="categorical_crossentropy",
        metrics=None,
        epochs=5,
        batch_size=128,
        validation_split=0.0,
        validation_batch_size=None,
        shuffle=True,
        class_weight=None,
        callbacks=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        run_eagerly=False,
    ):
        # KerasClassifier.__init__ is not called: it would set `model` and
        # `build_fn`, which are not parameters here. Keywords that are no
        # parameter are refused by the metaclass, with a message.
        self.hidden_units = hidden_units
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.validation_batch_size = validation_batch_size
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.run_eagerly = run_eagerly

    # --- scikeras hooks -------------------------------------------------------

    @property
    def _random_state(self):
        """None, always: scikeras' own seeding is replaced by ``seeded`` in fit."""
        return None

    @_random_state.setter
    def _random_state(self, value):
        pass  # scikeras assigns it in _initialize; the value is not used

    #: No scikeras routed parameters (``optimizer__momentum``): every parameter
    #: is named in ``__init__``. Pass a configured Keras optimizer instead.
    _user_params = frozenset()

    def _check_model_param(self):
        return self._keras_build_fn

    def _keras_build_fn(self, meta, compile_kwargs):
        optimizer = compile_kwargs["optimizer"]
        # A fresh optimizer per network: the user's instance is never built or changed.
        optimizer = type(optimizer).from_config(optimizer.get_config())
        if self.learning_rate is not None:
            optimizer.learning_rate = self.learning_rate
        return build_dense_network(
            meta["n_features_in_"],
            meta["n_classes_"],
            hidden_units=self.hidden_units,
            activation=self.activation,
            optimizer=optimizer,
            loss=compile_kwargs["loss"],
            metrics=compile_kwargs["metrics"] or ["accuracy"],
            run_eagerly=self.run_eagerly,
            seed=self._fit_seed,
        )

    def _fit_keras_model(
        self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
    ):
        """Train on batches in the fit seed's order, not on Keras' shuffled arrays.

        Keras shuffles from process-wide generators (NumPy's under JAX,
        TensorFlow's op seeds under TensorFlow); here each epoch's order comes from
        the fit's own seed (:func:`~sk_mnist._seeding.epoch_batches`) and Keras
        gets ``shuffle=False``: on TensorFlow a ``tf.data`` pipeline of index
        arrays (:func:`~sk_mnist._seeding.tensorflow_batches`), elsewhere a
        :class:`~sk_mnist._seeding.ShuffledBatches`. ``validation_split`` is cut
        off first, as Keras does: the last rows, before any shuffling.
        """
        batch_size = kwargs.pop("batch_size", self.batch_size) or 32
        validation_split = kwargs.pop("validation_split", self.validation_split)
        shuffle = kwargs.pop("shuffle", self.shuffle)
        arrays = (X, y, sample_weight)
        if validation_split and kwargs.get("validation_data") is None:
            arrays, validation = validation_split_of(arrays, validation_split)
            kwargs["validation_data"] = tuple(a for a in validation if a is not None)
        arrays = tuple(a for a in arrays if a is not None)
        seed = self._fit_seed
        if keras.backend.backend() == "tensorflow":
            batches = tensorflow_batches(
                arrays, batch_size, seed, initial_epoch + epochs, initial_epoch, shuffle
            )
            steps, _ = batch_layout(len(arrays[0]), batch_size)
        else:
            batches = ShuffledBatches(
                *arrays[:2],
                arrays[2] if len(arrays) > 2 else None,
                batch_size,
                seed,
                initial_epoch,
                shuffle=shuffle,
            )
            steps = batches.steps
        kwargs.setdefault("steps_per_epoch", steps)
        if kwargs.get("validation_data") is not None:
            kwargs["validation_batch_size"] = kwargs.get(
                "validation_batch_size", self.validation_batch_size or batch_size
            )
        kwargs.update(batch_size=None, validation_split=0.0, shuffle=False)
        super()._fit_keras_model(
            batches, None, None, warm_start, epochs, initial_epoch, **kwargs
        )

    @contextmanager
    def _seeded(self, random_state):
        """Give the fit its seed (``_fit_seed``) and deterministic ops if seeded.

        The first fit of a process also sizes the backend's thread pools from the
        parallel backend it runs in (:func:`~sk_mnist._threads.configure_threads`).
        """
        configure_threads()
        self._fit_seed = fit_seed(random_state)
        try:
            with deterministic_ops(random_state is not None):
                yield
        finally:
            del self._fit_seed

    @property
    def target_encoder(self):
        """Label encoder: classes to one-hot rows (or ordinals for sparse CCE)."""
        categories = "auto" if self.classes_ is None else [self.classes_]
        return _LabelEncoder(loss=self.loss, categories=categories)

    # --- scikit-learn API -----------------------------------------------------

    @classmethod
    def _get_param_names(cls):
        return BaseEstimator._get_param_names.__func__(cls)

    def set_params(self, **params):
        """Set parameters by name; scikeras' routed ``prefix__name`` are refused.

        Parameters
        ----------
        **params : dict
            Constructor parameters and their new values.

        Returns
        -------
        self : MNISTClassifier
            The estimator, its parameters changed.
        """
        routed = [name for name in params if "__" in name]
        if routed:
            raise ValueError(_unknown_parameters_message(routed, type(self)))
        return BaseEstimator.set_params(self, **params)

    def _validate_fit_data(self, X, y, sample_weight, *, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32)
        check_classification_targets(y)
        if sample_weight is None and self.class_weight is None:
            # No weights at all: scikeras would copy X to drop zero-weight rows.
            return X, y, None
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
        if self.class_weight is not None:
            sample_weight = sample_weight * compute_sample_weight(self.class_weight, y)
        return X, y, sample_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build the network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, scaled to 0..1.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings), at least two distinct ones.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.
        **kwargs
            Passed on to ``keras.Model.fit``.

        Returns
        -------
        self : MNISTClassifier
            The fitted estimator.
        """
        with self._transaction():
            X, y, sample_weight = self._validate_fit_data(
                X, y, sample_weight, reset=True
            )
            classes = np.unique(y)
            if classes.size < 2:
                raise ValueError(
                    "MNISTClassifier needs samples of at least 2 classes to learn "
                    f"from; y has 1 class: {classes[0]!r}."
                )
            if self.warm_start and self.initialized_:
                # The network is trained on: its classes stay, epochs count on
                # (each warm-start fit gets new shuffle orders, as partial_fit).
                _check_labels_known(y, self.classes_, given=None)
                kwargs.setdefault("initial_epoch", self.current_epoch)
            else:
                self.classes_ = None  # scikeras takes the classes from y
            if self.initialized_:
                self._initialize_callbacks()  # scikeras reads them at build only
            with self._seeded(self.random_state):
                BaseWrapper.fit(self, X, y, sample_weight=sample_weight, **kwargs)
        return self

    @contextmanager
    def _transaction(self):
        """Undo every change to ``self`` if the block raises, even KeyboardInterrupt.

        The instance dict is restored as it was, with ``history_`` deep-copied
        (scikeras extends its lists in place). When the network is trained in
        place (``warm_start``, ``partial_fit``), its weights and the optimizer's
        variables (step count, moments) are put back too.
        """
        saved = dict(vars(self))
        if "history_" in saved:
            saved["history_"] = copy.deepcopy(saved["history_"])
        model = saved.get("model_")
        network = _network_state(model) if model is not None else None
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            if network is not None:
                _restore_network_state(model, network)
            raise

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train for one epoch, starting from the current network if there is one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, scaled to 0..1.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call if ``y`` lacks some.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.
        **kwargs
            Passed on to ``keras.Model.fit``.

        Returns
        -------
        self : MNISTClassifier
            The estimator, trained further.
        """
        self._validate_params()
        first_call = not self.initialized_
        with self._transaction():
            X, y, sample_weight = self._validate_fit_data(
                X, y, sample_weight, reset=first_call
            )
            known = self.classes_ if classes is None and not first_call else classes
            _check_labels_known(y, known, given=classes is not None)
            if classes is not None:
                self.classes_ = np.asarray(classes)
            elif first_call:
                self.classes_ = None
            if not first_call:
                self._initialize_callbacks()  # scikeras reads them at build only
            # Each epoch's order depends on its number: a new one at each call.
            with self._seeded(self.random_state):
                BaseWrapper.partial_fit(
                    self, X, y, sample_weight=sample_weight, **kwargs
                )
        return self

    def __sklearn_is_fitted__(self):
        return self.initialized_

    def predict_proba(self, X, **kwargs):
        """Probability of each class.

        The fitted network runs on the rows directly, without
        ``keras.Model.predict``'s per-call data pipeline: in NumPy, on the
        network's own variables, or compiled with XLA for networks NumPy cannot
        run exactly (``sk_mnist._forward``). A row's probabilities are the same,
        bit for bit, wherever it stands in ``X`` and whatever the other rows.
        Keras' ``predict`` runs instead when a callback (the ``callbacks``
        parameter or the keyword) has ``on_predict_*`` hooks, or ``verbose`` is
        set, so that they see the batches, and with ``run_eagerly=True``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows scaled to 0..1.
        **kwargs
            ``batch_size``, ``verbose`` and ``callbacks``, as for
            ``keras.Model.predict`` (``batch_size`` counts when Keras' ``predict``
            runs; the forward pass chooses its own blocks).
            Other keywords raise ``TypeError``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float32
            Columns follow ``classes_``.
        """
        unknown = sorted(set(kwargs) - set(_PREDICT_OPTIONS))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} predict got unexpected keyword arguments "
                f"{unknown}; it accepts only {list(_PREDICT_OPTIONS)} (as "
                "keras.Model.predict does). Remove the others."
            )
        batch_size = kwargs.get("batch_size")
        if batch_size is not None and (
            not isinstance(batch_size, Integral) or batch_size < 1
        ):
            raise ValueError(
                f"batch_size must be a positive int or None, got {batch_size!r}."
            )
        X = self._plain_rows(X)
        if (
            kwargs.get("verbose")
            or self.model_.run_eagerly
            or _has_predict_hooks([self.callbacks, kwargs.get("callbacks")])
        ):
            kwargs.setdefault("verbose", 0)  # `verbose` is for training progress
            # Keras traces its predict function on first use and per new batch
            # shape; threads doing it at once retrace again and again. One call
            # at a time per network (TensorFlow's kernels use every core anyway).
            with predict_lock(self.model_):
                return self._predict_raw(X, **kwargs)
        return forward_pass(self.model_)(X)

    def _plain_rows(self, X):
        """``X`` checked as ``validate_data`` does, in microseconds when it can be.

        A C-ordered float32 NumPy array of finite values, of at least one row of
        ``n_features_in_`` columns, given to a network fitted without feature
        names, passes as it is (it is what every check would let through
        unchanged); anything else goes through ``check_is_fitted`` and
        ``validate_data``, with their messages.
        """
        if (
            type(X) is np.ndarray
            and X.dtype == np.float32
            and X.ndim == 2
            and len(X)
            and X.flags.c_contiguous
            and "model_" in self.__dict__
            and "feature_names_in_" not in self.__dict__
            and X.shape[1] == self.__dict__.get("n_features_in_")
            and np.isfinite(X.sum())  # inf or nan in a row makes the sum one
        ):
            return X
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float32)

    def predict(self, X, **kwargs):
        """Most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows scaled to 0..1.
        **kwargs
            ``batch_size``, ``verbose`` and ``callbacks``, as for
            :meth:`predict_proba`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X, **kwargs)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows scaled to 0..1.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample.

        Returns
        -------
        score : float
            Fraction of correctly classified samples.
        """
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.classifier_tags.multi_label = False
        return tags

    __repr__ = BaseEstimator.__repr__

    def __getstate__(self):
        return _versions.add_versions(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_versions.pop_versions(state, type(self).__name__))
