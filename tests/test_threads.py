"""Threads per fit follow the parallel backend: loky's inner limit, Dask's grant."""

import os

import joblib
import keras
import numpy as np
import pytest

from sk_mnist import MNISTClassifier, _threads


def pool_threads_after_a_fit():
    """In a worker: (threads granted, threads the backend's pool has) after a fit."""
    X = np.random.RandomState(0).rand(60, 8).astype(np.float32)
    MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, np.arange(60) % 3)
    granted = _threads.threads_per_fit()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return granted, tf.config.threading.get_intra_op_parallelism_threads()
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in flags.split():
        if flag.startswith("intra_op_parallelism_threads="):
            return granted, int(flag.split("=")[1])
    return granted, None


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"SK_MNIST_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),  # explicit first
        ({"OMP_NUM_THREADS": "2"}, 2),  # loky's and Dask's workers set it
        ({"OMP_NUM_THREADS": "many"}, None),  # another library's typo: ignored
        ({}, None),  # a plain process: the backend's default, every core
    ],
)
def test_threads_per_fit_reads_the_grant(monkeypatch, environ, expected):
    for name in ("SK_MNIST_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert _threads.threads_per_fit() == expected


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_explicit_thread_count_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv("SK_MNIST_THREADS", value)
    with pytest.raises(ValueError, match="SK_MNIST_THREADS must be a positive"):
        _threads.threads_per_fit()


def test_fits_in_loky_workers_get_joblibs_inner_thread_limit():
    results = joblib.Parallel(n_jobs=2)(
        joblib.delayed(pool_threads_after_a_fit)() for _ in range(2)
    )
    inner = max(1, joblib.cpu_count() // 2)  # joblib's default for n_jobs=2
    assert results == [(inner, inner)] * 2, results
