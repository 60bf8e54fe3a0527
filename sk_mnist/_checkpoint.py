"""A search's finished fits, appended to a file as they finish; a rerun continues.

A search that names a checkpoint file (``EpochGridSearchCV(checkpoint=...)``,
``sk-mnist search --checkpoint FILE``) appends one line per finished fit, with
the scores of that fit, and reads them back when it is run again: only the fits
missing from the file are trained. The file is JSON lines, UTF-8:

- line 1, the header: ``{"sk_mnist_checkpoint": 1, "search": {...}}``; what
  identifies the search: its class, the estimator's parameters, the candidates
  (the grid), a fingerprint of the folds, of the data and of the fit
  parameters, the scoring, and the versions of sk_mnist, scikit-learn, NumPy,
  Keras and its backend. A file whose header differs is refused with
  :class:`CheckpointError`, naming what differs.
- one line per finished fit: ``{"fit": KEY, "results": [[INDEX, RESULT], ...]}``.
  ``KEY`` is what the search calls a fit (for ``EpochGridSearchCV``: the list of
  candidate indices that share one network, and the fold index); ``INDEX`` is
  a candidate's index in the grid, ``RESULT`` what scikit-learn's
  ``_fit_and_score`` returns for it (``test_scores``, ``fit_time``, ...).
  Floats are written as Python's ``repr``, which reads back bit for bit.

Each line is written whole with one ``write`` on a file opened for appending,
then flushed to disk (``fsync``), so a kill at any moment leaves at most one
torn last line: a line without its line end is ignored when read, and cut off
before the next record is appended. A whole line that is not a record is an
error, never skipped. The key is the search's to define, so the halving
searches can keep their fits (with the resource in the key) in the same file
format.
"""

import hashlib
import json
import os
import re
from pathlib import Path

__all__ = ["CheckpointError", "SearchCheckpoint", "describe", "fingerprint"]

#: Version of the file format, in the header's ``sk_mnist_checkpoint``.
FORMAT = 1

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class CheckpointError(ValueError):
    """A checkpoint file that belongs to another search, or is not one.

    Examples
    --------
    >>> from sk_mnist import CheckpointError
    >>> issubclass(CheckpointError, ValueError)
    True
    """


def fingerprint(value):
    """A short hash of data (arrays, frames, lists), the same in every process.

    Parameters
    ----------
    value : object
        What to fingerprint, hashed by :func:`joblib.hash`.

    Returns
    -------
    digest : str
        ``"sha256:"`` and 16 hex digits of the hash of joblib's hash.

    Examples
    --------
    >>> import numpy as np
    >>> fingerprint(np.arange(3)) == fingerprint(np.arange(3))
    True
    >>> fingerprint(np.arange(3)) == fingerprint(np.arange(4))
    False
    """
    import joblib

    digest = hashlib.sha256(joblib.hash(value).encode()).hexdigest()
    return f"sha256:{digest[:16]}"


def describe(value):
    """``value`` as JSON-able data that two runs of the same search write alike.

    Estimators become their class and parameters (but ``verbose``), arrays a
    fingerprint, functions their qualified name, other objects their ``repr``
    without memory addresses.

    Parameters
    ----------
    value : object
        A parameter value, a grid, a scoring.

    Returns
    -------
    description : None, bool, int, float, str, list or dict

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> describe({"scaler": StandardScaler(with_mean=False), "n": (1, 2)})
    {'n': [1, 2], 'scaler': {'class': 'sklearn.preprocessing._data.StandardScaler', \
'params': {'copy': True, 'with_mean': False, 'with_std': True}}}
    """
    import numpy as np
    from sklearn.base import BaseEstimator

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, BaseEstimator):
        cls = type(value)
        params = value.get_params(deep=False)
        params.pop("verbose", None)  # how much it prints changes no score
        return {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": {key: describe(params[key]) for key in sorted(params)},
        }
    if isinstance(value, dict):
        return {str(key): describe(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return {"array": fingerprint(value)}
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return f"{type(value).__name__}: {_ADDRESS.sub('', repr(value))}"


def _plain(value):
    """JSON's ``default``: NumPy scalars as Python numbers."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write a {type(value).__name__} to a checkpoint")


def _dumps(value):
    return json.dumps(value, sort_keys=True, default=_plain, allow_nan=True)


def _short(value, limit=80):
    text = _dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_difference(a, b, where):
    """Where two descriptions first differ, and their values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if _dumps(a.get(key)) != _dumps(b.get(key)):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if _dumps(x) != _dumps(y):
                return _first_difference(x, y, f"{where}[{i}]")
    return where, a, b


class SearchCheckpoint:
    """The fits of one search kept in ``path``; :meth:`record` appends one.

    Reading happens on construction: ``done`` maps each kept fit's key to its
    results. Nothing is written until the first :meth:`record`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file; need not exist.
    identity : dict
        What identifies the search (see the module's docstring), JSON-able.
    valid_keys : collection of str, optional
        The keys (as :meth:`key` makes them) this search can record; a record
        with another key is refused as not of this search.

    Raises
    ------
    CheckpointError
        If the file is not a checkpoint, belongs to another search, or holds
        a whole line that is not a record.
    """

    def __init__(self, path, identity, *, valid_keys=None):
        self.path = Path(path)
        self.identity = json.loads(_dumps(identity))
        self.done = {}
        self._valid_keys = valid_keys
        self._file = None
        self._end = 0  # bytes of whole lines
        self._read()

    @staticmethod
    def key(key):
        """The canonical text of a fit's key (JSON)."""
        return _dumps(key)

    def _read(self):
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise CheckpointError(f"{self.path}: is a folder; give a file") from None
        self._end = data.rfind(b"\n") + 1  # a last line without its end is torn
        lines = data[: self._end].split(b"\n")[:-1]
        if not lines:
            return
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        if not isinstance(header, dict) or "sk_mnist_checkpoint" not in header:
            raise CheckpointError(
                f"{self.path}: not a checkpoint of an sk_mnist search (its first "
                "line is not one); give another file"
            )
        if header["sk_mnist_checkpoint"] != FORMAT:
            raise CheckpointError(
                f"{self.path}: checkpoint format {header['sk_mnist_checkpoint']}, "
                f"but this sk_mnist reads format {FORMAT}; give another file"
            )
        self._compare(header.get("search", {}))
        for number, line in enumerate(lines[1:], start=2):
            try:
                record = json.loads(line)
                key = self.key(record["fit"])
                results = record["results"]
                ok = isinstance(results, list) and all(
                    isinstance(r, list) and len(r) == 2 and isinstance(r[1], dict)
                    for r in results
                )
            except (ValueError, KeyError, TypeError):
                ok = False
            if ok and self._valid_keys is not None:
                ok = key in self._valid_keys
            if not ok:
                raise CheckpointError(
                    f"{self.path}: line {number} is not a fit of this search; "
                    "the file was changed by something else than sk_mnist"
                )
            self.done[key] = [(index, result) for index, result in results]

    def _compare(self, stored):
        differ = sorted(
            name
            for name in set(stored) | set(self.identity)
            if _dumps(stored.get(name)) != _dumps(self.identity.get(name))
        )
        if not differ:
            return
        where, there, here = _first_difference(
            stored.get(differ[0]), self.identity.get(differ[0]), differ[0]
        )
        verb = "differs" if len(differ) == 1 else "differ"
        raise CheckpointError(
            f"{self.path} holds the fits of another search: its "
            f"{', '.join(differ)} {verb} from this one's ({where}: "
            f"{_short(there)} in the file, {_short(here)} now); give another "
            "checkpoint file, or delete this one to start over"
        )

    def record(self, key, results):
        """Append one finished fit's results and flush them to disk.

        Parameters
        ----------
        key : JSON-able
            The fit, as the search names it.
        results : list of (int, dict)
            Each candidate's index and ``_fit_and_score`` result.
        """
        if self._file is None:
            self._open()
        line = _dumps({"fit": key, "results": [list(item) for item in results]})
        os.write(self._file, (line + "\n").encode())
        os.fsync(self._file)
        self.done[self.key(key)] = [tuple(item) for item in results]

    def _open(self):
        self._file = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        if os.fstat(self._file).st_size > self._end:  # a torn last line
            os.ftruncate(self._file, self._end)
        if self._end == 0:
            header = {"sk_mnist_checkpoint": FORMAT, "search": self.identity}
            os.write(self._file, (_dumps(header) + "\n").encode())
            os.fsync(self._file)

    def close(self):
        """Close the file, if a record opened it."""
        if self._file is not None:
            os.close(self._file)
            self._file = None
