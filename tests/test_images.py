"""Image files and .npy arrays become MNIST-like 28x28 uint8 digits."""

import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageDraw, ImageOps
from scipy import ndimage

import sk_mnist
from sk_mnist.images import (
    MAX_PIXELS,
    ImageReadError,
    _fit_and_centre,
    _ink,
    read_digits,
    to_mnist,
)


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
    palette = Image.new("P", (112, 112), 0)  # colour 0: black, transparent
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    ImageDraw.Draw(palette).line([(30, 20), (80, 20), (50, 95)], fill=1, width=9)
    np.testing.assert_allclose(to_mnist(palette), to_mnist(draw_seven()), atol=2)


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
    array.flat[:2] = 0, 255  # both ends of the range
    path = tmp_path / "digits.npy"
    np.save(path, array)
    digits = read_digits(path)
    assert digits.dtype == np.uint8
    np.testing.assert_array_equal(digits, array.reshape(-1, 28, 28))


@pytest.mark.parametrize(
    "array",
    [np.zeros((28, 28)), np.full((28, 28), 1.5), np.eye(28, dtype=np.uint8)],
)  # (whole numbers up to 1 are not scaled floats)
def test_float_npy_arrays_not_scaled_to_0_1_are_used(tmp_path, array):
    np.save(tmp_path / "floats.npy", array)
    np.testing.assert_array_equal(
        read_digits(tmp_path / "floats.npy")[0], np.rint(array).astype(np.uint8)
    )


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((28, 27)), r"shape \(28, 28\) or \(n, 28, 28\), got \(28, 27\)"),
        (np.zeros((2, 784)), r"got \(2, 784\)"),
        (np.full((28, 28), 300.0), "0..255"),
        (np.full((28, 28), np.nan), "0..255"),
        (np.full((28, 28), 0.5), "scaled to 0..1"),
        (np.eye(28), "scaled to 0..1"),  # a maximum of exactly 1
        (np.full((28, 28), 256, np.uint16), "0..255"),  # not wrapped round to 0
        (np.full((28, 28), -1, np.int16), "0..255"),
        (np.zeros((0, 28, 28)), r"empty.npy: expected at least one 28x28 image"),
        (np.full((28, 28), "x"), "expected numbers"),
        (np.zeros((28, 28), complex), "expected numbers, got dtype complex128"),
        (np.eye(28, dtype=np.float32), "scaled to 0..1"),  # any float type
    ],
)
def test_unsuitable_npy_arrays_are_refused(tmp_path, array, message):
    path = tmp_path / ("empty.npy" if array.size == 0 else "bad.npy")
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
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as file:
        np.savez(file, digits=np.zeros((28, 28)))
    with pytest.raises(ImageReadError, match="archive.npy: is an .npz archive"):
        read_digits(archive)
    pickled = tmp_path / "object.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageReadError, match="not a readable .npy array"):
        read_digits(pickled)


# --- sizes declared, memory, value ranges, orientation, ink and grain ------------


def png_declaring(width, height):
    """A PNG file's first bytes, declaring ``width`` x ``height``: no pixels."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "width, height, said",
    [
        (20000, 20000, "more than 178956970 pixels"),  # Pillow's own error
        (10000, 9500, "10000x9500 = 95000000 pixels"),  # Pillow's warning
        (9000, 9000, "9000x9000 = 81000000 pixels"),  # over MAX_PIXELS only
    ],
)
def test_a_picture_declaring_too_many_pixels_is_refused_before_decoding(
    tmp_path, width, height, said
):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(width, height))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(ImageReadError, match="bomb.png: the picture declares"):
            read_digits(path)
    with pytest.raises(ImageReadError) as error:
        read_digits(path)
    assert said in str(error.value) and f"{MAX_PIXELS}" in str(error.value)
    assert str(error.value).endswith(  # what to do
        "read_digits accepts; scale it down (a digit needs no more than a few "
        "hundred pixels a side)"
    )


def test_a_picture_of_max_pixels_is_read(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_declaring(10000, MAX_PIXELS // 10000))  # declared only
    with pytest.raises(ImageReadError, match="big.png: cannot read the image"):
        read_digits(path)  # past the size check, then no pixel data


_PEAK_MEMORY = """
import sys
from sk_mnist.images import read_digits

def peak_mib():  # this process's own peak: ru_maxrss also counts its parent's
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

before = peak_mib()
digit = read_digits(sys.argv[1])[0]
print(peak_mib() - before, digit.tobytes().hex())
"""


@pytest.fixture(scope="module")
def photos_48_megapixels(tmp_path_factory):
    """A 7 on white, 8000x6000: a colour JPEG and a gray PNG."""
    folder = tmp_path_factory.mktemp("photos")
    photo = Image.new("RGB", (8000, 6000), "white")
    ImageDraw.Draw(photo).line([(3000, 1000), (5000, 1000), (3800, 4800)], "black", 300)
    photo.save(folder / "photo.jpg", quality=90)
    photo.convert("L").save(folder / "photo.png", compress_level=1)
    return folder


@pytest.mark.parametrize("name, budget_mib", [("photo.jpg", 100), ("photo.png", 150)])
def test_a_48_megapixel_photo_is_read_in_little_memory(
    photos_48_megapixels, name, budget_mib
):
    # Peak resident memory of read_digits in a fresh process, above what the
    # process held before: 55 and 65 MiB measured (1.6 and 1.5 GiB before the
    # pictures were reduced in Pillow first). Not decoding the JPEG reduced
    # takes 231 MiB; not reducing the PNG before the float copy 781 MiB.
    # The process imports the very sk_mnist this test imported (under mutmut,
    # the mutated one) and reads the digit this process reads.
    package_root = Path(sk_mnist.__file__).parents[1]
    path = os.pathsep.join([str(package_root), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY, str(photos_48_megapixels / name)],
        capture_output=True, text=True, check=True,
        env=dict(os.environ, PYTHONPATH=path),
    )  # fmt: skip
    peak_mib, digit = done.stdout.split()
    assert bytes.fromhex(digit) == read_digits(photos_48_megapixels / name).tobytes()
    assert float(peak_mib) < budget_mib, peak_mib


def test_a_big_photo_reads_as_its_small_version(photos_48_megapixels):
    small = Image.open(photos_48_megapixels / "photo.png").resize((800, 600))
    for name in ("photo.jpg", "photo.png"):
        digit = read_digits(photos_48_megapixels / name)[0]
        reference = to_mnist(small)
        assert np.abs(digit.astype(int) - reference).max() <= 25, name
        assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.995, name


def seven_as_floats():
    return np.asarray(draw_seven(mode="L"), dtype=np.float32)


@pytest.mark.parametrize("scale", [1 / 255, 1.0])
def test_float_pictures_in_0_1_or_0_255(tmp_path, scale):
    path = tmp_path / "seven.tif"
    Image.fromarray(seven_as_floats() * np.float32(scale), mode="F").save(path)
    reference = to_mnist(draw_seven(mode="L"))
    np.testing.assert_allclose(read_digits(path)[0], reference, atol=1)


@pytest.mark.parametrize(
    "values, said",
    [
        (
            lambda gray: gray * 2,
            r"float gray values must lie in 0..1 or 0..255, got 0..510",
        ),
        (lambda gray: gray - 1, "got -1..254"),
        (lambda gray: gray + 0.5, "got 0.5..255.5"),  # just above 0..255
        (lambda gray: np.where(gray > 100, np.nan, 0), "got nan..nan"),
        (lambda gray: np.where(gray > 100, np.inf, 0), "got 0..inf"),
        (lambda gray: np.where(gray < 100, np.nan, gray), "NaN or infinite"),
    ],
)
def test_float_pictures_out_of_range_are_refused(tmp_path, values, said):
    path = tmp_path / "odd.tif"
    Image.fromarray(values(seven_as_floats()).astype(np.float32), mode="F").save(path)
    with pytest.raises(ImageReadError, match=said) as error:
        read_digits(path)
    assert str(error.value).startswith(str(path) + ": ")
    assert str(error.value).endswith(
        "save the picture with values in one of these ranges"
        if "gray values" in said or "got" in said
        else ": the picture holds NaN or infinite values"
    )


def test_16_bit_pictures_use_their_whole_range(tmp_path):
    path = tmp_path / "seven16.png"
    wide = (np.asarray(draw_seven(mode="L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(path)
    assert Image.open(path).mode.startswith("I")
    reference = to_mnist(draw_seven(mode="L"))
    np.testing.assert_allclose(read_digits(path)[0], reference, atol=1)
    # Dark paper (20000 of 65535, 78 of 255) with a light digit: not inverted.
    dark = np.asarray(draw_seven(mode="L", ink=255, paper=78), dtype=np.uint16) * 257
    Image.fromarray(dark.astype(np.uint16)).save(path)
    np.testing.assert_allclose(read_digits(path)[0], reference, atol=1)


# Upright -> the picture a camera stores with this EXIF orientation tag.
_STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize(
    "orientation, size",  # a big one is reduced before it is turned upright
    [(orientation, 112) for orientation in sorted(_STORED_AS)] + [(5, 2600), (6, 2600)],
)
def test_exif_orientation_is_applied(tmp_path, orientation, size):
    upright = draw_seven(mode="L").resize((size, size * 3 // 4))
    stored = upright.transpose(_STORED_AS[orientation])
    # Pillow's own reading of the tag agrees with the table above.
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = tmp_path / "photo.png"
    stored.save(path, exif=exif)
    with Image.open(path) as image:
        assert ImageOps.exif_transpose(image).tobytes() == upright.tobytes()
    expected = to_mnist(upright)
    np.testing.assert_array_equal(read_digits(path)[0], expected)
    assert not np.array_equal(to_mnist(stored), expected)  # the tag matters


def test_faint_marks_below_a_fifth_of_the_ink_are_not_part_of_the_digit():
    def picture(mark):
        image = np.zeros((200, 200), np.float32)
        image[40:160, 90:110] = 250  # a 1
        image[180:190, 20:30] = mark  # a mark outside the 1's box
        return image

    alone = to_mnist(picture(0))
    np.testing.assert_array_equal(to_mnist(picture(0.18 * 250)), alone)
    with_mark = to_mnist(picture(0.22 * 250))  # part of the digit: a wider box
    fifth = to_mnist(picture(50))  # exactly a fifth: part of the digit too
    assert np.abs(fifth.astype(int) - with_mark).max() <= 10  # the same crop
    assert bounding_box(with_mark)[3] - bounding_box(with_mark)[2] > 10
    assert bounding_box(alone)[3] - bounding_box(alone)[2] < 6


def test_paper_grain_is_removed_to_three_standard_deviations():
    # Paper at 50 with a grain of +-10 (median absolute deviation 10: a
    # standard deviation of 14.8, three of them 44.5), a bright ring at 250.
    # Inside it, gray 4 deviations above the paper (40 < 44.5) is grain and
    # goes; 5 deviations (50 > 44.5) is ink and stays.
    rows, cols = np.indices((400, 400))
    image = np.where((rows + cols) % 2, 40.0, 60.0)
    # Dust: a fifth of the border's 60s at 110. The median (50) and the median
    # absolute deviation (10) do not move; the mean (55) and the mean absolute
    # deviation (15) would.
    border = (rows == 0) | (rows == 399) | (cols == 0) | (cols == 399)
    image.flat[np.flatnonzero((border & (image == 60)).ravel())[::5]] = 110
    radius = np.hypot(rows - 199.5, cols - 199.5)
    image[(radius >= 150) & (radius < 180)] = 250
    inside = radius < 150
    image[inside & (cols < 200)] = 50 + 40
    image[inside & (cols >= 200)] = 50 + 50
    digit = to_mnist(image)
    assert digit[12:17, 9:11].max() == 0  # grain: removed
    assert 4 <= digit[12:17, 17:19].min() <= digit[12:17, 17:19].max() <= 14  # ink


@pytest.mark.parametrize("paper, ink", [(115, 250), (140, 10)])
def test_paper_lighter_than_mid_gray_is_inverted_darker_is_not(paper, ink):
    reference = to_mnist(draw_seven(mode="L", ink=255, paper=0))
    digit = to_mnist(draw_seven(mode="L", ink=ink, paper=paper))
    assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.95


def test_a_small_digit_in_a_big_picture_keeps_its_detail():
    # A 7 drawn 300 pixels high with thin strokes, on a 4000x3000 picture: reduced
    # to a 1024-pixel picture first, it still spans 100 pixels before being fitted.
    seven = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(seven).line([(60, 40), (240, 40), (120, 270)], fill=0, width=14)
    big = Image.new("L", (4000, 3000), 255)
    big.paste(seven, (2100, 1300))
    digit, reference = to_mnist(big), to_mnist(seven)
    # Measured: correlation 0.991, mean difference 1.7 of 255; reduced to 512 or
    # 256 pixels first, 0.955 and 0.974, 3.9 and 3.8.
    assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.985
    assert np.abs(digit.astype(int) - reference).mean() < 2.5


# --- each rule at its edge: mutation testing (CONTRIBUTING.md) found these unchecked --


def test_integer_pictures_beyond_16_bits_are_refused(tmp_path):
    path = tmp_path / "wide.tif"
    gray = np.asarray(draw_seven(mode="L"), dtype=np.int32) * 257
    Image.fromarray(gray + 1).save(path)  # 1..65536: one above 16 bits
    assert Image.open(path).mode == "I"
    with pytest.raises(ImageReadError) as error:
        read_digits(path)
    assert str(error.value) == (
        f"{path}: integer gray values must lie in 0..65535, got 1..65536; "
        "save the picture with values in one of these ranges"
    )


def picture(mode, digit, paper, size=112):
    """A 7 of gray ``digit`` on ``paper``, as an Image of ``mode`` ("F", "I;16")."""
    ink = np.asarray(draw_seven(mode="L", ink=255, paper=0, size=size)) / 255.0
    gray = paper + ink * (digit - paper)
    if mode == "F":
        return Image.fromarray(gray.astype(np.float32), mode="F")
    image = Image.fromarray(np.rint(gray).astype(np.uint16))
    assert image.mode == mode
    return image


@pytest.mark.parametrize(
    "mode, digit, paper",
    [
        ("F", 2.0, 1.0),  # above 1: 0..255, a dark paper, a darker-still digit
        ("F", 1.0, 0.499),  # 0..1: the paper is 127.2 of 255, just dark
        ("F", 255.0, 100.0),  # 0..255: the paper is dark (100), kept as it is
        ("I;16", 65535, 32767),  # the paper is 127.498 of 255: dark
        ("I;16", 0, 32768),  # the paper is 127.502 of 255: light, inverted
    ],
)
def test_wide_pictures_are_scaled_to_0_255_before_mid_gray_decides(mode, digit, paper):
    # Float pictures in 0..1 are multiplied by 255, 16-bit ones by 255/65535,
    # float ones above 1 and 8-bit values kept: mid-gray (127.5 of 255) then
    # decides which side is the paper, exactly as for an 8-bit picture.
    reference = to_mnist(draw_seven(mode="L"))
    np.testing.assert_allclose(to_mnist(picture(mode, digit, paper)), reference, atol=1)


def test_a_big_picture_is_halved_first_as_its_docstring_says(tmp_path):
    # 2048 pixels and more: reduced by 2 (a block average) before anything else.
    big = draw_seven(mode="L", size=2100)
    np.testing.assert_array_equal(to_mnist(big), to_mnist(big.reduce(2)))
    path = tmp_path / "seven16.png"  # 16-bit: reduced as a float picture
    Image.fromarray(np.asarray(big, dtype=np.uint16) * 257).save(path)
    np.testing.assert_allclose(read_digits(path)[0], to_mnist(big), atol=1)


@pytest.mark.parametrize("mode", ["LA", "PA"])
def test_transparent_gray_and_palette_pictures_count_as_white_paper(mode):
    # Black everywhere; opaque only on the 7's stroke.
    opaque = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(opaque).line([(30, 20), (80, 20), (50, 95)], fill=255, width=9)
    image = Image.new(mode[0], (112, 112), 0)
    if mode == "PA":
        image.putpalette([0, 0, 0] * 256)
    image.putalpha(opaque)
    assert image.mode == mode
    np.testing.assert_allclose(to_mnist(image), to_mnist(draw_seven()), atol=2)


def test_palette_pictures_without_transparency_read_as_gray():
    colours = draw_seven(mode="RGB", ink=(200, 30, 90), paper=(250, 240, 180))
    palette = colours.convert("P")
    assert "transparency" not in palette.info
    np.testing.assert_array_equal(
        to_mnist(palette), to_mnist(palette.convert("RGB").convert("L"))
    )


def frame(height, width, paper_edges, bright_edges):
    """A picture whose outermost edges and next-inner edges are set one by one.

    Edges are "top", "bottom", "left", "right" (outermost) and "top2", ...
    (the row or column just inside). ``paper_edges`` are 0, ``bright_edges`` 255,
    set in that order; the rest is 0.
    """
    gray = np.zeros((height, width), np.float32)
    where = {
        "top": np.s_[0, :], "bottom": np.s_[-1, :],
        "left": np.s_[1:-1, 0], "right": np.s_[1:-1, -1],
        "top2": np.s_[1, :], "bottom2": np.s_[-2, :],
        "left2": np.s_[1:-1, 1], "right2": np.s_[1:-1, -2],
    }  # fmt: skip
    for edge in bright_edges:
        gray[where[edge]] = 255
    for edge in paper_edges:
        gray[where[edge]] = 0
    return gray


@pytest.mark.parametrize(
    "gray",
    [
        # Wide: the top and bottom rows are most of the border. Taking the row
        # just inside instead of either makes the median 255 (inverted).
        frame(6, 100, ["top", "bottom"], ["top2", "bottom2", "left", "right"]),
        # Tall: the same for the left and right columns.
        frame(100, 6, ["left", "right"], ["left2", "right2", "top", "bottom"]),
        # Tall, the left column dark and the right one bright: leaving out the
        # left column (a slice left empty) makes the median 255.
        frame(100, 6, ["left", "top", "bottom"], ["right"]),
        frame(100, 6, ["right", "top", "bottom"], ["left"]),
    ],
)
def test_the_background_is_the_median_of_the_outermost_pixels(gray):
    # The border holds more 0 than 255: dark paper, the bright pixels are ink,
    # as they are (no noise on the border: nothing more removed).
    np.testing.assert_array_equal(_ink(gray), gray)


@pytest.mark.parametrize(
    "paper, digit, inverted",
    [
        ([127, 128], 255, False),  # a median of exactly 127.5 is not light
        ([128, 128], 0, True),  # 128 is
        ([127, 127], 255, False),
    ],
)
def test_mid_gray_paper_at_the_edge(paper, digit, inverted):
    rows, cols = np.indices((60, 60))
    gray = np.where((rows + cols) % 2, *paper).astype(np.float32)
    gray[10:50, 28:32] = digit
    ink = _ink(gray)
    assert ink[30, 30] > 100 and ink[0, 0] == 0
    background = np.mean(paper)
    noise = 1.4826 * abs(paper[0] - background)
    expected = abs(digit - background) - 3 * noise
    np.testing.assert_allclose(ink[30, 30], expected, rtol=1e-6)
    assert (ink[30, 30] > 0) and inverted == (digit < background)


def test_ink_on_light_paper_is_measured_from_the_paper():
    # Paper at 200 (uniform: no noise), a digit at 100: ink 100 exactly, the
    # paper 0, a speck darker than... lighter than the paper 0, not negative.
    gray = np.full((40, 40), 200.0, np.float32)
    gray[10:30, 18:22] = 100
    gray[35, 35] = 230
    ink = _ink(gray)
    assert ink[20, 20] == 100 and ink[0, 0] == 0 and ink[35, 35] == 0
    assert ink.min() == 0


def two_tone_bar():
    """A bar 40x10 on black, its top half at 255, its bottom half at 200."""
    gray = np.zeros((60, 60), np.float32)
    gray[10:30, 20:30] = 255
    gray[30:50, 20:30] = 200
    return gray


def test_the_digit_is_resampled_to_the_pixel_as_recorded():
    # Pins the whole construction to the pixel: the crop (not one row or
    # column more or less), the scale to 0..255, the Lanczos fit into 20x20 and
    # the placing. Made by to_mnist(two_tone_bar()) with Pillow 13.0; if another
    # Pillow's Lanczos moves a pixel by 1, look at the change, then remake it:
    # np.save("tests/data/two_tone_bar.mnist.npy", to_mnist(two_tone_bar())).
    recorded = np.load(Path(__file__).parent / "data" / "two_tone_bar.mnist.npy")
    np.testing.assert_array_equal(to_mnist(two_tone_bar()), recorded)
    top, bottom, left, right = bounding_box(recorded, level=100)
    assert (bottom - top + 1, right - left + 1) == (20, 5)  # 40x10 halved
    # Faint ink (under a fifth of the peak) just beside the crop stays out of it.
    faint = two_tone_bar()
    faint[10:50, [19, 30]] = 40
    np.testing.assert_array_equal(to_mnist(faint), recorded)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 2), (3, 2)])
def test_a_dot_is_placed_symmetric_about_the_centre_pixel(shape):
    # The smallest digits: resampled within zeros all round (the padding),
    # their centre on pixel (14, 14), the same on either side of it.
    gray = np.zeros((30, 30), np.float32)
    gray[10 : 10 + shape[0], 12 : 12 + shape[1]] = 255
    digit = to_mnist(gray).astype(int)
    assert digit[14, 14] == digit.max() > 0
    np.testing.assert_array_equal(digit[1:14], digit[27:14:-1])
    np.testing.assert_array_equal(digit[:, 1:14], digit[:, 27:14:-1])


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 5)), "the image is empty"),
        (np.zeros((1, 1)), "no digit found: the image has a single gray level"),
    ],
)
def test_empty_and_single_pixel_images(image, message):
    with pytest.raises(ImageReadError) as error:
        to_mnist(image)
    assert str(error.value) == message


@pytest.mark.parametrize("flip", [False, True])
def test_a_lopsided_digit_is_kept_whole_inside_the_frame(flip):
    # A heavy head and a long tail, 20 pixels tall: centring the mass would
    # push the tail out of the 28x28 frame (or, upside down, the head's top
    # row); it is placed against the edge instead, every row of it kept.
    gray = np.zeros((20, 20), np.float32)
    gray[:5] = 255  # the head
    gray[5:, 9:11] = 255  # the tail
    digit = to_mnist(np.flipud(gray) if flip else gray)
    top, bottom, _, _ = bounding_box(digit, level=100)
    assert bottom - top + 1 == 20
    assert (top, bottom) == ((0, 19) if flip else (8, 27))


def test_a_big_crop_is_block_averaged_by_its_size_over_80_first():
    # A digit 180 pixels tall is first reduced by 180 // 80 = 2 (an exact block
    # average), then fitted: the same digit as from its half-size version.
    rows, cols = np.indices((180, 120))
    ink = np.where(np.hypot(rows - 90, (cols - 60) * 1.5) < 85, 255.0, 0.0)
    ink = ink.astype(np.float32)
    half = np.asarray(Image.fromarray(ink).reduce(2))
    np.testing.assert_array_equal(_fit_and_centre(ink), _fit_and_centre(half))


# --- A big JPEG is decoded reduced and in gray (memory, not pixels) ---------------


@pytest.mark.parametrize(
    "width, height, decoded",
    [
        (1500, 1000, ("RGB", (1500, 1000))),  # factor 1: decoded whole
        (2100, 1500, ("L", (1050, 750))),  # factor 2
        (3100, 2000, ("L", (1550, 1000))),  # factor 3: the decoder halves
        (4200, 3000, ("L", (1050, 750))),  # factor 4
    ],
)
def test_a_big_jpeg_is_decoded_reduced_and_in_gray(
    tmp_path, monkeypatch, width, height, decoded
):
    # What Pillow's JPEG decoder is asked to make: a drafted JPEG decodes at
    # 1/2, 1/4 or 1/8 of its size, gray (a third of the bytes). The digit is
    # the same either way (to a gray level): only memory tells, which this
    # process cannot measure per call (the 48-megapixel test does, in a budget).
    from PIL import JpegImagePlugin

    path = tmp_path / "seven.jpg"
    photo = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(photo).line(
        [(width // 3, height // 5), (2 * width // 3, height // 5),
         (width // 2, 4 * height // 5)], "black", width // 25,
    )  # fmt: skip
    photo.save(path, quality=85)
    seen, load = [], JpegImagePlugin.JpegImageFile.load

    def spying_load(self):
        seen.append((self.mode, self.size))
        return load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spying_load)
    digit = read_digits(path)[0]
    assert seen[0] == decoded
    assert digit.max() == 255 and 50 < np.count_nonzero(digit) < 400  # a 7 drawn


def test_only_the_decompression_bomb_warning_is_hidden(tmp_path, monkeypatch):
    # A picture over Pillow's warning size is refused with our own message (see
    # above); any other warning Pillow gives while opening a file is the user's.
    path = tmp_path / "seven.png"
    draw_seven(mode="L").save(path)
    open_image = Image.open

    def warning_open(*args, **kwargs):
        warnings.warn("Pillow's other warning", UserWarning, stacklevel=2)
        return open_image(*args, **kwargs)

    monkeypatch.setattr(Image, "open", warning_open)
    with pytest.warns(UserWarning, match="Pillow's other warning"):
        read_digits(path)


@pytest.mark.parametrize("size", [(9000, 6), (6, 9000)])
def test_a_jpeg_thinner_than_its_reduction_reads_as_its_png(tmp_path, size):
    # Drafted to 1/8 a side, 6 pixels are less than one: asked for one pixel,
    # not zero (Pillow's ZeroDivisionError before).
    photo = Image.new("RGB", size, "white")
    long_side = max(size)
    box = (4000, 0, 5000, 6) if size[0] == long_side else (0, 4000, 6, 5000)
    ImageDraw.Draw(photo).rectangle(box, fill="black")
    photo.save(tmp_path / "dash.jpg", quality=95)
    photo.save(tmp_path / "dash.png")
    from_jpeg = read_digits(tmp_path / "dash.jpg")[0].astype(int)
    from_png = read_digits(tmp_path / "dash.png")[0].astype(int)
    assert from_png.max() > 20  # a faint dash, 1000 of 9000 pixels long
    assert np.abs(from_jpeg - from_png).max() <= 10
