"""Keep TensorFlow's C++ start-up lines off the terminal, for the command line only.

On a machine without a GPU, importing TensorFlow and listing its devices writes
about nine lines to file descriptor 2 (``oneDNN custom operations are on``,
``Could not find cuda drivers``, ``failed call to cuInit``, ...), and the first
seeded fit one more. Some come from absl before it is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not hide them all: :func:`tensorflow_noise_hidden`
points descriptor 2 at a temporary file for that moment, then restores it and
writes back every line that is not one of those known lines, so a real error or
a Python warning still reaches the user (after the block). The library never
calls it: it does not hide a user's stderr.
"""

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["tensorflow_noise_hidden", "is_startup_noise"]

#: A line of TensorFlow's C++ (absl) log: severity, date, time, thread, file:line.
ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")

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


@contextlib.contextmanager
def tensorflow_noise_hidden():
    """Capture file descriptor 2 in the block; write back what is not known noise.

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
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if not is_startup_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
