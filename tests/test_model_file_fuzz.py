"""Damaged model files: every load gives the same model or a ModelFormatError.

A seeded loop flips bytes in and truncates a real (small) model file, and
edits the bytes of its manifest and array headers behind a valid zip (so the
CRC does not catch them and the decoder has to). No other exception may
escape ``load``, and a file that loads must predict as the original does.
"""

import io
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_mnist import MNISTClassifier, ModelFormatError, dump, load

SEED = 0


@pytest.fixture(scope="module")
def original(blobs, tmp_path_factory):
    X, y = blobs
    model = Pipeline(
        [
            ("std", StandardScaler()),
            ("classifier", MNISTClassifier(hidden_units=16, epochs=3, random_state=0)),
        ]
    ).fit(X, y)
    path = dump(model, tmp_path_factory.mktemp("fuzz") / "model.skmnist")
    return path.read_bytes(), X, model.predict_proba(X)


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _same_model_or_refused(data, path, X, expected):
    """Load ``data``; it is refused with ModelFormatError or predicts as before.

    Returns whether it loaded.
    """
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an edited version string warns
        try:
            model = load(path)
        except ModelFormatError:
            return False
        np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-6)
    return True


def _flip(data, rng, positions):
    """Change the bytes at ``positions`` to other bytes."""
    data = bytearray(data)
    for position in positions:
        data[position] ^= rng.randint(1, 256)
    return bytes(data)


# What a manifest (JSON) and a .npy header (a Python literal) are made of.
_TEXT = b"0123456789-.eE+ ,:[]{}()\"'truefalsnu<>|fibU_x"


def _edit(data, rng, positions):
    """Change the bytes at ``positions`` to characters of JSON or a literal."""
    data = bytearray(data)
    for position in positions:
        data[position] = _TEXT[rng.randint(len(_TEXT))]
    return bytes(data)


def test_flipped_bytes_and_truncations(original, tmp_path):
    data, X, expected = original
    rng = np.random.RandomState(SEED)
    path = tmp_path / "damaged.skmnist"
    for _ in range(150):
        positions = rng.randint(0, len(data), size=rng.randint(1, 4))
        _same_model_or_refused(_flip(data, rng, positions), path, X, expected)
    for length in rng.randint(0, len(data), size=30):
        assert not _same_model_or_refused(data[:length], path, X, expected)


@pytest.mark.parametrize("member", ["manifest.json", "arrays/"])
def test_edited_members_behind_a_valid_zip(original, tmp_path, member):
    """The manifest's bytes or the .npy headers edited, the zip's CRC made right."""
    data, X, expected = original
    members = _members(data)
    names = [name for name in members if name.startswith(member)]
    rng = np.random.RandomState(SEED)
    path = tmp_path / "edited.skmnist"
    loaded = 0
    for _ in range(150 if member == "manifest.json" else 50):
        name = names[rng.randint(len(names))]
        content = members[name]
        end = len(content) if member == "manifest.json" else 128  # .npy header
        positions = rng.randint(0, end, size=rng.randint(1, 3))
        edited = dict(members, **{name: _edit(content, rng, positions)})
        loaded += _same_model_or_refused(_zip(edited), path, X, expected)
    print(f"{member}: {loaded} edited files loaded and predicted as before")
