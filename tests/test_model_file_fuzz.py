"""Damaged model files: every load gives the same model or a ModelFormatError.

Hostile ones cost at most ``max_bytes`` more memory than a valid one.

A seeded loop flips bytes in and truncates a real (small) model file, and
edits the bytes of its manifest and array headers, and of the schema and array
headers inside its skops member (its StandardScaler), behind valid zips (so the
CRC does not catch them and the decoder has to). No other exception may
escape ``load``, and a file that loads must predict as the original does.
"""

import io
import json
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_mnist import (
    MNISTClassifier,
    ModelFormatError,
    dump,
    load,
    make_mnist_pipeline,
)

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


@pytest.mark.parametrize(
    "member",
    ["manifest.json", "arrays/", "skops-/schema.json", "skops-/.npy"],
)
def test_edited_members_behind_a_valid_zip(original, tmp_path, member):
    """The manifest's bytes or the .npy headers edited, the zip's CRC made right.

    ``skops-/...``: the same inside the skops member, both zips made right.
    """
    data, X, expected = original
    members = _members(data)
    outer, _, inner = member.partition("/")
    names = [name for name in members if name.startswith(outer)]
    assert names
    rng = np.random.RandomState(SEED)
    path = tmp_path / "edited.skmnist"
    loaded = 0
    for _ in {"manifest.json": range(150), "arrays/": range(50)}.get(member, range(30)):
        name = names[rng.randint(len(names))]
        if inner:  # a member of the skops archive
            skops_members = _members(members[name])
            inner_names = [n for n in skops_members if n.endswith(inner)]
            inner_name = inner_names[rng.randint(len(inner_names))]
            content = skops_members[inner_name]
            end = len(content) if inner == "schema.json" else 128
            positions = rng.randint(0, end, size=rng.randint(1, 3))
            skops_members[inner_name] = _edit(content, rng, positions)
            edited = dict(members, **{name: _zip(skops_members)})
        else:
            content = members[name]
            end = len(content) if member == "manifest.json" else 128  # .npy header
            positions = rng.randint(0, end, size=rng.randint(1, 3))
            edited = dict(members, **{name: _edit(content, rng, positions)})
        loaded += _same_model_or_refused(_zip(edited), path, X, expected)
    print(f"{member}: {loaded} edited files loaded and predicted as before")


# --- What a hostile file can make load allocate ---------------------------------

MAX_BYTES = 64_000_000  # 20 times what the book's pipeline unpacks to

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, tracemalloc, warnings
    import keras  # imported before measuring, as in a process that used it already
    from sk_mnist import ModelFormatError, load

    warnings.simplefilter("ignore")
    max_bytes, paths, results = int(sys.argv[1]), sys.argv[2:], []
    tracemalloc.start()
    for path in paths:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            load(path, max_bytes=max_bytes)
            outcome = "loaded"
        except ModelFormatError as exc:
            outcome = str(exc)
        peak = tracemalloc.get_traced_memory()[1] - before
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        results.append([outcome, peak, rss])
    print(json.dumps(results))
    """
)


def _hostile_files(valid, folder):
    """Files that claim far more than they hold, each a few KB to a few MB."""
    members = _members(valid.read_bytes())
    manifest = json.loads(members["manifest.json"])
    network = next(n for n in members if n.startswith("network-"))
    inner = _members(members[network])
    config = json.loads(inner["config.json"])
    array = next(n for n in members if n.startswith("arrays/"))

    def variant(manifest=manifest, **changed):
        return _zip(dict(members, **{"manifest.json": json.dumps(manifest)}, **changed))

    def edited(change):
        copy = json.loads(json.dumps(manifest))
        change(copy["estimator"]["steps"])
        return variant(copy)

    def network_with(change):
        copy = json.loads(json.dumps(config))
        change(copy["config"])
        return {network: _zip(dict(inner, **{"config.json": json.dumps(copy)}))}

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )

    # A StandardScaler step in a skops member, between the scaler and the network.
    scaler = skops.io.dumps(StandardScaler().fit(np.zeros((2, 784))))
    skops_inner = _members(scaler)
    skops_array = next(n for n in skops_inner if n.endswith(".npy"))
    schema = skops_inner["schema.json"].decode()

    def with_skops(**changed):
        copy = json.loads(json.dumps(manifest))
        steps = copy["estimator"]["steps"]
        steps.insert(1, ["std", {"class": "skops", "member": "skops-9.skops"}])
        member = _zip(dict(skops_inner, **changed))
        return _zip(
            dict(members, **{"manifest.json": json.dumps(copy)}, **{
                "skops-9.skops": member
            })
        )  # fmt: skip

    deep = "[" * 400_000 + "]" * 400_000
    deep_text = json.dumps(manifest).replace('"verbose": 0', f'"verbose": {deep}')
    assert deep in deep_text
    widest = MAX_BYTES // 16  # the widest row load may check
    files = {
        "manifest-string-20MB": edited(
            lambda s: s[1][1]["params"].update(verbose="x" * 20_000_000)
        ),
        "manifest-nested-400000": _zip(dict(members, **{"manifest.json": deep_text})),
        "network-config-string-20MB": variant(
            **network_with(lambda c: c.update(name="x" * 20_000_000))
        ),
        "network-billion-units": variant(
            **network_with(lambda c: c["layers"][1]["config"].update(units=10**9))
        ),
        "scaler-500M-features": edited(
            lambda s: s[0][1]["state"].update(
                n_features_in_=500_000_000, image_shape_=None
            )
        ),
        "array-header-10**12-elements": variant(
            **{array: header.getvalue() + b"\0" * 64}
        ),
        "skops-schema-string-20MB": with_skops(
            **{"schema.json": schema.replace('"', '"' + "x" * 20_000_000, 1)}
        ),
        "skops-schema-nested-400000": with_skops(
            **{"schema.json": schema[:-1] + ', "deep": ' + deep + "}"}
        ),
        "skops-array-header-10**12-elements": with_skops(
            **{skops_array: header.getvalue() + b"\0" * 64}
        ),
        "scaler-alone-widest-allowed": _zip(
            {
                "manifest.json": json.dumps(
                    dict(
                        manifest,
                        estimator={
                            "class": "sk_mnist.PixelScaler",
                            "params": {},
                            "state": {"n_features_in_": widest},
                        },
                    )
                )
            }
        ),
    }
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    return paths


def test_hostile_files_cost_at_most_max_bytes_more_than_a_valid_one(
    mnist_small, tmp_path
):
    """The book's pipeline, then files whose claims would take gigabytes.

    Measured in a fresh process: Python's and NumPy's allocations (tracemalloc)
    of each load, and the process's peak resident memory.
    """
    (X, y), _ = mnist_small
    valid = dump(
        make_mnist_pipeline(epochs=1, random_state=0).fit(X[:500], y[:500]),
        tmp_path / "book.skmnist",
    )
    hostile = _hostile_files(valid, tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(MAX_BYTES), str(valid), *hostile],
        capture_output=True,
        text=True,
        check=True,
    )
    (valid_outcome, valid_peak, valid_rss), *measured = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert valid_outcome == "loaded"
    for path, (outcome, peak, _) in zip(hostile, measured):
        print(f"{path.rsplit('/', 1)[-1]}: {peak / 2**20:.1f} MiB; {outcome}")
        assert peak <= valid_peak + MAX_BYTES, path
        if path.endswith("widest-allowed"):
            assert outcome == "loaded"
        else:
            assert "sk_mnist model file" in outcome, outcome
    final_rss = measured[-1][2]
    print(f"valid: {valid_peak / 2**20:.1f} MiB, peak RSS {valid_rss / 2**20:.0f} MiB")
    print(f"after the hostile files: peak RSS {final_rss / 2**20:.0f} MiB")
    assert final_rss <= valid_rss + MAX_BYTES
