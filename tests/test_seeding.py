"""A seeded fit draws from no process-wide generator: threads and draws beside it.

A Dask worker runs its tasks in a thread beside its own threads, which draw from
Python's ``random``; a fit that drew from a process-wide generator then changed
from run to run. These tests put such draws before and beside a seeded fit, and
two seeded fits beside each other, and ask for the very same network.
"""

import random
import sys
import threading

import numpy as np
import pytest

from sk_mnist import MNISTClassifier
from sk_mnist._seeding import (
    ShuffledBatches,
    deterministic_ops,
    epoch_order,
    fit_seed,
)

SEEDED = dict(hidden_units=16, epochs=2, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits(mnist_small):
    (X_train, y_train), (X_test, _) = mnist_small
    scale = np.float32(1 / 255)
    flat = np.reshape
    return (
        flat(X_train[:1000], (1000, -1)) * scale,
        y_train[:1000],
        flat(X_test[:200], (200, -1)) * scale,
    )


@pytest.fixture(scope="module")
def alone(digits):
    """Probabilities of the seeded fits of two seeds, each fitted alone."""
    X, y, X_test = digits
    return {
        seed: MNISTClassifier(**{**SEEDED, "random_state": seed})
        .fit(X, y)
        .predict_proba(X_test)
        for seed in (0, 1)
    }


class _Drawing(threading.Thread):
    """A thread drawing from Python's and NumPy's global generators until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.draws = threading.Event(), 0

    def run(self):
        while not self.stop.is_set():
            random.random()
            np.random.rand()
            self.draws += 1


@pytest.fixture
def often_switching_threads():
    """Switch threads every microsecond, so that a drawing thread gets in anywhere."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_seeds_make_different_networks(alone):
    # Else the tests below would hold for a fit that ignores its seed.
    assert not np.allclose(alone[0], alone[1], atol=1e-3)


def test_a_seeded_fit_ignores_draws_made_before_it(digits, alone):
    X, y, X_test = digits
    random.random()
    np.random.rand()
    random.seed(123)
    np.random.seed(123)
    proba = MNISTClassifier(**SEEDED).fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(proba, alone[0])


def test_a_seeded_fit_ignores_draws_made_beside_it(
    digits, alone, often_switching_threads
):
    X, y, X_test = digits
    drawing = _Drawing()
    drawing.start()
    try:
        proba = MNISTClassifier(**SEEDED).fit(X, y).predict_proba(X_test)
    finally:
        drawing.stop.set()
        drawing.join()
    assert drawing.draws > 100  # the other thread did draw during the fit
    np.testing.assert_array_equal(proba, alone[0])


def test_two_seeded_fits_at_once_equal_each_fit_alone(
    digits, alone, often_switching_threads
):
    X, y, X_test = digits
    results, errors = {}, []

    def fit(seed):
        try:
            clf = MNISTClassifier(**{**SEEDED, "random_state": seed}).fit(X, y)
            results[seed] = clf.predict_proba(X_test)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(seed,)) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for seed in (0, 1):
        np.testing.assert_array_equal(results[seed], alone[seed])


def test_concurrent_seeded_fits_leave_op_determinism_as_it_was(digits):
    tf_config = pytest.importorskip("tensorflow.python.framework.config")
    import keras

    if keras.backend.backend() != "tensorflow":
        # Not a failure hidden: JAX has no op-determinism switch to put back (it is
        # deterministic on CPU); the suite runs this test under TensorFlow.
        pytest.skip("op determinism is TensorFlow's")
    X, y, _ = digits
    threads = [
        threading.Thread(
            target=MNISTClassifier(hidden_units=4, epochs=1, random_state=s).fit,
            args=(X[:300], y[:300]),
        )
        for s in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not tf_config.is_op_determinism_enabled()


def test_each_epoch_has_every_row_once_in_an_order_of_seed_and_epoch():
    n, batch_size = 10, 4
    x = np.arange(n)[:, None]
    batches = ShuffledBatches(x, x[:, 0], None, batch_size, seed=3, initial_epoch=2)
    assert batches.steps == 3
    epochs = [
        np.concatenate([batches[epoch * 3 + step][1] for step in range(3)])
        for epoch in range(2)
    ]
    for epoch, rows in enumerate(epochs):
        assert sorted(rows) == list(range(n))
        # Epoch numbers count on from initial_epoch; a batch holds its rows sorted.
        order = epoch_order(3, 2 + epoch, n)
        assert list(rows[:2]) == sorted(order[:2])  # the short batch comes first
        assert list(rows[2:6]) == sorted(order[2:6])
    assert [len(batches[step][0]) for step in range(3)] == [2, 4, 4]
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epoch_order(3, 2, n), epoch_order(4, 2, n))
    assert list(epoch_order(3, 2, n, shuffle=False)) == list(range(n))


def test_sample_weight_travels_with_its_row():
    x = np.arange(12)[:, None]
    batches = ShuffledBatches(x, x[:, 0], 10.0 * x[:, 0], 5, seed=0)
    for index in range(6):
        rows, targets, weights = batches[index]
        np.testing.assert_array_equal(rows[:, 0], targets)
        np.testing.assert_array_equal(weights, 10.0 * targets)


def test_tensorflow_pipeline_gives_the_batches_of_shuffled_batches():
    # TensorFlow trains on a tf.data pipeline of index arrays, other backends on
    # ShuffledBatches: the very same batches, epoch after epoch, weights included.
    pytest.importorskip("tensorflow")
    from sk_mnist._seeding import tensorflow_batches

    for n, batch_size in [(10, 4), (12, 4), (3, 8)]:
        x = np.arange(n, dtype=np.float32)[:, None]
        arrays = (x, x[:, 0].astype(np.int64), 10.0 * x[:, 0])
        python = ShuffledBatches(*arrays, batch_size, seed=3, initial_epoch=2)
        dataset = list(tensorflow_batches(arrays, batch_size, 3, 5, initial_epoch=2))
        assert len(dataset) == 3 * python.steps
        unshuffled = tensorflow_batches(arrays, batch_size, 3, 3, 2, shuffle=False)
        rows = np.concatenate([batch[1].numpy() for batch in unshuffled])
        assert list(rows) == list(range(n))
        for index, batch in enumerate(dataset):
            for got, expected in zip(batch, python[index], strict=True):
                np.testing.assert_array_equal(got.numpy(), expected)


def test_tensorflow_reads_an_aligned_array_in_place_and_copies_any_other():
    # An aligned buffer of numbers (PixelScaler's output) is viewed, not copied:
    # 188 MB less for MNIST. Others (NumPy's own 16-byte alignment, a strided
    # view of an aligned buffer, booleans) are copied: TensorFlow would abort on
    # a misaligned view.
    tf = pytest.importorskip("tensorflow")
    from sk_mnist._aligned import aligned_empty, is_aligned
    from sk_mnist._seeding import _tensor_of

    aligned = aligned_empty((40, 3), np.float32)
    aligned[...] = np.arange(120, dtype=np.float32).reshape(40, 3)
    integers = aligned_empty((40, 3), np.int64)
    integers[...] = aligned
    unsigned = aligned_empty((40, 3), np.uint8)
    unsigned[...] = aligned
    misaligned = np.empty(121, np.float32)[1:].reshape(40, 3)
    misaligned[...] = aligned
    strided = aligned_empty((80, 3), np.float32)[::2]
    strided[...] = aligned
    booleans = aligned_empty((40, 3), np.bool_)
    booleans[...] = aligned > 0
    assert is_aligned(aligned) and not is_aligned(misaligned)
    assert strided.ctypes.data % 128 == 0 and not is_aligned(strided)
    assert is_aligned(booleans) and not is_aligned(aligned.tolist())
    arrays = (aligned, integers, unsigned, misaligned, strided, booleans)
    tensors = [_tensor_of(x) for x in arrays]
    for x in arrays:
        x[0, 0] = 7  # changed after the tensors were made
    assert [float(t[0, 0]) for t in tensors] == [7, 7, 7, 0, 0, 0]
    assert [t.dtype for t in tensors] == [
        tf.float32, tf.int64, tf.uint8, tf.float32, tf.float32, tf.bool
    ]  # fmt: skip
    empty = aligned_empty((0, 3), np.float32)
    assert _tensor_of(empty).shape == (0, 3)


def test_a_seeded_fit_is_the_same_from_an_aligned_array_or_not(digits):
    # The fit views PixelScaler's aligned output in place on TensorFlow and
    # copies other arrays: the same weights, bit for bit.
    from sk_mnist._aligned import aligned_empty, is_aligned

    X, y, _ = digits
    aligned = aligned_empty(X.shape, np.float32)
    aligned[...] = X
    misaligned = np.empty(X.size + 1, np.float32)[1:].reshape(X.shape)
    misaligned[...] = X
    assert is_aligned(aligned) and not is_aligned(misaligned)
    fits = [
        MNISTClassifier(hidden_units=16, epochs=2, random_state=0).fit(x, y)
        for x in (aligned, misaligned)
    ]
    for a, b in zip(*(f.model_.get_weights() for f in fits), strict=True):
        np.testing.assert_array_equal(a, b)


# --- Op determinism: on in every seeded fit, put back as it was ---------------------


@pytest.fixture
def tf_config():
    """TensorFlow's op-determinism switch, off before and after the test."""
    import keras

    if keras.backend.backend() != "tensorflow":
        # Not a failure hidden: JAX has no op-determinism switch (it is
        # deterministic on CPU); the suite runs these tests under TensorFlow.
        pytest.skip("op determinism is TensorFlow's")
    from tensorflow.python.framework import config

    assert not config.is_op_determinism_enabled()
    yield config
    config.disable_op_determinism()


def test_op_determinism_is_on_in_seeded_fits_only(digits, tf_config):
    import keras

    class Switch(keras.callbacks.Callback):
        """Whether op determinism is on, at the end of each epoch."""

        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(tf_config.is_op_determinism_enabled())

    X, y, _ = digits
    for random_state, expected in [(0, True), (None, False)]:
        switch = Switch()
        MNISTClassifier(
            hidden_units=4, epochs=2, random_state=random_state, callbacks=[switch]
        ).fit(X[:300], y[:300])
        assert switch.seen == [expected] * 2, random_state
        assert not tf_config.is_op_determinism_enabled()  # put back


def test_op_determinism_the_user_switched_on_stays_on(tf_config):
    tf_config.enable_op_determinism()
    with deterministic_ops(True):
        assert tf_config.is_op_determinism_enabled()
    assert tf_config.is_op_determinism_enabled()


def test_op_determinism_stays_on_until_the_last_of_two_fits_ends(tf_config):
    # Two fits in two threads share one process-wide switch and its count: the
    # first to end must not switch it off under the other. Entered and left by
    # hand here, in the order two threads would.
    first, second = deterministic_ops(True), deterministic_ops(True)
    first.__enter__()
    second.__enter__()
    assert tf_config.is_op_determinism_enabled()
    first.__exit__(None, None, None)
    assert tf_config.is_op_determinism_enabled()  # the second fit still runs
    second.__exit__(None, None, None)
    assert not tf_config.is_op_determinism_enabled()
    with deterministic_ops(False):
        assert not tf_config.is_op_determinism_enabled()


# --- Unseeded fits: a new seed each, from NumPy's global generator ------------------


def test_unseeded_fits_differ_and_numpy_seed_repeats_them(digits):
    X, y, X_test = digits
    seeds = [fit_seed(None) for _ in range(3)]
    assert len(set(seeds)) == 3 and all(0 <= s < 2**31 - 1 for s in seeds), seeds

    def unseeded_fit():
        clf = MNISTClassifier(hidden_units=8, epochs=1, batch_size=64)
        return clf.fit(X[:300], y[:300]).predict_proba(X_test)

    np.random.seed(7)
    first, second = unseeded_fit(), unseeded_fit()
    np.random.seed(7)
    again = unseeded_fit()
    assert not np.allclose(first, second, atol=1e-3)  # each fit its own seed
    np.testing.assert_allclose(again, first, atol=1e-6)  # the script repeats


# --- The seeds, orders and cuts themselves ------------------------------------------


def test_seeds_from_random_state():
    from sk_mnist._seeding import initializer_seeds, seed_from_random_state

    assert seed_from_random_state(None) is None
    assert seed_from_random_state(np.int64(5)) == 5 and seed_from_random_state(7) == 7
    state = np.random.RandomState(0)
    drawn = [seed_from_random_state(state) for _ in range(3)]
    assert len(set(drawn)) == 3  # successive fits with one instance differ
    again = np.random.RandomState(0)
    assert [seed_from_random_state(again) for _ in range(3)] == drawn  # repeats
    assert all(0 <= seed < 2**31 - 1 for seed in drawn)
    assert fit_seed(3) == 3

    seeds = initializer_seeds(0, 4)
    assert len(set(seeds)) == 4 and all(0 <= s < 2**31 for s in seeds)
    assert initializer_seeds(0, 4) == seeds and initializer_seeds(1, 4) != seeds
    assert initializer_seeds(0, 2) == seeds[:2]


def test_a_seeds_draws_are_pinned():
    # Every seeded result a user recorded (a search's scores, a model file made
    # again) rests on these draws (NumPy's SeedSequence and permutation): a
    # change to them, ours or a new NumPy's, must be seen and go in the
    # changelog. The initializers' stream ([seed, 0]) and the orders'
    # ([seed, 1, epoch]) are also apart: neither repeats the other.
    from sk_mnist._seeding import initializer_seeds

    assert initializer_seeds(0, 2) == [821328062, 1529665511]
    assert initializer_seeds(12345, 3) == [540902268, 900621442, 2048883247]
    assert epoch_order(0, 0, 10).tolist() == [9, 1, 3, 8, 7, 6, 0, 4, 2, 5]
    assert epoch_order(0, 3, 10).tolist() == [1, 0, 2, 7, 8, 9, 6, 5, 3, 4]
    assert epoch_order(7, 1, 12).tolist() == [6, 2, 8, 1, 4, 0, 9, 11, 7, 3, 10, 5]


def test_row_indices_are_int32_while_they_fit():
    from sk_mnist._seeding import index_dtype

    assert index_dtype(10) is np.int32
    assert index_dtype(2**31 - 1) is np.int32  # indices up to 2**31 - 2
    assert index_dtype(2**31) is np.int64
    assert index_dtype(2**40) is np.int64


def test_batches_are_int32_index_arrays_the_short_batch_first():
    from sk_mnist._seeding import batch_layout, epoch_batches

    assert batch_layout(10, 4) == (3, 2) and batch_layout(8, 4) == (2, 4)
    assert batch_layout(3, 8) == (1, 3)
    rows = epoch_batches(0, 0, 10, 4)
    assert rows.dtype == np.int32 and sorted(rows) == list(range(10))
    order = epoch_order(0, 0, 10)
    for start, stop in [(0, 2), (2, 6), (6, 10)]:
        assert list(rows[start:stop]) == sorted(order[start:stop])
    assert list(epoch_batches(0, 0, 10, 4, shuffle=False)) == list(range(10))
    x = np.arange(10)[:, None]
    in_order = ShuffledBatches(x, x[:, 0], None, 4, seed=0, shuffle=False)
    assert [list(in_order[i][1]) for i in range(3)] == [[0, 1], [2, 3, 4, 5],
                                                       [6, 7, 8, 9]]  # fmt: skip


@pytest.mark.parametrize(
    "n, split, train",
    [(999, 0.1, 899), (10, 0.05, 9), (10, 0.5, 5), (3, 0.4, 1)],  # Keras' floor
)
def test_validation_split_cuts_where_keras_cuts(n, split, train):
    from sk_mnist._seeding import validation_split_of

    x, y = np.arange(n), np.arange(n) * 10
    (x_train, y_train, none), (x_val, y_val, none_val) = validation_split_of(
        (x, y, None), split
    )
    assert none is None and none_val is None
    assert list(x_train) == list(range(train)) and list(x_val) == list(range(train, n))
    assert list(y_train) == list(x_train * 10) and list(y_val) == list(x_val * 10)


@pytest.mark.parametrize(
    "n, split, side", [(1, 0.5, "train on"), (10, 1e-17, "validate on")]
)
def test_a_validation_split_that_leaves_a_side_empty_is_refused(n, split, side):
    from sk_mnist._seeding import validation_split_of

    with pytest.raises(ValueError) as error:
        validation_split_of((np.arange(n),), split)
    assert str(error.value) == (
        f"validation_split={split} leaves no rows to {side} out of {n}; pass a "
        "fraction that keeps at least one row on each side."
    )
