"""Reproducible across processes, safe under threads, transactional fit."""

import logging
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
from sklearn.utils.validation import check_is_fitted

from sk_mnist import MNISTClassifier, make_mnist_pipeline

TINY = dict(hidden_units=16, epochs=3, batch_size=32)


# --- reproducibility ----------------------------------------------------------

_FIT_IN_A_PROCESS = """
import sys
import numpy as np
from sk_mnist import load_mnist, make_mnist_pipeline
(X, y), (X_test, _) = load_mnist()
pipe = make_mnist_pipeline(epochs=1, random_state=0).fit(X[:2000], y[:2000])
np.save(sys.argv[1], pipe.predict_proba(X_test[:500]))
"""


def test_two_processes_give_identical_predict_proba(tmp_path, mnist):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    results = []
    for run in range(2):
        out = tmp_path / f"proba{run}.npy"
        subprocess.run(
            [sys.executable, "-c", _FIT_IN_A_PROCESS, str(out)],
            check=True,
            env=env,
            timeout=300,
        )
        results.append(np.load(out))
    assert results[0].shape == (500, 10)
    np.testing.assert_array_equal(results[0], results[1])


def test_seeded_fit_restores_the_users_tensorflow_seed(blobs):
    # A seeded fit used to end with tf.random.set_seed(None), forgetting this seed.
    import tensorflow as tf

    X, y = blobs
    tf.random.set_seed(42)
    expected = tf.random.uniform([4]).numpy()
    tf.random.set_seed(42)
    MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(tf.random.uniform([4]).numpy(), expected)
    tf.random.set_seed(None)


def test_seeded_fit_leaves_the_users_keras_random_stream_alone(blobs):
    X, y = blobs
    keras.utils.set_random_seed(7)
    expected = [keras.ops.convert_to_numpy(keras.random.uniform([4])) for _ in "ab"]
    keras.utils.set_random_seed(7)
    first = keras.ops.convert_to_numpy(keras.random.uniform([4]))
    MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    second = keras.ops.convert_to_numpy(keras.random.uniform([4]))
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(second, expected[1])


# --- threads ------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_eight_threads_predict_as_sequential_calls(mnist_small):
    (X, y), (X_test, _) = mnist_small
    pipe = make_mnist_pipeline(**TINY, random_state=0).fit(X[:1000], y[:1000])
    # Chunks of different lengths: Keras traces predict per batch shape.
    chunks = [X_test[100 * i : 100 * i + 37 + 9 * i] for i in range(8)]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        if i % 2:
            return pipe.predict(chunks[i])
        return pipe.predict_proba(chunks[i])

    records = _Records()
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addHandler(records)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(work, range(8)))
    finally:
        tf_logger.removeHandler(records)
    for i, result in enumerate(concurrent):
        sequential = pipe.predict(chunks[i]) if i % 2 else pipe.predict_proba(chunks[i])
        np.testing.assert_array_equal(result, sequential)
    # Concurrent first calls made TensorFlow retrace the predict function
    # again and again ("triggered tf.function retracing").
    assert not [m for m in records.messages if "retracing" in m]


def test_unpickled_pipeline_predicts_from_threads(mnist_small):
    (X, y), (X_test, _) = mnist_small
    pipe = make_mnist_pipeline(**TINY, random_state=0).fit(X[:500], y[:500])
    expected = pipe.predict_proba(X_test[:200])
    copy = pickle.loads(pickle.dumps(pipe))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: copy.predict_proba(X_test[:200]), range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


# --- faults during fit --------------------------------------------------------


class _RaiseAt(keras.callbacks.Callback):
    """Raise ``error`` at the end of epoch ``epoch`` (0-based) or of a batch."""

    def __init__(self, error, epoch=1, on_batch=False):
        super().__init__()
        self.error, self.epoch, self.on_batch = error, epoch, on_batch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch and not self.on_batch:
            raise self.error

    def on_train_batch_end(self, batch, logs=None):
        if self.on_batch and batch == 1:
            raise self.error


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["exception", "ctrl-c"]
)
def test_failed_first_fit_leaves_the_estimator_unfitted(blobs, error):
    X, y = blobs
    clf = MNISTClassifier(**TINY, callbacks=[_RaiseAt(error)])
    before = dict(vars(clf))
    with pytest.raises(type(error)):
        clf.fit(X, y)
    assert vars(clf) == before
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(clf)
    clf.set_params(callbacks=None).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 4)


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm_start"])
@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["exception", "ctrl-c"]
)
def test_failed_refit_keeps_the_previous_model(blobs, error, warm_start):
    X, y = blobs
    clf = MNISTClassifier(**TINY, random_state=0, warm_start=warm_start).fit(X, y)
    proba, model = clf.predict_proba(X), clf.model_
    history = {k: list(v) for k, v in clf.history_.items()}
    iterations = int(model.optimizer.iterations.numpy())
    clf.set_params(callbacks=[_RaiseAt(error, on_batch=True)])
    with pytest.raises(type(error)):
        clf.fit(X, y)
    assert clf.model_ is model
    assert {k: list(v) for k, v in clf.history_.items()} == history
    assert int(clf.model_.optimizer.iterations.numpy()) == iterations
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    clf.set_params(callbacks=None).fit(X, y)
    # A warm-start fit counts epochs on: its history follows the first fit's.
    assert len(clf.history_["loss"]) == TINY["epochs"] * (2 if warm_start else 1)
    assert (clf.model_ is model) == warm_start  # warm_start trains in place
    # Cold: the same seed gives the same network again; warm: trained further.
    assert np.array_equal(clf.predict_proba(X), proba) != warm_start


def test_failed_partial_fit_keeps_the_previous_model(blobs):
    X, y = blobs
    clf = MNISTClassifier(**TINY, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(callbacks=[_RaiseAt(KeyboardInterrupt(), on_batch=True)])
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert clf.current_epoch == TINY["epochs"]
