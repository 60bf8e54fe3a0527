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


@contextmanager
def seeded(seed):
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow deterministic.

    On exit, the random states and TensorFlow's op-determinism switch are put
    back as they were, so that later unseeded fits in the same process work.
    (scikeras 0.13 leaves op determinism on: later fits without a seed then
    fail with ``RuntimeError``.) Seeded blocks run one at a time per process,
    because the states they change are global.

    Parameters
    ----------
    seed : int or None
        None runs the block unseeded and changes nothing.
    """
    if seed is None:
        yield
        return
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # no public getter

    with _SEED_LOCK:
        python_state = random.getstate()
        numpy_state = np.random.get_state()
        was_deterministic = tf_config.is_op_determinism_enabled()
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        try:
            yield
        finally:
            if not was_deterministic:
                tf_config.disable_op_determinism()
            tf.random.set_seed(None)
            random.setstate(python_state)
            np.random.set_state(numpy_state)
