"""sk_mnist._quiet: TensorFlow's start-up lines kept off stderr, nothing else."""

import os
import subprocess
import sys

from sk_mnist._quiet import is_startup_noise, tensorflow_noise_hidden

STARTUP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written "
    "to STDERR",
    "I0000 00:00:1796097963.545953    5040 port.cc:153] oneDNN custom operations "
    "are on. You may see slightly different numerical results",
    "I0000 00:00:1796097963.546349    5040 cudart_stub.cc:31] Could not find cuda "
    "drivers on your machine, GPU will not be used.",
    "E0000 00:00:1796097967.458722    5040 cuda_platform.cc:52] failed call to "
    "cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild",
    # TensorFlow 2.18's own format (the oldest TensorFlow allowed).
    "2026-12-07 06:08:03.745365: E external/local_xla/xla/stream_executor/cuda/"
    "cuda_fft.cc:477] Unable to register cuFFT factory: Attempting to register "
    "factory for plugin cuFFT when one has already been registered",
    "I0000 00:00:1796625054.058589   11310 device_compiler.h:188] Compiled cluster "
    "using XLA!  This line is logged at most once for the lifetime of the process.",
]
REAL = [
    "E0000 00:00:1796097967.458722    5040 kernel.cc:12] out of memory",
    "2026-12-07 06:08:03.745365: E tensorflow/core/kernel.cc:12] out of memory",
    "Traceback (most recent call last):",
    "failed call to cuInit",  # not a log line: someone else's text
]


def test_only_startup_lines_are_noise():
    assert all(is_startup_noise(line) for line in STARTUP)
    assert not any(is_startup_noise(line) for line in REAL)


def test_block_hides_startup_lines_and_replays_the_rest():
    # In a process of its own: pytest's capture replaces sys.stderr.
    written = "".join(line + "\n" for line in STARTUP[:2] + REAL[:1] + STARTUP[2:])
    script = f"""
import os, sys, warnings
from sk_mnist._quiet import tensorflow_noise_hidden
with tensorflow_noise_hidden():
    os.write(2, {written.encode()!r})
    warnings.warn("a real Python warning", stacklevel=1)
    print("on stdout", flush=True)
print("after", file=sys.stderr)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout == "on stdout\n"
    assert result.stderr.splitlines() == [
        REAL[0],
        "<string>:6: UserWarning: a real Python warning",
        "after",
    ]


def test_block_restores_stderr_after_an_exception(capfd):
    try:
        with tensorflow_noise_hidden():
            os.write(2, b"kept\n")
            raise KeyError("boom")
    except KeyError:
        pass
    os.write(2, b"direct\n")
    assert capfd.readouterr().err == "kept\ndirect\n"


def test_a_process_that_dies_in_the_block_still_shows_its_last_words():
    # absl's fatal line, then abort(): Python's finally never runs. The filter
    # is a process of its own and writes the line all the same.
    script = """
import os
from sk_mnist._quiet import tensorflow_noise_hidden
with tensorflow_noise_hidden():
    os.write(2, b"I0000 00:00:1.5 7 cudart_stub.cc:31] Could not find cuda drivers\\n")
    os.write(2, b"F0000 00:00:1.5 7 flags.cc:234] Unknown flag in TF_XLA_FLAGS\\n")
    os.write(2, b"no line end")
    os.abort()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "F0000 00:00:1.5 7 flags.cc:234] Unknown flag in TF_XLA_FLAGS",
        "no line end",
    ]


def test_nested_blocks_are_one_and_stderr_is_back_after(capfd):
    with tensorflow_noise_hidden():
        with tensorflow_noise_hidden():
            os.write(2, b"inner\n")
        os.write(2, b"outer\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "inner\nouter\nafter\n"


def _stderr_of_a_fit(hide):
    script = (
        "import sk_mnist\n"
        + ("sk_mnist.hide_tensorflow_startup_lines()\n" if hide else "")
        + "(X, y), _ = sk_mnist.load_mnist()\n"
        "model = sk_mnist.make_mnist_pipeline(hidden_units=32, epochs=2, "
        "random_state=0)\n"
        "model.fit(X[:600], y[:600])\n"
        "print(model.score(X[:600], y[:600]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 0.5  # it trained
    return result.stderr.splitlines()


def test_hide_tensorflow_startup_lines_leaves_none_for_a_script():
    # Without it, this machine's TensorFlow prints them: the check has teeth.
    assert any(is_startup_noise(line) for line in _stderr_of_a_fit(hide=False))
    assert _stderr_of_a_fit(hide=True) == []


# --- In this process (mutation testing records only what runs here) ---------------


def test_in_this_process_only_startup_lines_are_dropped(capfd):
    with tensorflow_noise_hidden():
        os.write(2, "".join(line + "\n" for line in STARTUP + REAL).encode())
        os.write(2, b"E0000 00:00:1.5 7 kern")  # a line in two writes
        os.write(2, b"el.cc:12] out of memory\n" + STARTUP[1].encode() + b"\n")
        os.write(2, b"no line end")
    line = "E0000 00:00:1.5 7 kernel.cc:12] out of memory"
    assert capfd.readouterr().err == "\n".join([*REAL, line, "no line end"])
    with tensorflow_noise_hidden():
        os.write(2, b"kept\n" + STARTUP[2].encode())  # noise without a line end
    assert capfd.readouterr().err == "kept\n"


class _BufferedStderr:
    """A Python stderr that holds what is written until flushed, as a pipe's."""

    def __init__(self):
        self.held = []

    def write(self, text):
        self.held.append(text)

    def flush(self):
        os.write(2, "".join(self.held).encode())
        self.held = []


def test_python_output_before_and_in_the_block_keeps_its_order(monkeypatch, capfd):
    buffered = _BufferedStderr()
    monkeypatch.setattr(sys, "stderr", buffered)
    buffered.write("before\n")  # still in Python's buffer
    with tensorflow_noise_hidden():
        os.write(2, b"inside\n")
        buffered.write("last\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\ninside\nlast\nafter\n"


def test_without_a_descriptor_2_or_a_filter_the_block_runs_unfiltered(
    monkeypatch, capfd
):
    from sk_mnist import _quiet

    fds = set(os.listdir("/proc/self/fd"))

    def no_process(*args, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(_quiet.subprocess, "Popen", no_process)
    with tensorflow_noise_hidden():
        os.write(2, STARTUP[1].encode() + b"\n")
    assert capfd.readouterr().err == STARTUP[1] + "\n"  # shown: no filter
    assert set(os.listdir("/proc/self/fd")) == fds  # every descriptor closed

    def no_descriptor(fd):
        raise OSError("Bad file descriptor")

    ran = []
    with monkeypatch.context() as patch:  # pytest's own capture needs os.dup
        patch.setattr(_quiet.os, "dup", no_descriptor)
        patch.setattr(sys, "stderr", None)  # as with 2>&- : no error either
        with tensorflow_noise_hidden():
            ran.append(True)
    assert ran == [True]


def test_hide_tensorflow_startup_lines_opens_one_block_for_the_process(monkeypatch):
    from sk_mnist import _quiet

    opened = []

    class Block:
        def __enter__(self):
            opened.append(True)

    monkeypatch.setattr(_quiet, "tensorflow_noise_hidden", Block)
    monkeypatch.setattr(_quiet, "_for_the_process", None)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    _quiet.hide_tensorflow_startup_lines()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    _quiet.hide_tensorflow_startup_lines()  # again: nothing more
    assert opened == [True]

    monkeypatch.setattr(_quiet, "_for_the_process", None)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own
    monkeypatch.setattr(_quiet, "_active", True)  # inside a block already
    _quiet.hide_tensorflow_startup_lines()
    assert opened == [True] and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
