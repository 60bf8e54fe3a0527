"""Writing a file so that it is never left half-written: :func:`atomic_write`."""

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def _new_file_mode():
    """The mode ``open()`` gives a new file: 0o666 less the process's umask."""
    try:  # Linux 4.7 and later: read without changing it
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere: the only way to read it is to set it
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    The temporary file is in the same folder (so the rename is atomic), flushed
    to disk before the rename, and removed if anything fails, an interrupt
    included: ``path`` holds either its old content or the complete new one.
    A file that is replaced keeps its permission bits; a new file gets those
    ``open()`` would give it under the process's umask.

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
        except OSError:  # a new file: as open() makes it, not mkstemp's 0o600
            mode = _new_file_mode()
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
