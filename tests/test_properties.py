"""Property-based tests (hypothesis) of PixelScaler and the IDX reader."""

import gzip
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sk_mnist import AlreadyScaledWarning, PixelScaler, load_mnist
from sk_mnist.datasets import _IDX_DTYPES, _parse_idx, read_idx

SETTINGS = settings(max_examples=50, deadline=None)

image_batches = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64]),
    shape=st.tuples(
        st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)
    ),  # (n, height, width)
    elements=st.integers(0, 255),
)


@pytest.mark.filterwarnings("ignore::sk_mnist.AlreadyScaledWarning")  # 0/1 images
@SETTINGS
@given(image_batches)
def test_pixel_scaler_maps_0_255_to_0_1_exactly(images):
    n, height, width = images.shape
    Xt = PixelScaler().fit(images).transform(images)
    assert Xt.shape == (n, height * width) and Xt.dtype == np.float32
    np.testing.assert_array_equal(
        Xt, images.reshape(n, -1).astype(np.float32) / np.float32(255)
    )
    assert Xt.min() >= 0 and Xt.max() <= 1


# scikit-learn's finiteness check sums X first: +inf + -inf warns, then it raises.
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")
@SETTINGS
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 8)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_pixel_scaler_refuses_exactly_what_is_outside_0_255(X):
    valid = np.isfinite(X).all() and X.min() >= 0 and X.max() <= 255
    if valid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlreadyScaledWarning)
            Xt = PixelScaler().fit(X).transform(X)
        assert np.all((Xt >= 0) & (Xt <= 1))
    else:
        with pytest.raises(ValueError, match="NaN|infinity|Negative|above 255"):
            PixelScaler().fit_transform(X)


def _idx_bytes(array, type_code):
    dtype = _IDX_DTYPES[type_code]
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(dtype).tobytes()


idx_arrays = st.sampled_from(sorted(_IDX_DTYPES)).flatmap(
    lambda code: st.tuples(
        st.just(code),
        hnp.arrays(
            _IDX_DTYPES[code].newbyteorder("="),
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
        ),
    )
)


@SETTINGS
@given(idx_arrays, st.booleans())
def test_idx_files_round_trip(code_and_array, compressed):
    code, array = code_and_array
    raw = _idx_bytes(array, code)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "f-idx" + (".gz" if compressed else ""))
        with (gzip.open if compressed else open)(path, "wb") as f:
            f.write(raw)
        read = read_idx(path)
    assert read.shape == array.shape
    assert read.dtype == _IDX_DTYPES[code].newbyteorder("=")
    np.testing.assert_array_equal(read, array)


@SETTINGS
@given(idx_arrays, st.data())
def test_corrupted_idx_files_raise_value_error(code_and_array, data):
    code, array = code_and_array
    raw = bytearray(_idx_bytes(array, code))
    how = data.draw(st.sampled_from(["truncate", "append", "header byte"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "append":
        raw += data.draw(st.binary(min_size=1, max_size=16))
    else:
        position = data.draw(st.integers(0, 4 + 4 * array.ndim - 1))
        new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
        raw[position] = new
    try:
        parsed = _parse_idx(bytes(raw))
    except ValueError as exc:
        assert "IDX" in str(exc) or "truncated" in str(exc) or "longer" in str(exc)
    else:
        # A changed header byte can still describe a consistent file (e.g. a
        # dimension split differently); then its data must match its header.
        assert how == "header byte"
        assert parsed.nbytes == len(raw) - (4 + 4 * raw[3])


@SETTINGS
@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_idx_reader(raw):
    try:
        parsed = _parse_idx(raw)
    except ValueError:
        return
    assert isinstance(parsed, np.ndarray)


@SETTINGS
@given(
    st.integers(1, 4).flatmap(
        lambda ndim: st.lists(st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim)
    ),
    st.binary(max_size=32),
)
@example(shape=[2**16] * 4, payload=b"")  # 2**64 elements: 0 in int64
@example(shape=[2**32 - 1, 2**32 - 1, 3], payload=b"")
@example(shape=[0, 3_036_988_439, 3_037_012_561], payload=b"")  # empty, yet too big
def test_huge_or_overflowing_headers_are_refused(shape, payload):
    raw = bytes([0, 0, 0x08, len(shape)])
    raw += b"".join(d.to_bytes(4, "big") for d in shape) + payload
    expected = int(np.prod([int(d) for d in shape], dtype=object))
    extent = int(np.prod([int(d) for d in shape if d], dtype=object))
    if expected == len(payload) and extent > np.iinfo(np.intp).max:
        with pytest.raises(ValueError, match="larger than any array"):
            _parse_idx(raw)
    elif expected == len(payload):
        assert _parse_idx(raw).size == expected
    else:
        with pytest.raises(ValueError, match="truncated|longer"):
            _parse_idx(raw)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 6).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.uint8, (n, 28, 28)),
            hnp.arrays(np.uint8, (n,), elements=st.integers(0, 9)),
        )
    ),
    st.booleans(),
)
def test_load_mnist_reads_any_valid_idx_folder(split, compressed):
    images, labels = split
    names = {
        "train-images-idx3-ubyte": images,
        "train-labels-idx1-ubyte": labels,
        "t10k-images-idx3-ubyte": images[::-1],
        "t10k-labels-idx1-ubyte": labels[::-1],
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, array in names.items():
            path = os.path.join(folder, name + (".gz" if compressed else ""))
            with (gzip.open if compressed else open)(path, "wb") as f:
                f.write(_idx_bytes(array, 0x08))
        (X, y), (X_test, y_test) = load_mnist(data_home=folder)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X_test, images[::-1])
    np.testing.assert_array_equal(y_test, labels[::-1])
