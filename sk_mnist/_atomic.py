"""Writing a file so that it is never left half-written: :func:`atomic_write`."""

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]

# The mode of a new file: readable by others, as open() gives under the usual umask.
_NEW_FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    The temporary file is in the same folder (so the rename is atomic), flushed
    to disk before the rename, and removed if anything fails, an interrupt
    included: ``path`` holds either its old content or the complete new one.
    A file that is replaced keeps its permission bits.

    Parameters
    ----------
    path : str or path-like
        The file to write or replace.

    Yields
    ------
    file : binary file object
        Write the new content to it.

    Raises
    ------
    OSError
        If the temporary file cannot be created, written or renamed (``path``
        is then unchanged).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = _NEW_FILE_MODE  # mkstemp's 0o600 would hide the file from others
        with os.fdopen(fd, "wb") as file:
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), mode)
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
