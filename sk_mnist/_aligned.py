"""Arrays whose data TensorFlow can read in place: :func:`aligned_empty`.

TensorFlow copies a NumPy array it is given (``tf.constant``, ``tf.data``): for
the 60000 scaled MNIST images that is 188 MB more memory, and the time to
fill it, in each TensorFlow fit. It can instead view the
array's buffer through DLPack, but only a buffer aligned to Eigen's packet
alignment (64 bytes on x86 builds): it aborts the process on any other
("Check failed: IsAligned()"). NumPy aligns large arrays to 16 bytes.
:class:`~sk_mnist.PixelScaler` writes its output into a buffer aligned to
:data:`ALIGNMENT` bytes, and the TensorFlow fit views such arrays in place
(:func:`sk_mnist._seeding.tensorflow_batches`); any other array is copied as
before.
"""

import numpy as np

__all__ = ["ALIGNMENT", "aligned_empty", "is_aligned"]

#: Bytes an array's data is aligned to: twice what TensorFlow's x86 builds need.
ALIGNMENT = 128


def aligned_empty(shape, dtype):
    """An uninitialised C-ordered array whose data starts at a multiple of
    :data:`ALIGNMENT` bytes.

    Parameters
    ----------
    shape : tuple of int
        The array's shape.
    dtype : dtype
        Its element type.

    Returns
    -------
    array : ndarray
        A view of a slightly larger byte buffer (``array.base``).
    """
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(n_bytes + ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start : start + n_bytes].view(dtype).reshape(shape)


def is_aligned(array):
    """Whether ``array`` is a C-ordered NumPy array whose data is aligned."""
    return (
        isinstance(array, np.ndarray)
        and array.flags.c_contiguous
        and array.ctypes.data % ALIGNMENT == 0
    )
