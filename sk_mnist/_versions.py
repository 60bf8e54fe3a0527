"""Versions a model was written with, and the warning when they differ at load."""

import os
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from sklearn.exceptions import InconsistentVersionWarning

__all__ = ["SkMnistVersionWarning", "check_versions", "current_versions"]

#: Key under which a pickled sk_mnist estimator carries its versions.
PICKLE_KEY = "_sk_mnist_versions"

#: Versions compared at load. NumPy and the Keras backend are recorded but not
#: compared: the network is stored as Keras weights, which every backend reads
#: alike (tests/test_backends.py loads a TensorFlow file under JAX and back).
COMPARED = ("sk_mnist", "scikit-learn", "keras")


class SkMnistVersionWarning(InconsistentVersionWarning):
    """Warns that a model was written under other versions than the running ones.

    A subclass of scikit-learn's ``InconsistentVersionWarning``, so that
    ``warnings.simplefilter("error", InconsistentVersionWarning)`` covers
    sk_mnist models too. scikit-learn's own check only covers classes whose
    module starts with ``sklearn.``.

    Parameters
    ----------
    estimator_name : str
        The estimator (or file) being loaded.
    current_versions : dict of str
        Versions running now: sk_mnist, scikit-learn, keras, the Keras backend.
    original_versions : dict of str
        Versions the model was written with.
    """

    def __init__(self, *, estimator_name, current_versions, original_versions):
        super().__init__(
            estimator_name=estimator_name,
            current_sklearn_version=current_versions.get("scikit-learn"),
            original_sklearn_version=original_versions.get("scikit-learn"),
        )
        self.current_versions = dict(current_versions)
        self.original_versions = dict(original_versions)

    def __str__(self):
        differ = [
            f"{name} {self.original_versions.get(name)} (now {now})"
            for name, now in self.current_versions.items()
            if name in COMPARED and self.original_versions.get(name) != now
        ]
        return (
            f"Loading {self.estimator_name} written with {', '.join(differ)}. "
            "A model may load but predict differently, or fail later, under other "
            "versions: check its predictions, or refit it under the versions "
            "running now."
        )


def _installed_version(distribution):
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def current_versions():
    """Versions of sk_mnist, scikit-learn, NumPy, Keras and the Keras backend.

    Returns
    -------
    versions : dict of str
    """
    import numpy
    import sklearn

    import sk_mnist

    # Read from the installed metadata: recording versions must not import
    # TensorFlow (a pickled PixelScaler does not need it).
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
    else:
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    backend_version = _installed_version(backend)
    return {
        "sk_mnist": sk_mnist.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "keras": _installed_version("keras"),
        "keras_backend": f"{backend} {backend_version}",
    }


def check_versions(original, estimator_name, *, stacklevel=3):
    """Warn with :class:`SkMnistVersionWarning` if ``original`` differs from now.

    Parameters
    ----------
    original : dict of str or None
        Recorded versions; None (a pickle from before versions were recorded)
        counts as different.
    estimator_name : str
        Named in the warning.
    stacklevel : int, default=3
        Passed to ``warnings.warn``.
    """
    now = current_versions()
    original = dict(original) if isinstance(original, dict) else {}
    if any(original.get(name) != now[name] for name in COMPARED):
        warnings.warn(
            SkMnistVersionWarning(
                estimator_name=estimator_name,
                current_versions=now,
                original_versions=original,
            ),
            stacklevel=stacklevel,
        )


def add_versions(state):
    """Return a copy of a pickle ``state`` dict that carries the versions."""
    return dict(state, **{PICKLE_KEY: current_versions()})


def pop_versions(state, estimator_name):
    """Remove the versions from a pickle ``state`` dict, warning on a mismatch."""
    state = dict(state)
    check_versions(state.pop(PICKLE_KEY, None), estimator_name, stacklevel=4)
    return state
