"""ONNX export: a fitted pipeline that onnxruntime runs alone, without Keras.

:func:`to_onnx` turns a fitted ``Pipeline`` ending in ``MNISTClassifier`` (its
other steps ``PixelScaler`` and any scikit-learn transformers skl2onnx
converts: scalers, ``PCA``, ``TruncatedSVD``, ``FeatureUnion``, nested
pipelines...) or a bare ``MNISTClassifier`` into an ``onnx.ModelProto`` with
skl2onnx. Importing this module registers sk_mnist's converters with skl2onnx
(``skl2onnx.update_registered_converter``), and skl2onnx's own pipeline
converter does the rest, so ``skl2onnx.to_onnx(pipeline, X[:1])`` works as
well. A step skl2onnx has no converter for gets skl2onnx's own error, which
names its type.

The network is written from its weights with ONNX operators (Gemm, the hidden
activation, Softmax, ArgMax, Gather), not with Keras' exporter: Keras' exporter
needs tf2onnx and refuses models on the JAX backend, while the weights are
the same NumPy arrays on every backend and skl2onnx needs nothing more.

Inputs and outputs of the model ``to_onnx`` makes:

- input ``X``: raw pixel values for a pipeline that starts with
  ``PixelScaler``: ``uint8`` (or ``float32`` with ``dtype="float32"``) images of
  the shape ``PixelScaler`` was fitted on, (n, height, width) (its
  ``image_shape_``: (n, 28, 28) for MNIST), or flat rows (n, n_features) if it
  was fitted on flat rows; the graph flattens them and divides by 255.
  Otherwise (a scikit-learn step first, or a bare ``MNISTClassifier``)
  ``float32`` rows of shape (n, n_features), as the first step takes them.
- output ``label``: the predicted class of each row, from ``classes_``
  (int64 for integer classes, uint64 for uint64 ones, string for strings,
  float64 or bool as they are).
- output ``probabilities``: float32 of shape (n, n_classes), columns in the
  order of ``classes_``. There is no ZipMap.
- metadata: ``sk_mnist.input`` (``INPUT_METADATA_KEY``) is ``"pixels"`` for raw
  pixel values, ``"features"`` for rows; the model's ``doc_string`` says the same
  in words, for a person opening it in a viewer such as Netron.

The graph does not check its input as ``PixelScaler`` does (pixel values
outside 0..255 are not refused): check your data before you feed it.
"""

import math

import numpy as np
from sklearn.pipeline import Pipeline

from sk_mnist._atomic import atomic_write
from sk_mnist.classifier import MNISTClassifier
from sk_mnist.preprocessing import PixelScaler

try:
    import onnx
    import skl2onnx
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        UInt8TensorType,
        UInt64TensorType,
    )
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"sk_mnist's ONNX export needs skl2onnx and onnx ({exc}); install them "
        'in the sk_mnist project folder with pip install ".[onnx]"'
    ) from exc

__all__ = ["SUPPORTED_ACTIVATIONS", "TARGET_OPSET", "to_onnx"]

#: ONNX opset of the exported graphs: opset 17 runs on onnxruntime 1.13 (2022)
#: and later, in every language onnxruntime has an API for.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}

#: Metadata key of an exported model: "pixels" when the input is raw pixel
#: values (a pipeline starting with PixelScaler), "features" otherwise.
INPUT_METADATA_KEY = "sk_mnist.input"

_TENSOR = onnx.TensorProto
_FLOAT = _TENSOR.FLOAT

# --- Activations: each Keras activation as ONNX nodes. ----------------------------
# Each builder takes (node, x) where node(op, inputs, **attrs) adds one node and
# returns its output name, and const(value) adds a float32 scalar.


def _simple(op, **attrs):
    return lambda g, x: g.node(op, [x], **attrs)


def _times(gate):
    """x * gate(x): silu, hard_silu, mish, gelu's shape."""
    return lambda g, x: g.node("Mul", [x, gate(g, x)])


def _hard_sigmoid(g, x):  # Keras: relu6(x + 3) / 6
    return g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)


def _gelu(g, x):  # Keras' default: exact, 0.5 * x * (1 + erf(x / sqrt(2)))
    erf = g.node("Erf", [g.node("Mul", [x, g.const(1.0 / math.sqrt(2.0))])])
    half = g.node("Mul", [g.node("Add", [erf, g.const(1.0)]), g.const(0.5)])
    return g.node("Mul", [x, half])


def _clip(low, high):
    return lambda g, x: g.node("Clip", [x, g.const(low), g.const(high)])


def _squareplus(g, x):  # Keras: (x + sqrt(x**2 + 4)) / 2
    root = g.node("Sqrt", [g.node("Add", [g.node("Mul", [x, x]), g.const(4.0)])])
    return g.node("Div", [g.node("Add", [x, root]), g.const(2.0)])


def _sparse_sigmoid(g, x):  # Keras: 0 for x <= -1, 1 for x >= 1, else (x + 1) / 2
    half = g.node("Mul", [g.node("Add", [x, g.const(1.0)]), g.const(0.5)])
    return _clip(0.0, 1.0)(g, half)


def _sparse_plus(g, x):  # Keras: 0 for x <= -1, x for x >= 1, else (x + 1)**2 / 4
    shifted = g.node("Add", [_clip(-1.0, 1.0)(g, x), g.const(1.0)])
    square = g.node("Mul", [g.node("Mul", [shifted, shifted]), g.const(0.25)])
    return g.node("Where", [g.node("Less", [x, g.const(1.0)]), square, x])


_ACTIVATION_BUILDERS = {
    "linear": _simple("Identity"),
    "relu": _simple("Relu"),
    "relu6": _clip(0.0, 6.0),
    "leaky_relu": _simple("LeakyRelu", alpha=0.2),  # Keras' negative_slope
    "elu": _simple("Elu", alpha=1.0),
    # tf.nn.selu's and jax.nn.selu's constants, not ONNX's rounded defaults.
    "selu": _simple("Selu", alpha=1.6732632423543772, gamma=1.0507009873554805),
    "celu": _simple("Celu", alpha=1.0),
    "gelu": _gelu,
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "softplus": _simple("Softplus"),
    "softsign": _simple("Softsign"),
    "silu": _times(lambda g, x: g.node("Sigmoid", [x])),
    "swish": _times(lambda g, x: g.node("Sigmoid", [x])),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": _times(_hard_sigmoid),
    "hard_swish": _times(_hard_sigmoid),
    "hard_tanh": _clip(-1.0, 1.0),
    "mish": _times(lambda g, x: g.node("Tanh", [g.node("Softplus", [x])])),
    "exponential": _simple("Exp"),
    "log_sigmoid": lambda g, x: g.node(
        "Neg", [g.node("Softplus", [g.node("Neg", [x])])]
    ),
    "tanh_shrink": lambda g, x: g.node("Sub", [x, g.node("Tanh", [x])]),
    "soft_shrink": _simple("Shrink", bias=0.5, lambd=0.5),  # Keras' threshold 0.5
    "hard_shrink": _simple("Shrink", bias=0.0, lambd=0.5),
    "squareplus": _squareplus,
    "sparse_sigmoid": _sparse_sigmoid,
    "sparse_plus": _sparse_plus,
    "softmax": _simple("Softmax", axis=-1),
    "log_softmax": _simple("LogSoftmax", axis=-1),
}

#: Keras activation names that the export converts, in alphabetical order.
SUPPORTED_ACTIVATIONS = tuple(sorted(_ACTIVATION_BUILDERS))


def _activation_name(function, classifier):
    """The Keras name of a Dense layer's activation, or a clear error."""
    import keras

    for name in SUPPORTED_ACTIVATIONS:
        if keras.activations.get(name) is function:
            return name
    given = classifier.activation
    if callable(given):
        given = getattr(given, "__qualname__", None) or repr(given)
    else:
        given = repr(given)
    raise ValueError(
        f"Cannot export MNISTClassifier(activation={given}) to ONNX: its hidden "
        f"activation {getattr(function, '__name__', function)!r} has no ONNX "
        f"converter. Supported activations (Keras names, or the functions of "
        f"keras.activations): {', '.join(SUPPORTED_ACTIVATIONS)}."
    )


class _Graph:
    """Adds nodes and constants to skl2onnx's container with unique names."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def node(self, op, inputs, output=None, **attrs):
        output = output or self.scope.get_unique_variable_name(op.lower())
        self.container.add_node(
            op, inputs, output, name=self.scope.get_unique_operator_name(op), **attrs
        )
        return output

    def const(self, value, dtype=_FLOAT):
        value = np.asarray(value)
        name = self.scope.get_unique_variable_name("const")
        self.container.add_initializer(name, dtype, list(value.shape), value.ravel())
        return name


# --- PixelScaler: flatten and divide by 255. --------------------------------------


def _pixel_scaler_shape(operator):
    scaler = operator.raw_operator
    n_features = getattr(scaler, "n_features_in_", None)
    if n_features is None:
        raise ValueError(
            "Cannot export an unfitted PixelScaler to ONNX: fit the pipeline first."
        )
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([batch, n_features])


def _convert_pixel_scaler(scope, operator, container):
    g = _Graph(scope, container)
    n_features = operator.raw_operator.n_features_in_
    pixels = g.node("Cast", [operator.inputs[0].full_name], to=_FLOAT)
    shape = g.const(np.array([-1, n_features], dtype=np.int64), _TENSOR.INT64)
    rows = g.node("Reshape", [pixels, shape])
    g.node("Div", [rows, g.const(255.0)], output=operator.outputs[0].full_name)


# --- MNISTClassifier: the Dense stack, then ArgMax and the classes. ---------------


def _classes(classifier):
    """``classes_`` as an ONNX tensor type and an array to store."""
    classes = np.asarray(classifier.classes_)
    if classes.dtype == np.uint64:  # int64 would turn 2**63 and above negative
        return UInt64TensorType, _TENSOR.UINT64, classes
    if classes.dtype.kind in "iu":
        return Int64TensorType, _TENSOR.INT64, classes.astype(np.int64)
    if classes.dtype.kind == "f":
        return DoubleTensorType, _TENSOR.DOUBLE, classes.astype(np.float64)
    if classes.dtype.kind == "b":
        return BooleanTensorType, _TENSOR.BOOL, classes
    if all(isinstance(c, str) for c in classes):
        encoded = np.array([c.encode("utf-8") for c in classes], dtype=object)
        return StringTensorType, _TENSOR.STRING, encoded
    raise ValueError(
        f"Cannot export MNISTClassifier to ONNX: its classes_ must be integers, "
        f"floats, booleans or strings; got {classes.dtype} values "
        f"{classes[:5].tolist()}. Fit it on labels of one of those types."
    )


def _dense_layers(classifier):
    """(kernel, bias, activation name) of each Dense layer, or a clear error."""
    import keras

    layers = []
    for layer in classifier.model_.layers:
        if not isinstance(layer, keras.layers.Dense):
            raise ValueError(
                f"Cannot export MNISTClassifier to ONNX: its network has a "
                f"{type(layer).__name__} layer ({layer.name!r}); only Dense layers "
                "are converted."
            )
        weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        kernel = weights[0]
        bias = weights[1] if layer.use_bias else np.zeros(kernel.shape[1], np.float32)
        layers.append((kernel, bias, _activation_name(layer.activation, classifier)))
    return layers


def _check_classifier_fitted(classifier):
    if not classifier.initialized_:
        raise ValueError(
            "Cannot export an unfitted MNISTClassifier to ONNX: fit it first."
        )


def _classifier_shape(operator):
    classifier = operator.raw_operator
    _check_classifier_fitted(classifier)
    label_type = _classes(classifier)[0]
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = label_type([batch])
    operator.outputs[1].type = FloatTensorType([batch, len(classifier.classes_)])


def _convert_classifier(scope, operator, container):
    classifier = operator.raw_operator
    g = _Graph(scope, container)
    x = g.node("Cast", [operator.inputs[0].full_name], to=_FLOAT)
    for kernel, bias, activation in _dense_layers(classifier):
        x = g.node("Gemm", [x, g.const(kernel), g.const(bias)])
        x = _ACTIVATION_BUILDERS[activation](g, x)
    label, probabilities = (out.full_name for out in operator.outputs)
    g.node("Identity", [x], output=probabilities)
    best = g.node("ArgMax", [probabilities], axis=1, keepdims=0)
    _, proto_type, classes = _classes(classifier)
    g.node("Gather", [g.const(classes, proto_type), best], output=label, axis=0)


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """Declare the two outputs ``label`` and ``probabilities``; never a ZipMap.

    skl2onnx's pipeline parser sets the option ``zipmap=True`` on every
    classifier step it is not told otherwise about, so both True and False are
    accepted and neither adds a ZipMap.
    """
    operator = scope.declare_local_operator(_CLASSIFIER_ALIAS, model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    operator.outputs.append(
        scope.declare_local_variable("probabilities", FloatTensorType())
    )
    return operator.outputs


_CLASSIFIER_ALIAS = "SkMnistMNISTClassifier"

skl2onnx.update_registered_converter(
    PixelScaler, "SkMnistPixelScaler", _pixel_scaler_shape, _convert_pixel_scaler
)
skl2onnx.update_registered_converter(
    MNISTClassifier,
    _CLASSIFIER_ALIAS,
    _classifier_shape,
    _convert_classifier,
    parser=_parse_classifier,
    options={"zipmap": [True, False]},
)


# --- The public function. ---------------------------------------------------------


def _without_skipped_steps(estimator):
    """``estimator`` without its pipelines' ``None`` and ``"passthrough"`` steps.

    scikit-learn's ``Pipeline`` skips them; skl2onnx's parser asks every step
    whether it is a classifier, and fails on them. The steps kept are the fitted
    objects themselves. A pipeline's last step stays, whatever it is.
    """
    if not isinstance(estimator, Pipeline) or not estimator.steps:
        return estimator
    *steps, last = estimator.steps
    kept = [
        (name, _without_skipped_steps(step))
        for name, step in steps
        if step is not None and not (isinstance(step, str) and step == "passthrough")
    ]
    name, step = last
    return Pipeline([*kept, (name, _without_skipped_steps(step))])


def _ends(estimator):
    """The first step and the classifier of a pipeline, or a clear error.

    Nested pipelines are looked into; the steps between are skl2onnx's to
    convert (or to refuse, naming the step).
    """
    if isinstance(estimator, MNISTClassifier):
        return estimator, estimator
    if isinstance(estimator, Pipeline) and estimator.steps:
        last_name, last = estimator.steps[-1]
        if isinstance(last, Pipeline):
            _, last = _ends(last)
        if not isinstance(last, MNISTClassifier):
            raise TypeError(
                f"to_onnx exports pipelines that end in an MNISTClassifier; the last "
                f"step {last_name!r} is a {type(last).__name__}."
            )
        first = estimator.steps[0][1]
        while isinstance(first, Pipeline) and first.steps:
            first = first.steps[0][1]
        return first, last
    raise TypeError(
        "to_onnx exports a fitted MNISTClassifier or a Pipeline ending in one; got "
        f"a {type(estimator).__name__}."
    )


def _input_shape(first, n_features):
    """``X``'s shape: the images ``first`` was fitted on, else flat rows."""
    image_shape = getattr(first, "image_shape_", None)
    if isinstance(first, PixelScaler) and image_shape is not None:
        height, width = (int(n) for n in image_shape)
        if height * width != n_features:
            raise ValueError(
                f"Cannot export this PixelScaler to ONNX: its image_shape_ "
                f"{tuple(image_shape)} does not hold its {n_features} features. "
                "Fit the pipeline again."
            )
        return [None, height, width]
    return [None, n_features]


def _input_type(first, n_features, dtype):
    """The ONNX type of the input ``X`` for a model whose first step is ``first``."""
    shape = _input_shape(first, n_features)
    if isinstance(first, PixelScaler):
        dtype = "uint8" if dtype is None else dtype
        tensor_types = {"uint8": UInt8TensorType, "float32": FloatTensorType}
    else:
        dtype = "float32" if dtype is None else dtype
        tensor_types = {"float32": FloatTensorType}
    if dtype not in tensor_types:
        what = type(first).__name__
        raise ValueError(
            f"to_onnx: dtype must be one of {sorted(tensor_types)} for a model whose "
            f"first step is a {what}; got {dtype!r}."
        )
    return tensor_types[dtype](shape)


def to_onnx(estimator, path=None, *, dtype=None):
    """Convert a fitted pipeline or MNISTClassifier to an ONNX model.

    Parameters
    ----------
    estimator : Pipeline or MNISTClassifier
        Fitted; a pipeline ends in an ``MNISTClassifier``, and its other steps
        are ``PixelScaler`` or steps skl2onnx converts (its scalers, ``PCA``,
        ``TruncatedSVD``, ``FeatureUnion``, nested pipelines...).
    path : str or path-like, default=None
        Where to write the model as well (``.onnx``). The file is written to a
        temporary file in the same folder and renamed: if writing fails, an
        existing file at ``path`` is left as it was.
    dtype : {"uint8", "float32"}, default=None
        Type of the input ``X``. None: ``"uint8"`` pixel values when the first
        step is ``PixelScaler`` (of shape (n, height, width) as in its fit, or
        (n, n_features) if it was fitted on flat rows), else ``"float32"``
        rows of shape (n, n_features). ``"float32"`` pixel values 0..255 are also
        accepted after a ``PixelScaler``.

    Returns
    -------
    model : onnx.ModelProto
        Input ``X``; outputs ``label`` (from ``classes_``) and ``probabilities``
        (float32, one column per class, in the order of ``classes_``).

    Raises
    ------
    TypeError
        If it is not an ``MNISTClassifier`` or a pipeline ending in one.
    RuntimeError
        skl2onnx's ``MissingShapeCalculator`` (or ``MissingConverter``), naming
        the type of a step it cannot convert.
    ValueError
        If the estimator is not fitted, its hidden activation or its classes
        have no ONNX form, or ``dtype`` does not suit its first step.
    OSError
        If ``path`` cannot be written (it is then unchanged).

    Examples
    --------
    >>> import numpy as np, onnxruntime
    >>> from sk_mnist import MNISTClassifier, to_onnx
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(40, 8).astype(np.float32), np.repeat([0, 1, 2, 3], 10)
    >>> clf = MNISTClassifier(hidden_units=16, epochs=1, random_state=0).fit(X, y)
    >>> session = onnxruntime.InferenceSession(to_onnx(clf).SerializeToString())
    >>> label, proba = session.run(None, {"X": X[:2]})
    >>> bool((label == clf.predict(X[:2])).all()), proba.shape
    (True, (2, 4))
    """
    estimator = _without_skipped_steps(estimator)
    first, classifier = _ends(estimator)
    _check_classifier_fitted(classifier)
    n_features = getattr(first, "n_features_in_", None)
    if n_features is None:
        raise ValueError(
            f"Cannot export an unfitted {type(first).__name__} to ONNX: fit the "
            "pipeline first."
        )
    input_type = _input_type(first, n_features, dtype)
    model = skl2onnx.convert_sklearn(
        estimator,
        initial_types=[("X", input_type)],
        target_opset=TARGET_OPSET,
    )
    kind = "pixels" if isinstance(first, PixelScaler) else "features"
    onnx.helper.set_model_props(model, {INPUT_METADATA_KEY: kind})
    model.doc_string = (
        f"sk_mnist {type(estimator).__name__}: input X "
        + ("(raw pixel values 0..255)" if kind == "pixels" else "(feature rows)")
        + ", outputs label and probabilities"
    )
    if path is not None:
        with atomic_write(path) as file:
            file.write(model.SerializeToString())
    return model
