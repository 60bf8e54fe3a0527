"""load_mnist and its IDX reader."""

import gzip

import numpy as np
import pytest

from sk_mnist import MNISTNotFoundError, load_mnist
from sk_mnist.datasets import DATA_ENV_VAR, _parse_idx, read_idx


def _idx_bytes(array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(">u1" if type_code == 0x08 else array.dtype).tobytes()


def _write_mnist_folder(folder, n_train=6, n_test=4, compress=True):
    rng = np.random.RandomState(0)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.randint(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.randint(0, 10, n_test),
    }
    for name, array in arrays.items():
        raw = _idx_bytes(array.astype(np.uint8))
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


def test_full_mnist_matches_keras_facts(mnist):
    (X_train, y_train), (X_test, y_test) = mnist
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert y_train[0] == 5 and y_test[0] == 7
    assert X_train.mean() == pytest.approx(33.318, abs=1e-3)
    assert X_train.std() == pytest.approx(78.567, abs=1e-3)
    counts = np.bincount(y_train)
    expected = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_plain_and_gzipped_idx_files(tmp_path, compress):
    arrays = _write_mnist_folder(tmp_path, compress=compress)
    (X_train, y_train), (X_test, y_test) = load_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(X_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert X_train.dtype == np.uint8 and X_train.flags.writeable


def test_reads_keras_npz(tmp_path):
    rng = np.random.RandomState(1)
    x_train = rng.randint(0, 256, (5, 28, 28)).astype(np.uint8)
    y_train = np.arange(5, dtype=np.uint8)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=x_train,
        y_train=y_train,
        x_test=x_train[:2],
        y_test=y_train[:2],
    )
    (X, y), (X_test, y_test) = load_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(X, x_train)
    np.testing.assert_array_equal(y, y_train)
    np.testing.assert_array_equal(X_test, x_train[:2])
    np.testing.assert_array_equal(y_test, y_train[:2])


def test_environment_variable_names_the_folder(tmp_path, monkeypatch):
    arrays = _write_mnist_folder(tmp_path)
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    (_, y_train), _ = load_mnist()
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])


def test_as_frame_gives_named_pixel_columns(tmp_path):
    arrays = _write_mnist_folder(tmp_path)
    (X, y), (X_test, y_test) = load_mnist(data_home=tmp_path, as_frame=True)
    assert X.shape == (6, 784) and X_test.shape == (4, 784)
    assert X.columns[0] == "pixel_0_0" and X.columns[-1] == "pixel_27_27"
    assert X.columns[1] == "pixel_0_1" and X.columns[28] == "pixel_1_0"  # row-major
    images = arrays["train-images-idx3-ubyte"]
    assert X["pixel_3_5"].tolist() == images[:, 3, 5].tolist()
    np.testing.assert_array_equal(X.to_numpy(), images.reshape(6, 784))
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert y.name == "label" and len(y) == 6
    assert (X.dtypes == np.uint8).all()


def test_missing_files_are_named(tmp_path):
    _write_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MNISTNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(data_home=tmp_path)


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(MNISTNotFoundError, match="does not exist.*SK_MNIST_DATA"):
        load_mnist(data_home=tmp_path / "nowhere")


def test_offline_without_folder_says_how_to_use_local_files(monkeypatch):
    import keras

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://...: None -- [Errno -3]")

    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(MNISTNotFoundError, match="offline.*SK_MNIST_DATA") as info:
        load_mnist()
    assert "URL fetch failure" in str(info.value)


def test_idx_round_trip_of_other_types(tmp_path):
    array = np.arange(12, dtype=">i4").reshape(3, 4)
    path = tmp_path / "ints-idx2"
    path.write_bytes(_idx_bytes(array, type_code=0x0C))
    result = read_idx(path)
    np.testing.assert_array_equal(result, array)
    assert result.dtype == np.dtype("int32") and result.dtype.isnative


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "expected a 4-byte magic number"),
        (b"\x01\x00\x08\x03" + b"\x00" * 12, "not an IDX file"),
        (b"\x00\x00\x07\x01" + b"\x00" * 4, "not an IDX file"),
        (b"\x00\x00\x08\x00\x05", "not an IDX file"),  # 0 dimensions: a scalar
        (b"\x00\x00\x08\x03\x00\x00", "truncated: its header"),
        (b"\x00\x00\x08\x03" + b"\x00" * 11, "truncated: its header"),  # 1 short
        (b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 4, "truncated: header shape"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02" + b"\x01" * 3, "longer than its header"),
    ],
)
def test_malformed_idx_is_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        _parse_idx(raw)


def test_corrupt_gzip_is_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b this is not gzip")
    with pytest.raises(ValueError, match="Could not read IDX file"):
        read_idx(path)


def test_images_and_labels_must_agree(tmp_path):
    _write_mnist_folder(tmp_path, compress=False)
    labels = np.zeros(5, dtype=np.uint8)  # 6 images, 5 labels
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    with pytest.raises(ValueError, match="one per image: 6 images"):
        load_mnist(data_home=tmp_path)


@pytest.mark.parametrize("bad_label", [10, 255])
def test_labels_must_be_digits(tmp_path, bad_label):
    _write_mnist_folder(tmp_path, compress=False)
    labels = np.array([0, 1, 2, bad_label, 4, 9], dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    message = f"digits 0-9; got values from 0 to {bad_label}"
    with pytest.raises(ValueError, match=message):
        load_mnist(data_home=tmp_path)


def _npz_folder(tmp_path, **arrays):
    np.savez(tmp_path / "mnist.npz", **arrays)
    return tmp_path


@pytest.mark.parametrize(
    "content", [b"PK\x03\x04 cut short", b"plain text", b""], ids=["zip", "text", "0"]
)
def test_corrupt_npz_is_named(tmp_path, content):
    (tmp_path / "mnist.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"mnist\.npz is not an \.npz archive"):
        load_mnist(data_home=tmp_path)


def test_truncated_npz_is_named(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    labels = np.zeros(3, np.uint8)
    _npz_folder(tmp_path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    raw = (tmp_path / "mnist.npz").read_bytes()
    (tmp_path / "mnist.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=str(tmp_path / "mnist.npz")):
        load_mnist(data_home=tmp_path)


def test_npz_missing_arrays_says_which(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    _npz_folder(tmp_path, x_train=images, x_test=images, labels=np.zeros(3))
    with pytest.raises(ValueError) as info:
        load_mnist(data_home=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist.npz") in message
    assert "lacks the arrays y_train, y_test" in message
    assert "holds x_train, x_test, labels" in message


def test_npz_of_objects_is_named_not_unpickled(tmp_path):
    objects = np.array([{"a": 1}, None], dtype=object)
    _npz_folder(tmp_path, x_train=objects, y_train=objects, x_test=objects,
                y_test=objects)  # fmt: skip
    with pytest.raises(ValueError, match=f"Could not read {tmp_path / 'mnist.npz'}"):
        load_mnist(data_home=tmp_path)


@pytest.mark.parametrize("split", ["train", "test"])
def test_npz_arrays_are_checked_like_idx_files(tmp_path, split):
    images, labels = np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8)
    arrays = dict(x_train=images, y_train=labels, x_test=images, y_test=labels)
    arrays[f"y_{split}"] = labels[:2]
    _npz_folder(tmp_path, **arrays)
    with pytest.raises(ValueError, match=f"MNIST {split} labels must be one per image"):
        load_mnist(data_home=tmp_path)
    arrays[f"y_{split}"] = labels
    arrays[f"x_{split}"] = images.astype(np.float32)
    _npz_folder(tmp_path, **arrays)
    with pytest.raises(ValueError, match=f"MNIST {split} images must be uint8"):
        load_mnist(data_home=tmp_path)
