"""Where one image's predict goes on TensorFlow: each part timed alone, in one process.

``benchmarks/performance.py`` times the whole ``pipeline.predict`` of one image
against the other contenders; this script splits it, to see what is left to gain.
Each figure is the best of 7 timeit runs of 3000 calls (microseconds):

- the pipeline's predict, and its parts: scikit-learn's ``check_is_fitted`` on the
  ``Pipeline``, the scaler, the forward pass;
- the forward pass' four variable reads, through ``tf.Variable.value()`` and
  through the bare ``ReadVariableOp`` that sk_mnist uses;
- the products on copied weights alone, and after one TensorFlow op;
- one image's p50 over 2000 calls as sk_mnist runs it (one BLAS thread, blank
  pixels left out of the first layer's product), with two BLAS threads, with
  every pixel kept, with the four reads in one op (a traced ``tf.function`` of
  them), and on copies of the weights with no read at all (what a cache of the
  weights would cost, were there a way to tell it is stale).

    SK_MNIST_DATA=/path/to/mnist python benchmarks/one_image_parts.py

Where the book's network runs compiled (OpenBLAS' kernels make its layers inexact
in NumPy, as on an AMD EPYC's Haswell kernels), it says so and stops.
"""

import os
import time
import timeit

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def best(function, number=3000, repeat=7):
    """Best time of one call, in microseconds."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def main():
    import numpy as np
    import tensorflow as tf
    from sklearn.utils.validation import check_is_fitted

    from sk_mnist import _forward, load_mnist, make_mnist_pipeline

    (X, y), (X_test, _) = load_mnist()
    pipeline = make_mnist_pipeline(epochs=1, random_state=0).fit(X[:1000], y[:1000])
    scaler, model = pipeline[0], pipeline[-1].model_
    image = X_test[:1]
    rows = scaler.transform(image)
    forward = _forward.forward_pass(model)
    if not isinstance(forward, _forward.DenseForwardPass):
        raise SystemExit(
            "The book's network runs compiled on this machine, not in NumPy: "
            "OpenBLAS' products of its layers are not exact for any count of rows "
            f"here (exact_rows(784, 512) = {_forward.exact_rows(784, 512)}). This "
            "script splits the NumPy path; performance.py times the compiled one."
        )
    variables = [v for layer in model.layers for v in (layer.kernel, layer.bias)]
    read = forward._read
    copies = {id(v): read(v).copy() for v in variables}
    constant = tf.constant(1.0)

    def products_on_copies():
        forward._read = lambda v: copies[id(v)]
        try:
            return forward(rows)
        finally:
            forward._read = read

    parts = {
        "pipeline.predict": lambda: pipeline.predict(image),
        "check_is_fitted(pipeline)": lambda: check_is_fitted(pipeline),
        "scaler.transform": lambda: scaler.transform(image),
        "forward pass": lambda: forward(rows),
        "4 reads, tf.Variable.value()": lambda: [
            v.value.value()._numpy() for v in variables
        ],
        "4 reads, ReadVariableOp": lambda: [read(v) for v in variables],
        "forward on copied weights": products_on_copies,
        "one TF op, then forward on copies": lambda: (
            tf.raw_ops.Identity(input=constant),
            products_on_copies(),
        ),
    }
    for name, function in parts.items():
        print(f"{name:36} {best(function):8.1f} us", flush=True)

    # The four reads as one op: a traced function of them, run as one op.
    from tensorflow.python.eager import context, execute

    handles = [v.value for v in variables]
    reads = tf.function(
        lambda: [tf.raw_ops.ReadVariableOp(resource=h.handle, dtype=h.dtype)
                 for h in handles]
    ).get_concrete_function()  # fmt: skip
    name = reads._inference_function.name.decode()
    order = {id(v): i for i, v in enumerate(variables)}
    last = []

    def read_in_one_op(variable):
        if order[id(variable)] == 0:  # the call's first read: all four at once
            last[:] = execute.execute(
                name, 4, reads.captured_inputs, (), context.context()
            )
        return last[order[id(variable)]]._numpy()

    images = X_test[:200]
    settings = {  # label: (ONE_THREAD_ROWS, KEPT_INPUTS_SHARE, variable reader)
        "as sk_mnist runs it": (64, 0.5, read),
        "two BLAS threads": (0, 0.5, read),
        "every pixel kept": (64, 0.0, read),
        "4 reads in one function op": (64, 0.5, read_in_one_op),
        "copies, no read (unsafe)": (64, 0.5, lambda v: copies[id(v)]),
    }
    for label, (rows_on_one_thread, kept_share, reader) in settings.items():
        _forward.ONE_THREAD_ROWS = rows_on_one_thread
        _forward.KEPT_INPUTS_SHARE = kept_share
        forward._read = reader
        times = []
        for i in range(2000):
            start = time.perf_counter()
            pipeline.predict(images[i % 200][None])
            times.append(time.perf_counter() - start)
        print(f"one image p50, {label:28} {np.median(times) * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
