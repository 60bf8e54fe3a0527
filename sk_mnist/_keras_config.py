"""The network configurations a model file may hold, checked whole before Keras.

``keras.saving.load_model`` builds every object a ``.keras`` archive's
``config.json`` names (layers, activations, initializers, regularizers,
constraints, dtype policies, the optimizer, the loss and the metrics) from the
``module``, ``class_name`` and ``registered_name`` written there. Its safe mode
is what stands between a hostile file and an import of any function: it has
been bypassed by such files four times (CVE-2025-1550, fixed in Keras 3.9;
CVE-2025-8747 and CVE-2025-9906, in 3.11; CVE-2026-1462, in 3.14).

:func:`check_network_config` walks the whole configuration against an
allow-list of what :class:`~sk_mnist.MNISTClassifier` writes, under every
parameter it accepts (derived by building its network with every activation,
optimizer, loss and metric name Keras 3.14 and 3.15 offer): a ``Sequential`` of
an ``InputLayer`` and ``Dense`` layers, their activations by name,
``GlorotUniform`` and ``Zeros`` initializers, no regularizers or constraints,
``DTypePolicy`` objects, and in ``compile_config`` a built-in optimizer, loss
and metrics whose configurations hold only plain values. Every key must be one
Keras writes there, every value of the type it writes. Anything else is a
:class:`RefusedConfig` naming its place, a JSON path such as
``config.layers[1].config.kernel_initializer.module``; nothing of the
configuration has been imported or built then, whatever Keras is installed.
"""

import math

__all__ = ["RefusedConfig", "check_network_config", "check_metadata"]


class RefusedConfig(ValueError):
    """A network configuration holds something MNISTClassifier never writes."""

    def __init__(self, path, message):
        self.path = path
        super().__init__(f"{path or 'the configuration'}: {message}")


#: The activations of the hidden layer, by the name Keras writes for each
#: activation name it accepts (``"swish"`` is written ``"silu"``), and the
#: output layer's softmax.
ACTIVATIONS = frozenset(
    {
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
        "hard_silu", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
        "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
        "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus",
        "sparse_sigmoid", "sparsemax", "squareplus", "tanh", "tanh_shrink",
        "threshold",
    }
)  # fmt: skip
#: Floating-point types of the input and of dtype policies.
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})
DTYPE_POLICIES = FLOAT_DTYPES | {"mixed_float16", "mixed_bfloat16"}
#: The optimizers ``MNISTClassifier(optimizer=...)`` accepts (names, classes,
#: instances without a schedule), and the keys their configurations have.
OPTIMIZERS = frozenset(
    {
        "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl",
        "Lion", "Muon", "Nadam", "RMSprop", "SGD", "ScheduleFreeAdamW",
    }
)  # fmt: skip
OPTIMIZER_KEYS = frozenset(
    {
        "adam_beta_1", "adam_beta_2", "adam_lr_ratio", "adam_weight_decay",
        "amsgrad", "beta", "beta_1", "beta_2", "beta_2_decay", "centered",
        "clip_threshold", "clipnorm", "clipvalue", "ema_momentum",
        "ema_overwrite_frequency", "epsilon", "epsilon_1", "epsilon_2",
        "exclude_embeddings", "exclude_layers", "global_clipnorm",
        "gradient_accumulation_steps", "initial_accumulator_value",
        "l1_regularization_strength", "l2_regularization_strength",
        "l2_shrinkage_regularization_strength", "learning_rate",
        "learning_rate_power", "loss_scale_factor", "momentum", "muon_a", "muon_b",
        "muon_c", "name", "nesterov", "ns_steps", "relative_step", "rho",
        "rms_rate", "use_ema", "warmup_steps", "weight_decay",
    }
)  # fmt: skip
#: Losses: the classes of ``keras.losses`` and, for a loss given by name, the
#: function Keras writes as ``{"module": "builtins", "class_name": "function"}``.
LOSS_CLASSES = frozenset(
    {
        "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC",
        "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
        "CategoricalGeneralizedCrossEntropy", "CategoricalHinge", "Circle",
        "CosineSimilarity", "Dice", "Hinge", "Huber",
        "KLDivergence", "LogCosh", "MeanAbsoluteError",
        "MeanAbsolutePercentageError", "MeanSquaredError",
        "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy",
        "SquaredHinge", "Tversky",
    }
)  # fmt: skip
LOSS_FUNCTIONS = frozenset(
    {
        "binary_crossentropy", "binary_focal_crossentropy",
        "categorical_crossentropy", "categorical_focal_crossentropy",
        "categorical_hinge", "circle", "cosine_similarity", "ctc", "dice", "hinge",
        "huber", "kl_divergence", "log_cosh", "mean_absolute_error",
        "mean_absolute_percentage_error", "mean_squared_error",
        "mean_squared_logarithmic_error", "poisson",
        "sparse_categorical_crossentropy", "squared_hinge", "tversky",
    }
)  # fmt: skip
LOSS_KEYS = frozenset(
    {
        "alpha", "apply_class_balancing", "axis", "beta", "from_logits", "gamma",
        "ignore_class", "label_smoothing", "margin", "name", "q", "reduction",
        "remove_diagonal",
    }
)  # fmt: skip
#: Metrics: the names Keras keeps as strings, and the classes of ``keras.metrics``
#: it writes for every other metric name.
METRIC_NAMES = frozenset({"accuracy", "acc", "crossentropy", "ce"})
METRIC_CLASSES = frozenset(
    {
        "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU",
        "CategoricalAccuracy", "CategoricalCrossentropy", "CategoricalHinge",
        "ConcordanceCorrelation", "CosineSimilarity", "F1Score", "FBetaScore",
        "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence",
        "LogCoshError", "Mean", "MeanAbsoluteError", "MeanAbsolutePercentageError",
        "MeanSquaredError", "MeanSquaredLogarithmicError", "PearsonCorrelation",
        "Poisson", "Precision", "R2Score", "Recall", "RootMeanSquaredError",
        "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
        "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum",
        "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives",
    }
)  # fmt: skip
METRIC_KEYS = frozenset(
    {
        "average", "axis", "beta", "class_aggregation", "class_id", "curve",
        "dtype", "from_logits", "ignore_class", "k", "label_smoothing",
        "label_weights", "multi_label", "name", "num_labels", "num_regressors",
        "num_thresholds", "summation_method", "target_class_ids", "threshold",
        "thresholds", "top_k",
    }
)  # fmt: skip
# Keys of those configurations whose value is a string, or a list.
_STRING_KEYS = frozenset(
    {
        "name", "reduction", "dtype", "curve", "summation_method",
        "class_aggregation", "average",
    }
)  # fmt: skip
_LIST_KEYS = frozenset(
    {"exclude_layers", "axis", "target_class_ids", "thresholds", "label_weights"}
)
#: What ``metadata.json`` holds (Keras writes it; ``load_model`` does not read it).
METADATA_KEYS = frozenset({"keras_version", "date_saved"})


# --- the walk ---------------------------------------------------------------------


def _at(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _need(condition, path, expected, value):
    if not condition:
        raise RefusedConfig(path, f"expected {expected}, got {_describe(value)}.")


def _dict(value, path, required, optional=()):
    """``value`` is a dict with all ``required`` keys and no others but ``optional``."""
    _need(isinstance(value, dict), path, "an object", value)
    unknown = [k for k in value if k not in required and k not in optional]
    if unknown:
        raise RefusedConfig(
            _at(path, unknown[0]),
            f"unknown key {unknown[0]!r}; MNISTClassifier's network has only "
            f"{sorted(set(required) | set(optional))} here.",
        )
    missing = [k for k in required if k not in value]
    if missing:
        raise RefusedConfig(path, f"the key {missing[0]!r} is missing.")


def _one_of(value, path, allowed, what):
    if not (isinstance(value, str) and value in allowed):
        raise RefusedConfig(
            path,
            f"{_describe(value)} is not {what} MNISTClassifier writes "
            f"(one of {sorted(allowed)}).",
        )


def _serialized(value, path, modules, classes, *, registered=None, extra=()):
    """A serialized Keras object: its module and class first, then its keys."""
    _need(isinstance(value, dict), path, "a serialized Keras object", value)
    module, class_name = value.get("module"), value.get("class_name")
    _one_of(module, _at(path, "module"), modules, "a module")
    _one_of(class_name, _at(path, "class_name"), classes, "a class")
    _dict(
        value,
        path,
        ("module", "class_name", "config", "registered_name"),
        ("shared_object_id", *extra),
    )
    _need(
        value["registered_name"] == registered,
        _at(path, "registered_name"),
        repr(registered),
        value["registered_name"],
    )
    if "shared_object_id" in value:
        _need(
            _is_int(value["shared_object_id"]),
            _at(path, "shared_object_id"),
            "an int",
            value["shared_object_id"],
        )
    return value["config"], _at(path, "config")


def _string(value, path):
    _need(isinstance(value, str), path, "a string", value)


def _bool(value, path):
    _need(isinstance(value, bool), path, "true or false", value)


def _shape(value, path):
    """``[null, n]``: a batch of rows of n features."""
    _need(
        isinstance(value, list)
        and len(value) == 2
        and value[0] is None
        and _is_int(value[1])
        and value[1] > 0,
        path,
        "[null, a positive int]",
        value,
    )


def _dtype_policy(value, path):
    config, at = _serialized(value, path, {"keras"}, {"DTypePolicy"})
    _dict(config, at, ("name",))
    _one_of(config["name"], _at(at, "name"), DTYPE_POLICIES, "a dtype policy")


def _build_config(value, path):
    _dict(value, path, ("input_shape",))
    _shape(value["input_shape"], _at(path, "input_shape"))


def _input_layer(config, path):
    _dict(
        config,
        path,
        ("batch_shape", "dtype", "name"),
        ("sparse", "ragged", "optional"),
    )
    _shape(config["batch_shape"], _at(path, "batch_shape"))
    _one_of(config["dtype"], _at(path, "dtype"), FLOAT_DTYPES, "an input dtype")
    _string(config["name"], _at(path, "name"))
    for key in ("sparse", "ragged", "optional"):
        if key in config:
            _need(config[key] is False, _at(path, key), "false", config[key])


def _dense_layer(config, path):
    _dict(
        config,
        path,
        (
            "name",
            "trainable",
            "dtype",
            "units",
            "activation",
            "use_bias",
            "kernel_initializer",
            "bias_initializer",
            "kernel_regularizer",
            "bias_regularizer",
            "kernel_constraint",
            "bias_constraint",
        ),
        ("quantization_config",),
    )
    _string(config["name"], _at(path, "name"))
    _bool(config["trainable"], _at(path, "trainable"))
    _dtype_policy(config["dtype"], _at(path, "dtype"))
    units = config["units"]
    _need(_is_int(units) and units > 0, _at(path, "units"), "a positive int", units)
    _one_of(config["activation"], _at(path, "activation"), ACTIVATIONS, "an activation")
    _need(config["use_bias"] is True, _at(path, "use_bias"), "true", config["use_bias"])
    at = _at(path, "kernel_initializer")
    init, init_at = _serialized(
        config["kernel_initializer"], at, {"keras.initializers"}, {"GlorotUniform"}
    )
    _dict(init, init_at, ("seed",), ("input_axes", "output_axes"))
    seed = init["seed"]
    _need(seed is None or _is_int(seed), _at(init_at, "seed"), "null or an int", seed)
    for key in ("input_axes", "output_axes"):
        if key in init:
            _need(init[key] is None, _at(init_at, key), "null", init[key])
    at = _at(path, "bias_initializer")
    init, init_at = _serialized(
        config["bias_initializer"], at, {"keras.initializers"}, {"Zeros"}
    )
    _dict(init, init_at, ())
    for key in (
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "quantization_config",
    ):
        if key in config:
            _need(config[key] is None, _at(path, key), "null", config[key])


def _layer(value, path, first):
    expected = {"InputLayer"} if first else {"Dense"}
    config, at = _serialized(
        value, path, {"keras.layers"}, expected, extra=("build_config",)
    )
    if first:
        _need("build_config" not in value, _at(path, "build_config"), "none", value)
        _input_layer(config, at)
    else:
        if "build_config" in value:
            _build_config(value["build_config"], _at(path, "build_config"))
        _dense_layer(config, at)


def _plain_config(config, path, keys):
    """An optimizer's, loss's or metric's configuration: known keys, plain values."""
    _dict(config, path, (), keys)
    for key, value in config.items():
        at = _at(path, key)
        if key in _LIST_KEYS and isinstance(value, list):
            for i, item in enumerate(value):
                _need(
                    _is_number(item) or isinstance(item, str),
                    _at(at, i),
                    "a number or a string",
                    item,
                )
        elif key in _STRING_KEYS:
            _need(value is None or isinstance(value, str), at, "a string", value)
        else:
            _need(
                value is None or isinstance(value, bool) or _is_number(value),
                at,
                "null, true, false or a number",
                value,
            )


def _loss(value, path):
    _need(isinstance(value, dict), path, "a serialized Keras loss", value)
    if value.get("module") == "builtins":
        config, at = _serialized(
            value, path, {"builtins"}, {"function"}, registered="function"
        )
        _one_of(config, at, LOSS_FUNCTIONS, "a loss function")
    else:
        config, at = _serialized(value, path, {"keras.losses"}, LOSS_CLASSES)
        _plain_config(config, at, LOSS_KEYS)


def _metric(value, path):
    if isinstance(value, str):
        _one_of(value, path, METRIC_NAMES, "a metric name")
        return
    config, at = _serialized(value, path, {"keras.metrics"}, METRIC_CLASSES)
    _plain_config(config, at, METRIC_KEYS)


def _compile_config(value, path):
    _dict(
        value,
        path,
        ("optimizer", "loss", "metrics"),
        (
            "loss_weights",
            "weighted_metrics",
            "run_eagerly",
            "steps_per_execution",
            "jit_compile",
        ),
    )
    at = _at(path, "optimizer")
    config, config_at = _serialized(
        value["optimizer"], at, {"keras.optimizers"}, OPTIMIZERS
    )
    _plain_config(config, config_at, OPTIMIZER_KEYS)
    _loss(value["loss"], _at(path, "loss"))
    metrics = value["metrics"]
    at = _at(path, "metrics")
    _need(metrics is None or isinstance(metrics, list), at, "a list", metrics)
    for i, metric in enumerate(metrics or ()):
        _metric(metric, _at(at, i))
    for key in ("loss_weights", "weighted_metrics"):
        if key in value:
            _need(value[key] is None, _at(path, key), "null", value[key])
    if "run_eagerly" in value:
        _bool(value["run_eagerly"], _at(path, "run_eagerly"))
    if "steps_per_execution" in value:
        steps = value["steps_per_execution"]
        at = _at(path, "steps_per_execution")
        _need(_is_int(steps) and steps > 0, at, "a positive int", steps)
    if "jit_compile" in value:
        jit = value["jit_compile"]
        at = _at(path, "jit_compile")
        _need(isinstance(jit, bool) or jit == "auto", at, 'true, false or "auto"', jit)


def check_network_config(config):
    """Refuse a network configuration that MNISTClassifier would not write.

    Parameters
    ----------
    config : object
        The parsed ``config.json`` of a ``.keras`` archive.

    Raises
    ------
    RefusedConfig
        At the first place (a JSON path) that is not in the allow-list.
    """
    model, at = _serialized(
        config,
        "",
        {"keras"},
        {"Sequential"},
        extra=("build_config", "compile_config"),
    )
    _dict(model, at, ("name", "trainable", "dtype", "layers"), ("build_input_shape",))
    _string(model["name"], _at(at, "name"))
    _bool(model["trainable"], _at(at, "trainable"))
    _dtype_policy(model["dtype"], _at(at, "dtype"))
    layers = model["layers"]
    layers_at = _at(at, "layers")
    _need(isinstance(layers, list) and layers, layers_at, "a list of layers", layers)
    for i, layer in enumerate(layers):
        _layer(layer, _at(layers_at, i), first=i == 0)
    if len(layers) < 2:
        raise RefusedConfig(layers_at, "expected an InputLayer and Dense layers.")
    if "build_input_shape" in model:
        _shape(model["build_input_shape"], _at(at, "build_input_shape"))
    if "build_config" in config:
        _build_config(config["build_config"], "build_config")
    if "compile_config" in config:
        _compile_config(config["compile_config"], "compile_config")


def check_metadata(metadata):
    """Refuse a ``metadata.json`` that is not an object of the strings Keras writes.

    Raises
    ------
    RefusedConfig
        Naming the key that is not allowed.
    """
    _dict(metadata, "", (), METADATA_KEYS)
    for key, value in metadata.items():
        _string(value, key)
