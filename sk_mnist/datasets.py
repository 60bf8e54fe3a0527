"""Loading MNIST: through ``keras.datasets`` or from local IDX / ``.npz`` files."""

import gzip
import math
import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["MNISTNotFoundError", "load_mnist", "read_idx", "pixel_feature_names"]

#: Environment variable naming a folder with the MNIST files.
DATA_ENV_VAR = "SK_MNIST_DATA"

IMAGE_SHAPE = (28, 28)

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MNISTNotFoundError(FileNotFoundError):
    """Raised when MNIST can neither be read locally nor downloaded."""


def pixel_feature_names(image_shape=IMAGE_SHAPE):
    """Column names for flattened images: ``pixel_<row>_<col>``.

    Parameters
    ----------
    image_shape : tuple of int, default=(28, 28)
        Height and width of the images.

    Returns
    -------
    names : ndarray of str, shape (height * width,)
    """
    rows, cols = image_shape
    return np.array([f"pixel_{r}_{c}" for r in range(rows) for c in range(cols)])


def read_idx(path):
    """Read one file in the IDX format (plain or gzip-compressed).

    Parameters
    ----------
    path : str or path-like
        The file. A name ending in ``.gz`` is decompressed.

    Returns
    -------
    array : ndarray
        The values, with the shape the header gives, in native byte order.

    Raises
    ------
    ValueError
        If the header is not an IDX header or the data is truncated or too long.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"Could not read IDX file {path}: {exc}") from exc
    return _parse_idx(raw, source=str(path))


def _parse_idx(raw, source="<bytes>"):
    """Parse the bytes of an IDX file; see :func:`read_idx`."""
    if len(raw) < 4:
        raise ValueError(
            f"{source} is not an IDX file: expected a 4-byte magic number, "
            f"got {len(raw)} bytes."
        )
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{source} is not an IDX file: its magic number is 0x{raw[:4].hex()}, "
            "expected 0x0000 then a type code (0x08 for uint8) and the number of "
            "dimensions (0x03 for images, 0x01 for labels)."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{source} is truncated: its header announces {ndim} dimensions "
            f"({header_size} bytes) but the file has {len(raw)} bytes."
        )
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = _IDX_DTYPES[type_code]
    # Python ints: NumPy's int64 product wraps around for huge headers.
    expected = math.prod(shape) * dtype.itemsize
    got = len(raw) - header_size
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"{source} is {what}: header shape {shape} needs {expected} bytes of "
            f"data, the file holds {got}. Download the file again."
        )
    if math.prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max:
        # Empty (a zero dimension), yet no array of that shape can exist.
        raise ValueError(
            f"{source} is malformed: header shape {shape} is larger than any "
            "array can be. Download the file again."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _find(folder, name):
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_from_folder(folder):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MNISTNotFoundError(
            f"MNIST folder {str(folder)!r} does not exist. Point data_home (or the "
            f"{DATA_ENV_VAR} environment variable) at a folder that holds the four "
            "IDX files (train-images-idx3-ubyte[.gz], ...) or mnist.npz."
        )
    paths = {key: _find(folder, name) for key, name in _IDX_FILES.items()}
    if all(paths.values()):
        arrays = {key: read_idx(path) for key, path in paths.items()}
        for split in ("train", "test"):
            _check_split(split, arrays[f"{split}_images"], arrays[f"{split}_labels"])
        return (arrays["train_images"], arrays["train_labels"]), (
            arrays["test_images"],
            arrays["test_labels"],
        )
    npz = folder / "mnist.npz"
    if npz.is_file():
        arrays = _read_npz(npz)
        _check_split("train", arrays["x_train"], arrays["y_train"])
        _check_split("test", arrays["x_test"], arrays["y_test"])
        return (arrays["x_train"], arrays["y_train"]), (
            arrays["x_test"],
            arrays["y_test"],
        )
    missing = [name for key, name in _IDX_FILES.items() if paths[key] is None]
    raise MNISTNotFoundError(
        f"MNIST folder {str(folder)!r} holds neither mnist.npz nor all four IDX "
        f"files; missing: {', '.join(missing)} (plain or .gz)."
    )


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(path):
    """The four arrays of a Keras-style ``mnist.npz``; ValueError naming the file."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not an .npz archive (a zip file of .npy arrays); it may be "
            "truncated or another kind of file. Download the file again."
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [key for key in _NPZ_KEYS if key not in f.files]
            if missing:
                raise ValueError(
                    f"{path} lacks the arrays {', '.join(missing)}: a Keras-style "
                    f"mnist.npz holds {', '.join(_NPZ_KEYS)}; this one holds "
                    f"{', '.join(f.files) or 'none'}. Download the file again."
                )
            return {key: f[key] for key in _NPZ_KEYS}
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"Could not read {path}: it is not a readable .npz archive ({exc}). "
            "Download the file again."
        ) from exc
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(
            f"Could not read {path} as a Keras-style mnist.npz: {exc}"
        ) from exc


def _check_split(split, images, labels):
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
        raise ValueError(
            f"MNIST {split} images must be uint8 of shape (n, 28, 28); got "
            f"{images.dtype} of shape {images.shape}."
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"MNIST {split} labels must be one per image: {images.shape[0]} images "
            f"but labels of shape {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"MNIST {split} labels must be digits 0-9; got values from "
            f"{labels.min()} to {labels.max()}."
        )


def _load_from_keras():
    import keras  # imported here: reading local files needs no TensorFlow

    try:
        return keras.datasets.mnist.load_data()
    except Exception as exc:  # keras wraps urllib errors in a bare Exception
        raise MNISTNotFoundError(
            "MNIST could not be downloaded through keras.datasets.mnist.load_data() "
            f"({type(exc).__name__}: {exc}). If this machine is offline, put the four "
            "IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) or mnist.npz "
            f"in a folder and pass load_mnist(data_home=...) or set {DATA_ENV_VAR}."
        ) from exc


def load_mnist(*, data_home=None, as_frame=False):
    """Load MNIST as ``keras.datasets.mnist.load_data()`` returns it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder with the original IDX files (plain or ``.gz``) or a Keras-style
        ``mnist.npz``. Defaults to the ``SK_MNIST_DATA`` environment variable;
        when neither is set, MNIST is loaded (and downloaded once) through
        ``keras.datasets.mnist.load_data()``.
    as_frame : bool, default=False
        If True, images are returned as DataFrames with 784 columns named
        ``pixel_<row>_<col>`` and labels as Series named ``"label"``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples
        The uint8 images of shape (60000, 28, 28) and (10000, 28, 28) and
        uint8 labels, or DataFrames and Series when ``as_frame=True``.

    Raises
    ------
    MNISTNotFoundError
        If no data can be found or downloaded.
    ValueError
        If a local file is malformed or truncated.

    Examples
    --------
    >>> from sk_mnist import load_mnist
    >>> (X_train, y_train), (X_test, y_test) = load_mnist()
    >>> X_train.shape, y_train[:5]
    ((60000, 28, 28), array([5, 0, 4, 1, 9], dtype=uint8))
    """
    folder = data_home if data_home is not None else os.environ.get(DATA_ENV_VAR)
    if folder:
        train, test = _load_from_folder(folder)
    else:
        train, test = _load_from_keras()
    if as_frame:
        train, test = _as_frame(*train), _as_frame(*test)
    return train, test


def _as_frame(images, labels):
    import pandas as pd

    n, height, width = images.shape
    X = pd.DataFrame(
        images.reshape(n, height * width),
        columns=pixel_feature_names((height, width)),
    )
    return X, pd.Series(labels, name="label")
