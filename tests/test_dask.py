"""A seeded search spread over a Dask cluster gives one machine's results, bit for bit.

Dask runs each fit in a worker thread, beside the worker's own threads (which
draw from Python's ``random``), and a worker of two threads runs two fits at
once. The cluster here has both kinds of worker: one of one thread and one of
two. The tests run under the suite's backend, and once more under the other one
in a subprocess.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import keras
import pandas as pd
import pytest
from dask import distributed
from sklearn.model_selection import GridSearchCV
from test_threads import pool_threads_after_a_fit

from sk_mnist import EpochGridSearchCV, make_mnist_pipeline
from sk_mnist._dask import on_dask

TESTS = Path(__file__).parent
OTHER = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
GRID = {"classifier__epochs": [1, 2], "classifier__batch_size": [64, 128]}
SCORES = [f"split{fold}_test_score" for fold in range(2)]


@pytest.fixture(scope="module")
def client():
    """A local cluster of a one-thread and a two-thread worker, for the module."""
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        spec = dict(next(iter(cluster.worker_spec.values())))
        spec["options"] = {**spec["options"], "nthreads": 2}
        cluster.worker_spec["two-threads"] = spec
        cluster.sync(cluster._correct_state)
        with distributed.Client(cluster) as client:
            client.wait_for_workers(2)
            threads = sorted(client.nthreads().values())
            assert threads == [1, 2], threads
            yield client


@pytest.fixture(scope="module")
def data(mnist_small):
    (X_train, y_train), _ = mnist_small
    return X_train[:800], y_train[:800]


@pytest.fixture(scope="module")
def local_search(data):
    """The seeded search in this process, one fit after another."""
    pipe = make_mnist_pipeline(hidden_units=32, random_state=0)
    return GridSearchCV(pipe, GRID, cv=2, refit=False).fit(*data)


def _on_dask(client, search, data):
    with (
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_backend("dask"),
    ):
        search.fit(*data)
    return search, tasks.data


def _assert_same_scores(search, local):
    for key in SCORES:
        assert search.cv_results_[key].tolist() == local.cv_results_[key].tolist(), (
            key,
            search.cv_results_[key],
            local.cv_results_[key],
        )


def test_grid_search_on_a_dask_cluster_is_the_local_one(data, local_search, client):
    pipe = make_mnist_pipeline(hidden_units=32, random_state=0)
    search, tasks = _on_dask(client, GridSearchCV(pipe, GRID, cv=2, refit=False), data)
    assert len(tasks) == 8  # 4 candidates x 2 folds, as Dask tasks
    assert len({task["worker"] for task in tasks}) == 2  # both workers fitted
    _assert_same_scores(search, local_search)


def test_epoch_grid_search_on_a_dask_cluster_is_the_local_grid_search(
    data, local_search, client
):
    pipe = make_mnist_pipeline(hidden_units=32, random_state=0)
    search, tasks = _on_dask(client, EpochGridSearchCV(pipe, GRID, cv=2), data)
    fits = [task for task in tasks if str(task["key"]).startswith("batch_of_")]
    assert len(fits) == 4  # 2 batch sizes x 2 folds, one fit to 2 epochs each
    assert len(tasks) == 4 + 6  # and X, y, 2 folds' train and test indices, once
    _assert_same_scores(search, local_search)


def test_fits_on_dask_workers_get_the_threads_dask_grants(client):
    # Dask's nanny sets OMP_NUM_THREADS=1 in its workers: one core per task.
    assert list(client.run(pool_threads_after_a_fit).values()) == [(1, 1)] * 2


#: The tests that run no fit: left out of the other backend's run.
_SAME_ON_EVERY_BACKEND = " and ".join(
    f"not {word}"
    for word in ["cli", "killed", "progress", "watchdog", "process_group",
                 "lost_in_the_block", "puts_everything", "worker_reports",
                 "scheduler", "local_cluster"]  # the last two: Dask stand-ins
)  # fmt: skip


def test_the_other_backend_passes_these_tests():
    if os.environ.get("SK_MNIST_NO_RECURSION"):
        # Not a failure hidden: this run is the subprocess this test starts, under
        # the other backend; starting it again would recurse without end.
        pytest.skip("already the other backend's run")
    env = dict(
        os.environ,
        KERAS_BACKEND=OTHER,
        SK_MNIST_NO_RECURSION="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", _SAME_ON_EVERY_BACKEND],
        env=env, capture_output=True, text=True, timeout=900, cwd=TESTS.parent,
    )  # fmt: skip
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and "5 passed" in last, (
        f"under KERAS_BACKEND={OTHER}:\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    )


# --- sk-mnist search --scheduler / --dask-workers ---------------------------------

_SEARCH = ["search", "--train-size", "400", "--epochs", "1", "--batch-size", "32",
           "64", "--hidden-units", "16", "--cv", "2"]  # fmt: skip


def test_cli_search_on_a_scheduler_sends_the_data_once_and_reports_each_fit(
    client, tmp_path, capsys, monkeypatch
):
    from sk_mnist.cli import main

    scattered = []  # arrays' sizes in bytes, per call of Client.scatter
    scatter = distributed.Client.scatter

    def spy(self, data, *args, **kwargs):
        items = data if isinstance(data, list | tuple) else [data]
        scattered.append([getattr(item, "nbytes", 0) for item in items])
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", spy)
    output = tmp_path / "results.csv"
    address = client.scheduler.address
    with distributed.get_task_stream(client) as tasks:
        status = main([*_SEARCH, "--scheduler", address, "--output", str(output)])
    out = capsys.readouterr().out
    assert status == 0, out

    # Nothing scattered: scattered data is lost with the worker that holds it
    # (joblib scatters to one worker; Dask drops broadcast copies). The images,
    # the labels and the 2 folds' train and test indices are 6 tasks that Dask
    # can recompute, sent once; then 2 batch sizes x 2 folds, one task per fit.
    assert scattered == []
    names = sorted(str(task["key"]).split("-")[0] for task in tasks.data)
    assert names == ["batch_of_keyed_call_1_calls"] * 4 + ["sk"] * 6, names
    progress = [line for line in out.splitlines() if line.startswith("fit ")]
    workers = set(client.scheduler_info()["workers"])
    assert [line.split(" done on ")[0] for line in progress] == [
        f"fit {k}/4" for k in range(1, 5)
    ]
    assert {line.split(" done on ")[1] for line in progress} <= workers
    results = pd.read_csv(output)
    assert len(results) == 2 and (results["mean_test_score"] > 0.15).all()  # chance 0.1


def test_cli_search_with_a_wrong_scheduler_address_is_one_error_line(
    capsys, monkeypatch
):
    from sk_mnist import _dask
    from sk_mnist.cli import main

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1)
    for address, reason in [
        ("tcp://127.0.0.1:1", "within 1 s"),  # nothing listens there
        ("no-port", "missing port number"),
    ]:
        assert main([*_SEARCH, "--scheduler", address]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"sk-mnist: error: cannot reach a Dask scheduler at "
                              f"{address}"), err  # fmt: skip
        assert reason in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_search_without_dask_says_how_to_install_it(capsys, monkeypatch):
    from sk_mnist.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    assert main([*_SEARCH, "--dask-workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "sk-mnist: error: running on a Dask cluster needs Dask; install it in the "
        'sk_mnist project folder with pip install ".[dask]"'
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (["--dask-workers", "1"], "expected an integer of at least 2"),
        (["--n-jobs", "2", "--scheduler", "tcp://h:1"], "not allowed with argument"),
        (["--scheduler", "tcp://h:1", "--dask-workers", "2"], "not allowed with"),
    ],
)
def test_cli_search_cluster_options_are_checked(options, message, capsys):
    from sk_mnist.cli import main

    assert main([*_SEARCH, *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "error:" in err


def test_cli_search_on_its_own_local_cluster_gives_the_serial_scores(tmp_path, capsys):
    from sk_mnist.cli import main

    on_dask, serial = tmp_path / "dask.csv", tmp_path / "serial.csv"
    assert main([*_SEARCH, "--dask-workers", "2", "--output", str(on_dask)]) == 0
    out = capsys.readouterr().out
    progress = [line for line in out.splitlines() if line.startswith("fit ")]
    assert [line.split(" done on ")[0] for line in progress] == [
        f"fit {k}/4" for k in range(1, 5)
    ]
    assert all(line.split(" done on ")[1].startswith("tcp://") for line in progress)
    assert main([*_SEARCH, "--output", str(serial)]) == 0
    scores = [c for c in pd.read_csv(serial).columns if c.endswith("test_score")]
    dask_results, serial_results = pd.read_csv(on_dask), pd.read_csv(serial)
    assert (serial_results["mean_test_score"] > 0.15).all()  # learnt; chance 0.1
    pd.testing.assert_frame_equal(dask_results[scores], serial_results[scores])


# --- A search that survives: a lost worker, Ctrl-C ---------------------------------

_LONGER = ["search", "--train-size", "400", "--epochs", "2", "4", "--batch-size", "32",
           "64", "--hidden-units", "16", "--cv", "2"]  # fmt: skip


def _running_fits(dask_worker):
    """On a worker: its pid and the joblib tasks it runs, once Keras is loaded."""
    keys = [str(task.key) for task in dask_worker.state.executing]
    running = [key for key in keys if key.startswith("batch_of_")]
    return os.getpid(), running if "keras" in sys.modules else []


def _unrecoverable_inputs(dask_scheduler):
    """On the scheduler: inputs of the search's fits that Dask cannot recompute.

    Scattered data has no task (``run_spec``) behind it: lost with the last
    worker holding it, and every fit needing it with it.
    """
    return sorted(
        str(dependency.key)
        for key, task in dask_scheduler.tasks.items()
        if str(key).startswith("batch_of_")
        for dependency in task.dependencies
        if dependency.run_spec is None
    )


def _kill_a_worker_in_a_fit(client, killed):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        try:
            probes = client.run(_running_fits)
        except Exception:  # a worker going away while asked
            continue
        for address, (pid, running) in probes.items():
            if running:
                unrecoverable = client.run_on_scheduler(_unrecoverable_inputs)
                time.sleep(0.2)  # well inside the fit: it takes about a second
                os.kill(pid, signal.SIGKILL)
                killed.append((address, running, unrecoverable))
                return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def serial_longer(tmp_path_factory):
    """The results of ``_LONGER`` in this process, one fit after another."""
    from sk_mnist.cli import main

    serial = tmp_path_factory.mktemp("serial") / "serial.csv"
    assert main([*_LONGER, "--output", str(serial)]) == 0
    results = pd.read_csv(serial)
    assert results["mean_test_score"].nunique() == 4  # the candidates differ
    return results


def _assert_same_results(got, expected):
    times = [c for c in expected.columns if c.endswith("_time")]
    pd.testing.assert_frame_equal(got.drop(columns=times), expected.drop(columns=times))


def test_a_worker_killed_in_its_fit_costs_only_that_fit(
    client, serial_longer, tmp_path, capsys
):
    from sk_mnist.cli import main

    killed = []
    killer = threading.Thread(target=_kill_a_worker_in_a_fit, args=(client, killed))
    on_dask = tmp_path / "dask.csv"
    address = client.scheduler.address
    with distributed.get_task_stream(client) as tasks:
        killer.start()
        status = main([*_LONGER, "--scheduler", address, "--output", str(on_dask)])
        killer.join()
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert killed, "no worker was killed"
    # What the killed worker was fitting ran again, to the end, on another one,
    # with data that Dask could compute again if it was lost too.
    (lost_on, lost, unrecoverable), finished = killed[0], {}
    assert unrecoverable == []
    for task in tasks.data:
        finished.setdefault(str(task["key"]), []).append(task["worker"])
    for key in lost:
        assert finished.get(key) and lost_on not in finished[key], (key, finished)

    _assert_same_results(pd.read_csv(on_dask), serial_longer)


#: A line of TensorFlow's C++ logging (absl), absl's note before it starts, or Dask's.
_NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|distributed\.", re.MULTILINE)


def test_cli_search_interrupted_on_dask_keeps_its_fits_and_continues(
    serial_longer, tmp_path, capsys, ctrl_c_is_keyboard_interrupt
):
    """Ctrl-C on a local cluster: one line, the cluster closed; then the rest."""
    import psutil

    from sk_mnist.cli import main

    checkpoint, output = tmp_path / "search.ckpt", tmp_path / "results.csv"
    argv = [*_LONGER, "--checkpoint", str(checkpoint)]  # 4 fits
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sk_mnist", *argv, "--dask-workers", "2",
         "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path, start_new_session=True,  # a process group, as in a terminal
    )  # fmt: skip
    children, deadline = set(), time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(psutil.Error):
            children |= set(psutil.Process(process.pid).children(recursive=True))
        if checkpoint.exists() and checkpoint.read_bytes().count(b"\n") >= 2:
            break  # the header and a first fit
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: to the whole process group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    kept = checkpoint.read_bytes().count(b"\n") - 1
    assert 1 <= kept < 4
    # One line: what is kept, the command that continues; no TensorFlow or Dask.
    command = " ".join(["sk-mnist", *argv, "--dask-workers", "2", "--output",
                        str(output)])  # fmt: skip
    assert err == (
        f"sk-mnist: interrupted; {kept} of 4 fits kept in {checkpoint}; "
        f"continue with: {command}\n"
    ), err
    assert not _NOISE.search(err)
    # The cluster it started is closed: its nanny and worker processes are gone.
    assert len(children) >= 4, children  # 2 nannies, 2 workers
    alive = [child for child in children if child.is_running()]
    with contextlib.suppress(psutil.Error):
        alive = [c for c in alive if c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [] or psutil.wait_procs(alive, timeout=10)[1] == [], alive

    # The same search continues here, in this process: only the missing fits.
    continued = tmp_path / "continued.csv"
    assert main([*argv, "--output", str(continued)]) == 0
    out = capsys.readouterr().out
    assert f"{kept} of 4 fits read from {checkpoint}, {4 - kept} to train" in out
    assert out.count("; shared fit") == 2 * (4 - kept)  # 2 candidates per fit
    assert checkpoint.read_bytes().count(b"\n") == 5
    _assert_same_results(pd.read_csv(continued), serial_longer)


def test_cli_search_without_any_worker_left_stops_with_one_line(
    client, tmp_path, capsys, monkeypatch, ctrl_c_is_keyboard_interrupt
):
    from sk_mnist import _dask
    from sk_mnist.cli import main

    # The cluster is found with its workers (ncores), then seems to lose them
    # all (nthreads, which the watchdog asks).
    monkeypatch.setattr(_dask, "NO_WORKER_TIMEOUT", 0.5)
    ncores = distributed.Client.nthreads
    monkeypatch.setattr(distributed.Client, "ncores", ncores)
    monkeypatch.setattr(distributed.Client, "nthreads", lambda self, *a, **k: {})
    checkpoint = tmp_path / "search.ckpt"
    argv = [*_SEARCH, "--scheduler", client.scheduler.address,
            "--checkpoint", str(checkpoint)]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        re.escape("sk-mnist: error: no Dask worker is left (for 0.5 s); ")
        + r"\d of 4 fits kept in "
        + re.escape(f"{checkpoint}; continue with: sk-mnist {' '.join(argv)}\n"),
        err,
    ), err


@pytest.mark.parametrize("threads", [1, 2])
def test_a_cluster_of_one_worker_thread_is_refused(threads):
    # joblib would run every fit of a one-thread cluster in this process, without
    # a word: refused, saying what to start. Two threads are enough.
    from sk_mnist._dask import ClusterError, on_dask

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=threads, processes=False,
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        if threads == 1:
            with pytest.raises(ClusterError) as error:
                with on_dask(scheduler=address, stream=sys.stderr):
                    pass
            assert f"{address} has 1 worker thread(s)" in str(error.value)
            assert "Start at least 2 worker threads" in str(error.value)
        else:
            with on_dask(scheduler=address, stream=sys.stderr) as client:
                assert sum(client.ncores().values()) == 2


# --- Progress lines: one per fit, the last ones waited for -------------------------


def test_progress_shows_each_fit_of_a_task_and_waits_for_the_last(monkeypatch):
    # joblib's Dask backend puts several calls (fits) in one task when they are
    # quick, naming it "batch_of_<function>_<n>_calls-<uuid>" (or "mixed_...");
    # each fit is a line, other tasks none. The events trail the results:
    # on_dask waits for them, to the last, before it returns. Here the events
    # are counted late: the first 0.2 s after it arrives, the next 0.8 s.
    import io

    from sk_mnist import _dask

    count, delays = _dask._Progress.__call__, iter([0.2, 0.8])

    def late(self, event):
        threading.Timer(next(delays), count, (self, event)).start()

    monkeypatch.setattr(_dask._Progress, "__call__", late)
    stream = io.StringIO()
    keys = ["batch_of_pow_3_calls-a1", "mixed_batch_of_pow_1_calls-b2", "pow-c3"]
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        with on_dask(scheduler=address, total_fits=4, stream=stream) as client:
            worker = next(iter(client.nthreads()))
            for key in keys:  # one after the other: the last event is of one fit
                assert client.submit(pow, 2, 3, key=key).result() == 8
        lines = stream.getvalue().splitlines()  # on_dask has returned
    assert lines == [f"fit {k}/4 done on {worker}" for k in range(1, 5)]


class _Terminal:
    """A stream that shows what is written only once flushed, as a pipe does."""

    def __init__(self):
        self.held, self.shown = "", ""

    def write(self, text):
        self.held += text

    def flush(self):
        self.shown, self.held = self.shown + self.held, ""


def test_progress_lines_show_at_once_and_without_a_total_count_on():
    from sk_mnist._dask import _Progress

    stream = _Terminal()
    progress = _Progress(None, stream)
    progress((0.0, {"fits": 2, "worker": "tcp://w:1"}))
    assert stream.shown == "fit 1 done on tcp://w:1\nfit 2 done on tcp://w:1\n"
    start = time.monotonic()
    progress.wait(timeout=5)  # no total: nothing to wait for
    assert time.monotonic() - start < 0.5


def test_progress_waits_for_the_last_fit_until_it_comes_or_the_timeout():
    from sk_mnist._dask import _Progress

    progress = _Progress(3, _Terminal())
    progress((0.0, {"fits": 2, "worker": "w"}))
    late = threading.Timer(0.1, progress, ((0.0, {"fits": 1, "worker": "w"}),))
    start = time.monotonic()
    late.start()
    progress.wait(timeout=5)
    assert progress.done == 3 and time.monotonic() - start < 0.9  # polled often
    assert progress.stream.shown.splitlines()[-1] == "fit 3/3 done on w"
    start = time.monotonic()
    progress.wait(timeout=5)  # all 3 in: at once
    assert time.monotonic() - start < 0.5
    progress = _Progress(3, _Terminal())
    start = time.monotonic()
    progress.wait(timeout=0.3)  # none comes: gives up after the timeout
    assert 0.3 <= time.monotonic() - start < 2


class _Worker:
    address = "tcp://w:1"

    def __init__(self):
        self.events = []

    def log_event(self, topic, message):
        self.events.append((topic, message))


def test_a_worker_reports_each_joblib_task_that_ends_well():
    from sk_mnist._dask import _FitProgress

    worker, plugin = _Worker(), _FitProgress()
    plugin.setup(worker)
    key = "batch_of__keyed_call_2_calls-0123abcd"
    plugin.transition(key, "executing", "error", stimulus_id="s")  # a failed fit
    plugin.transition(key, "released", "memory")  # data fetched, not computed
    plugin.transition("sk-data-0123", "executing", "memory")  # not joblib's
    assert worker.events == []
    plugin.transition(key, "executing", "memory")
    assert worker.events == [("sk-mnist-fit-done", {"fits": 2, "worker": "tcp://w:1"})]


@pytest.fixture
def ctrl_c_is_keyboard_interrupt():
    """Python's own SIGINT handler, as the command line has (a runner may not).

    A shell without job control starts a background job with SIGINT ignored, and
    Python keeps an inherited "ignored": pytest, and the command lines it starts,
    would then never see a Ctrl-C or the watchdog's interrupt_main().
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _sleep(seconds):
    """Sleep in short steps: an interrupt_main() lands between two of them."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.02)


class _Workers:
    """A client whose cluster's workers come and go (``nthreads``), or vanishes."""

    def __init__(self, *answers):
        self.answers = list(answers)

    def nthreads(self):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


_LEFT = "no Dask worker is left (for 0.8 s)"


@pytest.mark.parametrize(
    "answers, least, fired",
    [
        ([{}], 1.5, _LEFT),  # polled every 0.5 s: none at 0.5, 1.0, 1.5 s
        ([OSError("gone")], 1.5, "the Dask scheduler is unreachable (for 0.8 s)"),
        # A worker back (at 1.0 s) starts the count again: fired at 2.5 s.
        ([{}, {"w": 1}, {}], 2.5, _LEFT),
    ],
)
def test_the_watchdog_interrupts_once_the_cluster_is_gone_long_enough(
    answers, least, fired, ctrl_c_is_keyboard_interrupt
):
    from sk_mnist._dask import _Watchdog

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        watchdog = _Watchdog(_Workers(*answers), timeout=0.8)
        _sleep(10)
    waited = time.monotonic() - start
    assert watchdog.fired == fired
    assert least - 0.2 <= waited < least + 3, waited


def test_the_watchdog_of_a_cluster_with_workers_never_fires():
    from sk_mnist._dask import _Watchdog

    watchdog = _Watchdog(_Workers({"w": 1}), timeout=0.1)
    assert watchdog._thread.daemon  # never keeps the process alive at its end
    time.sleep(1.2)
    watchdog.stop()
    watchdog._thread.join(timeout=2)
    assert watchdog.fired is None and not watchdog._thread.is_alive()


def test_a_local_clusters_worker_leaves_the_terminals_process_group(monkeypatch):
    from sk_mnist._dask import _OwnProcessGroup

    calls = []
    monkeypatch.setattr(os, "setpgrp", lambda: calls.append("setpgrp"))
    _OwnProcessGroup().setup(worker=None)
    assert calls == ["setpgrp"]

    def refused():
        raise PermissionError("already a session leader")

    monkeypatch.setattr(os, "setpgrp", refused)
    _OwnProcessGroup().setup(worker=None)  # no error


@pytest.fixture(scope="module")
def in_process_cluster():
    """A scheduler and a worker of two threads in this process: seconds to start."""
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_a_cluster_lost_in_the_block_is_one_error_a_ctrl_c_is_the_users(
    in_process_cluster, monkeypatch, ctrl_c_is_keyboard_interrupt
):
    from sk_mnist import _dask
    from sk_mnist._dask import ClusterLostError

    with pytest.raises(KeyboardInterrupt):  # the user's own Ctrl-C
        with on_dask(scheduler=in_process_cluster, total_fits=4) as client:
            raise KeyboardInterrupt
    monkeypatch.setattr(_dask, "NO_WORKER_TIMEOUT", 0.3)
    start = time.monotonic()
    with pytest.raises(ClusterLostError) as error:
        with on_dask(scheduler=in_process_cluster, total_fits=4) as client:
            monkeypatch.setattr(type(client), "nthreads", lambda self, *a, **k: {})
            _sleep(30)
    assert str(error.value) == "no Dask worker is left (for 0.3 s)"
    assert time.monotonic() - start < 10  # no wait for progress after it


def test_on_dask_runs_joblib_on_the_cluster_and_puts_everything_back(
    in_process_cluster,
):
    import logging

    logger = logging.getLogger("distributed")
    level = logger.level
    with on_dask(scheduler=in_process_cluster, timeout=3) as client:
        backend = joblib.parallel.get_active_backend()[0]
        assert type(backend).__name__ == "DaskDistributedBackend"
        plugins = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.worker_plugins)
        )
        assert "sk-mnist-fit-progress" in plugins
    backend = joblib.parallel.get_active_backend()[0]
    assert type(backend).__name__ != "DaskDistributedBackend"
    with distributed.Client(in_process_cluster) as other:
        plugins = other.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.worker_plugins)
        )
    assert "sk-mnist-fit-progress" not in plugins  # unregistered
    assert logger.level == level


class _FakeDask:
    """``distributed.Client`` and ``LocalCluster`` stand-ins recording what
    ``_connect`` asks of them, and in which state of the process."""

    def __init__(self, monkeypatch, refusal=None):
        import logging

        fake, self.calls, self.refusal = self, [], refusal
        self.logger = logging.getLogger("distributed")

        class Entered:
            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                fake.calls.append(("exit", type(self).__name__))

        class LocalCluster(Entered):
            def __init__(self, **kwargs):
                fake.calls.append(("cluster", kwargs))
                fake.sigint = signal.getsignal(signal.SIGINT)
                fake.level = fake.logger.level

        class Client(Entered):
            def __init__(self, address, **kwargs):
                if fake.refusal is not None:
                    raise fake.refusal
                fake.calls.append(("client", address, kwargs))

            def register_plugin(self, plugin, name):
                fake.calls.append(("plugin", type(plugin).__name__, name))

        import distributed as package  # what _connect imports them from

        monkeypatch.setattr(package, "Client", Client)
        monkeypatch.setattr(package, "LocalCluster", LocalCluster)


@pytest.fixture
def sigint_handler():
    """A SIGINT handler of the test's own, the previous one put back after it.

    Under mutmut the process ignores SIGINT already: an ignored SIGINT could not
    be told from it.
    """

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    yield handler
    signal.signal(signal.SIGINT, previous)


def test_a_scheduler_is_reached_through_a_client_closed_with_the_block(monkeypatch):
    from sk_mnist._dask import _connect

    fake = _FakeDask(monkeypatch)
    with contextlib.ExitStack() as stack:
        client = _connect("tcp://h:8786", None, 7, stack)
        assert fake.calls == [("client", "tcp://h:8786", {"timeout": 7})]
    assert type(client).__name__ == "Client"
    assert fake.calls[1:] == [("exit", "Client")]


@pytest.mark.parametrize(
    "refusal, address, why",
    [
        (
            OSError("connection\n  refused"),
            "tcp://h:1",
            "within 7 s (connection refused)",
        ),
        (TimeoutError(), "tcp://h:1", "within 7 s (TimeoutError)"),
        (ValueError("missing port number"), "no-port", "(missing port number)"),
    ],
)
def test_a_scheduler_out_of_reach_is_one_clear_error(
    monkeypatch, refusal, address, why
):
    from sk_mnist._dask import ClusterError, _connect

    _FakeDask(monkeypatch, refusal)
    with pytest.raises(ClusterError) as error, contextlib.ExitStack() as stack:
        _connect(address, None, 7, stack)
    assert str(error.value) == (
        f"cannot reach a Dask scheduler at {address} {why}; expected the "
        "address 'dask scheduler' prints, such as tcp://HOST:8786"
    )
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_a_local_cluster_has_one_thread_a_worker_and_hides_dask_warnings(
    monkeypatch, sigint_handler
):
    import logging

    from sk_mnist._dask import _GROUP_PLUGIN, _connect

    fake = _FakeDask(monkeypatch)
    monkeypatch.delenv("DASK_LOGGING__DISTRIBUTED", raising=False)
    fake.logger.setLevel(logging.INFO)
    handler = sigint_handler
    with contextlib.ExitStack() as stack:
        client = _connect(None, 3, 7, stack)
        assert fake.calls == [
            (
                "cluster",
                {
                    "n_workers": 3,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": ":0",
                },
            ),
            ("client", fake.calls[1][1], {}),
            ("plugin", "_OwnProcessGroup", _GROUP_PLUGIN),
        ]
        assert type(fake.calls[1][1]).__name__ == "LocalCluster"  # its own cluster
        assert fake.sigint is signal.SIG_IGN  # the workers inherit an ignored SIGINT
        assert signal.getsignal(signal.SIGINT) is handler  # put back at once
        assert fake.level == logging.ERROR == fake.logger.level
        assert os.environ["DASK_LOGGING__DISTRIBUTED"] == "error"
    assert type(client).__name__ == "Client"
    assert fake.calls[3:] == [("exit", "Client"), ("exit", "LocalCluster")]
    assert fake.logger.level == logging.INFO  # the user's level, put back


def test_a_local_cluster_started_outside_the_main_thread_leaves_sigint_alone(
    monkeypatch, sigint_handler
):
    from sk_mnist._dask import _connect

    fake = _FakeDask(monkeypatch)
    handler = sigint_handler
    failures = []

    def connect():
        try:
            with contextlib.ExitStack() as stack:
                _connect(None, 2, 7, stack)
        except BaseException as exc:  # a signal call outside the main thread
            failures.append(exc)

    thread = threading.Thread(target=connect)
    thread.start()
    thread.join(timeout=60)
    assert failures == []
    assert fake.sigint is handler and signal.getsignal(signal.SIGINT) is handler
    assert fake.calls[0][1]["n_workers"] == 2
