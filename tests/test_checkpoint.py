"""EpochGridSearchCV(checkpoint=FILE): finished fits kept, a rerun trains the rest.

In this process, under the suite's backend (and under the other one, from
tests/test_backends.py). A search on 400 MNIST images whose four candidates
score differently; two shared fits per fold, two folds: four fits to keep.
The command line's Ctrl-C and the Dask cluster are in tests/test_dask.py.
"""

import json

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
