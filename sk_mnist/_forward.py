"""The fitted network's forward pass in predict: row-exact, at the arithmetic's cost.

A row's probabilities must not depend on the other rows of its batch, nor on the
batch's size: a model file, a search's scores and a server must give one row one
answer. Keras' ``predict`` does not promise that (XLA and Eigen pick a matrix
product's blocking by its shape), and its per-call data pipeline costs far more
than one image's arithmetic.

Two forward passes, both exact by construction:

- :class:`DenseForwardPass` runs the book's network (Dense layers, known
  activations, float32) in NumPy on the network's own variables, read at every
  call. OpenBLAS sums a matrix product's terms in an order fixed by the inner
  dimension alone, so a row's product is the same in any call of at least a few
  rows; the fewest rows that reproduce a long call are found once per layer shape
  and process (:func:`exact_rows`) and a shorter batch is padded to them. Such a
  short batch leaves out the inputs that are zero in all its rows (most of an
  MNIST image's pixels): their terms add nothing, and each output's sum keeps
  its order (:func:`zero_inputs_can_be_left_out`). The activations work row by
  row, with the softmax's sum in a fixed order.
- :class:`CompiledForwardPass` everywhere else (another BLAS, another layer or
  activation): the network compiled with XLA over blocks of exactly
  ``PREDICT_BLOCK`` rows.
"""

import threading
import weakref

import keras
import numpy as np

__all__ = ["CompiledForwardPass", "DenseForwardPass", "forward_pass", "predict_lock"]

_PREDICT_LOCKS = weakref.WeakKeyDictionary()  # Keras model -> its predict lock
_PREDICT_LOCKS_GUARD = threading.Lock()
# Keras model -> its forward pass. Kept out of the estimator's __dict__,
# which pickle, clone, ``dump`` and scikit-learn's checks all read; weak, so that
# a network that is dropped is freed (the functions hold it by a weak reference).
_FORWARD_PASSES = weakref.WeakKeyDictionary()

#: Rows per block of the compiled network in predict. Every block has exactly
#: this many rows (the last one padded with zeros): XLA picks its matrix
#: product's algorithm by shape, and rows computed in blocks of other sizes differ
#: by up to 3e-7 on both backends; in blocks of one size a row's probabilities are
#: the same wherever it stands and whatever the batch. One image costs a whole
#: block; bigger blocks compute many rows faster. Measured side by side in one
#: process (2026-12-07, with a script since deleted, when this was the only path):
#: on JAX blocks of 16 took one image from 0.52-0.60 ms to 0.41-0.45 ms but
#: 10000 images from 0.094-0.164 s to 0.110-0.201 s (slower in 5 rounds of 5),
#: past the 0.75x of Keras' predict aimed at; on TensorFlow, whose call costs
#: more than the arithmetic, 16 saved 0.1 ms on one image and cost 20% on 10000.
PREDICT_BLOCK = 32
#: Most blocks per call of the compiled network: one call computes this many
#: blocks (4096 rows) in a loop compiled with it, each block the way a call of
#: one block does. Calls of fewer blocks are padded to a power of two, so that
#: at most 8 shapes are ever compiled per network.
PREDICT_CALL_BLOCKS = 4096 // PREDICT_BLOCK
#: Rows of the one block that a call of at most this many rows runs, when it gives
#: every row as a block of ``PREDICT_BLOCK`` does (probed once per network:
#: :meth:`CompiledForwardPass.small_block_is_exact`). XLA's CPU product takes
#: another algorithm for a block of at most 16 rows; a block of 17 gives each row
#: the bits a block of 32 gives (tests/test_classifier.py asserts the probe finds
#: it so on both backends). One image then costs 17 rows, not 32.
SMALL_BLOCK = 17


def predict_lock(model):
    """The lock that serialises ``predict`` calls on one Keras model."""
    with _PREDICT_LOCKS_GUARD:
        lock = _PREDICT_LOCKS.get(model)
        if lock is None:
            lock = _PREDICT_LOCKS[model] = threading.Lock()
        return lock


def forward_pass(model):
    """The forward pass of ``model`` for predict, made on first use, once.

    :class:`DenseForwardPass` where it can run the network (Dense layers with
    known activations, float32, a BLAS whose rows do not depend on the batch),
    otherwise :class:`CompiledForwardPass`.
    """
    forward = _FORWARD_PASSES.get(model)
    if forward is None:
        with predict_lock(model):
            forward = _FORWARD_PASSES.get(model)
            if forward is None:
                dense = DenseForwardPass.of(model)
                forward = dense if dense is not None else CompiledForwardPass(model)
                _FORWARD_PASSES[model] = forward
    return forward


#: Rows per NumPy call in :class:`DenseForwardPass`: bounds the memory of the
#: hidden layer's output (4096 x 512 float32 is 8 MiB) whatever the batch.
CHUNK_ROWS = 4096
#: Batches of fewer rows run their products on one BLAS thread: two threads
#: save little on a product this small, and on a loaded machine the one waiting
#: for the other took one image from 0.3 ms to 20 ms (measured at a load of 10
#: on 2 cores).
ONE_THREAD_ROWS = 64
#: Most terms of a sum in one BLAS call of :func:`product`. OpenBLAS cuts a longer
#: inner dimension into blocks by its thread count (the 784 pixels gave other
#: sums on one thread than on two); up to 256 it sums each row's terms in one
#: order on any number of threads and rows (measured on its SkylakeX kernels).
INNER_PIECE = 256
# Layer shape (inputs, units) -> the fewest rows whose products are exact, or 0.
_EXACT_ROWS = {}
_EXACT_ROWS_LOCK = threading.Lock()


def _blas_is_openblas():
    """Whether NumPy's matrix product is OpenBLAS' (the order argued above)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # an unknown build of NumPy: assume nothing
        return False
    return "openblas" in str(blas.get("name", "")).lower()


def exact_rows(n_inputs, n_units):
    """The fewest rows in a call whose products are those of a long call, or 0.

    Checked once per shape and process on random values (about 0.1 s for the
    784 x 512 layer): a call of ``CHUNK_ROWS`` rows must give the same on one
    BLAS thread as on the process' threads; then for 4, 8, 16, ... rows, calls
    of that many rows, one more and twice as many, on both, must give the rows
    of the long call (of :func:`product`). One row alone takes OpenBLAS'
    matrix-vector kernel, whose sums differ in the last bit, and some narrow
    layers take another kernel below about 10**6 multiplications: the book's
    layers need 4 rows, a layer of 4 units 1024. 0 when no count up to
    ``CHUNK_ROWS`` holds, or the BLAS is not OpenBLAS.
    """
    key = (n_inputs, n_units)
    with _EXACT_ROWS_LOCK:
        if key not in _EXACT_ROWS:
            _EXACT_ROWS[key] = _find_exact_rows(n_inputs, n_units)
        return _EXACT_ROWS[key]


def _find_exact_rows(n_inputs, n_units):
    if not _blas_is_openblas():
        return 0
    rng = np.random.default_rng(0)
    weights = rng.uniform(-1, 1, (n_inputs, n_units)).astype(np.float32)
    rows = rng.uniform(-1, 1, (CHUNK_ROWS, n_inputs)).astype(np.float32)
    whole = product(rows, weights)  # a long call, as in a batch of 4096 rows
    with _one_blas_thread:
        if not np.array_equal(product(rows, weights), whole):
            return 0
    fewest = 4
    while 2 * fewest + 20 <= CHUNK_ROWS:
        sizes = (fewest, fewest + 1, 2 * fewest + 3)
        calls = [(rows[17:][:size], whole[17:][:size]) for size in sizes]
        exact = all(np.array_equal(product(x, weights), y) for x, y in calls)
        with _one_blas_thread:
            exact = exact and all(
                np.array_equal(product(x, weights), y) for x, y in calls
            )
        if exact:
            return fewest
        fewest *= 2
    return 0


def product(rows, kernel):
    """``rows @ kernel``, its sums taken ``INNER_PIECE`` terms per BLAS call.

    The pieces' products are added in order, so every row's sums are the same
    whatever OpenBLAS' threads and blocking do with a long inner dimension.
    """
    piece = INNER_PIECE
    out = rows[:, :piece] @ kernel[:piece]
    for start in range(piece, kernel.shape[0], piece):
        out += rows[:, start : start + piece] @ kernel[start : start + piece]
    return out


#: A short batch leaves out the first layer's zero inputs when at most this
#: share of them is left: gathering the kept rows of the kernel copies them.
KEPT_INPUTS_SHARE = 0.5
# Layer shape (inputs, units) and rows per call -> whether leaving zero inputs
# out of a product gives the same sums.
_ZERO_INPUTS = {}


def product_of_inputs(rows, kernel, inputs):
    """``rows @ kernel`` when only ``inputs`` (sorted column indices) can be nonzero.

    Each ``INNER_PIECE`` of :func:`product` keeps its own inputs, summed in one
    BLAS call, and the pieces are added in the same order: every term left out is
    a zero times a weight.
    """
    pieces = range(INNER_PIECE, kernel.shape[0], INNER_PIECE)
    stops = np.searchsorted(inputs, pieces).tolist() + [len(inputs)]
    rows, kernel = rows[:, inputs], kernel[inputs]
    out, start = None, 0
    for stop in stops:
        if stop > start:
            part = product(rows[:, start:stop], kernel[start:stop])
            out = part if out is None else np.add(out, part, out=out)
        start = stop
    if out is None:  # every input is zero
        return np.zeros((len(rows), kernel.shape[1]), np.float32)
    return out


def zero_inputs_can_be_left_out(n_inputs, n_units, n_rows):
    """Whether :func:`product_of_inputs` gives :func:`product`'s sums, bit for bit.

    A zero input's term (zero times a finite weight) adds nothing, so the
    products are the same when the BLAS adds each output's other terms in the
    same order with fewer of them, as a sequence of multiply-adds does. Checked
    once per shape and process, on one BLAS thread (the short batches' threads),
    on calls of ``n_rows`` rows keeping 1, 2, ... ``INNER_PIECE`` inputs of
    each piece (about 0.1 s for the 784 x 512 layer).
    """
    key = (n_inputs, n_units, n_rows)
    with _EXACT_ROWS_LOCK:
        if key not in _ZERO_INPUTS:
            _ZERO_INPUTS[key] = _find_zero_inputs_exact(n_inputs, n_units, n_rows)
        return _ZERO_INPUTS[key]


def _find_zero_inputs_exact(n_inputs, n_units, n_rows):
    rng = np.random.default_rng(0)
    weights = rng.uniform(-1, 1, (n_inputs, n_units)).astype(np.float32)
    starts = range(0, n_inputs, INNER_PIECE)
    with _one_blas_thread:
        for n_kept in range(1, min(INNER_PIECE, n_inputs) + 1):
            inputs = np.concatenate(
                [
                    start + np.sort(rng.choice(width, min(n_kept, width), False))
                    for start in starts
                    for width in [min(INNER_PIECE, n_inputs - start)]
                ]
            )
            rows = np.zeros((n_rows, n_inputs), np.float32)
            rows[:, inputs] = rng.uniform(0, 1, (n_rows, len(inputs)))
            left_out = product_of_inputs(rows, weights, inputs)
            if not np.array_equal(left_out, product(rows, weights)):
                return False
    return True


class _OneBlasThread:
    """A context in which NumPy's BLAS runs on one thread (threadpoolctl).

    One at a time in the process (a lock), so that the thread count that is
    put back is the one found; other threads' products meanwhile also run on one
    thread, which changes their speed, not their results.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._blas = None

    def _numpys_blas(self):
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            blas = ThreadpoolController().select(user_api="blas").lib_controllers
            own = [lib for lib in blas if "numpy" in lib.filepath]
            self._blas = own or blas
        return self._blas

    def __enter__(self):
        self._lock.acquire()
        try:
            self._threads = [lib.get_num_threads() for lib in self._numpys_blas()]
            for lib in self._blas:
                lib.set_num_threads(1)
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info):
        try:
            for lib, threads in zip(self._blas, self._threads):
                lib.set_num_threads(threads)
        finally:
            self._lock.release()


_one_blas_thread = _OneBlasThread()


def _relu(x):
    return np.maximum(x, 0, out=x)


def _sigmoid(x):
    np.negative(x, out=x)
    with np.errstate(over="ignore"):  # exp(-x) = inf for x < -88: 1 / inf is 0
        np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def _tanh(x):
    return np.tanh(x, out=x)


def _linear(x):
    return x


def _softmax(x):
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    # A sum along the rows' contiguous axis: NumPy adds each row's values alone,
    # in an order fixed by the row's length (pairwise), whatever the other rows.
    x /= np.add.reduce(x, axis=1, keepdims=True)
    return x


_ACTIVATIONS = {
    keras.activations.relu: _relu,
    keras.activations.sigmoid: _sigmoid,
    keras.activations.tanh: _tanh,
    keras.activations.linear: _linear,
    keras.activations.softmax: _softmax,
}


def _variable_reader():
    """A function giving a Keras variable's value as NumPy, without a copy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:  # not public: a TensorFlow that moves it gets the general read
            from tensorflow.python.ops.resource_variable_ops import ResourceVariable
        except ImportError:  # pragma: no cover
            ResourceVariable = None
        read_op = tf.raw_ops.ReadVariableOp

        def read(variable):
            # A read of the variable; NumPy views its buffer, which an
            # assignment replaces (copy on write) rather than changes. The op
            # itself, not ``tf.Variable.value()``, which also records the read
            # for gradient tapes and distribution strategies: the network's
            # four reads take 39 us instead of 57 us (2026-12-07,
            # benchmarks/one_image_parts.py).
            value = variable.value
            if type(value) is not ResourceVariable:  # a distributed one, say
                return value.value()._numpy()
            return read_op(resource=value.handle, dtype=value.dtype)._numpy()

        return read
    if backend == "jax":
        return lambda variable: np.asarray(variable.value)  # immutable
    return keras.ops.convert_to_numpy


def _dense_layers(model):
    """Each layer's NumPy activation, exact row count and whether its zero inputs
    can be left out; or None (not the book's kind).

    A function, not part of the classmethod :meth:`DenseForwardPass.of`: mutmut
    does not mutate decorated functions.
    """
    layers = [layer for layer in model.layers if not _is_input(layer)]
    activations, fewest_rows, zero_inputs = [], [], []
    for layer in layers:
        activation = _ACTIVATIONS.get(getattr(layer, "activation", None))
        if (
            type(layer) is not keras.layers.Dense
            or activation is None
            or not layer.use_bias
            or layer.dtype_policy.name != "float32"
            or getattr(layer, "lora_enabled", False)
            or getattr(layer, "quantization_mode", None)
        ):
            return None
        n_inputs, n_units = layer.kernel.shape
        exact = exact_rows(n_inputs, n_units)
        if not exact:
            return None
        activations.append(activation)
        fewest_rows.append(exact)
        # The first layer's inputs are the pixels, most of them zero in an
        # MNIST image, and its kernel is the network's largest.
        first = not zero_inputs
        zero_inputs.append(
            first and zero_inputs_can_be_left_out(n_inputs, n_units, exact)
        )
    if not layers:
        return None
    return activations, fewest_rows, zero_inputs


class DenseForwardPass:
    """The book's network in NumPy: Dense layers, one matrix product each.

    Reads the network's variables at every call (microseconds, no copy), so it
    follows ``partial_fit``, warm starts and rollbacks, which change the weights
    in place. Made by :meth:`of`, which says when it cannot run a network.
    """

    def __init__(self, model, activations, fewest_rows, zero_inputs):
        self._model = weakref.ref(model)
        self._activations = activations
        self._fewest_rows = fewest_rows  # per layer
        self._zero_inputs = zero_inputs  # per layer: can they be left out?
        self._read = _variable_reader()
        # Layer index -> (its kernel as last read, whether all of it is finite).
        # Holding the read keeps its buffer: an assignment to the variable then
        # gets a buffer of its own (TensorFlow copies on write, JAX arrays are
        # immutable), so a kernel read at the same address is the same values.
        self._finite_kernels = {}

    @classmethod
    def of(cls, model):
        """The forward pass of ``model``, or None when it is not the book's kind."""
        layers = _dense_layers(model)
        return None if layers is None else cls(model, *layers)

    def __call__(self, rows):
        model = self._model()
        read = self._read
        weights = [
            (read(layer.kernel), read(layer.bias))
            for layer in model.layers
            if not _is_input(layer)
        ]
        n_rows = len(rows)
        if n_rows < ONE_THREAD_ROWS:
            with _one_blas_thread:
                return self._chunk(rows, weights)
        if n_rows <= CHUNK_ROWS:
            return self._chunk(rows, weights)
        outputs = np.empty((n_rows, weights[-1][1].shape[0]), np.float32)
        for start in range(0, n_rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n_rows)
            outputs[start:stop] = self._chunk(rows[start:stop], weights)
        return outputs

    def _chunk(self, rows, weights):
        n_rows = len(rows)
        layers = zip(weights, self._activations, self._fewest_rows)
        for layer, ((kernel, bias), activation, fewest_rows) in enumerate(layers):
            if n_rows < fewest_rows:  # padded with zeros to an exact product
                padded = np.zeros((fewest_rows, rows.shape[1]), np.float32)
                padded[:n_rows] = rows
                inputs = self._nonzero_inputs(layer, rows, kernel)
                if inputs is None:
                    rows = product(padded, kernel)[:n_rows]
                else:
                    rows = product_of_inputs(padded, kernel, inputs)[:n_rows]
            else:
                rows = product(rows, kernel)[:n_rows]
            rows += bias
            rows = activation(rows)
        return rows

    def _nonzero_inputs(self, layer, rows, kernel):
        """The inputs a short batch's product needs, or None for all of them.

        None unless few inputs are nonzero in ``rows``, leaving zeros out is
        exact on this BLAS, and the kernel is finite (a zero times an infinite
        or NaN weight is NaN, not nothing).
        """
        if not self._zero_inputs[layer]:
            return None
        inputs = np.flatnonzero(rows.any(axis=0))
        if len(inputs) > KEPT_INPUTS_SHARE * kernel.shape[0]:
            return None
        seen = self._finite_kernels.get(layer)
        if seen is None or seen[0].ctypes.data != kernel.ctypes.data:
            seen = self._finite_kernels[layer] = (kernel, np.isfinite(kernel).all())
        return inputs if seen[1] else None


def _is_input(layer):
    return isinstance(layer, keras.layers.InputLayer)


class CompiledForwardPass:
    """A Keras model's compiled forward pass: float32 rows in, NumPy outputs out.

    It reads the model's variables at every call, so that it follows
    ``partial_fit``, warm-start fits and a transaction's rollback, which all
    change the weights in place. Compiled with XLA: on TensorFlow
    ``tf.function(jit_compile=True)``, on JAX ``jax.jit`` over
    ``stateless_call``; other backends use ``predict_on_batch``.

    The rows are viewed as blocks of exactly ``PREDICT_BLOCK`` rows, the last
    one padded with zeros, and one compiled call computes up to
    ``PREDICT_CALL_BLOCKS`` blocks: a loop in the compiled program (``lax.map``,
    ``tf.map_fn``) whose body is the network on one block. Each block is
    computed by the same program whatever the number of blocks, so a row's
    outputs are the same wherever it stands in whatever batch, and 10000 rows
    cost 3 calls, not 313 (on JAX dispatched at once, so they overlap). A call
    of at most ``SMALL_BLOCK`` rows runs one block of that many rows instead,
    once a probe has found that it gives every row the same bits
    (:meth:`small_block_is_exact`). ``traces`` counts the Python traces (one per
    block size and number of blocks per call).

    The model is held by a weak reference: a strong one, from a value of the
    weak-keyed cache, would keep every network ever predicted with alive.
    """

    def __init__(self, model):
        self.traces = 0
        self._model = weakref.ref(model)
        self._n_features = model.inputs[0].shape[-1]
        self._lock = threading.Lock()
        backend = keras.backend.backend()
        if backend == "tensorflow":
            self._compile = self._tensorflow
        elif backend == "jax":
            self._compile = self._jax()
        else:
            self._compile = None
        self._calls = {}  # (blocks per call, rows per block) -> compiled function
        self._small_is_exact = None  # probed at the first short call
        self._probe_lock = threading.Lock()

    def __call__(self, rows):
        n_rows, block = len(rows), PREDICT_BLOCK
        if self._compile is None:
            return self._on_batch(rows)
        if n_rows <= SMALL_BLOCK and self.small_block_is_exact():
            return self._one_block(rows, SMALL_BLOCK)[:n_rows]
        n_blocks = max(1, -(-n_rows // block))
        outputs = []
        for first in range(0, n_blocks, PREDICT_CALL_BLOCKS):
            count = min(PREDICT_CALL_BLOCKS, n_blocks - first)
            size = 1 << (count - 1).bit_length()  # a power of two >= count
            chunk = rows[first * block : (first + count) * block]
            if len(chunk) < size * block:  # pad with zeros to whole blocks
                padded = np.zeros((size * block, rows.shape[1]), rows.dtype)
                padded[: len(chunk)] = chunk
                chunk = padded
            blocks = chunk.reshape(size, block, rows.shape[1])
            # JAX returns at once (asynchronous dispatch): calls overlap.
            outputs.append((self._call(size)(blocks), count))
        outputs = [np.asarray(output)[:count] for output, count in outputs]
        outputs = np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
        return outputs.reshape(-1, outputs.shape[-1])[:n_rows]

    def _call(self, size, block=PREDICT_BLOCK):
        key = (size, block)
        call = self._calls.get(key)
        if call is None:
            with self._lock:  # traced once per shape, even from many threads
                call = self._calls.get(key)
                if call is None:
                    call = self._calls[key] = self._compile(size, block)
        return call

    def _one_block(self, rows, block):
        """At most ``block`` rows through one compiled block of ``block`` rows."""
        padded = np.zeros((1, block, rows.shape[1]), np.float32)
        padded[0, : len(rows)] = rows
        return np.asarray(self._call(1, block)(padded))[0]

    def small_block_is_exact(self):
        """Whether a block of ``SMALL_BLOCK`` rows gives each row a block of
        ``PREDICT_BLOCK`` gives it, bit for bit; probed once.

        The probe runs ``PREDICT_BLOCK`` rows of random inputs, scaled from 1
        down to 1e-3 (so that some outputs are far from 0 and 1), through one
        block of ``PREDICT_BLOCK`` rows and through blocks of ``SMALL_BLOCK``, each
        row at other places in the two. Summing a product's terms in another order
        changes the last bits of most outputs; the same order gives the same bits
        whatever the values.
        """
        if self._small_is_exact is None:
            with self._probe_lock:
                if self._small_is_exact is None:
                    self._small_is_exact = self._probe_small_block()
        return self._small_is_exact

    def _probe_small_block(self):
        rng = np.random.default_rng(0)
        rows = rng.uniform(0, 1, (PREDICT_BLOCK, self._n_features))
        rows *= np.geomspace(1, 1e-3, PREDICT_BLOCK)[:, None]
        rows = rows.astype(np.float32)
        whole = self._one_block(rows, PREDICT_BLOCK)
        for start in range(0, PREDICT_BLOCK, SMALL_BLOCK):
            part = rows[start : start + SMALL_BLOCK]
            if not np.array_equal(
                self._one_block(part, SMALL_BLOCK)[: len(part)],
                whole[start : start + len(part)],
            ):
                return False
        return True

    def _on_batch(self, rows):
        outputs = [
            keras.ops.convert_to_numpy(self._model().predict_on_batch(block))
            for block in _blocks_of(rows)
        ]
        return np.concatenate(outputs)[: len(rows)]

    def _tensorflow(self, size, block):
        import tensorflow as tf

        spec = tf.TensorSpec([size, block, self._n_features], tf.float32)

        @tf.function(input_signature=[spec], autograph=False, jit_compile=True)
        def forward(blocks):
            self.traces += 1  # runs at tracing only
            model = self._model()
            if size == 1:  # what the loop computes, without a loop to launch
                return model(blocks[0], training=False)[None]
            return tf.map_fn(
                lambda block: model(block, training=False),
                blocks,
                fn_output_signature=tf.float32,
            )

        # Traced now, under the lock; calling the concrete function also skips
        # tf.function's per-call dispatch on the arguments, and its flat call
        # (not public: a TensorFlow without it gets the plain call) the binding
        # of them to its signature, tens of microseconds of one image's call.
        concrete = forward.get_concrete_function()
        call_flat = getattr(concrete, "_call_flat", None)
        if call_flat is None:  # pragma: no cover
            return lambda blocks: concrete(blocks).numpy()
        constant = tf.constant
        return lambda blocks: call_flat(
            [constant(blocks)], concrete.captured_inputs
        ).numpy()

    def _jax(self):
        import jax

        def forward(trainable, non_trainable, blocks):
            self.traces += 1  # runs at tracing only

            def one_block(block):
                outputs, _ = self._model().stateless_call(
                    trainable, non_trainable, block, training=False
                )
                return outputs

            return jax.lax.map(one_block, blocks)

        forward = jax.jit(forward)

        def compile_for(size, block):  # jax.jit traces once per shape
            def call(blocks):  # a JAX array, computed in the background
                model = self._model()
                return forward(
                    [v.value for v in model.trainable_variables],
                    [v.value for v in model.non_trainable_variables],
                    blocks,
                )

            return call

        return compile_for


def _blocks_of(rows):
    """``rows`` in blocks of ``PREDICT_BLOCK`` rows, the last padded with zeros."""
    for start in range(0, len(rows), PREDICT_BLOCK):
        block = rows[start : start + PREDICT_BLOCK]
        if len(block) < PREDICT_BLOCK:
            padded = np.zeros((PREDICT_BLOCK, rows.shape[1]), rows.dtype)
            padded[: len(block)] = block
            block = padded
        yield block
