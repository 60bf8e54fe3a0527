"""A model file that cannot run code: ``dump`` and ``load``.

The file is a zip archive holding

- ``manifest.json``: the format name and version, the versions of sk_mnist,
  scikit-learn, NumPy, Keras and the Keras backend it was written with, and the
  estimator as tagged JSON: sk_mnist's own classes and ``Pipeline`` with their
  parameters and fitted state, every other estimator as a reference to a skops
  member;
- ``arrays/<i>.npy``: the NumPy arrays of that fitted state, read with
  ``allow_pickle=False``;
- ``network-<i>.keras``: each Keras network, in Keras' own format, its whole
  configuration checked against what MNISTClassifier writes
  (:mod:`sk_mnist._keras_config`) before Keras reads it with ``safe_mode=True``;
- ``skops-<i>.skops`` (format 3): each other step (a scikit-learn estimator:
  ``PCA``, a ``FeatureUnion``, a ``ColumnTransformer``...) in skops' format.

Nothing in it is unpickled, and no name in it is imported unless trusted: the
manifest's classes are looked up in :data:`SAFE_CLASSES`; the skops members may
name only the types skops trusts by default, and those the caller trusts by
name (``load(path, trusted=[...])``), checked with
``skops.io.get_untrusted_types`` before anything is built.

Reading is bounded: every member's declared size is checked against
:data:`MAX_UNCOMPRESSED_BYTES` (in total, the networks' inner members included)
before anything is decompressed, the manifest's (and each network's
configuration's) against :data:`MAX_MANIFEST_BYTES`, each ``.npy`` header
against its member's real size and against the manifest before an array is
allocated, the manifest's nesting depth against :data:`MAX_MANIFEST_DEPTH`
before it is parsed, every claimed number of features against the byte budget
and against the other steps of a pipeline before a row of that width is made;
a skops member's inner members against the budget, its ``schema.json`` like the
manifest, and its ``.npy`` headers against their real sizes, before skops reads
any of them.
Every failure to read a file is a :class:`ModelFormatError` naming the file; a
failure of the temporary folder :func:`load` unpacks a network to is a
:class:`TemporaryStorageError` naming the folder.
"""

import contextlib
import io
import json
import math
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    StandardScaler,
)

from sk_mnist._atomic import atomic_write
from sk_mnist._keras_config import RefusedConfig, check_metadata, check_network_config
from sk_mnist._versions import SkMnistVersionWarning, check_versions, current_versions
from sk_mnist.classifier import MNISTClassifier
from sk_mnist.preprocessing import PixelScaler

__all__ = [
    "ModelFormatError",
    "SAFE_CLASSES",
    "SkMnistVersionWarning",
    "TemporaryStorageError",
    "UnsafeModelFileError",
    "dump",
    "load",
]

FORMAT_NAME = "sk_mnist.model"
#: Version 3 stores every step that is not sk_mnist's own (or a Pipeline) with
#: skops; version 2 records each array's shape and dtype in the manifest and may
#: store Keras optimizer classes. Files of versions 1 and 2 are read as well.
FORMAT_VERSION = 3
MANIFEST = "manifest.json"

#: The most bytes :func:`load` decompresses from one file, all members together,
#: and again from a network's inner members. The book's fitted pipeline unpacks
#: to 3.3 MB. Pass ``load(path, max_bytes=...)`` to read a bigger model.
MAX_UNCOMPRESSED_BYTES = 2**30
#: The deepest nesting of lists and objects the manifest may have (the format
#: writes about 10 levels).
MAX_MANIFEST_DEPTH = 64
#: The biggest manifest (and network configuration) :func:`load` reads: the
#: format writes a few KB. Smaller with a small ``max_bytes``: parsed JSON may
#: take up to 64 times its text (``[],`` is a list of 56 bytes, and decoding
#: copies it).
MAX_MANIFEST_BYTES = 2**22
_JSON_BYTES_PER_CHARACTER = 64
# What a check that transforms one row of n features may allocate, per feature:
# the float32 row, and up to three float32 copies the transformers make.
_BYTES_PER_CHECKED_FEATURE = 16

#: The only classes a manifest may name, by the name written in it. Format 3
#: writes sk_mnist's classes and Pipeline there; files of formats 1 and 2 may
#: also name the four scikit-learn scalers (format 3 stores them with skops).
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
# The classes dump describes in the manifest; any other estimator goes to skops.
_MANIFEST_CLASSES = (MNISTClassifier, PixelScaler, Pipeline)

_MEMBER = re.compile(
    r"\A(manifest\.json|arrays/\d+\.npy|network-\d+\.keras|skops-\d+\.skops)\Z"
)
# What skops writes into its own archive that sk_mnist reads: the schema and
# NumPy arrays (sparse matrices, written as .npz, are not read).
_SKOPS_MEMBER = re.compile(r"\A(schema\.json|\d+\.npy)\Z")
_FITTED_ATTRIBUTE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*_\Z")
# Attributes of MNISTClassifier that are rebuilt on load, not stored as data.
_REBUILT = {"model_", "history_", "target_encoder_", "feature_encoder_"}
# Keras layers MNISTClassifier builds; a network with any other layer is refused.
_NETWORK_LAYERS = {"InputLayer", "Dense"}
# The members of a .keras archive as Keras writes it (others: "assets").
_KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


class ModelFormatError(ValueError):
    """Raised when a file is not an sk_mnist model file, or a broken one."""


class UnsafeModelFileError(ModelFormatError):
    """Raised when a model file names a class or holds content that is not allowed."""


class TemporaryStorageError(OSError):
    """Raised when :func:`load` cannot use its temporary folder (full, missing...).

    The model file is not at fault: free space in the folder named, or point
    ``TMPDIR`` at another one. ``errno`` and ``filename`` (the folder) are
    those of the failure.
    """

    def __str__(self):
        return str(self.args[0]) if self.args else super().__str__()


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
            data = Path(path).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            config = json.loads(inner.read("config.json"))
        try:  # what load would refuse is not written
            check_network_config(config)
        except RefusedConfig as exc:
            raise TypeError(
                f"sk_mnist.dump cannot store this network: {exc} load reads only "
                "the networks MNISTClassifier builds with Keras' built-in "
                "activations, optimizers, losses and metrics (sk_mnist._keras_config "
                "lists them). Use pickle/joblib for files you trust."
            ) from None
        return self.add("network-", ".keras", data)

    def skops(self, estimator, what):
        inside = _classifier_inside(estimator)
        if inside is not None:
            raise TypeError(
                f"sk_mnist.dump cannot store {what}: it holds an MNISTClassifier "
                f"({inside}), which the safe format stores only alone or as a step "
                "of a Pipeline (nested Pipelines included). Use pickle/joblib for "
                "files you trust."
            )
        import skops.io  # imported when needed: it imports all of scikit-learn

        try:
            data = skops.io.dumps(estimator)
        except Exception as exc:
            raise TypeError(
                f"sk_mnist.dump cannot store {what} (a "
                f"{type(estimator).__qualname__}): skops cannot persist it "
                f"({type(exc).__name__}: {exc}). Use pickle/joblib for files you "
                "trust."
            ) from None
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            other = [n for n in archive.namelist() if not _SKOPS_MEMBER.match(n)]
        if other:
            raise TypeError(
                f"sk_mnist.dump cannot store {what} (a "
                f"{type(estimator).__qualname__}): skops writes it with members "
                f"{other}, such as sparse matrices, which sk_mnist does not read. "
                "Use pickle/joblib for files you trust."
            )
        return self.add("skops-", ".skops", data)


def _classifier_inside(estimator):
    """The parameter path of an MNISTClassifier inside ``estimator``, or None."""
    if not isinstance(estimator, BaseEstimator):
        return None
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, MNISTClassifier):
            return key
        if isinstance(value, (list, tuple)):  # steps, transformers, estimators
            for item in value:
                parts = item if isinstance(item, tuple) else (item,)
                if any(isinstance(part, MNISTClassifier) for part in parts):
                    return key
    return None


# What to do instead, by the parameter that cannot be stored.
_HINTS = {
    "optimizer": "use a Keras built-in optimizer: a name ('rmsprop', 'adam'), a "
    "class (keras.optimizers.Adam) or an instance of one without a schedule",
    "loss": "use a Keras built-in loss: a name ('categorical_crossentropy'), a "
    "class or an instance of one",
    "callbacks": "set_params(callbacks=None) after training",
    "activation": "use an activation's name, for example activation='relu'",
    "memory": "set_params(memory=None) first: a cache of fitted transformers is "
    "no part of the model",
}


def _unsupported(what, value):
    hint = _HINTS.get(what.rsplit(".", 1)[-1], "replace it with plain data")
    return TypeError(
        f"sk_mnist.dump cannot store {what} = {value!r} (of type "
        f"{type(value).__name__}) in the safe format, which holds only numbers, "
        "strings, lists, dicts, NumPy arrays, Keras' built-in optimizers and "
        "losses, and the networks MNISTClassifier builds. To store it, "
        f"{hint}; or use pickle/joblib for files you trust."
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
            if any(v.endswith("\x00") for v in value.ravel()):
                raise TypeError(
                    f"sk_mnist.dump cannot store {what} = {value!r} (of type "
                    "ndarray) in the safe format: a string in it ends in a NUL "
                    "character ('\\x00'), which the format's NumPy strings drop. "
                    "Remove the trailing NULs (labels.astype(str) gives the strings "
                    "that would be stored), or use pickle/joblib for files you trust."
                )
            value = value.astype(str)
        if value.dtype.kind not in "biufU":
            raise _unsupported(what, value)
        return {
            "__ndarray__": writer.array(value),
            "object": as_object,
            "shape": list(value.shape),
            "dtype": value.dtype.str,
        }
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
    if isinstance(value, type):
        for tag, module in (
            ("__keras_optimizer_class__", keras.optimizers),
            ("__keras_loss_class__", keras.losses),
        ):
            if getattr(module, value.__name__, None) is value:
                return {tag: value.__name__}
    for tag, module in (
        ("__keras_optimizer__", keras.optimizers),
        ("__keras_loss__", keras.losses),
    ):
        described = _builtin_keras_object(value, module)
        if described is not None:
            return {tag: described}
    raise _unsupported(what, value)


def _encode_estimator(estimator, writer, what="the estimator"):
    if estimator is None or (isinstance(estimator, str) and estimator == "passthrough"):
        return {"class": "passthrough"}
    if type(estimator) not in _MANIFEST_CLASSES:
        return {"class": "skops", "member": writer.skops(estimator, what)}
    name = _NAMES[type(estimator)]
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
            "steps": [
                [step, _encode_estimator(est, writer, f"the step {step!r}")]
                for step, est in steps
            ],
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

    sk_mnist's own estimators and pipelines are described in the manifest,
    each network in Keras' format, and every other step (``PCA``, a
    ``FeatureUnion``, a ``ColumnTransformer``...) with skops, never with pickle.

    Parameters
    ----------
    estimator : estimator
        An ``MNISTClassifier``, ``PixelScaler``, any estimator skops can
        persist, or a ``Pipeline`` (nested ones included) of them and
        ``"passthrough"``. An ``MNISTClassifier`` may be alone or a step of a
        Pipeline, not inside another meta-estimator. What skops writes with a
        type outside its default trust (a function of your own in a
        ``FunctionTransformer``, say) is written, but :func:`load` reads it
        only if told to trust that type.
    path : str or path-like
        The file to write (conventionally ``*.skmnist``).

    Returns
    -------
    path : pathlib.Path
        The file written.

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
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_mnist import PixelScaler, dump, load
    >>> X = np.arange(24).reshape(4, 6) * 10
    >>> model = make_pipeline(PixelScaler(), PCA(2)).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "pca.skmnist")
    >>> _ = dump(model, path)
    >>> bool(np.array_equal(load(path).transform(X), model.transform(X)))
    True
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
    with atomic_write(path) as file:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, text)
            for name, data in writer.members.items():
                archive.writestr(name, data)
    return path


# --- reading ------------------------------------------------------------------


class _Reader:
    """Reads the members of one archive, within a budget of decompressed bytes."""

    def __init__(self, archive, source, max_bytes, trusted=None):
        self.archive = archive
        self.source = source
        self.max_bytes = max_bytes
        self.trusted = trusted
        self.skops_data = {}  # skops members, read and checked by check_skops

    def error(self, message, cls=ModelFormatError):
        return cls(f"{self.source}: {message}")

    def storage_error(self, exc):
        folder = tempfile.gettempdir()
        error = TemporaryStorageError(
            f"cannot unpack a network of {self.source} to the temporary folder "
            f"{folder!r}: {exc.strerror or exc}. The model file is not at fault: "
            "free space there, or set TMPDIR to a folder with room."
        )
        error.errno, error.strerror, error.filename = exc.errno, exc.strerror, folder
        return error

    @contextlib.contextmanager
    def temporary_folder(self):
        """A temporary folder; its failures are :class:`TemporaryStorageError`."""
        try:
            folder = tempfile.TemporaryDirectory()
        except OSError as exc:
            raise self.storage_error(exc) from exc
        with folder as name:
            yield name

    def write_temporary(self, path, data):
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise self.storage_error(exc) from exc

    def member(self, name, prefix):
        if not isinstance(name, str) or not name.startswith(prefix):
            raise self.error(f"bad member reference {name!r}.")
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise self.error(f"member {name!r} is missing.") from None
        # Sizes were checked against the budget when the archive was opened;
        # zipfile stops at the declared size, and read() is bounded again here.
        with self.archive.open(info) as member:
            data = member.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise self.error(
                f"member {name!r} holds {len(data)} bytes, but its header says "
                f"{info.file_size}."
            )
        return data

    def npy_header(self, name, buffer):
        """``(shape, fortran_order, dtype)`` of a .npy file; no pickled dtypes."""
        try:
            version = np.lib.format.read_magic(buffer)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(buffer)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(buffer)
            else:
                raise ValueError(f".npy format version {version} is not supported")
        except Exception as exc:  # ValueError, or a tokenizer's error in the dict
            raise self.error(
                f"array {name!r} has a malformed header ({exc})."
            ) from None
        if header[2].hasobject:
            raise self.error(
                f"array {name!r} cannot be read without pickle (dtype {header[2]}).",
                UnsafeModelFileError,
            )
        return header

    def array(self, name, shape=None, dtype=None):
        data = self.member(name, "arrays/")
        buffer = io.BytesIO(data)
        found_shape, fortran_order, found_dtype = self.npy_header(name, buffer)
        if found_dtype.fields is not None or found_dtype.kind not in "biufU":
            raise self.error(
                f"array {name!r} has dtype {found_dtype}, which the format does not "
                "hold.",
                UnsafeModelFileError,
            )
        size = math.prod(found_shape) * found_dtype.itemsize
        if size != len(data) - buffer.tell():
            raise self.error(
                f"array {name!r} claims shape {found_shape} of {found_dtype} "
                f"({size} bytes), but holds {len(data) - buffer.tell()} bytes."
            )
        if (shape is not None and list(found_shape) != shape) or (
            dtype is not None and found_dtype.str != dtype
        ):
            raise self.error(
                f"array {name!r} has shape {found_shape} and dtype "
                f"{found_dtype.str}, but the manifest says {shape} and {dtype}."
            )
        array = np.frombuffer(data, dtype=found_dtype, offset=buffer.tell())
        order = "F" if fortran_order else "C"
        return array.reshape(found_shape, order=order).copy()

    def _check_network_config(self, name, text):
        """The network is one MNISTClassifier writes, its weights within the budget.

        Checked before Keras reads any of it: the whole configuration against
        the allow-list of :mod:`sk_mnist._keras_config` (every module, class,
        key and value type), so that no name written in the file reaches
        Keras' deserialization, whatever Keras is installed; and the weights
        it declares, which Keras allocates before it reads any.
        """
        try:
            if _nested_too_deeply(text.decode("utf-8")):
                raise ValueError("nested too deeply")
            config = json.loads(text)
        except Exception as exc:
            raise self.error(
                f"the network {name!r} has a malformed configuration "
                f"({type(exc).__name__}: {exc})."
            ) from None
        try:
            check_network_config(config)
        except RefusedConfig as exc:
            raise self.error(
                f"the network {name!r} is not one MNISTClassifier writes, at "
                f"{exc}; nothing of it was given to Keras.",
                UnsafeModelFileError,
            ) from None
        width, weights = None, 0
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "InputLayer":
                width = layer["config"]["batch_shape"][-1]
                continue
            units = layer["config"]["units"]
            weights += (width + 1) * units
            width = units
        # Weights and up to two optimizer slots each, in float64 at most.
        if 3 * 8 * weights > self.max_bytes:
            raise self.error(
                f"the network {name!r} declares {weights} weights, more than the "
                f"limit of {self.max_bytes} bytes holds; pass load(..., "
                "max_bytes=...) to read bigger models from files you trust."
            )

    def _check_network_metadata(self, name, text):
        """``metadata.json``: plain strings (Keras writes it, and does not read it)."""
        try:
            check_metadata(json.loads(text))
        except RefusedConfig as exc:
            raise self.error(
                f"the network {name!r} has a metadata.json that Keras does not "
                f"write, at {exc}",
                UnsafeModelFileError,
            ) from None
        except Exception as exc:
            raise self.error(
                f"the network {name!r} has a malformed metadata.json "
                f"({type(exc).__name__}: {exc})."
            ) from None

    def _check_weights_file(self, name, data):
        """The arrays the weights file declares fit in the byte budget.

        An HDF5 dataset may declare any shape in a few bytes; Keras would
        allocate it whole when it reads the weights.
        """
        import h5py

        declared = []
        try:
            with h5py.File(io.BytesIO(data), "r") as weights:
                weights.visititems(
                    lambda _, item: (
                        declared.append(item.size * item.dtype.itemsize)
                        if isinstance(item, h5py.Dataset)
                        else None
                    )
                )
        except Exception as exc:
            raise self.error(
                f"the network {name!r} has an unreadable weights file "
                f"({type(exc).__name__}: {exc})."
            ) from None
        if sum(declared) > self.max_bytes:
            raise self.error(
                f"the network {name!r} declares {sum(declared)} bytes of weights, "
                f"more than the limit of {self.max_bytes}; pass load(..., "
                "max_bytes=...) to read bigger models from files you trust."
            )

    def check_skops(self):
        """Read and check every skops member; refuse untrusted types in any.

        Runs before anything of the file is built: the inner members' declared
        sizes, the schema's size and nesting, the .npy headers, then skops'
        own list of the types the member names.
        """
        untrusted = set()
        for info in self.archive.infolist():
            if info.filename.startswith("skops-"):
                import skops.io  # only for files that hold a skops member

                data = self.member(info.filename, "skops-")
                self._check_skops_archive(info.filename, data)
                self.skops_data[info.filename] = data
                untrusted.update(skops.io.get_untrusted_types(data=data))
        untrusted -= set(self.trusted or ())
        if untrusted:
            names = sorted(untrusted)
            raise self.error(
                f"its scikit-learn steps (stored with skops) name types that are "
                f"not trusted by default: {names}. Nothing was loaded from the "
                "file. If you trust its author and these types, pass "
                f"load(..., trusted={names}).",
                UnsafeModelFileError,
            )

    def _check_skops_archive(self, name, data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                infos = inner.infolist()
                other = [
                    i.filename for i in infos if not _SKOPS_MEMBER.match(i.filename)
                ]
                if other:
                    raise self.error(
                        f"the skops member {name!r} holds {other}; sk_mnist reads "
                        "only its schema.json and .npy arrays.",
                        UnsafeModelFileError,
                    )
                total = sum(i.file_size for i in infos)
                if total > self.max_bytes:
                    raise self.error(
                        f"the skops member {name!r} unpacks to {total} bytes, more "
                        f"than the limit of {self.max_bytes}; pass load(..., "
                        "max_bytes=...) to read a bigger model from a file you "
                        "trust to be one."
                    )
                schema = inner.getinfo("schema.json")
                if schema.file_size > _manifest_limit(self.max_bytes):
                    raise self.error(
                        f"the skops member {name!r} has a schema of "
                        f"{schema.file_size} bytes; the format allows "
                        f"{_manifest_limit(self.max_bytes)} with "
                        f"max_bytes={self.max_bytes}."
                    )
                if _nested_too_deeply(inner.read(schema).decode("utf-8")):
                    raise self.error(
                        f"the skops member {name!r} has a schema nested more than "
                        f"{MAX_MANIFEST_DEPTH} levels deep."
                    )
                for info in infos:
                    if info.filename.endswith(".npy"):
                        with inner.open(info) as member:
                            self._check_npy_header(
                                f"{name}/{info.filename}", member, info.file_size
                            )
        except ModelFormatError:
            raise
        except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
            raise self.error(
                f"the skops member {name!r} is not a skops archive "
                f"({type(exc).__name__}: {exc})."
            ) from None

    def _check_npy_header(self, name, member, size):
        """A .npy member's header: a plain dtype, a shape that its size holds."""
        found_shape, _, found_dtype = self.npy_header(name, member)
        claimed = math.prod(found_shape) * found_dtype.itemsize
        if claimed != size - member.tell():
            raise self.error(
                f"array {name!r} claims shape {found_shape} of {found_dtype} "
                f"({claimed} bytes), but holds {size - member.tell()} bytes."
            )

    def skops(self, name):
        import skops.io

        if name not in self.skops_data:
            raise self.error(f"bad member reference {name!r}.")
        estimator = skops.io.loads(self.skops_data[name], trusted=self.trusted)
        if not isinstance(estimator, BaseEstimator):
            raise self.error(
                f"the skops member {name!r} holds a {type(estimator).__name__}, "
                "not an estimator."
            )
        return estimator

    def network(self, name):
        import keras

        data = self.member(name, "network-")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                inner_size = sum(info.file_size for info in inner.infolist())
                if inner_size > self.max_bytes:
                    raise self.error(
                        f"the network {name!r} unpacks to {inner_size} bytes, more "
                        f"than the limit of {self.max_bytes}; pass load(..., "
                        "max_bytes=...) to read bigger models from files you "
                        "trust to be models."
                    )
                other = sorted(set(inner.namelist()) - _KERAS_MEMBERS)
                if other:
                    # Keras would unpack more than three members as assets.
                    raise self.error(
                        f"the network {name!r} holds {other}; a network "
                        f"MNISTClassifier writes holds only {sorted(_KERAS_MEMBERS)}.",
                        UnsafeModelFileError,
                    )
                for json_member in ("config.json", "metadata.json"):
                    size = inner.getinfo(json_member).file_size
                    if size > _manifest_limit(self.max_bytes):
                        what = (
                            "configuration" if json_member == "config.json" else
                            "metadata.json"
                        )  # fmt: skip
                        raise self.error(
                            f"the network {name!r} has a {what} of {size} bytes; "
                            f"the format allows {_manifest_limit(self.max_bytes)} "
                            f"with max_bytes={self.max_bytes}."
                        )
                config = inner.read("config.json")
                metadata = inner.read("metadata.json")
                weights = inner.read("model.weights.h5")
        except ModelFormatError:
            raise
        except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
            raise self.error(
                f"the network {name!r} is not a Keras archive ({exc})."
            ) from None
        self._check_network_config(name, config)
        self._check_network_metadata(name, metadata)
        self._check_weights_file(name, weights)
        with self.temporary_folder() as folder:
            path = os.path.join(folder, "network.keras")
            self.write_temporary(path, data)
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
    if not isinstance(value, dict) or not value:
        raise reader.error(f"unexpected value {value!r} in the manifest.")
    tag = next(iter(value))
    body = value[tag]
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__scalar__" and isinstance(body, str):
        dtype = _dtype(body, reader)
        number = _decode(value.get("value"), reader)
        if dtype.kind not in "biuf" or isinstance(number, bool) != (dtype.kind == "b"):
            raise reader.error(f"malformed scalar {value!r} in the manifest.")
        if not isinstance(number, (bool, int, float)):
            raise reader.error(f"malformed scalar {value!r} in the manifest.")
        return dtype.type(number)
    if tag == "__ndarray__":
        shape, dtype = value.get("shape"), value.get("dtype")
        if not (shape is None or isinstance(shape, list)) or not (
            dtype is None or isinstance(dtype, str)
        ):
            raise reader.error(f"malformed array entry {value!r} in the manifest.")
        array = reader.array(body, shape, dtype)
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
    if tag in ("__keras_optimizer_class__", "__keras_loss_class__"):
        return _keras_builtin_class(tag, body, reader)
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


def _keras_base(tag):
    import keras

    if "optimizer" in tag:
        return keras.optimizers, keras.optimizers.Optimizer
    return keras.losses, keras.losses.Loss


def _keras_class(tag, name, reader):
    module, base = _keras_base(tag)
    cls = getattr(module, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise reader.error(
            f"{name!r} is not a built-in Keras {base.__name__.lower()}.",
            UnsafeModelFileError,
        )
    return cls


def _keras_builtin_class(tag, body, reader):
    return _keras_class(tag, body, reader)


def _keras_builtin(tag, body, reader):
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        raise reader.error(f"malformed {tag} entry.")
    cls = _keras_class(tag, body.get("class_name"), reader)
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


def _decode_estimator(node, reader, *, check_transform=True):
    if not isinstance(node, dict):
        raise reader.error("malformed estimator entry.")
    if node.get("class") == "passthrough":
        return "passthrough"
    if node.get("class") == "skops":
        return reader.skops(node.get("member"))
    cls = _class(node.get("class"), reader)
    name = node["class"]
    params = node.get("params")
    if not isinstance(params, dict):
        raise reader.error(f"malformed parameters of {name}.")
    params = {key: _decode(value, reader) for key, value in params.items()}
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise reader.error(f"unknown parameters {sorted(unknown)} of {name}.")
    if cls is Pipeline:
        steps = node.get("steps")
        if not isinstance(steps, list) or not all(
            isinstance(s, list) and len(s) == 2 and isinstance(s[0], str) for s in steps
        ):
            raise reader.error("malformed Pipeline steps.")
        params["steps"] = [
            (n, _decode_estimator(s, reader, check_transform=False)) for n, s in steps
        ]
        pipeline = Pipeline(**params)
        _validate(pipeline, name, reader)
        pipeline._validate_steps()
        _check_pipeline_widths(pipeline, reader)
        return pipeline
    estimator = cls(**params)
    _validate(estimator, name, reader)
    state = node.get("state") or {}
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and _FITTED_ATTRIBUTE.match(k) and k not in _REBUILT
        for k in state
    ):
        raise reader.error(f"malformed fitted state of {name}.")
    for key, value in state.items():
        setattr(estimator, key, _decode(value, reader))
    if isinstance(estimator, MNISTClassifier):
        if "network" in node:
            _rebuild_classifier(estimator, node, reader)
        elif state:
            raise reader.error(f"{name} has a fitted state but no network.")
    elif state:
        _check_fitted_transformer(estimator, name, reader)
        if check_transform:
            _check_transform(estimator, name, reader)
    return estimator


def _check_pipeline_widths(pipeline, reader):
    """The fitted steps of a pipeline agree on the number of features.

    A row of zeros as wide as the first step takes (a width checked against
    the byte budget first) goes through the fitted steps in turn: each must
    transform it, into a row as wide as the next step takes (the
    classifier's width is confirmed by its network).
    """
    steps = [(n, s) for n, s in pipeline.steps if s not in (None, "passthrough")]
    if not steps or not hasattr(steps[0][1], "n_features_in_"):
        return  # not fitted
    first_name, first = steps[0]
    width = _checked_width(first, first_name, reader)
    row, previous = None, None
    for step_name, step in steps:
        if not hasattr(step, "n_features_in_"):
            raise reader.error(
                f"the pipeline's step {step_name!r} is not fitted, but the steps "
                "before it are."
            )
        takes = step.n_features_in_
        if takes != width:
            raise reader.error(
                "the pipeline's steps disagree on the number of features: "
                f"{previous!r} gives {width}, {step_name!r} takes {takes}."
            )
        if isinstance(step, MNISTClassifier) or not hasattr(step, "transform"):
            break
        if row is None:
            row = np.zeros((1, width), dtype=np.float32)
        row = _transformed(step, step_name, row, reader)
        width, previous = row.shape[1], step_name


def _checked_width(estimator, name, reader):
    """``estimator.n_features_in_``, an int from 1 to what the budget allows."""
    n_features = estimator.n_features_in_
    most = reader.max_bytes // _BYTES_PER_CHECKED_FEATURE
    if not (isinstance(n_features, int) and not isinstance(n_features, bool)) or not (
        1 <= n_features <= most
    ):
        raise reader.error(
            f"{name}.n_features_in_ is {n_features!r}; it must be from 1 to {most} "
            f"within the limit of {reader.max_bytes} bytes. Pass load(..., "
            "max_bytes=...) to read a wider model from a file you trust."
        )
    return n_features


def _transformed(estimator, name, row, reader):
    """``estimator.transform(row)`` as one 2-D row, or the file's error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = estimator.transform(row)
    except Exception as exc:
        raise reader.error(
            f"{name} cannot transform ({type(exc).__name__}: {exc})."
        ) from None
    if not (hasattr(out, "shape") and len(out.shape) == 2 and out.shape[0] == 1):
        raise reader.error(f"{name} transforms one row to shape {np.shape(out)}.")
    return out


def _validate(estimator, name, reader):
    """Check the parameters through scikit-learn's constraints."""
    if not hasattr(type(estimator), "_parameter_constraints"):
        return  # PixelScaler: no parameters
    try:
        estimator._validate_params()
    except ValueError as exc:  # InvalidParameterError is a ValueError
        raise reader.error(f"invalid parameters of {name}: {exc}") from None


def _check_fitted_transformer(estimator, name, reader):
    """A fitted scikit-learn transformer: its arrays match ``n_features_in_``."""
    n_features = getattr(estimator, "n_features_in_", None)
    if not (isinstance(n_features, int) and not isinstance(n_features, bool)):
        raise reader.error(f"{name} is fitted but has no n_features_in_.")
    _checked_width(estimator, name, reader)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and not (
        isinstance(names, np.ndarray) and names.shape == (n_features,)
    ):
        raise reader.error(
            f"{name}.feature_names_in_ must be an array of {n_features} names."
        )
    if isinstance(estimator, PixelScaler):
        image_shape = getattr(estimator, "image_shape_", None)
        if image_shape is not None and not (
            isinstance(image_shape, tuple)
            and len(image_shape) == 2
            and all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0
                for n in image_shape
            )
            and math.prod(image_shape) == n_features
        ):
            raise reader.error(
                f"{name}.image_shape_ is {image_shape!r}, not None or (height, "
                f"width) of {n_features} pixels."
            )
    if isinstance(estimator, StandardScaler):
        needed = ("mean_",) * estimator.with_mean + ("scale_",) * estimator.with_std
    elif isinstance(estimator, MinMaxScaler):
        needed = ("min_", "scale_", "data_min_", "data_max_")
    elif isinstance(estimator, MaxAbsScaler):
        needed = ("max_abs_", "scale_")
    else:
        needed = ()
    for key in needed:
        value = getattr(estimator, key, None)
        if not (
            isinstance(value, np.ndarray)
            and value.shape == (n_features,)
            and value.dtype.kind == "f"
        ):
            raise reader.error(
                f"{name}.{key} must be a float array of shape ({n_features},), "
                f"got {value!r}."
            )


def _check_transform(estimator, name, reader):
    """The real test of a checked transformer: it transforms a row of its width."""
    n_features = estimator.n_features_in_
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = estimator.transform(np.zeros((1, n_features), dtype=np.float32))
    except Exception as exc:
        raise reader.error(
            f"{name} cannot transform ({type(exc).__name__}: {exc})."
        ) from None
    if np.shape(out) != (1, n_features):
        raise reader.error(f"{name} transforms to shape {np.shape(out)}.")


def _rebuild_classifier(clf, node, reader):
    name = "MNISTClassifier"
    classes = getattr(clf, "classes_", None)
    n_features = getattr(clf, "n_features_in_", None)
    if not (
        isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
    ):  # fit refuses fewer than 2 classes
        raise reader.error(
            f"{name}.classes_ must be a 1-D array of at least 2 classes, got "
            f"{classes!r}."
        )
    if len(np.unique(classes)) != len(classes):
        raise reader.error(f"{name}.classes_ repeats a class: {classes!r}.")
    if not (isinstance(n_features, int) and not isinstance(n_features, bool)) or (
        n_features < 1
    ):
        raise reader.error(
            f"{name}.n_features_in_ must be a positive int, got {n_features!r}."
        )
    expected = {
        "n_classes_": len(classes),
        "X_shape_": None,
        "X_dtype_": None,
        "y_ndim_": 1,
        "n_outputs_": 1,
        "n_outputs_expected_": 1,
    }
    for key, value in expected.items():
        if not hasattr(clf, key):
            raise reader.error(f"{name} is fitted but has no {key}.")
        if value is not None and getattr(clf, key) != value:
            raise reader.error(
                f"{name}.{key} is {getattr(clf, key)!r}, expected {value!r}."
            )
    shape = clf.X_shape_
    if not (isinstance(shape, tuple) and shape[1:] == (n_features,)):
        raise reader.error(f"{name}.X_shape_ is {shape!r}, expected (n, {n_features}).")
    if not isinstance(clf.X_dtype_, np.dtype) or clf.X_dtype_.kind not in "biuf":
        raise reader.error(f"{name}.X_dtype_ is {clf.X_dtype_!r}, not a number type.")
    history = node.get("history") or {}
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        raise reader.error(f"malformed training history of {name}.")
    model = reader.network(node["network"])
    if model.input_shape[-1] != n_features or model.output_shape[-1] != len(classes):
        raise reader.error(
            f"the network maps {model.input_shape[-1]} features to "
            f"{model.output_shape[-1]} classes, but the classifier was fitted on "
            f"{n_features} features and {len(classes)} classes."
        )
    clf.history_ = defaultdict(
        list, {str(k): [float(v) for v in vals] for k, vals in history.items()}
    )
    clf.model_ = model
    clf.target_encoder_ = clf.target_encoder.fit(classes)
    clf.feature_encoder_ = clf.feature_encoder.fit(
        np.zeros((1, n_features), dtype=clf.X_dtype_)
    )
    clf._initialize_callbacks()


# A JSON string (skipped whole), an opening bracket (group 1) or a closing one.
_JSON_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|([\[{])|[\]}]')


def _nested_too_deeply(text):
    """Whether JSON ``text`` nests ``[`` and ``{`` deeper than the limit.

    Walks the brackets, strings skipped, and stops at the first level too deep:
    it allocates nothing per character.
    """
    depth = 0
    for match in _JSON_STRING_OR_BRACKET.finditer(text):
        if match.lastindex:  # an opening bracket
            depth += 1
            if depth > MAX_MANIFEST_DEPTH:
                return True
        elif text[match.start()] != '"':
            depth -= 1
    return False


def _open_manifest(reader):
    text = reader.member(MANIFEST, MANIFEST)
    try:
        text = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise reader.error(f"unreadable manifest ({exc}).") from None
    if _nested_too_deeply(text):
        raise reader.error(
            f"the manifest is nested more than {MAX_MANIFEST_DEPTH} levels deep; "
            "the format writes about 10."
        )
    try:
        manifest = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise reader.error(f"unreadable manifest ({exc}).") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT_NAME
        or not isinstance(manifest.get("format_version"), int)
        or isinstance(manifest.get("format_version"), bool)
    ):
        raise reader.error("not an sk_mnist model file (wrong manifest).")
    if manifest["format_version"] > FORMAT_VERSION:
        raise reader.error(
            f"written in format version {manifest['format_version']} by a newer "
            f"sk_mnist; this sk_mnist reads up to version {FORMAT_VERSION}. "
            "Upgrade sk_mnist (in a newer sk_mnist project folder: pip install "
            "--upgrade .) to read it."
        )
    return manifest


def _check_members(archive, source, max_bytes):
    """Refuse unknown members and oversized ones before decompressing anything."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    refused = [name for name in names if not _MEMBER.match(name)]
    if refused:
        raise UnsafeModelFileError(
            f"{source} holds members that are not part of the format: "
            f"{refused}; nothing was read from them."
        )
    if len(set(names)) != len(names):
        raise ModelFormatError(f"{source} holds the same member twice.")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise ModelFormatError(
            f"{source} unpacks to {total} bytes, more than the limit of "
            f"{max_bytes}; pass load(..., max_bytes=...) to read a bigger model "
            "from a file you trust to be one."
        )
    manifest_size = max(
        (info.file_size for info in infos if info.filename == MANIFEST), default=0
    )
    if manifest_size > _manifest_limit(max_bytes):
        raise ModelFormatError(
            f"{source} has a manifest of {manifest_size} bytes; the format allows "
            f"{_manifest_limit(max_bytes)} with max_bytes={max_bytes} (it writes a "
            "few KB). The file is damaged or not written by sk_mnist.dump."
        )


def _starts_as_zip(path):
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04"


def _trusted_names(trusted):
    if trusted is None:
        return None
    if isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted):
        raise TypeError(
            "load(..., trusted=...) takes a list of type names, such as "
            f"['numpy.log']; got {trusted!r}."
        )
    return list(trusted)


def _manifest_limit(max_bytes):
    """The most bytes of JSON to parse within a budget of ``max_bytes``."""
    return min(MAX_MANIFEST_BYTES, max_bytes // _JSON_BYTES_PER_CHARACTER)


def load(path, *, max_bytes=None, trusted=None):
    """Read an estimator written by :func:`dump`, without running code from the file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`dump`.
    max_bytes : int, default=None
        The most bytes to decompress from the file, all members together;
        None means :data:`MAX_UNCOMPRESSED_BYTES` (1 GiB). It also bounds what
        the file's claims can make ``load`` allocate beyond a valid file: the
        manifest's size (``max_bytes / 64``, at most 4 MiB) and the widest
        transformer (``max_bytes / 16`` features).
    trusted : list of str, default=None
        Types to trust in the file's skops members beyond those skops trusts
        by default, by name, as ``skops.io.get_untrusted_types`` and the
        :class:`UnsafeModelFileError` list them (``"numpy.log"``,
        ``"mymodule.MyTransformer"``). Trust only names you expect from a
        file whose author you trust: loading may import and run them.

    Returns
    -------
    estimator : estimator
        The estimator as it was dumped (an ``MNISTClassifier``, a pipeline...),
        fitted state included.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ModelFormatError
        If the file is not an sk_mnist model file, or is truncated, damaged,
        malformed, bigger than ``max_bytes`` unpacked, or describes an
        estimator with invalid parameters or an inconsistent fitted state.
    UnsafeModelFileError
        If the file names a class outside :data:`SAFE_CLASSES`, holds anything
        but the manifest, ``.npy`` arrays, ``.keras`` networks and skops
        members, a network whose configuration names anything MNISTClassifier
        does not write (refused before Keras reads it; the message names the
        place), a network that Keras' safe mode refuses, or a skops member
        naming types that are neither trusted by skops by default nor in
        ``trusted`` (all of them are listed; nothing is built from the file).
    TemporaryStorageError
        If a network cannot be unpacked to the temporary folder (full, missing,
        not writable): an ``OSError``, not a fault of the file.

    Warns
    -----
    SkMnistVersionWarning
        If the file was written under another version of sk_mnist, scikit-learn,
        Keras or the Keras backend.

    See Also
    --------
    dump : Write the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sk_mnist import PixelScaler, dump, load
    >>> path = dump(PixelScaler().fit([[0, 255]]),
    ...             os.path.join(tempfile.mkdtemp(), "scaler.skmnist"))
    >>> scaler = load(path)
    >>> scaler.n_features_in_
    2
    """
    path = Path(path)
    source = f"sk_mnist model file {str(path)!r}"
    max_bytes = MAX_UNCOMPRESSED_BYTES if max_bytes is None else int(max_bytes)
    trusted = _trusted_names(trusted)
    if not path.is_file():
        raise FileNotFoundError(f"{source} does not exist.")
    if not _starts_as_zip(path) or not zipfile.is_zipfile(path):
        # A pickle may hold a zip (joblib's pickle of a Keras network does):
        # a model file is a zip from its first byte.
        raise ModelFormatError(
            f"{source} is not an sk_mnist model file (not a zip archive, or "
            "truncated). Files made with pickle or joblib are read with "
            "joblib.load, and only if you trust them."
        )
    if path.stat().st_size > max_bytes:
        raise ModelFormatError(
            f"{source} is {path.stat().st_size} bytes, more than the limit of "
            f"{max_bytes}; pass load(..., max_bytes=...) to read a bigger model."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive, source, max_bytes)
            reader = _Reader(archive, source, max_bytes, trusted)
            manifest = _open_manifest(reader)
            reader.check_skops()  # before anything is built
            check_versions(manifest.get("versions"), source)
            with warnings.catch_warnings():
                # skops rebuilds sk_mnist's and scikit-learn's estimators from
                # their pickle state, which warns of other versions again.
                warnings.simplefilter("ignore", InconsistentVersionWarning)
                return _decode_estimator(manifest.get("estimator"), reader)
    except (ModelFormatError, TemporaryStorageError):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        raise ModelFormatError(
            f"{source} is damaged or truncated ({type(exc).__name__}: {exc})."
        ) from None
    except RecursionError:
        raise ModelFormatError(
            f"{source}: the manifest is nested too deeply."
        ) from None
    except Warning:  # a version warning turned into an error by the caller
        raise
    except Exception as exc:  # anything else a damaged file provokes
        raise ModelFormatError(
            f"{source} is damaged or malformed ({type(exc).__name__}: {exc})."
        ) from None
