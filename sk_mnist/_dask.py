"""A search's fits on a Dask cluster: connect, report fits, notice a lost cluster.

Used by ``sk-mnist search --scheduler/--dask-workers``. In Python, the same is
``joblib.parallel_backend("dask")`` with a ``Client``; ``EpochGridSearchCV``
sends its data to the cluster itself, as tasks that Dask recomputes when a
worker holding them is lost.
"""

import _thread
import logging
import os
import re
import signal
import sys
import threading
import time
from contextlib import ExitStack, contextmanager

__all__ = ["ClusterError", "ClusterLostError", "CONNECT_TIMEOUT", "on_dask"]

#: Seconds to wait for a scheduler before giving up on its address.
CONNECT_TIMEOUT = 10

#: Seconds without any worker (or without the scheduler) before a search stops.
#: A nanny restarts a lost worker within a few seconds.
NO_WORKER_TIMEOUT = 30

INSTALL_HINT = 'install it in the sk_mnist project folder with pip install ".[dask]"'

_TOPIC = "sk-mnist-fit-done"
_PLUGIN = "sk-mnist-fit-progress"
_GROUP_PLUGIN = "sk-mnist-own-process-group"
# joblib's Dask backend names a task "batch_of_<function>_<n>_calls-<uuid>".
_JOBLIB_TASK = re.compile(r"^(?:mixed_)?batch_of_.*_(\d+)_calls-")


try:  # the workers, which run _FitProgress, have Dask
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # on_dask says how to install it
    _WorkerPlugin = object


class ClusterError(Exception):
    """Dask is missing, or the cluster cannot be reached or started."""


class ClusterLostError(ClusterError):
    """The cluster has had no worker, or no scheduler, for too long."""


class _Watchdog:
    """Interrupts the main thread when the cluster has had no worker for a while.

    Without workers, Dask would wait for ever for new ones; a search on the
    command line stops instead, with what it finished kept.
    """

    def __init__(self, client, timeout):
        self.client, self.timeout, self.fired = client, timeout, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        since = None
        while not self._stop.wait(0.5):
            try:
                workers = len(self.client.nthreads())
                what = "no Dask worker is left"
            except Exception:  # the scheduler is gone
                workers = 0
                what = "the Dask scheduler is unreachable"
            if workers:
                since = None
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= self.timeout:
                self.fired = f"{what} (for {self.timeout} s)"
                _thread.interrupt_main()
                return

    def stop(self):
        self._stop.set()


class _OwnProcessGroup(_WorkerPlugin):
    """On a worker of the command line's local cluster: out of the terminal's group.

    The terminal sends Ctrl-C to its foreground process group; the command
    line handles it and closes the cluster.
    """

    def setup(self, worker):
        try:
            os.setpgrp()
        except OSError:  # already a group or session leader
            pass


class _FitProgress(_WorkerPlugin):
    """On a worker: logs an event each time one of joblib's tasks ends."""

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        if start != "executing" or finish != "memory":
            return
        match = _JOBLIB_TASK.match(str(key))
        if match:
            message = {"fits": int(match.group(1)), "worker": self.worker.address}
            self.worker.log_event(_TOPIC, message)


class _Progress:
    """Prints one line per finished fit, as the workers report them."""

    def __init__(self, total, stream):
        self.done, self.total, self.stream = 0, total, stream

    def wait(self, timeout):
        """Wait up to ``timeout`` s for the last events, which trail the results."""
        deadline = time.monotonic() + timeout
        while self.total and self.done < self.total and time.monotonic() < deadline:
            time.sleep(0.05)

    def __call__(self, event):
        _, message = event
        for _ in range(message["fits"]):
            self.done += 1
            of = f"/{self.total}" if self.total else ""
            print(
                f"fit {self.done}{of} done on {message['worker']}",
                file=self.stream,
                flush=True,
            )


def _connect(scheduler, n_workers, timeout, stack):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(
            f"running on a Dask cluster needs Dask; {INSTALL_HINT}"
        ) from None
    if scheduler is not None:
        try:
            return stack.enter_context(Client(scheduler, timeout=timeout))
        except (OSError, TimeoutError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            waited = "" if isinstance(exc, ValueError) else f" within {timeout} s"
            raise ClusterError(
                f"cannot reach a Dask scheduler at {scheduler}{waited} ({reason}); "
                "expected the address 'dask scheduler' prints, such as "
                "tcp://HOST:8786"
            ) from None
    # Dask's own warnings (a nanny restarting a lost worker, killing a slow one
    # at the end) are not the user's business on the command line; errors are.
    logger = logging.getLogger("distributed")
    stack.callback(logger.setLevel, logger.level)
    logger.setLevel(logging.ERROR)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # the workers
    # Ctrl-C is this process's to handle: it closes the cluster. Worker
    # processes that got it too would print tracebacks on the way out. They
    # inherit an ignored SIGINT; those a nanny restarts later leave the
    # terminal's process group (_OwnProcessGroup).
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port
            )
        )
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    client = stack.enter_context(Client(cluster))
    client.register_plugin(_OwnProcessGroup(), name=_GROUP_PLUGIN)
    return client


@contextmanager
def on_dask(
    *,
    scheduler=None,
    n_workers=None,
    total_fits=None,
    timeout=None,
    stream=None,
):
    """Run the joblib calls in the block (a search's fits) on a Dask cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing cluster's scheduler, ``tcp://HOST:PORT``.
    n_workers : int, optional
        Without ``scheduler``: start a local cluster of this many worker
        processes, one thread each, for the block. At least 2: joblib runs
        the calls of a cluster with one worker thread in this process.
    total_fits : int, optional
        Number of fits expected, shown in the progress lines.
    timeout : float, optional
        Seconds to wait for the scheduler; :data:`CONNECT_TIMEOUT` if None.
    stream : file, optional
        Where the progress lines go, one per finished fit.

    Yields
    ------
    client : distributed.Client

    Raises
    ------
    ClusterError
        If Dask is not installed, the scheduler cannot be reached, or the
        cluster has fewer than 2 worker threads.
    ClusterLostError
        Out of the block, if the cluster had no worker (or the scheduler was
        unreachable) for :data:`NO_WORKER_TIMEOUT` seconds in it.
    """
    import joblib

    with ExitStack() as stack:
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        client = _connect(scheduler, n_workers, timeout, stack)
        threads = sum(client.ncores().values())
        if threads < 2:
            # joblib runs the calls of a one-thread (or empty) cluster in this
            # process, without a word.
            raise ClusterError(
                f"the Dask cluster at {client.scheduler.address} has {threads} "
                "worker thread(s); joblib would run the search in this process. "
                "Start at least 2 worker threads (dask worker ... --nthreads 1, "
                "twice)"
            )
        client.register_plugin(_FitProgress(), name=_PLUGIN)
        stack.callback(client.unregister_worker_plugin, _PLUGIN)
        progress = _Progress(total_fits, stream or sys.stdout)
        client.subscribe_topic(_TOPIC, progress)
        stack.callback(client.unsubscribe_topic, _TOPIC)
        stack.enter_context(joblib.parallel_backend("dask"))
        watchdog = _Watchdog(client, NO_WORKER_TIMEOUT)
        stack.callback(watchdog.stop)
        try:
            yield client
        except KeyboardInterrupt:
            if watchdog.fired is None:
                raise  # the user's Ctrl-C
            raise ClusterLostError(watchdog.fired) from None
        progress.wait(timeout=5)  # only when all went well: no waiting on Ctrl-C
