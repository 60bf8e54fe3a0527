"""Image files and .npy arrays become MNIST-like 28x28 uint8 digits."""

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from sk_mnist.images import ImageReadError, read_digits, to_mnist


def draw_seven(mode="RGB", size=112, ink="black", paper="white", offset=(0, 0)):
    """A dark 7 on light paper, as a person draws it, placed off-centre."""
    image = Image.new(mode, (size, size), paper)
    dx, dy = offset
    points = [(30 + dx, 20 + dy), (80 + dx, 20 + dy), (50 + dx, 95 + dy)]
    ImageDraw.Draw(image).line(points, fill=ink, width=9)
    return image


def bounding_box(digit, level=50):
    rows = np.flatnonzero((digit > level).any(axis=1))
    cols = np.flatnonzero((digit > level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_dark_digit_on_light_paper_is_inverted_fitted_and_centred(tmp_path):
    path = tmp_path / "seven.png"
    draw_seven(offset=(20, 8)).save(path)  # off-centre on purpose
    digits = read_digits(path)
    assert digits.shape == (1, 28, 28) and digits.dtype == np.uint8
    digit = digits[0]
    assert digit[0, 0] == 0 and digit.max() == 255  # white on black
    top, bottom, left, right = bounding_box(digit)
    # The taller side fills the 20x20 box (21 pixels when it straddles one).
    assert bottom - top + 1 in (20, 21)
    assert right - left + 1 <= 20
    rows, cols = np.indices(digit.shape)
    centre = [np.average(rows, weights=digit), np.average(cols, weights=digit)]
    # MNIST's training digits: 14.00, 14.01 (std 0.29, whole-pixel shifts);
    # read digits are placed to a fraction of a pixel.
    np.testing.assert_allclose(centre, [14.0, 14.0], atol=0.05)
    assert top >= 6  # a 7 is top-heavy: centring its mass moves it down


def test_light_digit_on_dark_background_is_not_inverted():
    dark = to_mnist(draw_seven(ink="white", paper="black"))
    light = to_mnist(draw_seven())
    assert dark[0, 0] == 0
    np.testing.assert_allclose(dark, light, atol=2)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1"])
def test_any_mode_gives_the_same_digit(mode):
    reference = to_mnist(draw_seven(mode="L", ink=0, paper=255))
    image = draw_seven(mode="RGB").convert(mode)
    np.testing.assert_allclose(to_mnist(image), reference, atol=2)


def test_transparent_background_counts_as_white_paper():
    image = Image.new("RGBA", (112, 112), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(image).line([(30, 20), (80, 20), (50, 95)], fill="black", width=9)
    np.testing.assert_allclose(to_mnist(image), to_mnist(draw_seven()), atol=2)


def test_gray_paper_and_jpeg_noise(tmp_path):
    path = tmp_path / "seven.jpg"
    draw_seven(mode="L", ink=60, paper=200).save(path, quality=60)
    digit = read_digits(path)[0]
    reference = to_mnist(draw_seven())
    assert digit.max() >= 220 and digit[0].max() == 0
    assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.8
    np.testing.assert_allclose(bounding_box(digit), bounding_box(reference), atol=1)


def test_a_big_photo_gives_the_digit_of_a_small_picture():
    big = draw_seven(size=112).resize((3000, 3000), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (4000, 3500), "white")
    canvas.paste(big, (900, 100))
    digit, reference = to_mnist(canvas), to_mnist(draw_seven())
    np.testing.assert_allclose(ndimage.center_of_mass(digit), [14, 14], atol=0.05)
    assert np.abs(digit.astype(int) - reference).max() <= 30
    assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.99


def test_a_wide_digit_is_fitted_by_its_width():
    image = Image.new("L", (300, 60), 255)
    ImageDraw.Draw(image).line([(10, 30), (290, 30)], fill=0, width=20)
    top, bottom, left, right = bounding_box(to_mnist(image))
    assert right - left + 1 in (20, 21) and bottom - top + 1 < 5


def test_array_input():
    array = np.asarray(draw_seven(mode="L"))
    np.testing.assert_array_equal(to_mnist(array), to_mnist(draw_seven(mode="L")))
    with pytest.raises(ImageReadError, match="2-D"):
        to_mnist(np.zeros((28, 28, 3)))


def test_blank_image_is_refused(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(path)
    with pytest.raises(ImageReadError, match="blank.png: no digit found"):
        read_digits(path)


@pytest.mark.parametrize("shape", [(28, 28), (3, 28, 28)])
def test_npy_arrays_are_used_as_they_are(tmp_path, shape):
    array = np.random.RandomState(0).randint(0, 256, size=shape).astype(np.int64)
    path = tmp_path / "digits.npy"
    np.save(path, array)
    digits = read_digits(path)
    assert digits.dtype == np.uint8
    np.testing.assert_array_equal(digits, array.reshape(-1, 28, 28))


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((28, 27)), r"shape \(28, 28\) or \(n, 28, 28\), got \(28, 27\)"),
        (np.zeros((2, 784)), r"got \(2, 784\)"),
        (np.full((28, 28), 300.0), "0..255"),
        (np.full((28, 28), np.nan), "0..255"),
        (np.full((28, 28), 0.5), "scaled to 0..1"),
        (np.full((28, 28), "x"), "expected numbers"),
    ],
)
def test_unsuitable_npy_arrays_are_refused(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ImageReadError, match=message):
        read_digits(path)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png: no such file"):
        read_digits(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError):
        read_digits(tmp_path)  # a folder
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageReadError, match="notes.png: not an image file"):
        read_digits(text)
    truncated = tmp_path / "truncated.png"
    draw_seven().save(tmp_path / "whole.png")
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:200])
    with pytest.raises(ImageReadError, match="truncated.png: cannot read the image"):
        read_digits(truncated)
    pickled = tmp_path / "object.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageReadError, match="not a readable .npy array"):
        read_digits(pickled)
