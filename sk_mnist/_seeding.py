"""Seeded Keras training that draws from no process-wide random generator.

A fit gets one integer seed (from ``random_state``, or drawn from NumPy's global
generator when ``random_state`` is None). Everything random in the fit comes
from it, and from nothing the process shares:

- the initial weights, from Keras initializers given explicit seeds
  (:func:`initializer_seeds`), which Keras turns into stateless random ops;
- the order of the samples in each epoch, from a NumPy ``Generator`` of the fit
  seed and the epoch's number (:func:`epoch_order`), so that Keras is called
  with ``shuffle=False``. The batches of an epoch are index arrays
  (:func:`epoch_batches`): on TensorFlow a ``tf.data`` pipeline built from
  tensors gathers them in its own graph, with no Python per batch
  (:func:`tensorflow_batches`); other backends read them through
  :class:`ShuffledBatches`, as Keras' own trainer reads arrays there.

Python's ``random``, NumPy's global generator, Keras' per-thread seed generator
and TensorFlow's global seed are neither read nor written by a seeded fit. So a
seeded fit is the same whichever thread runs it, whatever ran in the process
before, and whatever runs beside it (a Dask worker's own threads draw from
Python's ``random``; so may a user's code). Seeded fits need no lock.

On the TensorFlow backend one process-wide switch is left: op determinism
(:class:`_TensorFlowDeterminism`), on while at least one seeded fit runs.
"""

import math
import threading
from contextlib import contextmanager
from numbers import Integral

import keras
import numpy as np
from sklearn.utils import check_random_state

from sk_mnist._aligned import is_aligned

__all__ = [
    "ShuffledBatches",
    "epoch_batches",
    "tensorflow_batches",
    "deterministic_ops",
    "fit_seed",
    "initializer_seeds",
    "seed_from_random_state",
]

_MAX_SEED = np.iinfo(np.int32).max


def seed_from_random_state(random_state):
    """Turn a scikit-learn ``random_state`` into an integer seed, or None.

    An int is used as it is. A ``RandomState`` instance is drawn from, so that
    successive fits with the same instance differ but a whole run repeats.
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(_MAX_SEED))


def fit_seed(random_state):
    """The seed of one fit: from ``random_state``, else one from NumPy's generator.

    An unseeded fit (``random_state=None``) draws its seed from NumPy's global
    generator, as unseeded scikit-learn estimators do, so that
    ``np.random.seed`` (and ``keras.utils.set_random_seed``) still makes a whole
    script repeat.
    """
    seed = seed_from_random_state(random_state)
    if seed is None:
        seed = int(np.random.randint(_MAX_SEED))
    return seed


def initializer_seeds(seed, count):
    """``count`` independent seeds for the initializers of one network.

    Parameters
    ----------
    seed : int
        The fit's seed.
    count : int
        How many seeds (one per initializer).

    Returns
    -------
    seeds : list of int
        Non-negative ints below 2**31, different for each initializer.
    """
    state = np.random.SeedSequence([seed, 0]).generate_state(count)
    return [int(value) & _MAX_SEED for value in state]


def epoch_order(seed, epoch, n_samples, shuffle=True):
    """The order of the samples in ``epoch`` of a fit seeded with ``seed``.

    A function of its arguments only: epoch 3 is shuffled the same whether a fit
    runs 3 epochs or 5, and ``partial_fit`` (which counts epochs on) gets a new
    order at each call.
    """
    if not shuffle:
        return np.arange(n_samples)
    return np.random.default_rng([seed, 1, epoch]).permutation(n_samples)


def batch_layout(n_samples, batch_size):
    """Steps per epoch and rows of the first batch (the short one, if any)."""
    steps = max(1, math.ceil(n_samples / batch_size))
    return steps, n_samples - (steps - 1) * batch_size


def index_dtype(n_samples):
    """int32 for the row indices of ``n_samples`` rows while they fit, else int64."""
    return np.int32 if n_samples <= np.iinfo(np.int32).max else np.int64


def epoch_batches(seed, epoch, n_samples, batch_size, shuffle=True):
    """The rows of each batch of ``epoch``, as one index array.

    The order of :func:`epoch_order` cut into batches of ``batch_size`` rows,
    the short batch (when ``batch_size`` does not divide the samples) first,
    each batch's rows sorted (so a batch reads memory in order).

    Returns
    -------
    rows : ndarray of shape (n_samples,), dtype int32 or int64
        Row indices, batch after batch.
    """
    order = epoch_order(seed, epoch, n_samples, shuffle).astype(index_dtype(n_samples))
    steps, short = batch_layout(n_samples, batch_size)
    order[:short].sort()
    order[short:].reshape(steps - 1, batch_size).sort(axis=1)
    return order


def tensorflow_batches(arrays, batch_size, seed, epochs, initial_epoch=0, shuffle=True):
    """Training batches of epochs ``initial_epoch`` .. ``epochs - 1`` as tf.data.

    The same batches as :class:`ShuffledBatches`, built from tensors: the index
    arrays of every epoch (:func:`epoch_batches`, 4 bytes a row and epoch) are
    sliced and gathered from the arrays by TensorFlow's own threads, as Keras'
    own array pipeline does, with no Python per batch.

    Parameters
    ----------
    arrays : tuple of ndarray
        Training rows, encoded targets and, optionally, sample weights.
    batch_size : int
        Rows per batch.
    seed : int
        The fit's seed.
    epochs : int
        Number of the epoch after the last one (Keras' ``epochs``).
    initial_epoch : int, default=0
        Number of the first epoch.
    shuffle : bool, default=True
        False keeps the rows in order.

    Returns
    -------
    dataset : tf.data.Dataset
        ``(epochs - initial_epoch) * steps`` batches (pass ``steps_per_epoch``).
    """
    import tensorflow as tf

    n_samples = len(arrays[0])
    steps, short = batch_layout(n_samples, batch_size)
    rows = np.stack(
        [
            epoch_batches(seed, epoch, n_samples, batch_size, shuffle)
            for epoch in range(initial_epoch, max(epochs, initial_epoch + 1))
        ]
    )
    firsts = rows[:, :short]
    rest = rows[:, short:].reshape(len(rows), steps - 1, batch_size)

    def epoch_of(first, others):
        first = tf.data.Dataset.from_tensors(first)
        return first.concatenate(tf.data.Dataset.from_tensor_slices(others))

    indices = tf.data.Dataset.from_tensor_slices((firsts, rest)).flat_map(epoch_of)
    data = tf.data.Dataset.from_tensors(tuple(_tensor_of(a) for a in arrays))
    dataset = tf.data.Dataset.zip((indices, data.repeat()))
    dataset = dataset.map(
        lambda i, data: tuple(tf.gather(a, i, axis=0) for a in data),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    options = tf.data.Options()
    # As Keras' own array pipeline: no graph rewrites to pay for at each fit.
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _tensor_of(array):
    """A TensorFlow tensor of ``array``: a view of its buffer where TensorFlow can
    read it in place (an aligned buffer of numbers, as :class:`~sk_mnist.PixelScaler`
    writes; ``sk_mnist._aligned``), else a copy."""
    import tensorflow as tf

    if is_aligned(array) and array.dtype.kind in "fiu":  # floats, integers
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


class ShuffledBatches(keras.utils.PyDataset):
    """Training batches in the order of the fit's seed, epoch after epoch.

    One endless sequence of batches: batch ``i`` is batch ``i % steps`` of epoch
    ``initial_epoch + i // steps``, with ``steps`` batches per epoch (pass
    ``steps_per_epoch=dataset.steps`` to ``Model.fit``). Each batch is a pure
    function of its index, so that Keras may fetch ahead, across epochs, from
    any thread. In each epoch the short batch (when ``batch_size`` does not
    divide the samples) comes first: TensorFlow's input signature is taken from
    the first two batches, and differing sizes there keep its batch size free.

    Parameters
    ----------
    x, y : ndarray
        Training rows and encoded targets.
    sample_weight : ndarray or None
        Weight of each row, yielded as the batch's third element.
    batch_size : int
        Rows per batch.
    seed : int
        The fit's seed.
    initial_epoch : int, default=0
        Number of the first epoch (``partial_fit`` and warm starts count on).
    shuffle : bool, default=True
        False keeps the rows in order.
    """

    def __init__(
        self, x, y, sample_weight, batch_size, seed, initial_epoch=0, shuffle=True
    ):
        super().__init__()
        self.arrays = (x, y) if sample_weight is None else (x, y, sample_weight)
        self.n_samples = len(x)
        self.batch_size = batch_size
        self.seed, self.initial_epoch, self.shuffle = seed, initial_epoch, shuffle
        self.steps, self._short = batch_layout(self.n_samples, batch_size)
        self._cache = (None, None)  # (epoch, rows): the current epoch's batches
        self._lock = threading.Lock()

    @property
    def num_batches(self):
        return None  # endless: Keras counts steps_per_epoch

    def _rows(self, epoch):
        with self._lock:
            cached_epoch, rows = self._cache
            if cached_epoch != epoch:
                rows = epoch_batches(
                    self.seed, epoch, self.n_samples, self.batch_size, self.shuffle
                )
                self._cache = (epoch, rows)
            return rows

    def __getitem__(self, index):
        epoch, step = divmod(int(index), self.steps)
        rows = self._rows(self.initial_epoch + epoch)
        start = 0 if step == 0 else self._short + (step - 1) * self.batch_size
        stop = self._short + step * self.batch_size
        return tuple(array[rows[start:stop]] for array in self.arrays)


def validation_split_of(arrays, validation_split):
    """Keras' ``validation_split``: the last fraction of the rows, before shuffling.

    Cut where Keras cuts (``keras.src.trainers.data_adapters.array_slicing.
    train_validation_split``): at ``floor(n * (1 - validation_split))``.

    Returns
    -------
    train, validation : tuple of tuple of ndarray or None
        The arrays cut at ``floor(n * (1 - validation_split))``; None entries
        stay None.
    """
    n_samples = len(arrays[0])
    split_at = int(math.floor(n_samples * (1.0 - validation_split)))
    if split_at == 0 or split_at == n_samples:
        raise ValueError(
            f"validation_split={validation_split} leaves no rows to "
            f"{'train on' if split_at == 0 else 'validate on'} out of {n_samples}; "
            "pass a fraction that keeps at least one row on each side."
        )
    train = tuple(None if a is None else a[:split_at] for a in arrays)
    validation = tuple(None if a is None else a[split_at:] for a in arrays)
    return train, validation


class _TensorFlowDeterminism:
    """TensorFlow's op-determinism switch, on while any seeded fit runs.

    The switch is process-wide; seeded fits in several threads share it by
    counting: the first one in turns it on (if it was off), the last one out
    puts it back as it was. A fit makes no unseeded TensorFlow random op, so an
    unseeded fit beside a seeded one does not trip over the switch.
    """

    _lock = threading.Lock()
    _users = 0
    _was_enabled = False

    @classmethod
    def enter(cls):
        from tensorflow.python.framework import config  # no public getter

        with cls._lock:
            if cls._users == 0:
                cls._was_enabled = config.is_op_determinism_enabled()
                if not cls._was_enabled:
                    config.enable_op_determinism()
            cls._users += 1

    @classmethod
    def exit(cls):
        from tensorflow.python.framework import config

        with cls._lock:
            cls._users -= 1
            if cls._users == 0 and not cls._was_enabled:
                config.disable_op_determinism()


@contextmanager
def deterministic_ops(enabled):
    """Make the backend's ops deterministic for a block, if ``enabled``.

    Under TensorFlow, switches on op determinism (counted across threads, see
    :class:`_TensorFlowDeterminism`); under JAX (deterministic on CPU) it does
    nothing and TensorFlow is not imported.
    """
    if not enabled or keras.backend.backend() != "tensorflow":
        yield
        return
    _TensorFlowDeterminism.enter()
    try:
        yield
    finally:
        _TensorFlowDeterminism.exit()
