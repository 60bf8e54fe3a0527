"""sk_mnist: the first network of "Deep Learning with Python" as one estimator."""

from importlib.metadata import PackageNotFoundError, version

from sk_mnist.classifier import MNISTClassifier
from sk_mnist.datasets import MNISTNotFoundError, load_mnist
from sk_mnist.persistence import (
    ModelFormatError,
    SkMnistVersionWarning,
    UnsafeModelFileError,
    dump,
    load,
)
from sk_mnist.pipeline import make_mnist_pipeline
from sk_mnist.preprocessing import AlreadyScaledWarning, PixelScaler

try:
    __version__ = version("sk_mnist")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "AlreadyScaledWarning",
    "MNISTClassifier",
    "MNISTNotFoundError",
    "ModelFormatError",
    "PixelScaler",
    "SkMnistVersionWarning",
    "UnsafeModelFileError",
    "dump",
    "load",
    "load_mnist",
    "make_mnist_pipeline",
]
