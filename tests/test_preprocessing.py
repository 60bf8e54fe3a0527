"""PixelScaler: flattening, exact book scaling, float32 only, clear refusals."""

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from sk_mnist import AlreadyScaledWarning, PixelScaler


@pytest.fixture
def images():
    return np.random.RandomState(0).randint(0, 256, (5, 28, 28)).astype(np.uint8)


def test_matches_the_books_preprocessing(images):
    book = images.reshape((5, 28 * 28)).astype("float32") / 255
    result = PixelScaler().fit_transform(images)
    assert result.dtype == np.float32 and result.shape == (5, 784)
    np.testing.assert_array_equal(result, book)


@pytest.mark.parametrize("n_images", [1, 5, 1000])
def test_the_output_is_aligned_for_tensorflow_to_read_in_place(images, n_images):
    # TensorFlow views an aligned buffer instead of copying it (sk_mnist._aligned);
    # NumPy aligns its own arrays to 16 bytes only.
    from sk_mnist._aligned import ALIGNMENT, is_aligned

    batch = np.resize(images, (n_images, 28, 28))
    for X in (batch, batch.reshape(n_images, -1), batch.astype(np.float64)):
        result = PixelScaler().fit_transform(X)
        assert is_aligned(result) and result.ctypes.data % ALIGNMENT == 0
        expected = batch.reshape(n_images, -1).astype(np.float32) / 255
        np.testing.assert_array_equal(result, expected)


def test_flat_rows_and_frames_are_taken_as_they_are(images):
    flat = images.reshape(5, -1)
    frame = pd.DataFrame(flat, columns=[f"p{i}" for i in range(784)])
    np.testing.assert_array_equal(
        PixelScaler().fit_transform(flat), PixelScaler().fit_transform(frame)
    )
    scaler = PixelScaler().fit(frame)
    np.testing.assert_array_equal(scaler.feature_names_in_, frame.columns)
    np.testing.assert_array_equal(scaler.get_feature_names_out(), frame.columns)


def test_pandas_output(images):
    frame = pd.DataFrame(images.reshape(5, -1), columns=[f"p{i}" for i in range(784)])
    out = PixelScaler().set_output(transform="pandas").fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns)
    assert out.to_numpy().max() <= 1.0


def test_transform_without_fit_works(images):
    assert PixelScaler().transform(images).shape == (5, 784)


def test_feature_count_is_checked_after_fit(images):
    scaler = PixelScaler().fit(images)
    with pytest.raises(ValueError, match="783 features.*expecting 784"):
        scaler.transform(images.reshape(5, -1)[:, :783])


def test_no_float64_copy_of_full_size_data():
    images = np.zeros((60000, 28, 28), dtype=np.uint8)
    images[:, 14, 14] = 255
    float32_bytes = 60000 * 784 * 4
    tracemalloc.start()
    result = PixelScaler().transform(images)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.dtype == np.float32
    # One float32 result and nothing the size of a float64 copy (2x float32).
    assert peak < 1.25 * float32_bytes, peak / float32_bytes


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "NaN"),
        (np.inf, "infinity"),
        (-1.0, "Negative values in data"),
        (256.0, "Values above 255"),
    ],
)
def test_bad_pixel_values_are_refused(images, value, message):
    X = images.astype(np.float64)
    X[2, 3, 4] = value
    with pytest.raises(ValueError, match=message):
        PixelScaler().fit_transform(X)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((784,), "1-D array.*Reshape your data"),
        ((2, 28, 28, 3), r"grayscale.*\(2, 28, 28, 3\)"),
    ],
)
def test_wrong_image_shapes_are_refused(shape, message):
    with pytest.raises(ValueError, match=message):
        PixelScaler().fit_transform(np.zeros(shape, dtype=np.uint8))


def test_strings_are_refused():
    with pytest.raises(ValueError, match="string"):
        PixelScaler().fit_transform(np.array([["a", "b"], ["c", "d"]], dtype=object))


def test_scaling_twice_warns(images):
    once = PixelScaler().fit_transform(images)
    with pytest.warns(AlreadyScaledWarning, match="scaled already"):
        PixelScaler().fit_transform(once)


def test_raw_images_do_not_warn(images):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PixelScaler().fit_transform(images)
        PixelScaler().fit_transform(np.zeros((2, 28, 28), dtype=np.uint8))


def test_images_of_another_shape_are_refused_after_fit(images):
    # 56x14 has the 784 pixels of 28x28: only the shape kept at fit tells them apart
    scaler = PixelScaler().fit(images)
    assert scaler.image_shape_ == (28, 28)
    for shape in [(2, 56, 14), (2, 14, 56), (2, 20, 20)]:
        with pytest.raises(ValueError, match=rf"shape \(28, 28\).*{shape[1:]}"):
            scaler.transform(np.zeros(shape, np.uint8))


def test_pipeline_fitted_on_28x28_refuses_56x14(images):
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    pipe = make_pipeline(PixelScaler(), DecisionTreeClassifier())
    pipe.fit(images, np.arange(5))
    with pytest.raises(ValueError, match="Resize the images"):
        pipe.predict(np.zeros((2, 56, 14), np.uint8))


def test_flat_rows_after_an_image_fit_are_the_flattened_images(images):
    scaler = PixelScaler().fit(images)
    np.testing.assert_array_equal(
        scaler.transform(images.reshape(5, -1)), scaler.transform(images)
    )


def test_images_after_a_flat_fit_must_be_square(images):
    scaler = PixelScaler().fit(images.reshape(5, -1))
    assert scaler.image_shape_ is None
    np.testing.assert_array_equal(
        scaler.transform(images), images.reshape(5, -1) / np.float32(255)
    )
    with pytest.raises(ValueError, match=r"flat rows of 784.*\(56, 14\)"):
        scaler.transform(np.zeros((2, 56, 14), np.uint8))
    frame_scaler = PixelScaler().fit(pd.DataFrame(images.reshape(5, -1)))
    assert frame_scaler.image_shape_ is None


def test_unfitted_scaler_takes_any_image_shape():
    assert PixelScaler().transform(np.zeros((2, 56, 14), np.uint8)).shape == (2, 784)


def test_tags_say_stateless_float32_and_non_negative():
    # scikit-learn's checks read these: no fit needed, float32 kept, pixels >= 0
    tags = PixelScaler().__sklearn_tags__()
    assert tags.requires_fit is False
    assert tags.transformer_tags.preserves_dtype == ["float32"]
    assert tags.input_tags.positive_only is True


def test_one_image_without_batch_axis_is_refused_after_fit(images):
    scaler = PixelScaler().fit(images)
    with pytest.raises(ValueError, match=r"\(28, 28\), the size of one image"):
        scaler.transform(images[0])
    assert scaler.transform(images[:1].reshape(1, -1)).shape == (1, 784)
