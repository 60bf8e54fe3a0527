"""Seeded, deterministic Keras training that leaves the process as it found it."""

import random
import threading
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["seed_from_random_state", "seeded"]

_SEED_LOCK = threading.RLock()
_MAX_SEED = np.iinfo(np.int32).max
# Keras' global-state keys for its seed and its global SeedGenerator (there is no
# public getter; ``keras.utils.set_random_seed`` writes the same two keys).
_KERAS_SEED = "global_random_seed"
_KERAS_SEED_GENERATOR = "global_seed_generator"


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


class _TensorFlowState:
    """TensorFlow's global seed and op-determinism switch, saved and put back."""

    def __init__(self):
        from tensorflow.python.eager import context  # no public getters
        from tensorflow.python.framework import config

        self._context, self._config = context, config
        self.seed = context.global_seed()
        self.deterministic = config.is_op_determinism_enabled()

    def seed_and_make_deterministic(self, seed):
        import tensorflow as tf

        tf.random.set_seed(seed)
        tf.config.experimental.enable_op_determinism()

    def restore(self):
        import tensorflow as tf

        if not self.deterministic:
            self._config.disable_op_determinism()
        tf.random.set_seed(self.seed)  # None, or the seed a user had set


@contextmanager
def seeded(seed):
    """Seed Python, NumPy and Keras (and TensorFlow on its backend) for a block.

    Under the TensorFlow backend, TensorFlow is seeded and made deterministic
    too; under JAX (deterministic on CPU, shuffling with NumPy) TensorFlow is not
    imported. On exit, every random state, Keras' global seed generator,
    TensorFlow's global seed and its op-determinism switch are put back as they
    were, so that the process goes on as if the block had not run. (scikeras
    0.13 leaves op determinism on: later fits without a seed then fail with
    ``RuntimeError``.) Seeded blocks run one at a time per process, because the
    states they change are global.

    Parameters
    ----------
    seed : int or None
        None runs the block unseeded and changes nothing.

    Examples
    --------
    >>> import random
    >>> with seeded(0):
    ...     first = random.random()
    >>> with seeded(0):
    ...     first == random.random()
    True
    """
    if seed is None:
        yield
        return
    import keras
    from keras.src.backend.common import global_state

    with _SEED_LOCK:
        python_state = random.getstate()
        numpy_state = np.random.get_state()
        keras_state = {
            key: global_state.get_global_attribute(key)
            for key in (_KERAS_SEED, _KERAS_SEED_GENERATOR)
        }
        tensorflow = (
            _TensorFlowState() if keras.backend.backend() == "tensorflow" else None
        )
        # What keras.utils.set_random_seed does, without its import of TensorFlow.
        global_state.set_global_attribute(_KERAS_SEED, seed)
        global_state.set_global_attribute(_KERAS_SEED_GENERATOR, None)
        random.seed(seed)
        np.random.seed(seed)
        if tensorflow is not None:
            tensorflow.seed_and_make_deterministic(seed)
        try:
            yield
        finally:
            if tensorflow is not None:
                tensorflow.restore()
            for key, value in keras_state.items():
                global_state.set_global_attribute(key, value)
            random.setstate(python_state)
            np.random.set_state(numpy_state)
