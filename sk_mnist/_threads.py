"""Threads per fit that follow the parallel backend the fit runs in.

TensorFlow sizes its thread pools to every core of the machine, whoever else
runs there. In a joblib (loky) worker of ``n_jobs=2`` on two cores, or in a Dask
worker beside others, every fit then asks for every core. Here the first fit
of a process sizes the pools from what the parallel backend grants:

1. ``SK_MNIST_THREADS``, when set (an explicit choice, e.g. in a worker's
   environment);
2. else ``OMP_NUM_THREADS``: loky sets it in its workers to joblib's inner
   thread limit (``inner_max_num_threads``, by default cores // n_jobs), and
   Dask's nanny sets it to 1 (``distributed.nanny.pre-spawn-environ``);
3. else, in a Dask worker, cores // the worker's ``nthreads``;
4. else nothing: TensorFlow's and XLA's defaults (every core).

TensorFlow's pools can be sized only before its context starts, and XLA's
(JAX's) before JAX starts its CPU backend: a process that ran TensorFlow or JAX
before its first fit keeps the pools it has. For the book's network on CPU the
number of threads does not change a seeded result (measured bit-identical with
1 and 2 TensorFlow threads).
"""

import os
import sys
import threading

import keras

__all__ = ["THREADS_VARIABLE", "configure_threads", "threads_per_fit"]

THREADS_VARIABLE = "SK_MNIST_THREADS"
_configured = None  # the threads set by configure_threads, or False if not set
_lock = threading.Lock()


def _positive_int(name):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"{name} must be a positive whole number of threads, got {text!r}; "
            f"set it to e.g. 1, or unset it."
        )
    return value


def threads_per_fit():
    """The threads one fit may use in this process, or None for every core.

    Returns
    -------
    threads : int or None
        From ``SK_MNIST_THREADS``, else ``OMP_NUM_THREADS`` (set by loky's and
        Dask's workers), else cores // ``nthreads`` in a Dask worker, else None.

    Raises
    ------
    ValueError
        If ``SK_MNIST_THREADS`` is set but not a positive integer.
    """
    explicit = _positive_int(THREADS_VARIABLE)
    if explicit is not None:
        return explicit
    try:
        granted = _positive_int("OMP_NUM_THREADS")
    except ValueError:
        granted = None  # not ours to refuse: another library's setting
    if granted is not None:
        return granted
    worker = _dask_worker()
    if worker is not None:
        return max(1, (os.cpu_count() or 1) // max(1, worker.state.nthreads))
    return None


def _dask_worker():
    if "distributed" not in sys.modules:
        return None  # no Dask worker runs here: importing it would cost 0.4 s
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return get_worker()
    except ValueError:  # not in a Dask task
        return None


def configure_threads():
    """Size the backend's thread pools from :func:`threads_per_fit`, once.

    Called at the start of every fit; only the first call of a process does
    anything.

    Returns
    -------
    threads : int or False
        The threads the pools were given, or False if they were left alone (no
        limit, or the backend had started already).
    """
    global _configured
    if _configured is not None:
        return _configured
    with _lock:
        if _configured is None:
            threads = threads_per_fit()
            _configured = False if threads is None else _set_pools(threads)
    return _configured


def _set_pools(threads):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the context has started: its pools are fixed
            return False
        return threads
    if backend == "jax":
        from jax._src import xla_bridge  # no public check

        if xla_bridge.backends_are_initialized():
            return False
        flags = os.environ.get("XLA_FLAGS", "")
        if "intra_op_parallelism_threads" not in flags:
            extra = f"--xla_cpu_multi_thread_eigen={str(threads > 1).lower()}"
            extra += f" intra_op_parallelism_threads={threads}"
            os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()
        return threads
    return False
