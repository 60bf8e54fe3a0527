"""An MLflow flavour that stores the safe ``.skmnist`` file, never a pickle.

Written in the shape of MLflow's own flavours (``mlflow.onnx``,
``mlflow.keras``): :func:`save_model`, :func:`log_model` and
:func:`load_model`, and the ``python_function`` flavour through
``loader_module="sk_mnist.mlflow"``, so ``mlflow.pyfunc.load_model`` and
``mlflow models serve`` work. The model folder holds ``model.skmnist``, written
by :func:`sk_mnist.dump` and read by :func:`sk_mnist.load`: loading runs no code
from the file, and the folder holds no pickle and no ``code_paths``.

What the ``python_function`` model takes and gives:

- input: images of raw pixel values 0..255 in the form of the input example
  (by default ``uint8`` of the shape the pipeline was fitted on: (n, 28, 28)
  for MNIST, or flat rows (n, 784)); pass ``input_example`` for ``float32``
  pixels, flat rows or a DataFrame of 784 columns. MLflow checks the input
  against the signature inferred from that example (shape and dtype);
  ``mlflow models serve`` casts JSON input to the signature's dtype (so send
  whole numbers 0..255 to a ``uint8`` model: fractions would be truncated).
- output: the predicted labels, or, with ``params={"predict_proba": True}``,
  the probabilities of shape (n, n_classes), columns in the order of
  ``classes_``.

:func:`log_training_run` and :func:`log_search` log a fitted pipeline and a
fitted :class:`~sk_mnist.EpochGridSearchCV` (one parent run, one child run per
candidate with every score of ``cv_results_``) to the tracking server that
MLflow's usual setting (``MLFLOW_TRACKING_URI``) names.

This module imports MLflow (``pip install ".[mlflow]"`` in the project folder); ``import
sk_mnist`` does not.
"""

import math
import numbers
import os
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import mlflow
    import yaml
    from mlflow import pyfunc
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model, infer_signature
    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.models.utils import _save_example
    from mlflow.tracking._model_registry import DEFAULT_AWAIT_MAX_SLEEP_SECONDS
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri
    from mlflow.utils.environment import (
        _CONDA_ENV_FILE_NAME,
        _CONSTRAINTS_FILE_NAME,
        _PYTHON_ENV_FILE_NAME,
        _REQUIREMENTS_FILE_NAME,
        _process_conda_env,
        _process_pip_requirements,
        _PythonEnv,
        _validate_env_arguments,
    )
    from mlflow.utils.model_utils import _validate_and_prepare_target_save_path
    from mlflow.utils.requirements_utils import _get_pinned_requirement
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"sk_mnist.mlflow needs MLflow ({exc}); install it with "
        '`pip install ".[mlflow]"` in the sk_mnist project folder.'
    ) from exc

__all__ = [
    "FLAVOR_NAME",
    "get_default_pip_requirements",
    "load_model",
    "log_model",
    "log_search",
    "log_training_run",
    "save_model",
]

#: The flavour's name in the ``MLmodel`` file.
FLAVOR_NAME = "sk_mnist"
#: The model file in the model folder, written by :func:`sk_mnist.dump`.
MODEL_FILE = "model.skmnist"
#: The ``params`` key of the ``python_function`` model that asks for probabilities.
PREDICT_PROBA = "predict_proba"
# Images in the default input example: two, blank (MLflow stores it as JSON).
_EXAMPLE_ROWS = 2


def _backend():
    import keras

    return keras.backend.backend()


def get_default_pip_requirements():
    """The pip requirements a model needs, pinned to the versions running now.

    sk_mnist, scikit-learn, scikeras, Keras, skops, NumPy and the Keras backend
    the model was fitted on: ``tensorflow``, or ``jax`` and ``jaxlib``. MLflow
    adds itself.

    Returns
    -------
    requirements : list of str
        Such as ``["sk_mnist==0.1.0", "scikit-learn==1.9.1", ...]``.

    Examples
    --------
    >>> from sk_mnist.mlflow import get_default_pip_requirements
    >>> [r.split("==")[0] for r in get_default_pip_requirements()][:3]
    ['sk_mnist', 'scikit-learn', 'scikeras']
    """
    packages = ["sk_mnist", "scikit-learn", "scikeras", "keras", "skops", "numpy"]
    backend = _backend()
    if backend == "jax":
        packages += ["jax", "jaxlib"]
    else:
        packages.append(backend)
    modules = {"scikit-learn": "sklearn"}
    return [_get_pinned_requirement(p, module=modules.get(p, p)) for p in packages]


def _check_fitted(model):
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except Exception as exc:  # NotFittedError, or TypeError for non-estimators
        raise ValueError(
            f"sk_mnist.mlflow saves a fitted estimator (a pipeline ending in "
            f"MNISTClassifier, or an MNISTClassifier); got {type(model).__name__} "
            f"({exc}). Fit it first."
        ) from None


def _default_input_example(model):
    """Blank uint8 images of the form the model was fitted on."""
    steps = getattr(model, "steps", None)
    first = steps[0][1] if steps else model
    image_shape = getattr(first, "image_shape_", None)
    if image_shape is not None:
        return np.zeros((_EXAMPLE_ROWS, *image_shape), dtype=np.uint8)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise ValueError(
            f"Cannot make an input example for {type(model).__name__}: it records "
            "no number of features. Pass input_example=... (a few images)."
        )
    return np.zeros((_EXAMPLE_ROWS, int(n_features)), dtype=np.uint8)


def save_model(
    model,
    path,
    *,
    conda_env=None,
    mlflow_model=None,
    signature=None,
    input_example=None,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata=None,
):
    """Save a fitted sk_mnist model as an MLflow model folder at ``path``.

    The folder holds ``MLmodel`` (flavours ``sk_mnist`` and
    ``python_function``), ``model.skmnist`` (written by :func:`sk_mnist.dump`),
    the input example and the environment files. No pickle, no code.

    Parameters
    ----------
    model : estimator
        A fitted pipeline ending in ``MNISTClassifier`` (the book's, or with
        other steps :func:`sk_mnist.dump` stores), or a fitted
        ``MNISTClassifier``.
    path : str or path-like
        The folder to write; it must not exist or be empty.
    conda_env : dict or str, default=None
        A conda environment (as MLflow's flavours take it), instead of
        ``pip_requirements``.
    mlflow_model : mlflow.models.Model, default=None
        The MLflow model the flavour is added to (used by :func:`log_model`).
    signature : mlflow.models.ModelSignature, default=None
        None infers it from ``input_example`` and the model's labels for it,
        with the parameter ``predict_proba`` (boolean, default False).
    input_example : array-like or DataFrame, default=None
        A few images in the form the model will be given: ``uint8`` or
        ``float32``, (n, 28, 28) or (n, 784), or a DataFrame of 784 columns.
        None: two blank ``uint8`` images of the shape the pipeline was fitted on.
    pip_requirements : list of str, default=None
        The requirements to record instead of
        :func:`get_default_pip_requirements`.
    extra_pip_requirements : list of str, default=None
        Requirements to record in addition to the default ones.
    metadata : dict, default=None
        Metadata stored in the ``MLmodel`` file.

    Raises
    ------
    ValueError
        If the model is not fitted.
    TypeError
        If :func:`sk_mnist.dump` cannot store the model safely.

    See Also
    --------
    log_model : Save the model in a run of the tracking server.
    load_model : Read it back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sk_mnist import make_mnist_pipeline
    >>> from sk_mnist.mlflow import load_model, save_model
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    >>> y = np.arange(20) % 10
    >>> model = make_mnist_pipeline(hidden_units=4, epochs=1, random_state=0)
    >>> model = model.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model")
    >>> save_model(model, path)
    >>> sorted(name for name in os.listdir(path) if not name.endswith(".yaml"))
    ['MLmodel', 'input_example.json', 'model.skmnist', 'requirements.txt', \
'serving_input_example.json']
    >>> bool((load_model(path).predict(X) == model.predict(X)).all())
    True
    """
    from sk_mnist.persistence import dump

    _check_fitted(model)
    _validate_env_arguments(conda_env, pip_requirements, extra_pip_requirements)
    path = os.path.abspath(path)
    _validate_and_prepare_target_save_path(path)
    if mlflow_model is None:
        mlflow_model = Model()
    if input_example is None:
        input_example = _default_input_example(model)
    if signature is None:
        signature = infer_signature(
            input_example,
            model.predict(_model_input(model, input_example)),
            params={PREDICT_PROBA: False},
        )
    mlflow_model.signature = signature
    _save_example(mlflow_model, input_example, path)
    if metadata is not None:
        mlflow_model.metadata = metadata

    dump(model, os.path.join(path, MODEL_FILE))

    pyfunc.add_to_model(
        mlflow_model,
        loader_module="sk_mnist.mlflow",
        data=MODEL_FILE,
        conda_env=_CONDA_ENV_FILE_NAME,
        python_env=_PYTHON_ENV_FILE_NAME,
    )
    import keras

    import sk_mnist

    mlflow_model.add_flavor(
        FLAVOR_NAME,
        data=MODEL_FILE,
        sk_mnist_version=sk_mnist.__version__,
        keras_version=keras.__version__,
        keras_backend=_backend(),
    )
    mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

    if conda_env is None:
        default = get_default_pip_requirements() if pip_requirements is None else None
        conda_env, pip_requirements, constraints = _process_pip_requirements(
            default, pip_requirements, extra_pip_requirements
        )
    else:
        conda_env, pip_requirements, constraints = _process_conda_env(conda_env)
    with open(os.path.join(path, _CONDA_ENV_FILE_NAME), "w") as f:
        yaml.safe_dump(conda_env, stream=f, default_flow_style=False)
    if constraints:
        Path(path, _CONSTRAINTS_FILE_NAME).write_text("\n".join(constraints))
    Path(path, _REQUIREMENTS_FILE_NAME).write_text("\n".join(pip_requirements))
    _PythonEnv.current().to_yaml(os.path.join(path, _PYTHON_ENV_FILE_NAME))


def log_model(
    model,
    name=None,
    *,
    registered_model_name=None,
    signature=None,
    input_example=None,
    await_registration_for=DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
    pip_requirements=None,
    extra_pip_requirements=None,
    conda_env=None,
    metadata=None,
    params=None,
    tags=None,
    model_type=None,
    step=0,
    model_id=None,
):
    """Log a fitted sk_mnist model to the current run, as :func:`save_model` writes it.

    Parameters
    ----------
    model : estimator
        A fitted pipeline ending in ``MNISTClassifier``, or an ``MNISTClassifier``.
    name : str, default=None
        The model's name in the run (MLflow's ``name``).
    registered_model_name : str, default=None
        If given, register the model under this name (a new version).
    signature : mlflow.models.ModelSignature, default=None
        As in :func:`save_model`.
    input_example : array-like or DataFrame, default=None
        As in :func:`save_model`.
    await_registration_for : int, default=300
        Seconds to wait for the registered version to be ready.
    pip_requirements : list of str, default=None
        As in :func:`save_model`.
    extra_pip_requirements : list of str, default=None
        As in :func:`save_model`.
    conda_env : dict or str, default=None
        As in :func:`save_model`.
    metadata : dict, default=None
        As in :func:`save_model`.
    params : dict, default=None
        Parameters recorded with the logged model (``mlflow.pyfunc.log_model``'s).
    tags : dict, default=None
        Tags of the logged model.
    model_type : str, default=None
        The logged model's type.
    step : int, default=0
        The step the model's metrics are logged at.
    model_id : str, default=None
        An existing logged model to log to.

    Returns
    -------
    model_info : mlflow.models.model.ModelInfo
        Its ``model_uri`` loads the model; ``registered_model_version`` is the
        version registered, if any.

    See Also
    --------
    save_model : The model folder written.
    load_model : Read it back, by URI.

    Examples
    --------
    >>> import os, tempfile
    >>> import mlflow
    >>> import numpy as np
    >>> from sk_mnist import make_mnist_pipeline
    >>> from sk_mnist.mlflow import load_model, log_model
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    >>> model = make_mnist_pipeline(hidden_units=4, epochs=1, random_state=0)
    >>> model = model.fit(X, np.arange(20) % 10)
    >>> folder = tempfile.mkdtemp()
    >>> mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    >>> experiment = mlflow.create_experiment(
    ...     "digits", artifact_location=f"{folder}/artifacts")  # else ./mlruns
    >>> with mlflow.start_run(experiment_id=experiment):
    ...     info = log_model(model, name="model", registered_model_name="digits")
    >>> info.registered_model_version
    1
    >>> bool((load_model("models:/digits/1").predict(X) == model.predict(X)).all())
    True
    >>> mlflow.set_tracking_uri(None)
    """
    return Model.log(
        artifact_path=None,
        name=name,
        flavor=_this_module(),
        registered_model_name=registered_model_name,
        await_registration_for=await_registration_for,
        metadata=metadata,
        params=params,
        tags=tags,
        model_type=model_type,
        step=step,
        model_id=model_id,
        model=model,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        conda_env=conda_env,
    )


def _this_module():
    import sys

    return sys.modules[__name__]


def _plain_file_name(value):
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and "/" not in value
        and "\\" not in value
        and os.sep not in value
        and (os.altsep is None or os.altsep not in value)
        and not os.path.isabs(value)
        and "\0" not in value
    )


def _checked_model_file(folder, data):
    """The model file ``data`` names in ``folder``, refused if it leaves the folder.

    ``data`` must be a plain file name (no folder, no ``..``, not absolute) of a
    regular file whose real path (symbolic links followed) is in the folder's.
    """
    if not _plain_file_name(data):
        raise MlflowException(
            f"The MLflow model in {str(folder)!r} names its sk_mnist model file "
            f"{data!r}; it must be the name of a file inside the model folder "
            f"(such as {MODEL_FILE!r}), not a path. The model folder is damaged "
            "or was made to read a file elsewhere: it is not loaded."
        )
    real_folder = os.path.realpath(folder)
    real_file = os.path.realpath(os.path.join(folder, data))
    if os.path.dirname(real_file) != real_folder:
        raise MlflowException(
            f"The sk_mnist model file {data!r} of the MLflow model in "
            f"{str(folder)!r} is a link to {real_file!r}, outside the model "
            "folder: it is not loaded."
        )
    if not os.path.isfile(real_file):
        raise MlflowException(
            f"The MLflow model in {str(folder)!r} has no sk_mnist model file "
            f"{data!r}: the folder is incomplete."
        )
    return real_file


def _flavor_conf(folder):
    mlmodel = os.path.join(folder, MLMODEL_FILE_NAME)
    if not os.path.isfile(mlmodel):
        raise MlflowException(
            f"{str(folder)!r} is not an MLflow model folder (no {MLMODEL_FILE_NAME} "
            "file in it)."
        )
    flavors = Model.load(mlmodel).flavors
    for flavor in (FLAVOR_NAME, pyfunc.FLAVOR_NAME):
        if flavor not in flavors:
            raise MlflowException(
                f"The MLflow model in {str(folder)!r} has no {flavor!r} flavour: "
                "it was not saved by sk_mnist.mlflow."
            )
    return flavors


def _load_from_folder(folder):
    from sk_mnist.persistence import load

    flavors = _flavor_conf(folder)
    # Both flavours must name the same plain file: pyfunc reads its own entry.
    data = flavors[FLAVOR_NAME].get("data")
    pyfunc_data = flavors[pyfunc.FLAVOR_NAME].get(pyfunc.DATA)
    for value in (data, pyfunc_data):
        _checked_model_file(folder, value)
    if pyfunc_data != data:
        raise MlflowException(
            f"The MLflow model in {str(folder)!r} names two sk_mnist model files "
            f"({data!r} and {pyfunc_data!r}): the folder is damaged."
        )
    return load(_checked_model_file(folder, data))


def load_model(model_uri, dst_path=None):
    """Load a model saved by :func:`save_model` or :func:`log_model`, as the estimator.

    The model file is read by :func:`sk_mnist.load` (no code from the file
    runs) after checking that the flavour's data path is a file inside the
    model folder.

    Parameters
    ----------
    model_uri : str
        An MLflow model URI: a local folder, ``runs:/<run_id>/<name>``,
        ``models:/<name>/<version>``, ``models:/<model_id>``...
    dst_path : str, default=None
        A local folder to download the model to (it must exist); None: a
        temporary one.

    Returns
    -------
    model : estimator
        The fitted pipeline (or ``MNISTClassifier``) as it was logged.

    Raises
    ------
    mlflow.exceptions.MlflowException
        If the folder is not an sk_mnist MLflow model, or its data path names a
        file outside the model folder (``../x``, an absolute path, a symbolic
        link out of it).
    sk_mnist.ModelFormatError
        If the model file is damaged or unsafe (:func:`sk_mnist.load`).

    See Also
    --------
    save_model : Write the model folder.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sk_mnist import make_mnist_pipeline
    >>> from sk_mnist.mlflow import load_model, save_model
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    >>> model = make_mnist_pipeline(hidden_units=4, epochs=1, random_state=0)
    >>> model = model.fit(X, np.arange(20) % 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "model")
    >>> save_model(model, path)
    >>> type(load_model(path)).__name__
    'Pipeline'
    """
    local_path = _download_artifact_from_uri(model_uri, output_path=dst_path)
    return _load_from_folder(local_path)


def _model_input(model, data):
    """``data`` as the model takes it: a DataFrame's values if fitted on arrays."""
    if hasattr(data, "iloc") and not hasattr(model, "feature_names_in_"):
        return data.to_numpy()  # the model was fitted on arrays, not names
    if isinstance(data, dict):
        if len(data) != 1:
            raise MlflowException.invalid_parameter_value(
                f"Expected one array of images; got a dict of {len(data)} "
                f"inputs ({sorted(data)})."
            )
        (data,) = data.values()
    return data


class _PyfuncModel:
    """The ``python_function`` model: labels, or probabilities on request."""

    def __init__(self, model):
        self.model = model

    def get_raw_model(self):
        """The estimator loaded from the model file."""
        return self.model

    def predict(self, data, params=None):
        """Labels of ``data``; probabilities with ``params={"predict_proba": True}``."""
        params = dict(params or {})
        proba = params.pop(PREDICT_PROBA, False)
        if not isinstance(proba, (bool, np.bool_)):
            raise MlflowException.invalid_parameter_value(
                f"The parameter {PREDICT_PROBA!r} must be true or false; got {proba!r}."
            )
        data = _model_input(self.model, data)
        if proba:
            return self.model.predict_proba(data)
        return self.model.predict(data)


def _load_pyfunc(path):
    """Load the ``python_function`` model; ``path`` is the flavour's data path.

    MLflow joins the model folder and the ``data`` entry of ``MLmodel``'s
    ``python_function`` flavour and passes the result here. The model is
    loaded from the folder of that path only if the ``MLmodel`` there names
    that very file, as a plain name, in both flavours: ``../x``, an absolute
    path or a link out of the folder is refused.
    """
    folder, name = os.path.split(os.fspath(path))
    if not os.path.isfile(os.path.join(folder, MLMODEL_FILE_NAME)):
        raise MlflowException(
            f"The sk_mnist model file {str(path)!r} is not in an MLflow model "
            "folder: the model's data path leads out of its folder (a '..', an "
            "absolute path) and is not loaded."
        )
    flavors = _flavor_conf(folder)
    if flavors[pyfunc.FLAVOR_NAME].get(pyfunc.DATA) != name:
        raise MlflowException(
            f"The sk_mnist model file {str(path)!r} is not the one its folder's "
            f"{MLMODEL_FILE_NAME} names: the model's data path leads out of its "
            "folder and is not loaded."
        )
    return _PyfuncModel(_load_from_folder(folder))


# --- Tracking: what `sk-mnist train/search --mlflow-experiment` log ---------------


def _loggable(value):
    return value is None or isinstance(value, (str, bool, numbers.Number))


def _scalar_params(params):
    """The parameters MLflow can record as text: numbers, strings, None."""
    return {key: value for key, value in params.items() if _loggable(value)}


def _start_run(experiment):
    """A run in the experiment named (created if missing), leaving MLflow's
    active experiment as it was (``mlflow.set_experiment`` would change it)."""
    if experiment is None:
        return mlflow.start_run()
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        experiment_id = client.create_experiment(experiment)
    elif found.lifecycle_stage != "active":
        raise MlflowException.invalid_parameter_value(
            f"The experiment {experiment!r} is deleted; restore it "
            f"(mlflow experiments restore --experiment-id {found.experiment_id}) "
            "or choose another name."
        )
    else:
        experiment_id = found.experiment_id
    return mlflow.start_run(experiment_id=experiment_id)


def log_training_run(
    model,
    params,
    fit_seconds,
    test_accuracy,
    experiment=None,
    *,
    registered_model_name=None,
    input_example=None,
):
    """Log one training run: its parameters, fit time, test accuracy and the model.

    Parameters
    ----------
    model : estimator
        The fitted pipeline.
    params : dict
        The training parameters (``epochs``, ``batch_size``...); values that
        are not numbers, strings or None are left out.
    fit_seconds : float
        The fit's wall time, logged as the metric ``fit_seconds``.
    test_accuracy : float
        Logged as the metric ``test_accuracy``.
    experiment : str, default=None
        The experiment's name (created if missing); None: MLflow's active or
        default experiment.
    registered_model_name : str, default=None
        If given, register the model under this name.
    input_example : array-like, default=None
        As in :func:`save_model`.

    Returns
    -------
    model_info : mlflow.models.model.ModelInfo
        Its ``run_id`` is the run logged, its ``model_uri`` the model.

    Examples
    --------
    >>> import tempfile
    >>> import mlflow
    >>> import numpy as np
    >>> from sk_mnist import make_mnist_pipeline
    >>> from sk_mnist.mlflow import log_training_run
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    >>> model = make_mnist_pipeline(hidden_units=4, epochs=1, random_state=0)
    >>> model = model.fit(X, np.arange(20) % 10)
    >>> folder = tempfile.mkdtemp()
    >>> mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    >>> _ = mlflow.create_experiment(
    ...     "digits", artifact_location=f"{folder}/artifacts")  # else ./mlruns
    >>> info = log_training_run(model, {"epochs": 1}, 1.5, 0.1, "digits")
    >>> mlflow.get_run(info.run_id).data.metrics["test_accuracy"]
    0.1
    >>> mlflow.set_tracking_uri(None)
    """
    with _start_run(experiment):
        mlflow.log_params(_scalar_params(params))
        mlflow.log_metrics(
            {"fit_seconds": float(fit_seconds), "test_accuracy": float(test_accuracy)}
        )
        return log_model(
            model,
            name="model",
            registered_model_name=registered_model_name,
            input_example=input_example,
        )


def _numeric(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (numbers.Number, np.number)
    ):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def log_search(
    search,
    experiment=None,
    *,
    registered_model_name=None,
    input_example=None,
):
    """Log a fitted grid search: one parent run, and one child run per candidate.

    As ``mlflow.sklearn.autolog`` logs a ``GridSearchCV``, without pickle: the
    parent run gets the search's parameters, ``best_<param>`` for each of
    ``best_params_``, the metric ``best_cv_score`` and, if the search was
    refitted, ``best_estimator_`` with this flavour, plus ``cv_results.csv``.
    Each candidate gets a child run with the estimator's parameters updated
    with the candidate's, and every numeric entry of its row of
    ``cv_results_`` as a metric (``mean_test_score``, ``std_test_score``,
    ``rank_test_score``, ``split0_test_score``..., the fit and score times).
    Scores that are NaN (failed fits) are left out.

    Parameters
    ----------
    search : EpochGridSearchCV or GridSearchCV
        A fitted search.
    experiment : str, default=None
        The experiment's name (created if missing); None: MLflow's active or
        default experiment.
    registered_model_name : str, default=None
        If given, register ``best_estimator_`` under this name.
    input_example : array-like, default=None
        As in :func:`save_model`.

    Returns
    -------
    run_id : str
        The parent run's id; the children have the tag
        ``mlflow.parentRunId`` set to it.

    Examples
    --------
    >>> import tempfile
    >>> import mlflow
    >>> import numpy as np
    >>> from sk_mnist import EpochGridSearchCV, make_mnist_pipeline
    >>> from sk_mnist.mlflow import log_search
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    >>> pipe = make_mnist_pipeline(hidden_units=4, random_state=0)
    >>> search = EpochGridSearchCV(pipe, {"classifier__epochs": [1, 2]}, cv=2,
    ...                            refit=False).fit(X, np.arange(40) % 4)
    >>> folder = tempfile.mkdtemp()
    >>> mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    >>> _ = mlflow.create_experiment(
    ...     "digits search", artifact_location=f"{folder}/artifacts")  # else ./mlruns
    >>> run_id = log_search(search, "digits search")
    >>> children = mlflow.search_runs(
    ...     experiment_names=["digits search"],
    ...     filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    >>> len(children)
    2
    >>> mlflow.set_tracking_uri(None)
    """
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(search, "cv_results_")
    except Exception as exc:
        raise ValueError(
            f"log_search logs a fitted search (with cv_results_); got "
            f"{type(search).__name__} ({exc}). Fit it first."
        ) from None
    results = search.cv_results_
    base = _scalar_params(search.estimator.get_params(deep=True))
    with _start_run(experiment) as parent:
        client = MlflowClient()
        parent_id = parent.info.run_id
        experiment_id = parent.info.experiment_id
        mlflow.log_params(_scalar_params(search.get_params(deep=False)))
        best_params = getattr(search, "best_params_", None)
        if best_params is not None:
            mlflow.log_params(
                _scalar_params({f"best_{k}": v for k, v in best_params.items()})
            )
        best_score = _numeric(getattr(search, "best_score_", None))
        if best_score is not None:
            mlflow.log_metric("best_cv_score", best_score)
        table = pd.DataFrame(results)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp, "cv_results.csv")
            table.to_csv(csv, index=False)
            mlflow.log_artifact(str(csv))
        for index, candidate in enumerate(results["params"]):
            child = client.create_run(
                experiment_id,
                tags={MLFLOW_PARENT_RUN_ID: parent_id},
                run_name=f"candidate {index}",
            )
            child_id = child.info.run_id
            params = {**base, **_scalar_params(dict(candidate))}
            metrics = {}
            for key, column in results.items():
                if key == "params" or key.startswith("param_"):
                    continue
                value = _numeric(np.asarray(column)[index])
                if value is not None:
                    metrics[key] = value
            client.log_batch(
                child_id,
                metrics=[
                    mlflow.entities.Metric(key, value, _now(), 0)
                    for key, value in metrics.items()
                ],
                params=[
                    mlflow.entities.Param(key, str(value))
                    for key, value in params.items()
                ],
            )
            client.set_terminated(child_id)
        if hasattr(search, "best_estimator_"):
            log_model(
                search.best_estimator_,
                name="model",
                registered_model_name=registered_model_name,
                input_example=input_example,
            )
    return parent_id


def _now():
    return int(time.time() * 1000)
