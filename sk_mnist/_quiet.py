"""Keep TensorFlow's C++ start-up lines off the terminal, for the command line only.

On a machine without a GPU, importing TensorFlow and listing its devices writes
about nine lines to file descriptor 2 (``oneDNN custom operations are on``,
``Could not find cuda drivers``, ``failed call to cuInit``, ...), and the first
seeded fit one more; each Dask worker process that loads TensorFlow writes them
too. Some come from absl before it is initialised, so ``TF_CPP_MIN_LOG_LEVEL``
does not hide them all: :func:`tensorflow_noise_hidden` sends descriptor 2
through a small filter process that drops those known lines and passes every
other line on as it comes, so a real error, a Python warning, or the last words
of a process that dies in a C++ abort still reach the user. The library never
calls it on its own: it does not filter a user's stderr unless asked, with
:func:`hide_tensorflow_startup_lines` in a script or a notebook.
"""

import contextlib
import os
import re
import subprocess
import sys

__all__ = [
    "hide_tensorflow_startup_lines",
    "tensorflow_noise_hidden",
    "is_startup_noise",
]

#: A line of TensorFlow's C++ log: absl's (severity, date, time, thread,
#: file:line), or that of TensorFlow 2.18 and older (date, time, severity,
#: file:line).
ABSL_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ "
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWEF] )\S+:\d+\] "
)

#: What TensorFlow's start-up lines say on a CPU-only machine; other lines are kept.
_STARTUP_MESSAGES = (
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "TF-TRT Warning: Could not find TensorRT",
    # At the first seeded fit: Keras' tf.data graph names an attribute that this
    # TensorFlow's op definition lacks; it is ignored.
    "NodeDef mentions attribute use_unbounded_threadpool",
    # TensorFlow 2.18, at the first compiled predict (XLA on the CPU).
    "XLA service",
    "StreamExecutor device (0): Host",
    "Compiled cluster using XLA!",
)
_STARTUP_PLAIN_LINES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written "
    "to STDERR",
    "To enable the following instructions:",  # continues the cpu_feature_guard line
)


def is_startup_noise(line):
    """Whether ``line`` is one of TensorFlow's known C++ start-up lines.

    Parameters
    ----------
    line : str
        One line of stderr, without its line end.

    Returns
    -------
    noise : bool
        True for the start-up lines listed in this module, False for anything
        else (a C++ error with another message, a Python warning, ...).

    Examples
    --------
    >>> is_startup_noise("I0000 00:00:1.5 7 cudart_stub.cc:31] Could not find "
    ...                  "cuda drivers on your machine, GPU will not be used.")
    True
    >>> is_startup_noise("E0000 00:00:1.5 7 fs.cc:9] Disk full")
    False
    """
    if line.startswith(_STARTUP_PLAIN_LINES):
        return True
    return bool(ABSL_LINE.match(line)) and any(m in line for m in _STARTUP_MESSAGES)


#: The filter: reads the block's stderr on its standard input and writes every
#: line that is not noise to its standard output (the real stderr) as it comes.
#: Run with ``python -I -S``: it imports nothing of sk_mnist, so the patterns
#: are written into it.
_FILTER = """
import os, re
ABSL = re.compile({absl!r})
MESSAGES, PLAIN = {messages!r}, {plain!r}
def noise(line):
    if line.startswith(PLAIN):
        return True
    return bool(ABSL.match(line)) and any(m in line for m in MESSAGES)
def put(data):
    try:
        os.write(1, data)
    except OSError:  # stderr closed: keep reading, so the writers never block
        pass
rest = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    *lines, rest = (rest + chunk).split(b"\\n")
    kept = [x for x in lines if not noise(x.decode("utf-8", "replace"))]
    if kept:
        put(b"\\n".join(kept) + b"\\n")
if rest and not noise(rest.decode("utf-8", "replace")):
    put(rest)
"""

#: Seconds to wait at the end of a block for the filter to write the last lines.
FILTER_WAIT = 5

_active = False


def _filter_script():
    return _FILTER.format(
        absl=ABSL_LINE.pattern, messages=_STARTUP_MESSAGES, plain=_STARTUP_PLAIN_LINES
    )


@contextlib.contextmanager
def tensorflow_noise_hidden():
    """Filter file descriptor 2 in the block: known noise out, the rest as it comes.

    Descriptor 2 goes to a pipe read by a small filter process (``python -I
    -S``, about 20 ms to start), which writes every line that is not one of
    TensorFlow's start-up lines to the real stderr at once. The filter is a
    process of its own: when this process dies inside the block, even by a
    C++ ``abort`` (an absl ``F`` line), what it wrote still reaches the user,
    and so does what its children write (they inherit descriptor 2: Dask's
    worker processes). The filter runs in a session of its own, so that
    Ctrl-C reaches this process only. Nested blocks are one block. Without a
    descriptor 2 (stderr closed), the block does nothing.

    Yields
    ------
    None

    Examples
    --------
    >>> import os
    >>> with tensorflow_noise_hidden():  # the line below never reaches the terminal
    ...     _ = os.write(2, b"I0000 00:00:1.5 7 cudart_stub.cc:31] Could not find "
    ...                     b"cuda drivers on your machine, GPU will not be used.\\n")
    """
    global _active
    if _active:
        yield
        return
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2: nothing reaches a terminal anyway
        yield
        return
    read, write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _filter_script()],
            stdin=read,
            stdout=saved,
            stderr=saved,
            start_new_session=True,  # not interrupted by the terminal's Ctrl-C
        )
    except OSError:
        os.close(read)
        os.close(write)
        os.close(saved)
        yield
        return
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    _active = True
    try:
        yield
    finally:
        _active = False
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(saved, 2)  # the filter sees the end once every writer is gone
        os.close(saved)
        try:
            process.wait(timeout=FILTER_WAIT)
        except subprocess.TimeoutExpired:  # a child still holds the pipe
            pass


_for_the_process = None  # the block hide_tensorflow_startup_lines() keeps open


def hide_tensorflow_startup_lines():
    """From now on, drop TensorFlow's start-up lines from this process's stderr.

    On a machine without a GPU, TensorFlow writes its start-up lines (``Could not
    find cuda drivers``, ``failed call to cuInit``, ...) to the process's stderr
    when it is imported and when it first lists its devices, before
    ``TF_CPP_MIN_LOG_LEVEL`` can hide them all; in a notebook they land in the
    output of the first cell that trains, and again for each worker process of
    a search with ``n_jobs``. Call this once, at the top of a script or
    notebook: descriptor 2 goes through the filter of
    :func:`tensorflow_noise_hidden` for the rest of the process, and of the
    processes it starts (they inherit it), so those lines are dropped and every
    other line is shown as it comes. Unless you set ``TF_CPP_MIN_LOG_LEVEL``, it
    sets it to 2, as the command line does, so TensorFlow's later info and
    warning lines (``Compiled cluster using XLA``) stay hidden too; its errors
    show. Call it before anything starts TensorFlow: importing
    ``MNISTClassifier`` or ``make_mnist_pipeline`` does. Calling it again does
    nothing more.

    Examples
    --------
    The first lines of a script or notebook (not run by the doctests, since it
    changes the test process's stderr; ``tests/test_quiet.py`` runs it in a
    process of its own, and the notebooks start with it):

    >>> import sk_mnist
    >>> sk_mnist.hide_tensorflow_startup_lines()  # doctest: +SKIP
    """
    global _for_the_process
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _for_the_process is None and not _active:
        _for_the_process = tensorflow_noise_hidden()
        _for_the_process.__enter__()  # left open: the process's end closes it
