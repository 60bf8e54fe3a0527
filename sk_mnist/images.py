"""Image files and ``.npy`` arrays turned into MNIST-like 28x28 uint8 digits.

MNIST digits are white on black, fitted into a 20x20 box keeping their aspect
ratio and placed in a 28x28 frame with their centre of mass at the centre.
:func:`to_mnist` does the same to any picture of one digit: grayscale, inverted
when the background is light, the background level removed, cropped to the
digit's bounding box, fitted into 20x20 and centred by its centre of mass.
(Centring the bounding box instead puts a 7 too high: the network trained on
MNIST then reads it as a 3.)
"""

import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError
from scipy import ndimage

__all__ = ["MAX_PIXELS", "ImageReadError", "read_digits", "to_mnist"]

#: Side of an MNIST image and of the box the digit is fitted into.
IMAGE_SIDE = 28
DIGIT_BOX = 20

#: The most pixels a picture file may declare (width times height), checked
#: before it is decoded: 80 megapixels, above the photos of phones and cameras
#: (12 to 61 megapixels) and below Pillow's own decompression-bomb warning.
MAX_PIXELS = 80_000_000

# A picture is first reduced (a JPEG while it is decoded) by a whole factor
# that keeps its longer side at least this long: a digit a twelfth of the
# picture wide still spans 80 pixels, as many as _fit_and_centre keeps.
_WORKING_SIDE = 1024
# A pixel belongs to the digit when it is at least this fraction of the
# brightest pixel, once the background level is removed.
_INK_FRACTION = 0.2
# The background's noise removed with it, in standard deviations.
_NOISE_SIGMAS = 3.0
#: Where MNIST's training digits have their centre of mass (row and column, in
#: index coordinates): 13.996 and 14.007 measured over the 60000.
_CENTRE_OF_MASS = 14.0

# EXIF orientation -> the transpose that puts the picture upright (as
# PIL.ImageOps.exif_transpose does; applied here to the reduced picture).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageReadError(ValueError):
    """Raised when a file cannot be read as a digit image or an image array."""


def _gray_scale_of(image):
    """How much to multiply the gray values of a mode "F" or "I*" picture by.

    Float pictures hold 0..1 or 0..255, 16-bit ones 0..65535 (0..255 are taken
    as they are); the result is 0..255.
    """
    low, high = image.getextrema()  # no copy of the picture
    is_float = image.mode == "F"
    if low >= 0 and high <= 1 and is_float:
        return 255.0
    if low >= 0 and high <= 255:
        return 1.0
    if low >= 0 and high <= 65535 and not is_float:
        return 255.0 / 65535.0
    kind, ranges = ("float", "0..1 or 0..255") if is_float else ("integer", "0..65535")
    raise ImageReadError(
        f"{kind} gray values must lie in {ranges}, got {low:g}..{high:g}; "
        "save the picture with values in one of these ranges"
    )


def _gray(image):
    """Gray values (float32, 0..255) of a PIL image, reduced with Pillow first.

    The picture is reduced by a whole factor (a block average, in its own 8-bit
    or float mode) so that its longer side stays at least ``_WORKING_SIDE``,
    before anything is converted to float: a 48-megapixel photo never becomes
    a 48-megapixel float array. Transparency is composited onto white; the
    EXIF orientation is applied.
    """
    transpose = _UPRIGHT.get(image.getexif().get(ExifTags.Base.Orientation))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "L")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    scale = 1.0
    if image.mode == "F" or image.mode.startswith("I"):
        scale = _gray_scale_of(image)
        image = image.convert("F")
    elif image.mode not in ("L", "LA", "RGBA"):
        image = image.convert("L")
    factor = max(image.size) // _WORKING_SIDE
    if factor > 1:
        image = image.reduce(factor)  # alpha is premultiplied for LA and RGBA
    if image.mode in ("LA", "RGBA"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA")).convert("L")
    if transpose is not None:
        image = image.transpose(transpose)
    gray = np.asarray(image, dtype=np.float32)
    if scale != 1.0:
        gray = gray * np.float32(scale)
    if not np.all(np.isfinite(gray)):
        raise ImageReadError("the picture holds NaN or infinite values")
    return gray


def to_mnist(image):
    """Turn a picture of one digit into a 28x28 uint8 image as MNIST has them.

    MNIST's construction, step by step: grayscale, white digit on black (a
    light background is inverted), the background level and its noise
    removed, the digit's bounding box fitted into 20x20 keeping its aspect
    ratio with anti-aliasing (pillow's Lanczos resampling), and placed in the
    28x28 frame with its centre of mass at row 14, column 14 (index
    coordinates), where MNIST's training digits have theirs (mean 14.00,
    14.01). Fitting and placing are one resampling, so the centre of mass is
    placed to a fraction of a pixel without blurring the digit a second time.

    Parameters
    ----------
    image : PIL.Image.Image or array-like of shape (height, width)
        Any size and mode. An array holds gray values in 0..255. A picture in
        a float mode ("F") holds 0..1 or 0..255, one in a 16-bit mode 0..65535.
        A light background (dark digit on paper) is inverted.

    Returns
    -------
    digit : ndarray of shape (28, 28), dtype uint8
        White digit on black, fitted into 20x20, its centre of mass at
        (14, 14) to a fraction of a pixel.

    Raises
    ------
    ImageReadError
        If the picture is empty, holds no digit (a single gray level), or
        holds values outside the ranges above.

    Examples
    --------
    >>> from PIL import Image, ImageDraw
    >>> from scipy import ndimage
    >>> from sk_mnist.images import to_mnist
    >>> paper = Image.new("L", (112, 112), color=255)
    >>> ImageDraw.Draw(paper).line([(40, 10), (40, 100)], fill=0, width=8)
    >>> digit = to_mnist(paper)
    >>> digit.shape, digit.dtype, digit[0, 0], digit[14, 14]
    ((28, 28), dtype('uint8'), np.uint8(0), np.uint8(255))
    >>> [round(float(c), 1) for c in ndimage.center_of_mass(digit)]
    [14.0, 14.0]
    """
    if isinstance(image, Image.Image):
        gray = _gray(image)
    else:
        gray = np.asarray(image, dtype=np.float32)
        if gray.ndim != 2:
            raise ImageReadError(
                f"expected a 2-D gray image, got an array of shape {gray.shape}"
            )
    if gray.size == 0:
        raise ImageReadError("the image is empty")

    ink = _ink(gray)
    peak = ink.max()
    if peak == 0:
        raise ImageReadError("no digit found: the image has a single gray level")
    rows = np.flatnonzero((ink >= _INK_FRACTION * peak).any(axis=1))
    cols = np.flatnonzero((ink >= _INK_FRACTION * peak).any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] * (255.0 / peak)
    return _fit_and_centre(ink)


def _ink(gray):
    """The digit's ink, white on black, with the background level removed.

    The background is the median of the border; its noise (the border's
    median absolute deviation, as a standard deviation) is removed with it, so
    a grainy gray paper leaves no haze around the digit.
    """
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    background = float(np.median(border))
    if background > 127.5:  # dark digit on light paper: make it white on black
        gray, border, background = 255.0 - gray, 255.0 - border, 255.0 - background
    noise = 1.4826 * float(np.median(np.abs(border - background)))
    return np.clip(gray - background - _NOISE_SIGMAS * noise, 0.0, None)


def _fit_and_centre(ink):
    """Resample the cropped ink into 28x28: longer side 20, mass at (14, 14)."""
    factor = max(ink.shape) // (4 * DIGIT_BOX)
    if factor > 1:  # a big photo: first an exact block average, to keep memory low
        ink = np.asarray(Image.fromarray(ink.astype(np.float32)).reduce(factor))
    step = max(ink.shape) / DIGIT_BOX  # source pixels per MNIST pixel
    centre = ndimage.center_of_mass(ink)
    # Zeros around the crop, so the resampling box never leaves the picture.
    pad = int(np.ceil(IMAGE_SIDE * step)) + 2
    padded = np.pad(ink.astype(np.float32), pad)
    # Output pixel j covers source [x0 + j*step, x0 + (j+1)*step] (pixel
    # edges); its centre x0 + (j + 0.5)*step lands on the mass's centre
    # (index c, edge coordinate c + 0.5) for j = 14, unless that would cut
    # the digit at the frame's edge.
    top, left = (
        pad + np.clip(c + 0.5 - (_CENTRE_OF_MASS + 0.5) * step, n - side_step, 0.0)
        for c, n, side_step in zip(centre, ink.shape, 2 * [IMAGE_SIDE * step])
    )
    side = IMAGE_SIDE * step
    fitted = Image.fromarray(padded).resize(
        (IMAGE_SIDE, IMAGE_SIDE),
        Image.Resampling.LANCZOS,
        box=(left, top, left + side, top + side),
    )
    return np.clip(np.rint(np.asarray(fitted)), 0, 255).astype(np.uint8)


def _read_npy(path):
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{path}: not a readable .npy array ({exc})") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ImageReadError(f"{path}: is an .npz archive; save one array with .npy")
    if array.shape[-2:] != (IMAGE_SIDE, IMAGE_SIDE) or array.ndim not in (2, 3):
        raise ImageReadError(
            f"{path}: expected an array of shape (28, 28) or (n, 28, 28), "
            f"got {array.shape}"
        )
    if array.size == 0:
        raise ImageReadError(
            f"{path}: expected at least one 28x28 image, got an empty array of "
            f"shape {array.shape}"
        )
    array = array.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if not (np.issubdtype(array.dtype, np.number) and np.isrealobj(array)):
        raise ImageReadError(f"{path}: expected numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 255:
        raise ImageReadError(f"{path}: pixel values must lie in 0..255 as in MNIST")
    if np.issubdtype(array.dtype, np.floating) and 0 < array.max() <= 1:
        raise ImageReadError(
            f"{path}: values look scaled to 0..1; save the 0..255 pixel values"
        )
    return np.rint(array).astype(np.uint8)


def read_digits(path):
    """Read an image file or a ``.npy`` array as MNIST-like digits.

    Parameters
    ----------
    path : str or os.PathLike
        An image file pillow reads (PNG, JPEG, TIFF, ...; one digit, at most
        ``MAX_PIXELS`` pixels, any mode, converted with :func:`to_mnist`; float
        pictures hold 0..1 or 0..255, 16-bit ones 0..65535) or a ``.npy`` file
        holding an array of shape (28, 28) or (n, 28, 28) with values in
        0..255 (floats in 0..1 are refused as ambiguous), used as it is.

    Returns
    -------
    digits : ndarray of shape (n, 28, 28), dtype uint8
        One image for an image file, n for an array of n images.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ImageReadError
        If the file is neither a readable image nor a suitable array, is
        empty, or declares more than ``MAX_PIXELS`` pixels.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image, ImageDraw
    >>> from sk_mnist.images import read_digits
    >>> paper = Image.new("L", (112, 112), 255)  # a dark 1 on white paper
    >>> ImageDraw.Draw(paper).line([(56, 15), (56, 95)], fill=0, width=9)
    >>> path = os.path.join(tempfile.mkdtemp(), "one.png")
    >>> paper.save(path)
    >>> digits = read_digits(path)
    >>> digits.shape, digits.dtype.name, int(digits.max())
    ((1, 28, 28), 'uint8', 255)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    try:
        with warnings.catch_warnings():  # a bomb is refused below, not warned of
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file pillow can read") from None
    except Image.DecompressionBombError:  # Pillow's own limit, twice ours
        raise ImageReadError(_too_large(path, Image.MAX_IMAGE_PIXELS * 2)) from None
    with image:
        if image.width * image.height > MAX_PIXELS:  # before decoding
            raise ImageReadError(_too_large(path, image.width * image.height, image))
        try:
            factor = max(image.size) // _WORKING_SIDE
            if image.format == "JPEG" and factor > 1:  # decoded reduced, in gray
                # At least a pixel: a JPEG thinner than the factor is no error.
                size = (max(1, image.width // factor), max(1, image.height // factor))
                image.draft("L", size)
            image.load()
            return to_mnist(image)[np.newaxis]
        except ImageReadError as exc:
            raise ImageReadError(f"{path}: {exc}") from None
        except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt
            raise ImageReadError(f"{path}: cannot read the image ({exc})") from None


def _too_large(path, pixels, image=None):
    size = (
        f"{image.width}x{image.height} = {pixels} pixels"
        if image
        else (f"more than {pixels} pixels")
    )
    return (
        f"{path}: the picture declares {size}, more than the {MAX_PIXELS} "
        "read_digits accepts; scale it down (a digit needs no more than a few "
        "hundred pixels a side)"
    )
