"""A model file that cannot run code: ``dump`` and ``load``.

The file is a zip archive holding

- ``manifest.json``: the format name and version, the versions of sk_mnist,
  scikit-learn, NumPy, Keras and the Keras backend it was written with, and the
  estimator: its class (from a fixed list), its parameters and its fitted state
  as tagged JSON;
- ``arrays/<i>.npy``: the NumPy arrays of the fitted state, read with
  ``allow_pickle=False``;
- ``network-<i>.keras``: each Keras network, in Keras' own format, read with
  ``safe_mode=True``.

Nothing in it is unpickled, and no name in it is imported: classes are looked up
in :data:`SAFE_CLASSES`, everything else is refused.
"""

import io
import json
import os
import re
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    StandardScaler,
)

from sk_mnist._versions import SkMnistVersionWarning, check_versions, current_versions
from sk_mnist.classifier import MNISTClassifier
from sk_mnist.preprocessing import PixelScaler

__all__ = [
    "ModelFormatError",
    "SAFE_CLASSES",
    "SkMnistVersionWarning",
    "UnsafeModelFileError",
    "dump",
    "load",
]

FORMAT_NAME = "sk_mnist.model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

#: The only classes a model file may name, by the name written in the file.
SAFE_CLASSES = {
    "sk_mnist.MNISTClassifier": MNISTClassifier,
    "sk_mnist.PixelScaler": PixelScaler,
    "sklearn.pipeline.Pipeline": Pipeline,
    "sklearn.preprocessing.StandardScaler": StandardScaler,
    "sklearn.preprocessing.MinMaxScaler": MinMaxScaler,
    "sklearn.preprocessing.MaxAbsScaler": MaxAbsScaler,
    "sklearn.preprocessing.Normalizer": Normalizer,
}
_NAMES = {cls: name for name, cls in SAFE_CLASSES.items()}

_MEMBER = re.compile(r"\A(manifest\.json|arrays/\d+\.npy|network-\d+\.keras)\Z")
_FITTED_ATTRIBUTE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*_\Z")
# Attributes of MNISTClassifier that are rebuilt on load, not stored as data.
_REBUILT = {"model_", "history_", "target_encoder_", "feature_encoder_"}
# Keras layers MNISTClassifier builds; a network with any other layer is refused.
_NETWORK_LAYERS = {"InputLayer", "Dense"}


class ModelFormatError(ValueError):
    """Raised when a file is not an sk_mnist model file, or a broken one."""


class UnsafeModelFileError(ModelFormatError):
    """Raised when a model file names a class or holds content that is not allowed."""


# --- writing ------------------------------------------------------------------


class _Writer:
    """Collects the arrays and networks of one file while encoding the manifest."""

    def __init__(self):
        self.members = {}

    def add(self, prefix, suffix, data):
        name = f"{prefix}{len(self.members)}{suffix}"
        self.members[name] = data
        return name

    def array(self, array):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return self.add("arrays/", ".npy", buffer.getvalue())

    def network(self, model):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "network.keras")
            model.save(path)
            return self.add("network-", ".keras", Path(path).read_bytes())


def _unsupported(what, value):
    return TypeError(
        f"sk_mnist.dump cannot store {what} = {value!r} (of type "
        f"{type(value).__name__}) in the safe format, which holds only numbers, "
        "strings, lists, dicts, NumPy arrays, Keras' built-in optimizers and "
        "losses, and the networks MNISTClassifier builds. Replace it with a "
        "name or a built-in (for example set_params(callbacks=None) after "
        "training, or activation='relu'), or use pickle/joblib for files you "
        "trust."
    )


def _builtin_keras_object(value, module):
    """``{"class_name", "config"}`` of a built-in Keras optimizer or loss, or None."""
    cls = type(value)
    if getattr(module, cls.__name__, None) is not cls:
        return None
    config = value.get_config()
    if not all(
        v is None or isinstance(v, (bool, int, float, str)) for v in config.values()
    ):
        return None  # a schedule or other object inside
    return {"class_name": cls.__name__, "config": config}


def _encode(value, writer, what):
    import keras

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float) and not isinstance(value, np.floating):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {
            "__scalar__": value.dtype.str,
            "value": _encode(value.item(), None, what),
        }
    if isinstance(value, np.ndarray):
        as_object = value.dtype == object
        if as_object:
            if not all(isinstance(v, str) for v in value.ravel()):
                raise _unsupported(what, value)
            value = value.astype(str)
        if value.dtype.kind not in "biufU":
            raise _unsupported(what, value)
        return {"__ndarray__": writer.array(value), "object": as_object}
    if isinstance(value, np.dtype):
        if value.fields is not None or value.kind not in "biufUO":
            raise _unsupported(what, value)
        return {"__dtype__": value.str}
    if isinstance(value, list):
        return [_encode(v, writer, what) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, writer, what) for v in value]}
    if isinstance(value, dict):
        return {
            "__dict__": [
                [_encode(k, writer, what), _encode(v, writer, what)]
                for k, v in value.items()
            ]
        }
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": _encode(value.get_state(), writer, what)}
    for tag, module in (
        ("__keras_optimizer__", keras.optimizers),
        ("__keras_loss__", keras.losses),
    ):
        described = _builtin_keras_object(value, module)
        if described is not None:
            return {tag: described}
    raise _unsupported(what, value)


def _encode_estimator(estimator, writer):
    if estimator is None or (isinstance(estimator, str) and estimator == "passthrough"):
        return {"class": "passthrough"}
    name = _NAMES.get(type(estimator))
    if name is None:
        allowed = ", ".join(sorted(SAFE_CLASSES))
        raise TypeError(
            f"sk_mnist.dump cannot store a {type(estimator).__module__}."
            f"{type(estimator).__qualname__}: the safe format holds only {allowed}. "
            "Use pickle/joblib for other estimators, and only with files you trust."
        )
    params = estimator.get_params(deep=False)
    if isinstance(estimator, Pipeline):
        if params.pop("memory") is not None:
            raise _unsupported("Pipeline.memory", estimator.memory)
        steps = params.pop("steps")
        return {
            "class": name,
            "params": {
                key: _encode(value, writer, f"Pipeline.{key}")
                for key, value in params.items()
            },
            "steps": [[step, _encode_estimator(est, writer)] for step, est in steps],
        }
    node = {
        "class": name,
        "params": {
            key: _encode(value, writer, f"{name}.{key}")
            for key, value in params.items()
        },
    }
    state = {
        key: value
        for key, value in vars(estimator).items()
        if _FITTED_ATTRIBUTE.match(key) and key not in params
    }
    if isinstance(estimator, MNISTClassifier):
        if estimator.callbacks is not None:
            raise _unsupported(f"{name}.callbacks", estimator.callbacks)
        if not estimator.initialized_:
            state = {}
        else:
            node["network"] = writer.network(estimator.model_)
            node["history"] = {
                str(key): [float(v) for v in values]
                for key, values in estimator.history_.items()
            }
            state = {k: v for k, v in state.items() if k not in _REBUILT}
    node["state"] = {
        key: _encode(value, writer, f"{name}.{key}") for key, value in state.items()
    }
    return node


def dump(estimator, path):
    """Write a fitted (or unfitted) estimator to ``path`` in the safe format.

    The file is written to a temporary file in the same folder and then renamed,
    so ``path`` holds either its old content or the complete new file, never a
    half-written one.

    Parameters
    ----------
    estimator : MNISTClassifier, PixelScaler or Pipeline
        A Pipeline may hold the classes of :data:`SAFE_CLASSES` and
        ``"passthrough"``.
    path : str or path-like
        The file to write (conventionally ``*.skmnist``).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        If the estimator, or one of its parameters, cannot be stored safely.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sk_mnist import PixelScaler, dump, load
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.skmnist")
    >>> _ = dump(PixelScaler().fit([[0, 255]]), path)
    >>> load(path).transform([[0, 255]])
    array([[0., 1.]], dtype=float32)
    """
    path = Path(path)
    writer = _Writer()
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": current_versions(),
        "estimator": _encode_estimator(estimator, writer),
    }
    text = json.dumps(manifest, indent=1, allow_nan=False)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o644)  # mkstemp's 0o600 would hide the model from others
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, text)
                for name, data in writer.members.items():
                    archive.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


# --- reading ------------------------------------------------------------------


class _Reader:
    def __init__(self, archive, source):
        self.archive = archive
        self.source = source

    def error(self, message, cls=ModelFormatError):
        return cls(f"{self.source}: {message}")

    def member(self, name, prefix):
        if not isinstance(name, str) or not name.startswith(prefix):
            raise self.error(f"bad member reference {name!r}.")
        try:
            return self.archive.read(name)
        except KeyError:
            raise self.error(f"member {name!r} is missing.") from None

    def array(self, name):
        try:
            return np.load(io.BytesIO(self.member(name, "arrays/")), allow_pickle=False)
        except ValueError as exc:
            raise self.error(
                f"array {name!r} cannot be read without pickle ({exc}).",
                UnsafeModelFileError,
            ) from None

    def network(self, name):
        import keras

        data = self.member(name, "network-")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "network.keras")
            Path(path).write_bytes(data)
            try:
                model = keras.saving.load_model(path, safe_mode=True)
            except Exception as exc:
                raise self.error(
                    f"the network {name!r} was refused by Keras' safe mode or is "
                    f"broken ({type(exc).__name__}: {exc}).",
                    UnsafeModelFileError,
                ) from None
        layers = {type(layer).__name__ for layer in model.layers}
        if not isinstance(model, keras.Sequential) or not layers <= _NETWORK_LAYERS:
            raise self.error(
                f"the network {name!r} is not one MNISTClassifier builds (a "
                f"Sequential of Dense layers); it holds {sorted(layers)}.",
                UnsafeModelFileError,
            )
        return model


def _decode(value, reader):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, reader) for v in value]
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise reader.error(f"unexpected value {value!r} in the manifest.")
    tag = next(iter(value))
    body = value[tag]
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__scalar__" and isinstance(body, str):
        dtype = _dtype(body, reader)
        if dtype.kind not in "biuf":
            raise reader.error(f"scalar of dtype {body!r} is not allowed.")
        return dtype.type(_decode(value.get("value"), reader))
    if tag == "__ndarray__":
        array = reader.array(body)
        return array.astype(object) if value.get("object") is True else array
    if tag == "__dtype__" and isinstance(body, str):
        return _dtype(body, reader)
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(_decode(v, reader) for v in body)
    if tag == "__dict__" and isinstance(body, list):
        items = [_decode(pair, reader) for pair in body]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in items):
            raise reader.error("malformed dict in the manifest.")
        return {_hashable(k): v for k, v in items}
    if tag == "__random_state__":
        state = np.random.RandomState()
        try:
            state.set_state(_decode(body, reader))
        except (TypeError, ValueError) as exc:
            raise reader.error(f"malformed random state ({exc}).") from None
        return state
    if tag in ("__keras_optimizer__", "__keras_loss__"):
        return _keras_builtin(tag, body, reader)
    raise reader.error(
        f"unknown entry {tag!r} in the manifest; only data tags are allowed.",
        UnsafeModelFileError,
    )


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _dtype(text, reader):
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise reader.error(f"unknown dtype {text!r}.") from None
    if dtype.fields is not None or dtype.kind not in "biufUO":
        raise reader.error(f"dtype {text!r} is not allowed.", UnsafeModelFileError)
    return dtype


def _keras_builtin(tag, body, reader):
    import keras

    module = keras.optimizers if tag == "__keras_optimizer__" else keras.losses
    base = (
        keras.optimizers.Optimizer if module is keras.optimizers else keras.losses.Loss
    )
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        raise reader.error(f"malformed {tag} entry.")
    cls = getattr(module, str(body.get("class_name")), None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise reader.error(
            f"{body.get('class_name')!r} is not a built-in Keras "
            f"{base.__name__.lower()}.",
            UnsafeModelFileError,
        )
    config = body["config"]
    if not all(
        v is None or isinstance(v, (bool, int, float, str)) for v in config.values()
    ):
        raise reader.error(f"the {tag} configuration may hold only plain values.")
    return cls.from_config(config)


def _class(name, reader):
    cls = SAFE_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise reader.error(
            f"refusing to load class {name!r}: a model file may name only "
            f"{', '.join(sorted(SAFE_CLASSES))}.",
            UnsafeModelFileError,
        )
    return cls


def _decode_estimator(node, reader):
    if not isinstance(node, dict):
        raise reader.error("malformed estimator entry.")
    if node.get("class") == "passthrough":
        return "passthrough"
    cls = _class(node.get("class"), reader)
    params = node.get("params")
    if not isinstance(params, dict):
        raise reader.error(f"malformed parameters of {node['class']}.")
    params = {key: _decode(value, reader) for key, value in params.items()}
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise reader.error(f"unknown parameters {sorted(unknown)} of {node['class']}.")
    if cls is Pipeline:
        steps = node.get("steps")
        if not isinstance(steps, list) or not all(
            isinstance(s, list) and len(s) == 2 and isinstance(s[0], str) for s in steps
        ):
            raise reader.error("malformed Pipeline steps.")
        params["steps"] = [(n, _decode_estimator(s, reader)) for n, s in steps]
        return Pipeline(**params)
    estimator = cls(**params)
    state = node.get("state") or {}
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and _FITTED_ATTRIBUTE.match(k) and k not in _REBUILT
        for k in state
    ):
        raise reader.error(f"malformed fitted state of {node['class']}.")
    for key, value in state.items():
        setattr(estimator, key, _decode(value, reader))
    if isinstance(estimator, MNISTClassifier) and "network" in node:
        _rebuild_classifier(estimator, node, reader)
    return estimator


def _rebuild_classifier(clf, node, reader):
    try:
        classes, n_features = clf.classes_, int(clf.n_features_in_)
        history = node.get("history") or {}
        clf.history_ = defaultdict(
            list, {str(k): [float(v) for v in vals] for k, vals in history.items()}
        )
        model = reader.network(node["network"])
        if model.input_shape[-1] != n_features or model.output_shape[-1] != len(
            classes
        ):
            raise reader.error(
                f"the network maps {model.input_shape[-1]} features to "
                f"{model.output_shape[-1]} classes, but the classifier was fitted on "
                f"{n_features} features and {len(classes)} classes."
            )
        clf.model_ = model
        clf.target_encoder_ = clf.target_encoder.fit(classes)
        clf.feature_encoder_ = clf.feature_encoder.fit(
            np.zeros((1, n_features), dtype=clf.X_dtype_)
        )
        clf._initialize_callbacks()
    except (AttributeError, TypeError) as exc:
        raise reader.error(f"incomplete MNISTClassifier state ({exc}).") from None


def load(path):
    """Read an estimator written by :func:`dump`, without running code from the file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`dump`.

    Returns
    -------
    estimator : MNISTClassifier, PixelScaler or Pipeline

    Raises
    ------
    ModelFormatError
        If the file is not an sk_mnist model file, or is truncated or malformed.
    UnsafeModelFileError
        If the file names a class outside :data:`SAFE_CLASSES`, holds anything
        but the manifest, ``.npy`` arrays and ``.keras`` networks, or a network
        that Keras' safe mode refuses.

    Warns
    -----
    SkMnistVersionWarning
        If the file was written under another version of sk_mnist, scikit-learn,
        Keras or the Keras backend.

    See Also
    --------
    dump : Write the file.
    """
    path = Path(path)
    source = f"sk_mnist model file {str(path)!r}"
    if not path.is_file():
        raise FileNotFoundError(f"{source} does not exist.")
    if not zipfile.is_zipfile(path):
        raise ModelFormatError(
            f"{source} is not an sk_mnist model file (not a zip archive, or "
            "truncated). Files made with pickle or joblib are read with "
            "joblib.load, and only if you trust them."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            refused = [name for name in names if not _MEMBER.match(name)]
            if refused:
                raise UnsafeModelFileError(
                    f"{source} holds members that are not part of the format: "
                    f"{refused}; nothing was read from them."
                )
            reader = _Reader(archive, source)
            try:
                manifest = json.loads(reader.member(MANIFEST, MANIFEST))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise reader.error(f"unreadable manifest ({exc}).") from None
            if (
                not isinstance(manifest, dict)
                or manifest.get("format") != FORMAT_NAME
                or not isinstance(manifest.get("format_version"), int)
            ):
                raise reader.error("not an sk_mnist model file (wrong manifest).")
            if manifest["format_version"] > FORMAT_VERSION:
                raise reader.error(
                    f"written in format version {manifest['format_version']}; this "
                    f"sk_mnist reads up to version {FORMAT_VERSION}. Upgrade sk_mnist."
                )
            check_versions(manifest.get("versions"), source)
            return _decode_estimator(manifest.get("estimator"), reader)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ModelFormatError(f"{source} is broken or truncated ({exc}).") from None
