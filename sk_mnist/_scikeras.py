"""scikeras, imported so that no TensorFlow is loaded on the JAX backend.

Every sk_mnist module takes scikeras' names from here, never from scikeras
itself, so that in the main process and in joblib's and Dask's workers the
first import of scikeras goes through here. With TensorFlow installed, two
things load it (seconds and hundreds of MiB) whatever the Keras backend:

1. ``scikeras.utils.random_state`` runs ``try: import tensorflow`` when
   ``scikeras.wrappers`` imports it. sk_mnist never uses what scikeras does
   with it: ``MNISTClassifier`` pins scikeras' ``_random_state`` to None and
   seeds with ``sk_mnist._seeding``, which touches TensorFlow on its own
   backend only. So scikeras is imported with TensorFlow hidden
   (``sys.modules["tensorflow"] = None`` makes ``import tensorflow`` raise
   ``ImportError``, which scikeras catches and replaces with no-ops), and
   ``sys.modules`` is put back at once, so that a later ``import tensorflow``
   works as usual.
2. Keras' ``serialize_keras_object`` asks ``tf.available`` (which imports
   TensorFlow) before it checks whether an object is a ``tf.TensorShape``,
   ``tf.DType`` or ``tf.TypeSpec``: saving a model (``sk_mnist.dump``, and
   scikeras' pickling of a Keras model, which Dask and joblib use) would load
   TensorFlow. No such object can exist before TensorFlow is imported, so
   there Keras is told TensorFlow is available only once something has
   imported it.

Both apply on every Keras backend but TensorFlow, and only if TensorFlow (or
scikeras' wrappers) is not imported yet: then the cost is already paid.
"""

import sys

import keras
from keras.src.saving import serialization_lib

_SCIKERAS_MODULES = ("scikeras.utils.random_state", "scikeras.wrappers")


class _TensorFlowOnceImported:
    """Keras' lazy ``tensorflow`` module, available only once TensorFlow is imported.

    Parameters
    ----------
    lazy : keras.src.utils.module_utils.LazyModule
        Keras' lazy module; every attribute but ``available`` is read from it.
    """

    def __init__(self, lazy):
        self._lazy = lazy

    @property
    def available(self):
        return sys.modules.get("tensorflow") is not None and self._lazy.available

    def __getattr__(self, name):
        return getattr(self._lazy, name)


def _import_scikeras_without_tensorflow():
    """Import ``scikeras.wrappers`` with ``import tensorflow`` failing meanwhile."""
    sys.modules["tensorflow"] = None
    try:
        import scikeras.wrappers  # noqa: F401
    finally:
        if sys.modules.get("tensorflow", ...) is None:
            del sys.modules["tensorflow"]


if keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules:
    if not isinstance(serialization_lib.tf, _TensorFlowOnceImported):
        serialization_lib.tf = _TensorFlowOnceImported(serialization_lib.tf)
    if not any(name in sys.modules for name in _SCIKERAS_MODULES):
        _import_scikeras_without_tensorflow()

from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import BaseWrapper, KerasClassifier  # noqa: E402

__all__ = ["BaseWrapper", "ClassifierLabelEncoder", "KerasClassifier"]
