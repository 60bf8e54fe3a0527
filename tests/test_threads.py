"""Threads per fit follow the parallel backend: loky's inner limit, Dask's grant."""

import os
import types

import distributed
import joblib
import keras
import numpy as np
import pytest

from sk_mnist import MNISTClassifier, _threads


def pool_threads_after_a_fit():
    """In a worker: (threads granted, threads the backend's pools have) after a fit.

    Under TensorFlow both pools (intra-op and inter-op) are sized; when they
    differ, the second item is the pair of them.
    """
    X = np.random.RandomState(0).rand(60, 8).astype(np.float32)
    MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, np.arange(60) % 3)
    granted = _threads.threads_per_fit()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        return granted, intra if intra == inter else (intra, inter)
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in flags.split():
        if flag.startswith("intra_op_parallelism_threads="):
            return granted, int(flag.split("=")[1])
    return granted, None


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"SK_MNIST_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),  # explicit first
        ({"SK_MNIST_THREADS": " 1 "}, 1),  # one thread is a whole number too
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


def dask_worker_of(nthreads):
    return types.SimpleNamespace(state=types.SimpleNamespace(nthreads=nthreads))


@pytest.mark.parametrize(
    "cores, nthreads, expected",
    [
        (8, 3, 2),  # cores // threads, a whole number
        (8, 1, 8),  # one task at a time: every core
        (2, 4, 1),  # more tasks than cores: one each, never 0
        (8, 0, 8),  # a worker of 0 threads counts as 1
        (None, 1, 1),  # cores unknown: 1
    ],
)
def test_in_a_dask_worker_each_task_gets_its_share_of_the_cores(
    monkeypatch, cores, nthreads, expected
):
    # Rule 3, when neither variable is set (no nanny): the worker's cores
    # shared among the tasks it runs at once.
    for name in ("SK_MNIST_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(distributed, "get_worker", lambda: dask_worker_of(nthreads))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert _threads.threads_per_fit() == expected
    monkeypatch.setenv("OMP_NUM_THREADS", "5")  # a nanny's grant comes first
    assert _threads.threads_per_fit() == 5


def test_a_real_dask_task_gets_the_share_of_its_worker(monkeypatch):
    for name in ("SK_MNIST_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert _threads._dask_worker() is None  # not in a Dask task
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client:
        threads = client.submit(_threads.threads_per_fit).result()
    assert threads == max(1, (os.cpu_count() or 1) // 2)


@pytest.fixture
def unconfigured(monkeypatch):
    """A process whose first fit has not yet sized the pools; calls to them."""
    monkeypatch.setattr(_threads, "_configured", None)
    for name in ("SK_MNIST_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS"):
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(_threads, "_set_pools", lambda n: calls.append(n) or n)
    return calls


def test_only_the_first_fit_of_a_process_sizes_the_pools(monkeypatch, unconfigured):
    monkeypatch.setenv("SK_MNIST_THREADS", "3")
    assert _threads.configure_threads() == 3
    monkeypatch.setenv("SK_MNIST_THREADS", "2")
    assert _threads.configure_threads() == 3  # sized once, kept
    assert unconfigured == [3]


def test_without_a_grant_the_pools_are_left_alone(unconfigured):
    assert _threads.configure_threads() is False
    assert _threads.configure_threads() is False
    assert unconfigured == []


def tensorflow_pools(monkeypatch, started=False):
    """TensorFlow's pool setters, recorded; raising as after start if ``started``."""
    import tensorflow as tf

    calls = []

    def setter(pool):
        def set_threads(threads):
            if started:
                raise RuntimeError(f"{pool} cannot be modified after initialization")
            calls.append((pool, threads))

        return set_threads

    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    for pool in ("intra_op", "inter_op"):
        name = f"set_{pool}_parallelism_threads"
        monkeypatch.setattr(tf.config.threading, name, setter(pool))
    return calls


def test_both_tensorflow_pools_are_sized(monkeypatch):
    calls = tensorflow_pools(monkeypatch)
    assert _threads._set_pools(3) == 3
    assert sorted(calls) == [("inter_op", 3), ("intra_op", 3)]


def test_a_started_tensorflow_keeps_its_pools(monkeypatch):
    tensorflow_pools(monkeypatch, started=True)
    assert _threads._set_pools(3) is False


@pytest.mark.parametrize(
    "flags, threads, expected",
    [
        (None, 1, "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"),
        (
            "--xla_dump_to=/tmp/x",  # the user's flags are kept
            2,
            "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=true "
            "intra_op_parallelism_threads=2",
        ),
        ("intra_op_parallelism_threads=4", 2, "intra_op_parallelism_threads=4"),
    ],
)
def test_xla_flags_size_jaxs_pool_unless_the_user_did(
    monkeypatch, flags, threads, expected
):
    from jax._src import xla_bridge

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    if flags is not None:
        monkeypatch.setenv("XLA_FLAGS", flags)
    assert _threads._set_pools(threads) == threads
    assert os.environ["XLA_FLAGS"] == expected


def test_a_started_jax_and_an_unknown_backend_keep_their_pools(monkeypatch):
    from jax._src import xla_bridge

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: True)
    assert _threads._set_pools(2) is False
    assert "XLA_FLAGS" not in os.environ
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    assert _threads._set_pools(2) is False
