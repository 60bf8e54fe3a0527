"""sk_mnist: the first network of "Deep Learning with Python" as one estimator.

The public names are imported on first use, so that ``import sk_mnist``, the
command line's ``--help`` and reading MNIST files do not wait seconds for
TensorFlow.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sk_mnist")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# Public name -> the module that defines it.
_PUBLIC = {
    "AlreadyScaledWarning": "sk_mnist.preprocessing",
    "CheckpointError": "sk_mnist._checkpoint",
    "EpochGridSearchCV": "sk_mnist.search",
    "EpochHalvingGridSearchCV": "sk_mnist.halving",
    "EpochHalvingRandomSearchCV": "sk_mnist.halving",
    "MNISTClassifier": "sk_mnist.classifier",
    "MNISTNotFoundError": "sk_mnist.datasets",
    "ModelFormatError": "sk_mnist.persistence",
    "PixelScaler": "sk_mnist.preprocessing",
    "SkMnistVersionWarning": "sk_mnist._versions",
    "TemporaryStorageError": "sk_mnist.persistence",
    "UnsafeModelFileError": "sk_mnist.persistence",
    "dump": "sk_mnist.persistence",
    "hide_tensorflow_startup_lines": "sk_mnist._quiet",
    "load": "sk_mnist.persistence",
    "load_mnist": "sk_mnist.datasets",
    "make_mnist_pipeline": "sk_mnist.pipeline",
    "to_onnx": "sk_mnist.export",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sk_mnist' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
