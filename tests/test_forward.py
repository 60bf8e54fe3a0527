"""The forward pass of predict: NumPy for the book's network, XLA otherwise."""

import warnings
import weakref

import keras
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sk_mnist import MNISTClassifier, _forward
from sk_mnist._forward import CompiledForwardPass, DenseForwardPass, forward_pass

BATCHES = [(0, 1), (0, 7), (0, 32), (0, 33), (3, 4), (1, 300), (4000, 4300)]


def _runs_in_numpy(*widths):
    """Whether the NumPy path runs Dense layers of these hidden widths here.

    It runs a layer when OpenBLAS' products of its shape are exact for some count
    of rows (:func:`~sk_mnist._forward.exact_rows`), which depends on the kernels
    OpenBLAS picks for the CPU: on SkylakeX the book's layers are, on Haswell
    kernels (AMD EPYC) only layers of a few units.
    """
    shapes = zip((784, *widths), (*widths, 10))
    return all(_forward.exact_rows(*shape) for shape in shapes)


def _widths_numpy_runs(*candidates):
    """The first hidden widths among ``candidates`` that the NumPy path runs here."""
    return next((w for w in candidates if _runs_in_numpy(*w)), candidates[-1])


#: A hidden layer the NumPy path runs on this machine, for the tests of its
#: mechanics (a layer of 4 units runs on either kind of kernels).
(NUMPY_UNITS,) = _widths_numpy_runs((16,), (4,))


@pytest.fixture(scope="module")
def rows(mnist_small):
    """4300 test-like rows: the 3000 training and 1000 test images, and 300 again."""
    (X_train, _), (X_test, _) = mnist_small
    X = np.concatenate([X_train, X_test, X_test[:300]]).reshape(-1, 784)
    return (X / np.float32(255)).astype(np.float32)


def _fitted(mnist_small, **params):
    (X, y), _ = mnist_small
    X = (X[:600].reshape(600, -1) / np.float32(255)).astype(np.float32)
    params = dict(hidden_units=NUMPY_UNITS, epochs=1, random_state=0) | params
    return MNISTClassifier(**params).fit(X, y[:600])


def _assert_rows_do_not_depend_on_the_batch(clf, rows):
    whole = clf.predict_proba(rows)  # 4300 rows: more than one chunk of 4096
    for start, stop in BATCHES:
        np.testing.assert_array_equal(
            clf.predict_proba(rows[start:stop]), whole[start:stop]
        )
    np.testing.assert_array_equal(clf.predict_proba(rows[::-1]), whole[::-1])
    return whole


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("hidden_units", [4, 512])
def test_the_books_networks_run_in_numpy_where_its_products_are_exact(
    mnist_small, rows, activation, hidden_units
):
    # In NumPy where OpenBLAS' products of the layers' shapes are exact, compiled
    # elsewhere: row by row either way.
    clf = _fitted(mnist_small, activation=activation, hidden_units=hidden_units)
    in_numpy = _runs_in_numpy(hidden_units)
    expected = DenseForwardPass if in_numpy else CompiledForwardPass
    assert type(forward_pass(clf.model_)) is expected
    whole = _assert_rows_do_not_depend_on_the_batch(clf, rows)
    assert whole.dtype == np.float32
    keras_proba = clf.model_.predict(rows, verbose=0)
    np.testing.assert_allclose(whole, keras_proba, rtol=0, atol=2e-6)
    assert (whole.argmax(1) == keras_proba.argmax(1)).mean() > 0.999


def test_other_activations_run_compiled_and_row_by_row(mnist_small, rows):
    clf = _fitted(mnist_small, activation="gelu")
    assert type(forward_pass(clf.model_)) is CompiledForwardPass
    whole = _assert_rows_do_not_depend_on_the_batch(clf, rows)
    np.testing.assert_allclose(
        whole, clf.model_.predict(rows, verbose=0), rtol=0, atol=2e-6
    )


def test_the_compiled_network_is_traced_once_per_blocks_per_call(mnist_small, rows):
    # 4300 rows are 135 blocks of 32: one call of 128 blocks and one of 7, padded
    # to 8; one row is one block of SMALL_BLOCK rows, once the probe has run it
    # beside one block of 32. Each shape is traced once.
    clf = _fitted(mnist_small, activation="gelu")
    forward = forward_pass(clf.model_)
    assert type(forward) is CompiledForwardPass
    block, small = _forward.PREDICT_BLOCK, _forward.SMALL_BLOCK
    forward(rows)
    forward(rows[:1])
    forward(rows[:small])  # still one small block
    forward(rows[:40])  # 2 blocks
    forward(rows[1:5000])  # 128 + 7 blocks again: no new trace
    assert sorted(forward._calls) == [
        (1, small), (1, block), (2, block), (8, block),
        (_forward.PREDICT_CALL_BLOCKS, block),
    ]  # fmt: skip
    assert forward.traces == 5


class _SmallBlockDiffers:
    """A compiled call whose blocks of ``SMALL_BLOCK`` rows differ in the last bit."""

    def __init__(self, forward, monkeypatch):
        self.blocks = []  # the shape of every call
        compile_ = forward._compile

        def compile_for(size, block):
            call = compile_(size, block)

            def differing(blocks):
                self.blocks.append(blocks.shape)
                out = np.array(call(blocks))
                if block == _forward.SMALL_BLOCK:
                    out[:, -1:] = np.nextafter(out[:, -1:], np.float32(2))
                return out

            return differing

        monkeypatch.setattr(forward, "_compile", compile_for)


@pytest.mark.parametrize("differs", [False, True])
def test_a_short_call_runs_one_small_block_where_it_gives_the_same_bits(
    mnist_small, rows, monkeypatch, differs
):
    # The probe runs 32 rows in one block of 32 and in blocks of SMALL_BLOCK. Where
    # the small block's rows differ (a fake here, in the last bit of only the
    # block's last rows' outputs), short calls keep blocks of 32.
    clf = _fitted(mnist_small, activation="gelu")
    forward = CompiledForwardPass(clf.model_)
    fake = _SmallBlockDiffers(forward, monkeypatch) if differs else None
    whole = forward(rows[:64])
    assert forward.small_block_is_exact() is not differs
    for n_rows in (1, 7, _forward.SMALL_BLOCK, _forward.SMALL_BLOCK + 1):
        np.testing.assert_array_equal(forward(rows[:n_rows]), whole[:n_rows])
    expected = (1, _forward.PREDICT_BLOCK if differs else _forward.SMALL_BLOCK, 784)
    if fake is not None:
        fake.blocks.clear()
        forward(rows[:1])
        assert fake.blocks == [expected]
    else:
        assert (1, _forward.SMALL_BLOCK) in forward._calls
    np.testing.assert_allclose(
        forward(rows[:1]), clf.model_.predict(rows[:1], verbose=0), rtol=0, atol=2e-6
    )


def test_the_small_block_probe_runs_once_for_threads_at_once(mnist_small, rows):
    import threading

    clf = _fitted(mnist_small, activation="gelu")
    forward = CompiledForwardPass(clf.model_)
    probes, probe = [], forward._probe_small_block
    forward._probe_small_block = lambda: probes.append(1) or probe()
    threads = [threading.Thread(target=forward, args=(rows[:1],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert probes == [1]


@pytest.mark.parametrize("n_rows", [1, 33, 70])
def test_other_backends_predict_on_batch_in_blocks_of_32(mnist_small, rows, n_rows):
    # A backend with no compiled path here (torch, say) predicts block by block:
    # blocks of exactly PREDICT_BLOCK rows, the last padded, the padding dropped.
    clf = _fitted(mnist_small, activation="gelu")
    with pytest.MonkeyPatch.context() as patch:  # a backend it has no program for
        patch.setattr(keras.backend, "backend", lambda: "torch")
        forward = CompiledForwardPass(clf.model_)
    calls = []
    predict_on_batch = clf.model_.predict_on_batch
    clf.model_.predict_on_batch = lambda block: (
        calls.append(len(block)) or (predict_on_batch(block))
    )
    proba = forward(rows[:n_rows])
    assert calls == [_forward.PREDICT_BLOCK] * -(-n_rows // _forward.PREDICT_BLOCK)
    assert proba.shape == (n_rows, 10)
    np.testing.assert_allclose(
        proba, clf.model_.predict(rows[:n_rows], verbose=0), rtol=0, atol=2e-6
    )


def test_another_blas_gets_the_compiled_network(mnist_small, rows, monkeypatch):
    monkeypatch.setattr(_forward, "_blas_is_openblas", lambda: False)
    monkeypatch.setattr(_forward, "_EXACT_ROWS", {})
    clf = _fitted(mnist_small)
    assert _forward.exact_rows(784, 16) == 0
    assert type(forward_pass(clf.model_)) is CompiledForwardPass
    _assert_rows_do_not_depend_on_the_batch(clf, rows)


def test_numpy_builds_blas_as_openblas_here():
    # The wheels on PyPI link OpenBLAS; the suite's other tests rely on it.
    assert _forward._blas_is_openblas()


@pytest.mark.parametrize("shape", [(784, 512), (512, 10), (784, 4), (4, 10)])
def test_exact_rows_are_rows_whose_products_match_a_long_call(shape):
    # Where the probe finds a count of rows, calls of that many rows and more give
    # the long call's rows, on one thread and on the process' threads. Where it
    # finds none (0: the book's layers on Haswell kernels), a call of a count it
    # tries differs from the long call, or one thread's long call from two's.
    fewest = _forward.exact_rows(*shape)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((max(2 * fewest, 1200), shape[0])).astype(np.float32)
    w = rng.standard_normal(shape).astype(np.float32)
    whole = _forward.product(x, w)  # a long call: OpenBLAS' kernel for big products
    if fewest == 0:
        with threadpool_limits(1):
            one_thread = _forward.product(x, w)
        counts = [4, 5, 11, 8, 9, 19, 16, 17, 35, 32, 33, 67, 64, 65, 131]
        differ = [
            n for n in counts
            if not np.array_equal(_forward.product(x[17 : 17 + n], w), whole[17:][:n])
        ]  # fmt: skip
        assert differ or not np.array_equal(one_thread, whole)
        return
    assert 4 <= fewest <= _forward.CHUNK_ROWS
    for start, size in [(0, fewest), (5, fewest), (9, fewest + 7), (0, 2 * fewest)]:
        np.testing.assert_array_equal(
            _forward.product(x[start : start + size], w), whole[start:][:size]
        )
        with threadpool_limits(1):  # on one thread too
            np.testing.assert_array_equal(
                _forward.product(x[start : start + size], w), whole[start:][:size]
            )


def _openblas_architecture():
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["internal_api"] == "openblas"]
    return blas[0].get("architecture") if blas else None


def test_a_long_inner_dimension_is_summed_in_pieces():
    # OpenBLAS blocks 784 terms by its thread count: one thread and two give other
    # sums. On its SkylakeX kernels, where this was measured, pieces of
    # INNER_PIECE terms give the same on both; where they do not (its Haswell
    # kernels), the probe keeps the layer out of NumPy.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 784)).astype(np.float32)
    w = rng.standard_normal((784, 512)).astype(np.float32)
    with threadpool_limits(2):
        two_plain, two_pieces = x @ w, _forward.product(x, w)
    with threadpool_limits(1):
        one_plain, one_pieces = x @ w, _forward.product(x, w)
    assert not np.array_equal(one_plain, two_plain)
    np.testing.assert_allclose(two_pieces, two_plain, rtol=1e-5, atol=1e-4)
    if _openblas_architecture() == "SkylakeX":
        np.testing.assert_array_equal(one_pieces, two_pieces)
    elif not np.array_equal(one_pieces, two_pieces):
        assert _forward.exact_rows(784, 512) == 0


def test_one_row_alone_differs_where_openblas_changes_kernel():
    # Why rows are padded: without it, one image's product is OpenBLAS' small-matrix
    # kernel's, a last bit away from the same row in a batch.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((600, 512)).astype(np.float32)
    w = rng.standard_normal((512, 10)).astype(np.float32)
    assert _forward.exact_rows(512, 10) != 1  # none, or more than one row
    assert not np.array_equal(x[:1] @ w, (x @ w)[:1])


@pytest.mark.parametrize("n_rows", [1, 5])  # 1: padded, blank pixels left out
def test_predict_follows_weights_set_on_the_keras_model(mnist_small, rows, n_rows):
    clf = _fitted(mnist_small)
    before = clf.predict_proba(rows[:n_rows])
    weights = clf.model_.get_weights()
    clf.model_.set_weights([w * 1.5 for w in weights])
    after = clf.predict_proba(rows[:n_rows])
    assert not np.allclose(before, after)
    np.testing.assert_allclose(
        after, clf.model_.predict(rows[:n_rows], verbose=0), rtol=0, atol=2e-6
    )
    clf.model_.set_weights(weights)
    np.testing.assert_array_equal(clf.predict_proba(rows[:n_rows]), before)


def _spy_on_left_out_inputs(monkeypatch):
    """The number of inputs each call of ``product_of_inputs`` keeps."""
    kept, product_of_inputs = [], _forward.product_of_inputs

    def spy(rows, kernel, inputs):
        kept.append(len(inputs))
        return product_of_inputs(rows, kernel, inputs)

    monkeypatch.setattr(_forward, "product_of_inputs", spy)
    return kept


def test_a_short_batch_leaves_out_the_pixels_zero_in_all_its_rows(
    mnist_small, rows, monkeypatch
):
    # A batch shorter than the first layer's exact rows multiplies only the
    # kernel rows of its nonzero pixels (a fifth of an MNIST image's): the same
    # sums, bit for bit, as in a long batch. The hidden layer takes all inputs.
    clf = _fitted(mnist_small)
    forward = forward_pass(clf.model_)
    fewest = _forward.exact_rows(784, NUMPY_UNITS)
    assert forward._fewest_rows == [fewest, _forward.exact_rows(NUMPY_UNITS, 10)]
    assert fewest >= 4
    blank = np.zeros((1, 784), np.float32)
    whole = forward(np.concatenate([rows, blank]))
    kept = _spy_on_left_out_inputs(monkeypatch)
    for start, stop in [(0, 1), (5, 8), (4299, 4300), (4300, 4301)]:
        np.testing.assert_array_equal(
            forward(np.concatenate([rows, blank])[start:stop]), whole[start:stop]
        )
    expected = [np.count_nonzero(rows[0]), np.count_nonzero(rows[5:8].any(axis=0))]
    assert kept == expected + [np.count_nonzero(rows[4299]), 0]
    assert 0 < max(kept) < 784 // 2
    forward(rows[:fewest])  # as many rows as an exact product: none left out
    assert len(kept) == 4
    assert forward(blank).dtype == np.float32  # no input left: zeros, as float32


def test_a_blank_image_through_one_layer_gives_float32_probabilities(rows):
    # No input left: the product is zeros, in float32, as the long call's.
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, "softmax")])
    forward = forward_pass(model)
    blank = np.zeros((1, 784), np.float32)
    alone = forward(blank)
    assert alone.dtype == np.float32
    np.testing.assert_array_equal(alone, forward(np.concatenate([rows, blank]))[-1:])


@pytest.mark.parametrize("n_nonzero, left_out", [(392, True), (393, False)])
def test_inputs_are_left_out_while_at_most_half_of_them_are_nonzero(
    mnist_small, rows, monkeypatch, n_nonzero, left_out
):
    clf = _fitted(mnist_small)
    forward = forward_pass(clf.model_)
    row = np.zeros((1, 784), np.float32)
    row[0, np.random.default_rng(0).choice(784, n_nonzero, replace=False)] = 0.5
    whole = forward(np.concatenate([rows, row]))
    kept = _spy_on_left_out_inputs(monkeypatch)
    np.testing.assert_array_equal(forward(row), whole[-1:])
    assert kept == ([n_nonzero] if left_out else [])


def test_a_nan_weight_of_a_blank_pixel_gives_nan_alone_as_in_a_batch(mnist_small, rows):
    # Zero times NaN is NaN: a kernel that is not all finite keeps every input.
    # The forward pass checks the kernel once per value it reads: it keeps the
    # kernel it checked, so an assignment gives the variable another buffer.
    clf = _fitted(mnist_small)
    forward = forward_pass(clf.model_)
    forward(rows[:1])  # the kernel is checked: finite
    kernel = clf.model_.layers[0].kernel
    values = keras.ops.convert_to_numpy(kernel)
    assert not rows[:, 0].any()  # the top left pixel is blank in every image
    values[0] = np.nan
    kernel.assign(values)
    alone = forward(rows[:1])
    assert np.isnan(alone).all()
    np.testing.assert_array_equal(alone, forward(rows)[:1])
    values[0] = 0
    kernel.assign(values)
    assert np.isfinite(forward(rows[:1])).all()


def test_the_kernel_is_checked_once_per_value_read(mnist_small, rows, monkeypatch):
    clf = _fitted(mnist_small)
    forward = forward_pass(clf.model_)
    shape, checked, isfinite = (784, NUMPY_UNITS), [], np.isfinite

    def spy(values, *args, **kwargs):
        checked.append(np.shape(values) == shape)
        return isfinite(values, *args, **kwargs)

    monkeypatch.setattr(np, "isfinite", spy)
    for start in range(3):
        forward(rows[start : start + 1])
    assert checked.count(True) == 1
    clf.model_.set_weights(clf.model_.get_weights())  # the same values, a new buffer
    forward(rows[:1])
    assert checked.count(True) == 2


class _FakeBlasBase:
    """A fake BLAS patched into ``_forward``: its ``product`` and one-thread context."""

    def __init__(self, monkeypatch):
        self.one_thread = False
        fake = self

        class OneThread:
            def __enter__(self):
                fake.one_thread = True

            def __exit__(self, *exc_info):
                fake.one_thread = False

        monkeypatch.setattr(_forward, "_one_blas_thread", OneThread())
        monkeypatch.setattr(_forward, "product", self.product)


class _FakeProducts(_FakeBlasBase):
    """Exact piece sums, made to differ where one BLAS call has ``differs_at`` terms."""

    def __init__(self, monkeypatch, differs_at):
        super().__init__(monkeypatch)
        self.differs_at, self.threads = differs_at, set()
        self.dtypes, self.terms = set(), set()  # of every call
        monkeypatch.setattr(_forward, "_ZERO_INPUTS", {})

    def product(self, rows, kernel):
        # Each piece of INNER_PIECE terms summed exactly, the pieces in float32.
        self.threads.add(self.one_thread)
        self.dtypes |= {rows.dtype, kernel.dtype}
        self.terms.add(len(kernel))
        out = np.zeros((len(rows), kernel.shape[1]), np.float32)
        for start in range(0, len(kernel), _forward.INNER_PIECE):
            stop = start + _forward.INNER_PIECE
            out += (rows[:, start:stop].astype(np.float64) @ kernel[start:stop]).astype(
                np.float32
            )
        if len(kernel) == self.differs_at:
            out += 1e-3
        return out


@pytest.mark.parametrize("differs_at", [None, 1, 43, 200, 255])
def test_leaving_zero_inputs_out_is_probed_for_every_count_on_one_thread(
    monkeypatch, differs_at
):
    # 300 inputs are pieces of 256 and 44 terms; a BLAS whose sums differ with
    # the count of terms in a call, at any count a piece can keep, keeps them all.
    fake = _FakeProducts(monkeypatch, differs_at)
    assert _forward.zero_inputs_can_be_left_out(300, 8, 4) is (differs_at is None)
    assert fake.threads == {True}
    assert fake.dtypes == {np.dtype(np.float32)}  # the products predict runs
    if differs_at is None:  # every count of terms a call of either piece can have
        assert fake.terms == set(range(1, 257)) | {300}
    # Each shape is probed on its own: 40 inputs make no call of more terms.
    exact_for_40 = differs_at is None or differs_at > 40
    assert _forward.zero_inputs_can_be_left_out(40, 8, 4) is exact_for_40


def test_huge_logits_give_probabilities_not_nan(mnist_small, rows):
    for activation in ("relu", "sigmoid"):
        clf = _fitted(mnist_small, activation=activation)
        clf.model_.set_weights([w * 300 for w in clf.model_.get_weights()])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warning either
            proba = clf.predict_proba(rows[:50])
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
        expected = clf.model_.predict(rows[:50], verbose=0)
        np.testing.assert_array_equal(proba.argmax(1), expected.argmax(1))


def test_a_network_of_other_layers_is_not_run_in_numpy():
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)]
    )
    assert DenseForwardPass.of(model) is None
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, use_bias=False)])
    assert DenseForwardPass.of(model) is None
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, "softmax")])
    assert type(DenseForwardPass.of(model)) is DenseForwardPass


def test_a_functional_network_of_three_dense_layers_runs_in_numpy(rows):
    # A functional model lists its InputLayer among its layers; a third layer
    # sizes the output by the last one; 4300 rows take two chunks.
    first, second = _widths_numpy_runs((64, 32), (4, 4))
    inputs = keras.Input((784,))
    hidden = keras.layers.Dense(first, "relu")(inputs)
    hidden = keras.layers.Dense(second, "tanh")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, "softmax")(hidden))
    forward = forward_pass(model)
    assert type(forward) is DenseForwardPass
    proba = forward(rows)
    assert proba.shape == (len(rows), 10)
    np.testing.assert_allclose(proba, model.predict(rows, verbose=0), atol=2e-6)


def test_blas_is_not_taken_for_openblas_when_numpy_cannot_say(monkeypatch):
    def fails(**kwargs):
        raise RuntimeError("no build information")

    monkeypatch.setattr(np, "show_config", fails)
    assert not _forward._blas_is_openblas()


def test_one_blas_thread_sets_numpys_blas_to_one_thread_and_back():
    from threadpoolctl import threadpool_info

    def numpys_threads():
        return [
            pool["num_threads"]
            for pool in threadpool_info()
            if pool["user_api"] == "blas" and "numpy" in pool["filepath"]
        ]

    # 3, not the 2 cores that OpenBLAS would also take for "its default".
    with threadpool_limits(3, user_api="blas"):
        assert numpys_threads() == [3]
        one_thread = _forward._OneBlasThread()  # a new one: its own set-up too
        with one_thread:
            assert numpys_threads() == [1]
        assert numpys_threads() == [3]
    with threadpool_limits(1, user_api="blas"):  # put back, not OpenBLAS' pool size
        with one_thread:
            assert numpys_threads() == [1]
        assert numpys_threads() == [1]


class _FakeBlas(_FakeBlasBase):
    """A product whose sums change with the thread count or the rows per call."""

    def __init__(
        self, monkeypatch, exact_from_rows, one_thread_like_two=True, differs_at=None
    ):
        super().__init__(monkeypatch)
        self.dtypes = set()
        self.exact_from_rows = exact_from_rows
        self.one_thread_like_two = one_thread_like_two
        self.differs_at = differs_at  # a count of rows whose calls differ
        monkeypatch.setattr(_forward, "_EXACT_ROWS", {})

    def product(self, rows, kernel):
        self.dtypes |= {rows.dtype, kernel.dtype}
        out = rows.astype(np.float64) @ kernel.astype(np.float64)
        if len(rows) == self.differs_at:
            out[:, 0] += 1  # another kernel for this many rows, on any threads
        elif self.one_thread and not self.one_thread_like_two:
            out[:, 0] += 1  # one thread's sums differ, even in a long call
        elif self.one_thread and len(rows) < self.exact_from_rows:
            out[:, 0] += 1  # short calls on one thread differ
        return out.astype(np.float32)


@pytest.mark.parametrize(
    "exact_from_rows, one_thread_like_two, expected",
    [
        (0, True, 4),  # every call exact: the fewest tried
        (32, True, 32),  # exact from 32 rows: 16 fails, 32 and 33 hold
        (2048, True, 0),  # no count needs more than half a chunk
        (_forward.CHUNK_ROWS, True, 0),  # only a long call is exact
        (0, False, 0),  # one thread's sums differ from two threads'
    ],
)
@pytest.mark.parametrize("differs_at", [None, 5, 11])
def test_exact_rows_probes_float32_products_on_one_thread_and_more(
    monkeypatch, exact_from_rows, one_thread_like_two, expected, differs_at
):
    # A count of rows whose calls differ is found among the counts tried with 4
    # rows (4, 5 and 11: one more, and the rows a batch of twice as many plus 3
    # has), so 4 does not hold; 8, 9 and 19 do.
    if differs_at is not None and expected == 4:
        expected = 8
    fake = _FakeBlas(monkeypatch, exact_from_rows, one_thread_like_two, differs_at)
    assert _forward.exact_rows(64, 8) == expected
    assert fake.dtypes == {np.dtype(np.float32)}  # the products predict runs


def test_long_batches_run_in_chunks_of_chunk_rows(mnist_small, rows, monkeypatch):
    # The hidden layer's memory is bounded by the chunk, whatever the batch.
    clf = _fitted(mnist_small)
    forward = forward_pass(clf.model_)
    whole = forward(rows)
    sizes = []
    chunk = forward._chunk
    monkeypatch.setattr(
        forward, "_chunk", lambda x, w: sizes.append(len(x)) or chunk(x, w)
    )
    np.testing.assert_array_equal(forward(rows), whole)
    assert sizes == [_forward.CHUNK_ROWS, len(rows) - _forward.CHUNK_ROWS]


def _small_dense_model():
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(NUMPY_UNITS, "relu"),
            keras.layers.Dense(10, "softmax"),
        ]
    )


def test_two_threads_first_calls_at_once_make_one_forward_pass(monkeypatch):
    # The first thread makes the forward pass, under the network's lock, once the
    # second has found none and waits for the lock: the second takes the first's.
    import threading

    model = _small_dense_model()
    cache, looked_up, made = _forward._FORWARD_PASSES, set(), []
    changed = threading.Condition()

    class Cache(weakref.WeakKeyDictionary):
        def get(self, key, default=None):
            with changed:
                looked_up.add(threading.get_ident())
                changed.notify_all()
            return cache.get(key, default)

        def __setitem__(self, key, value):
            cache[key] = value

    of = DenseForwardPass.of.__func__

    def of_once_both_looked(cls, network):
        with changed:
            assert changed.wait_for(lambda: len(looked_up) == 2, timeout=60)
        made.append(of(cls, network))
        return made[-1]

    monkeypatch.setattr(_forward, "_FORWARD_PASSES", Cache())
    monkeypatch.setattr(DenseForwardPass, "of", classmethod(of_once_both_looked))
    found = []
    threads = [
        threading.Thread(target=lambda: found.append(forward_pass(model)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(made) == 1
    assert found == [made[0], made[0]]


def test_one_forward_pass_and_one_lock_per_network():
    model = _small_dense_model()
    assert forward_pass(model) is forward_pass(model)
    assert _forward.predict_lock(model) is _forward.predict_lock(model)
    assert _forward.predict_lock(model) is not _forward.predict_lock(
        _small_dense_model()
    )


@pytest.mark.filterwarnings("ignore:Layer InputLayer does not have a `quantize`")
@pytest.mark.parametrize("change", ["lora", "int8", "mixed_float16"])
def test_lora_quantized_or_mixed_precision_layers_are_not_run_in_numpy(change):
    # Their kernel is not the variable NumPy would read (LoRA adds a product,
    # int8 keeps a quantized kernel and a scale) or not float32.
    if change == "mixed_float16":
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(10, dtype="mixed_float16")]
        )
    else:
        model = _small_dense_model()
        if change == "lora":
            model.layers[0].enable_lora(2)
        else:
            model.quantize(change)
    assert DenseForwardPass.of(model) is None
