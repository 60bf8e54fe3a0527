"""Shared fixtures: MNIST from SK_MNIST_DATA (or Keras' cache), seeds, small data."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# scikit-learn runs its array-API check (NumPy input with dispatch on) only with this
# set before SciPy is imported; without it the check is skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST as ``load_mnist()`` returns it."""
    from sk_mnist import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """A stratified-enough slice: 3000 training and 1000 test images."""
    (X_train, y_train), (X_test, y_test) = mnist
    return (X_train[:3000], y_train[:3000]), (X_test[:1000], y_test[:1000])


@pytest.fixture(scope="session")
def blobs():
    """Four well separated classes in 8 features, values in 0..1: quick to learn."""
    rng = np.random.RandomState(0)
    centers = rng.rand(4, 8)
    y = np.repeat(np.arange(4), 30)
    X = (centers[y] + 0.05 * rng.randn(len(y), 8)).astype(np.float32)
    return X, y


@pytest.fixture(autouse=True)
def _fixed_numpy_seed():
    np.random.seed(0)


@pytest.fixture
def file_size_limit():
    """``with file_size_limit(n):`` a file written past ``n`` bytes fails (EFBIG).

    A real failing write, as on a full disk: RLIMIT_FSIZE for this process, with
    SIGXFSZ ignored so that the write raises OSError instead of killing it.
    """
    import contextlib
    import resource
    import signal

    @contextlib.contextmanager
    def limit(nbytes):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)

    return limit
