"""EpochGridSearchCV(checkpoint=FILE): finished fits kept, a rerun trains the rest.

In this process, under the suite's backend (and under the other one, from
tests/test_backends.py). A search on 400 MNIST images whose four candidates
score differently; two shared fits per fold, two folds: four fits to keep.
The command line's Ctrl-C and the Dask cluster are in tests/test_dask.py.
"""

import json
import os

import numpy as np
import pytest

from sk_mnist import (
    CheckpointError,
    EpochGridSearchCV,
    MNISTClassifier,
    make_mnist_pipeline,
)

GRID = {"classifier__epochs": [1, 2], "classifier__batch_size": [32, 64]}


@pytest.fixture(scope="module")
def data(mnist_small):
    (X_train, y_train), _ = mnist_small
    return X_train[:400], y_train[:400]


def search(checkpoint=None, grid=GRID):
    pipeline = make_mnist_pipeline(hidden_units=16, random_state=0)
    return EpochGridSearchCV(pipeline, grid, cv=2, refit=False, checkpoint=checkpoint)


@pytest.fixture(scope="module")
def reference(data):
    """The search without a checkpoint, uninterrupted."""
    result = search().fit(*data)
    scores = result.cv_results_["mean_test_score"]
    assert np.unique(scores).size == 4, scores  # the candidates differ
    return result


def assert_same_results(got, expected):
    """cv_results_ bit for bit but the times."""
    assert list(got.cv_results_) == list(expected.cv_results_)
    for key, value in expected.cv_results_.items():
        if key == "params":
            assert got.cv_results_[key] == value
        elif not key.endswith("_time"):
            np.testing.assert_array_equal(
                got.cv_results_[key], value, err_msg=key, strict=True
            )


def count_fits(monkeypatch, fail_at=None):
    """Count MNISTClassifier fits; the ``fail_at``-th one is a Ctrl-C."""
    calls = []
    fit = MNISTClassifier.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(self.epochs)
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(MNISTClassifier, "fit", counting_fit)
    return calls


def records(path):
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


@pytest.fixture(scope="module")
def full_checkpoint(data, reference, tmp_path_factory):
    """The bytes of the checkpoint of a whole search, its results as reference's."""
    path = tmp_path_factory.mktemp("checkpoint") / "search.ckpt"
    first = search(path).fit(*data)
    assert_same_results(first, reference)
    assert first.resumed_fits_ == 0
    return path.read_bytes()


def test_each_finished_fit_is_kept_and_a_rerun_trains_none(
    data, reference, full_checkpoint, tmp_path, monkeypatch
):
    path = tmp_path / "search.ckpt"
    path.write_bytes(full_checkpoint)
    header = json.loads(path.read_text().splitlines()[0])
    assert header["sk_mnist_checkpoint"] == 1
    assert {"estimator", "grid", "folds", "data", "versions"} <= set(header["search"])
    kept = records(path)
    assert sorted(tuple(map(str, r["fit"])) for r in kept) == sorted(
        (str(group), str(fold)) for group in ([0, 1], [2, 3]) for fold in (0, 1)
    )

    fits = count_fits(monkeypatch)
    again = search(path).fit(*data)
    assert fits == [] and again.resumed_fits_ == 4
    assert_same_results(again, reference)


def test_an_interrupted_search_continues_with_the_missing_fits(
    data, reference, tmp_path, monkeypatch
):
    path = tmp_path / "search.ckpt"
    with monkeypatch.context() as patch:
        count_fits(patch, fail_at=3)  # Ctrl-C in the third of four fits
        with pytest.raises(KeyboardInterrupt):
            search(path).fit(*data)
    assert len(records(path)) == 2

    fits = count_fits(monkeypatch)
    resumed = search(path).fit(*data)
    assert resumed.resumed_fits_ == 2 and fits == [2, 2]  # two fits, 2 epochs each
    assert_same_results(resumed, reference)
    assert len(records(path)) == 4


@pytest.mark.parametrize("cut", ["line end"])
def test_a_torn_last_line_is_ignored_then_cut_off(
    data, reference, full_checkpoint, tmp_path, monkeypatch, cut
):
    path = tmp_path / "search.ckpt"
    lines = full_checkpoint.splitlines(keepends=True)
    # Killed while writing the third record: a header, two records, a torn line
    # (half of it, or all but its line end, which JSON would read).
    torn = lines[3][: len(lines[3]) // 2] if cut == "half" else lines[3][:-1]
    path.write_bytes(b"".join(lines[:3]) + torn)

    fits = count_fits(monkeypatch)
    resumed = search(path).fit(*data)
    assert resumed.resumed_fits_ == 2 and len(fits) == 2
    assert_same_results(resumed, reference)
    assert len(records(path)) == 4  # every line whole again


def test_a_checkpoint_of_another_search_is_refused_saying_what_differs(data, tmp_path):
    path = tmp_path / "search.ckpt"
    X, y = data
    one_fold = [(np.arange(200), np.arange(200, 400))]
    EpochGridSearchCV(
        make_mnist_pipeline(hidden_units=16, random_state=0),
        {"classifier__epochs": [1]},
        cv=one_fold,
        refit=False,
        checkpoint=path,
    ).fit(X, y)
    written = path.read_bytes()

    def refused(grid, X, y, *fragments):
        with pytest.raises(CheckpointError) as error:
            EpochGridSearchCV(
                make_mnist_pipeline(hidden_units=16, random_state=0),
                grid,
                cv=one_fold,
                refit=False,
                checkpoint=path,
            ).fit(X, y)
        message = str(error.value)
        assert "\n" not in message and str(path) in message
        for fragment in fragments:
            assert fragment in message, message
        assert path.read_bytes() == written  # left as it was

    refused({"classifier__epochs": [2]}, X, y, "its grid differs", "grid[0]")
    X_other = X.copy()
    X_other[0, 0, 0] ^= 1  # one pixel
    refused({"classifier__epochs": [1]}, X_other, y, "its data differs")
    refused({"classifier__epochs": [1]}, X, y[::-1], "data", "differ")


def test_a_file_that_is_not_a_checkpoint_is_refused(data, tmp_path):
    X, y = data
    for content, fragment in [
        (b"rank,score\n1,0.9\n", "not a checkpoint of an sk_mnist search"),
        (b'{"sk_mnist_checkpoint": 99, "search": {}}\n', "format 99"),
    ]:
        path = tmp_path / "other.ckpt"
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=fragment):
            search(path).fit(X[:40], y[:40])


def test_a_whole_line_that_is_not_a_record_is_an_error(data, tmp_path, monkeypatch):
    path = tmp_path / "search.ckpt"
    X, y = data
    one_fold = [(np.arange(200), np.arange(200, 400))]
    make = lambda: EpochGridSearchCV(  # noqa: E731
        make_mnist_pipeline(hidden_units=16, random_state=0),
        {"classifier__epochs": [1]},
        cv=one_fold,
        refit=False,
        checkpoint=path,
    )
    make().fit(X, y)
    header, record = path.read_text().splitlines()
    for bad in [
        record.replace('"fit": [[0], 0]', '"fit": [[5], 0]'),  # no such fit
        record[:-1] + "\n" + record[-1:],  # a record cut in two whole lines
    ]:
        path.write_text(f"{header}\n{bad}\n")
        with pytest.raises(CheckpointError, match="line 2 is not a fit of this"):
            make().fit(X, y)


# --- The file itself, without a search: SearchCheckpoint, describe, fingerprint ----

IDENTITY = {"grid": [{"epochs": 1}, {"epochs": 2}], "data": "sha256:0123", "cv": 2}
RESULT = {"test_scores": 0.1 + 0.2, "fit_time": float("nan"), "n": np.int64(3)}


def test_records_read_back_bit_for_bit_in_a_file_of_json_lines(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    keys = {SearchCheckpoint.key([[0, 1], 0]), SearchCheckpoint.key([[2], 1])}
    checkpoint = SearchCheckpoint(path, IDENTITY, valid_keys=keys)
    assert checkpoint.done == {} and not path.exists()  # nothing written yet
    checkpoint.record([[0, 1], 0], [(0, RESULT), (1, {"test_scores": 0.5})])
    checkpoint.record([[2], 1], [(2, {"test_scores": np.float32(0.25)})])
    checkpoint.close()
    checkpoint.close()  # a second close does nothing
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"sk_mnist_checkpoint": 1, "search": IDENTITY}
    assert lines[0].startswith('{"search": {"cv": 2, "data"')  # sorted keys
    assert lines[1] == (
        '{"fit": [[0, 1], 0], "results": [[0, {"fit_time": NaN, "n": 3, '
        '"test_scores": 0.30000000000000004}], [1, {"test_scores": 0.5}]]}'
    )
    assert len(lines) == 3 and path.read_bytes().endswith(b"}\n")

    again = SearchCheckpoint(path, IDENTITY, valid_keys=keys)
    assert list(again.done) == ["[[0, 1], 0]", "[[2], 1]"]
    (i, first), (j, second) = again.done["[[0, 1], 0]"]
    assert (i, j) == (0, 1) and second == {"test_scores": 0.5}
    assert first["test_scores"] == 0.1 + 0.2 and np.isnan(first["fit_time"])
    assert again.done["[[2], 1]"] == [(2, {"test_scores": 0.25})]
    assert checkpoint.done == {
        "[[0, 1], 0]": [(0, RESULT), (1, {"test_scores": 0.5})],
        "[[2], 1]": [(2, {"test_scores": np.float32(0.25)})],
    }


def test_a_record_goes_after_whole_lines_only(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    first = SearchCheckpoint(path, IDENTITY)
    first.record(1, [(0, {"s": 1})])
    first.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"fit": 2, "resu')  # killed while writing
    torn = SearchCheckpoint(path, IDENTITY)
    assert list(torn.done) == ["1"]
    torn.record(3, [(1, {"s": 3})])
    torn.close()
    assert path.read_bytes() == whole + b'{"fit": 3, "results": [[1, {"s": 3}]]}\n'

    path.write_bytes(b"")  # an empty file: a header first
    empty = SearchCheckpoint(path, IDENTITY)
    empty.record(1, [(0, {"s": 1})])
    empty.close()
    assert path.read_bytes() == whole


@pytest.mark.parametrize(
    "content, message",
    [
        (b"rank,score\n", "not a checkpoint of an sk_mnist search (its first line"),
        (b"[1, 2]\n", "not a checkpoint of an sk_mnist search"),
        (b'{"search": {}}\n', "not a checkpoint of an sk_mnist search"),
        (
            b'{"sk_mnist_checkpoint": 2}\n',
            "checkpoint format 2, but this sk_mnist reads format 1; give another file",
        ),  # fmt: skip
    ],
)
def test_a_file_that_is_no_checkpoint_of_this_format_is_refused(
    tmp_path, content, message
):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "other.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        SearchCheckpoint(path, IDENTITY)
    assert str(error.value).startswith(f"{path}: {message}")
    assert path.read_bytes() == content
    with pytest.raises(CheckpointError, match="is a folder; give a file"):
        SearchCheckpoint(tmp_path, IDENTITY)


def test_a_checkpoint_of_another_search_names_the_first_difference(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    SearchCheckpoint(path, IDENTITY).record(1, [(0, {"s": 1})])

    def refused(identity):
        with pytest.raises(CheckpointError) as error:
            SearchCheckpoint(path, identity)
        return str(error.value)

    other = {**IDENTITY, "grid": [{"epochs": 1}, {"epochs": 3}]}
    assert refused(other) == (
        f"{path} holds the fits of another search: its grid differs from this "
        "one's (grid[1].epochs: 2 in the file, 3 now); give another checkpoint "
        "file, or delete this one to start over"
    )
    other = {**IDENTITY, "grid": [{"epochs": 1}], "cv": 3}
    assert "its cv, grid differ from this one's (cv: 2 in the file, 3 now)" in (
        refused(other)
    )
    other = {**IDENTITY, "data": "x" * 100}
    assert f'(data: "sha256:0123" in the file, "{"x" * 76}... now)' in (refused(other))
    other = {key: value for key, value in IDENTITY.items() if key != "cv"}
    assert "its cv differs from this one's (cv: 2 in the file, null now)" in (
        refused(other)
    )


@pytest.mark.parametrize(
    "line",
    [
        '{"results": [[0, {}]]}',  # no fit
        '{"fit": 1}',  # no results
        '{"fit": 1, "results": {"0": {}}}',
        '{"fit": 1, "results": [[0, {}], 5]}',
        '{"fit": 1, "results": [[0, {}, 1]]}',
        '{"fit": 1, "results": [[0, []]]}',
        '{"fit": 9, "results": [[0, {}]]}',  # a fit this search has not
        "[1, 2]",
        "not json",
    ],
)
def test_a_whole_line_that_is_no_record_of_this_search_is_refused(tmp_path, line):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    SearchCheckpoint(path, IDENTITY).record(1, [(0, {"s": 1})])
    path.write_bytes(path.read_bytes() + line.encode() + b"\n")
    with pytest.raises(CheckpointError) as error:
        SearchCheckpoint(path, IDENTITY, valid_keys={"1", "2"})
    assert str(error.value) == (
        f"{path}: line 3 is not a fit of this search; the file was changed by "
        "something else than sk_mnist"
    )
    path.write_bytes(path.read_bytes().replace(b"\n" + line.encode(), b"\n"))
    with pytest.raises(CheckpointError, match="line 3 is not"):  # an empty line
        SearchCheckpoint(path, IDENTITY)


def test_what_cannot_be_written_is_a_type_error(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    checkpoint = SearchCheckpoint(tmp_path / "search.ckpt", IDENTITY)
    with pytest.raises(TypeError, match="cannot write a set to a checkpoint"):
        checkpoint.record(1, [(0, {"s": {1}})])
    checkpoint.close()


class _Thing:
    pass


def test_describe_writes_what_two_runs_of_a_search_write_alike():
    from sklearn.preprocessing import StandardScaler

    from sk_mnist._checkpoint import describe, fingerprint

    assert describe(None) is None and describe(True) is True
    assert describe(np.float32(0.5)) == 0.5 and type(describe(np.int8(3))) is int
    assert describe((1, [2.5, "a"])) == [1, [2.5, "a"]]
    assert list(describe({2: "b", "10": "a"})) == ["10", "2"]  # sorted as str
    described = describe(MNISTClassifier(hidden_units=4, verbose=2))
    assert described["class"] == "sk_mnist.classifier.MNISTClassifier"
    assert "verbose" not in described["params"]
    assert described["params"]["hidden_units"] == 4
    assert list(described["params"]) == sorted(described["params"])
    assert describe(StandardScaler())["params"]["with_mean"] is True
    array = np.arange(6).reshape(2, 3)
    assert describe(array) == {"array": fingerprint(array)}
    assert describe(np.mean) == "numpy.mean"
    assert describe(_Thing) == f"{__name__}._Thing"
    assert describe(_Thing()) == f"_Thing: <{__name__}._Thing object>"
    digest = fingerprint(array)
    assert digest.startswith("sha256:") and len(digest) == 7 + 16
    int(digest[7:], 16)  # hex digits
    assert fingerprint(array) != fingerprint(array.T)


@pytest.mark.parametrize(
    "stored, now, said",
    [
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, "grid.b: 2 in the file, 3 now"),
        ({"a": 1}, {"a": 1, "b": 2}, "grid.b: null in the file, 2 now"),
        ({"a": 1}, [1], 'grid: {"a": 1} in the file, [1] now'),
        ([1, 2], {"a": 1}, 'grid: [1, 2] in the file, {"a": 1} now'),
        ([1, 2], [1, 2, 3], "grid: [1, 2] in the file, [1, 2, 3] now"),
        ("y" * 78, "z", f'grid: "{"y" * 78}" in the file, "z" now'),  # 80: whole
    ],
)
def test_the_first_difference_is_named_where_it_is(tmp_path, stored, now, said):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    SearchCheckpoint(path, {"grid": stored}).record(1, [(0, {"s": 1})])
    with pytest.raises(CheckpointError) as error:
        SearchCheckpoint(path, {"grid": now})
    assert f"its grid differs from this one's ({said}); give" in str(error.value)


def test_the_file_gets_the_mode_open_gives_and_is_closed(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    fds = set(os.listdir("/proc/self/fd"))
    umask = os.umask(0o022)
    try:
        checkpoint = SearchCheckpoint(tmp_path / "search.ckpt", IDENTITY)
        checkpoint.record(1, [(0, {"s": 1})])
        checkpoint.close()
    finally:
        os.umask(umask)
    assert (tmp_path / "search.ckpt").stat().st_mode & 0o777 == 0o644
    assert set(os.listdir("/proc/self/fd")) == fds


class _Shaped:
    shape = (2,)  # but no dtype: not an array

    def __init__(self):
        self.__qualname__ = "not callable"  # nor a function

    def __repr__(self):
        return "<shaped>"


def test_describe_takes_estimators_own_parameters_and_values_within():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sk_mnist._checkpoint import describe

    pipeline = describe(Pipeline([("scale", StandardScaler())]))
    assert not [key for key in pipeline["params"] if "__" in key]  # deep=False
    assert pipeline["params"]["steps"][0][1]["class"].endswith("StandardScaler")
    assert describe({"a": np.int64(1), "b": (2,)}) == {"a": 1, "b": [2]}
    assert describe(_Shaped()) == "_Shaped: <shaped>"


def test_a_header_without_the_search_differs_in_everything(tmp_path):
    from sk_mnist._checkpoint import SearchCheckpoint

    path = tmp_path / "search.ckpt"
    path.write_bytes(b'{"sk_mnist_checkpoint": 1}\n')
    with pytest.raises(CheckpointError, match="its cv, data, grid differ from"):
        SearchCheckpoint(path, IDENTITY)
