"""MNIST test digits drawn as users draw them, read back: MNIST's accuracy kept.

Each test digit is rendered as a picture the way a user makes one (scaled up to
112x112, dark ink on light paper, thicker or thinner strokes, off-centre on a
larger canvas, gray grainy paper, a JPEG) and read back with ``read_digits``.
A pipeline fitted on full MNIST must classify the read-back digits within one
point of the digits as MNIST stores them (three points for thicker or thinner
strokes, see ``TOLERANCE``), and their centre of mass must lie within 0.3 px of
the training digits'.
"""

import numpy as np
import pytest
from PIL import Image, ImageFilter
from scipy import ndimage

from sk_mnist.images import read_digits

N_DIGITS = 500
SIDE = 112


def _paper(digit):
    """Dark on light, scaled up to 112x112 as a drawing or a scan would be."""
    return Image.fromarray(255 - digit).resize((SIDE, SIDE), Image.Resampling.BICUBIC)


def _off_centre(digit, rng):
    canvas = Image.new("L", (200, 160), 255)
    x, y = rng.randint(0, 200 - SIDE), rng.randint(0, 160 - SIDE)
    canvas.paste(_paper(digit), (x, y))
    return canvas


def _gray_grainy(digit, rng):
    """Pencil-gray ink on gray paper with some grain."""
    paper = np.asarray(_paper(digit), dtype=np.float64) / 255
    picture = 60 + 140 * paper + rng.normal(0, 6, paper.shape)
    return Image.fromarray(np.clip(np.rint(picture), 0, 255).astype(np.uint8))


#: name -> function(digit, rng) -> (PIL image, file suffix, save options)
RENDERINGS = {
    "scaled up, dark on light": lambda d, rng: _paper(d),
    "thick strokes": lambda d, rng: _paper(d).filter(ImageFilter.MinFilter(7)),
    "thin strokes": lambda d, rng: _paper(d).filter(ImageFilter.MaxFilter(3)),
    "off-centre on a larger canvas": _off_centre,
    "gray grainy paper": _gray_grainy,
    "JPEG quality 60": lambda d, rng: _gray_grainy(d, rng).convert("RGB"),
}


#: How far below the original digits' accuracy a rendering may score. Thicker or
#: thinner strokes change the digit itself, which the reader, like MNIST, keeps as
#: drawn: what they cost is the network's sensitivity to stroke width, and that
#: varies with the seed (thick strokes: 0.970 against 0.976 with sk_mnist 0.1.0's
#: seeding, 0.952 against 0.978 with today's, same random_state).
TOLERANCE = {"thick strokes": 0.03, "thin strokes": 0.03}


def render_and_read(digits, name, folder, seed=0):
    """Render ``digits`` as picture files one way and read them back."""
    rng = np.random.RandomState(seed)
    suffix, options = (".jpg", {"quality": 60}) if "JPEG" in name else (".png", {})
    read = []
    for i, digit in enumerate(digits):
        path = folder / f"{i}{suffix}"
        RENDERINGS[name](digit, rng).save(path, **options)
        read.append(read_digits(path)[0])
    return np.stack(read)


def centre_of_mass(digits):
    return np.mean([ndimage.center_of_mass(d.astype(np.float64)) for d in digits], 0)


@pytest.fixture(scope="module")
def fitted(mnist):
    """The book's pipeline on the 60000 training digits, 2 epochs, seeded."""
    from sk_mnist import make_mnist_pipeline

    (X_train, y_train), (X_test, y_test) = mnist
    model = make_mnist_pipeline(epochs=2, random_state=0).fit(X_train, y_train)
    return model, X_test[:N_DIGITS], y_test[:N_DIGITS], centre_of_mass(X_train)


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_digits_read_back_keep_mnist_accuracy_and_centre(fitted, name, tmp_path):
    model, digits, labels, train_centre = fitted
    read = render_and_read(digits, name, tmp_path)
    original = model.score(digits, labels)
    read_back = model.score(read, labels)
    print(f"{name}: original {original:.3f}, read back {read_back:.3f}")
    assert read_back >= original - TOLERANCE.get(name, 0.01), (
        name,
        original,
        read_back,
    )
    np.testing.assert_allclose(centre_of_mass(read), train_centre, atol=0.3)
