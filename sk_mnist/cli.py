"""Command line ``sk-mnist`` (also ``python -m sk_mnist``).

Subcommands ``train``, ``evaluate``, ``search``, ``predict`` and ``export``; with
none it runs the book's example (train on MNIST, print fit time and test accuracy). A
user mistake prints one line ``sk-mnist...: error: ...`` on stderr and exits
with status 2.
"""

import argparse
import contextlib
import importlib
import importlib.util
import logging
import os
import shlex
import sys
import time
from pathlib import Path

import sk_mnist

__all__ = ["main"]

PROG = "sk-mnist"

#: The Keras backends ``--backend`` chooses from.
BACKENDS = ("tensorflow", "jax")

#: Where ``train`` saves the fitted pipeline unless ``--output`` says otherwise.
DEFAULT_MODEL_PATH = "mnist_model.skmnist"


class _UserError(Exception):
    """A mistake of the user's, reported as one line and exit status 2."""


# --- Saving and loading the model: sk_mnist's safe format, never pickle. ---------


def _save_model(model, path):
    """Save a fitted pipeline to ``path`` with :func:`sk_mnist.dump`."""
    from sk_mnist.persistence import dump

    try:
        dump(model, path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _UserError(f"cannot write the model to {path}: {reason}") from None


def _load_model(path, *, for_images=True):
    """Load a fitted model with :func:`sk_mnist.load`; checks that it is one.

    With ``for_images``, a bare classifier is put behind a ``PixelScaler``.
    """
    path = Path(path)  # checked before TensorFlow loads
    if path.is_dir():
        raise _UserError(f"{path}: is a folder, not a model file")
    if not path.is_file():
        raise _UserError(f"{path}: no such model file")

    _start_backend()
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from sk_mnist.persistence import ModelFormatError, load

    try:
        model = load(path)
    except ModelFormatError as exc:
        raise _UserError(str(exc).replace("\n", " ")) from None
    if not hasattr(model, "predict_proba"):
        raise _UserError(
            f"{path}: not a model that predicts digits "
            f"(it holds a {type(model).__name__})"
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise _UserError(f"{path}: the model in it is not fitted") from None
    return _fed_with_images(model, path) if for_images else model


def _fed_with_images(model, path):
    """A bare ``MNISTClassifier`` behind a ``PixelScaler``: it gets images then.

    ``sk_mnist.dump`` stores a bare fitted classifier too; it expects flat rows
    scaled to 0..1, which is what a PixelScaler makes of MNIST images.
    """
    import numpy as np
    from sklearn.pipeline import Pipeline

    from sk_mnist.classifier import MNISTClassifier
    from sk_mnist.datasets import IMAGE_SHAPE
    from sk_mnist.preprocessing import PixelScaler

    if not isinstance(model, MNISTClassifier):
        return model
    n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if model.n_features_in_ != n_pixels:
        raise _UserError(
            f"{path}: its MNISTClassifier was fitted on {model.n_features_in_} "
            f"features, but MNIST images have {n_pixels} pixels"
        )
    scaler = PixelScaler().fit(np.zeros((1, *IMAGE_SHAPE), np.uint8))
    return Pipeline([("scaler", scaler), ("classifier", model)])


# --- Shared pieces. ---------------------------------------------------------------


#: The command line of this run (without the program), for "continue with".
_argv = []

#: Whether this run keeps TensorFlow's C++ log lines off stderr: unless the user
#: sets TF_CPP_MIN_LOG_LEVEL or gives --backend-log (set by ``main``).
_hide_backend_log = False


def _backend_noise_hidden():
    """A block in which TensorFlow's known C++ noise is kept off stderr, if hidden."""
    if not _hide_backend_log:
        return contextlib.nullcontext()
    from sk_mnist._quiet import tensorflow_noise_hidden

    return tensorflow_noise_hidden()


def _start_backend():
    """Import Keras and start its backend (TensorFlow's start-up lines hidden)."""
    if "keras" in sys.modules:
        return
    with _backend_noise_hidden():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # "failed call to cuInit" comes here


def _load_data(data):
    from sk_mnist.datasets import load_mnist

    try:
        return load_mnist(data_home=data)
    except ValueError as exc:  # malformed files; MNISTNotFoundError is an OSError
        raise _UserError(str(exc)) from None


def _subsample(X, y, train_size, random_state):
    """The first ``train_size`` images of a stratified shuffle (all when None)."""
    from sklearn.model_selection import train_test_split

    if train_size is None or train_size == len(X):
        return X, y
    if train_size > len(X):
        raise _UserError(
            f"--train-size {train_size} exceeds the {len(X)} training images"
        )
    n_classes = len(set(y.tolist()))
    if train_size < n_classes:
        raise _UserError(
            f"--train-size must be at least {n_classes} (one image per digit), "
            f"got {train_size}"
        )
    if len(X) - train_size < n_classes:  # too few left out to stratify them
        import numpy as np

        rng = np.random.RandomState(random_state)
        kept = np.sort(rng.choice(len(X), train_size, replace=False))
        return X[kept], y[kept]
    X, _, y, _ = train_test_split(
        X, y, train_size=train_size, stratify=y, random_state=random_state
    )
    return X, y


def _check_folds(y, cv):
    """Each digit needs ``cv`` images for a stratified ``cv``-fold split."""
    import numpy as np

    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < cv:
        scarce = labels[counts.argmin()]
        raise _UserError(
            f"--cv {cv} needs at least {cv} images of each digit, but the "
            f"{len(y)} training images hold only {counts.min()} of digit {scarce}; "
            f"raise --train-size (to {cv * len(labels)} or more) or lower --cv"
        )


def _check_output(path, option):
    """Refuse an output path that cannot be written, before any training."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise _UserError(f"{option} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise _UserError(f"{option} {path}: the folder {folder} does not exist")
    writable = os.access(path if path.exists() else folder, os.W_OK)
    if not writable:
        raise _UserError(f"{option} {path}: permission denied")


def _plots():
    try:
        plots = importlib.import_module("sk_mnist.plots")
    except ImportError as exc:
        raise _UserError(
            f"--plot needs matplotlib ({exc}); install it in the sk_mnist "
            'project folder with pip install ".[plots]"'
        ) from None
    return plots


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise _UserError(f"cannot write the plot to {path}: {exc}") from None
    finally:
        plt.close(fig)
    print(f"plot written to {path}")


# --- Subcommands. -----------------------------------------------------------------


def _tracking(args):
    """``sk_mnist.mlflow`` when ``--mlflow-experiment`` is given, else None."""
    if not getattr(args, "mlflow_experiment", None):
        return None
    try:
        import sk_mnist.mlflow as tracking
    except ImportError:
        raise _UserError(
            "--mlflow-experiment needs MLflow; install it in the sk_mnist "
            'project folder with pip install ".[mlflow]"'
        ) from None
    return tracking


def _logged(run_id, experiment):
    print(f"logged to MLflow experiment {experiment!r} (run {run_id})")


def _train(args, *, save=True):
    if save:
        _check_output(args.output, "--output")
    tracking = _tracking(args)  # before the fit: a missing MLflow fails at once
    (X_train, y_train), (X_test, y_test) = _load_data(args.data)
    X_train, y_train = _subsample(X_train, y_train, args.train_size, args.random_state)
    _start_backend()  # TensorFlow: after the checks
    from sk_mnist import make_mnist_pipeline

    pipeline = make_mnist_pipeline(
        hidden_units=args.hidden_units,
        epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=args.random_state,
        verbose=2,  # Keras prints one line per epoch
    )
    epochs = f"{args.epochs} epoch" + "s" * (args.epochs != 1)
    print(f"Training on {len(X_train)} MNIST images for {epochs} ...")
    start = time.perf_counter()
    with _backend_noise_hidden():  # Keras' lines per epoch go to stdout
        pipeline.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    accuracy = pipeline.score(X_test, y_test)
    print(f"fit time: {fit_seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} on {len(X_test)} images")
    pipeline.named_steps["classifier"].set_params(verbose=0)
    if save:
        _save_model(pipeline, args.output)
        print(f"model saved to {args.output}")
    if tracking is not None:
        params = {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "hidden_units": args.hidden_units,
            "train_size": len(X_train),
            "random_state": args.random_state,
        }
        info = tracking.log_training_run(
            pipeline, params, fit_seconds, accuracy, args.mlflow_experiment
        )
        _logged(info.run_id, args.mlflow_experiment)
    return 0


def _evaluate(args):
    from sklearn.metrics import accuracy_score, classification_report

    if args.plot:
        _check_output(args.plot, "--plot")
    model = _load_model(args.model)
    _, (X_test, y_test) = _load_data(args.data)
    y_pred = model.predict(X_test)
    print(
        f"test accuracy: {accuracy_score(y_test, y_pred):.4f} on {len(y_test)} images"
    )
    print(classification_report(y_test, y_pred, digits=4))
    if args.plot:
        plots = _plots()
        import matplotlib.pyplot as plt

        n_wrong = int((y_pred != y_test).sum())
        wrong = (y_pred != y_test).nonzero()[0][:40]
        fig = plt.figure(figsize=(16, 6), layout="constrained")
        left, right = fig.subfigures(1, 2, width_ratios=[7, 9])
        plots.plot_confusion_matrix(y_test, y_pred, fig=left)
        plots.plot_digits(
            X_test[wrong],
            y_test[wrong],
            predicted=y_pred[wrong],
            n_cols=8,
            title=f"Misclassified: first {len(wrong)} of {n_wrong} (true→predicted)",
            fig=right,
        )
        _save_figure(fig, args.plot)
    return 0


def _search(args):
    _check_output(args.output, "--output")
    if args.plot:
        _check_output(args.plot, "--plot")
    if args.checkpoint:
        _check_output(args.checkpoint, "--checkpoint")
    _check_halving(args)
    _tracking(args)  # before the search: a missing MLflow fails at once
    (X_train, y_train), _ = _load_data(args.data)
    X_train, y_train = _subsample(X_train, y_train, args.train_size, args.random_state)
    _check_folds(y_train, args.cv)
    on_cluster = args.scheduler is not None or args.dask_workers is not None
    n_candidates = len(args.batch_size) * len(args.hidden_units)
    if args.halving:
        n_fits = sum(_rungs(args, n_candidates).values()) * args.cv
    else:
        n_fits = n_candidates * args.cv
    try:
        with contextlib.ExitStack() as cluster:
            if on_cluster:  # a wrong address fails before TensorFlow loads
                _on_dask(args, n_fits, cluster)
            return _run_search(args, X_train, y_train)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {_kept(args, n_fits)}", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_cluster_failure(exc):
            raise
        from sk_mnist._dask import ClusterLostError

        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, ClusterLostError):
            reason = f"the Dask cluster failed ({reason})"
        print(f"{PROG}: error: {reason}; {_kept(args, n_fits)}", file=sys.stderr)
        return 1


def _is_cluster_failure(exc):
    """Whether ``exc`` says the Dask cluster lost the search's work or itself."""
    from concurrent.futures import CancelledError

    from sk_mnist._dask import ClusterLostError

    module = type(exc).__module__ or ""
    return (
        isinstance(exc, (CancelledError, ClusterLostError))
        or module.split(".")[0] == "distributed"
    )


def _kept(args, n_fits):
    """What an interrupted search keeps, and the command that continues it."""
    if not args.checkpoint:
        return (
            "finished fits are not kept without --checkpoint FILE (then the "
            "same command continues)"
        )
    try:
        with open(args.checkpoint, "rb") as file:
            kept = sum(
                1
                for line in file
                if line.endswith(b"\n") and line.startswith(b'{"fit"')
            )
    except OSError:
        kept = 0
    command = shlex.join([PROG, *_argv])
    return (
        f"{kept} of {n_fits} fits kept in {args.checkpoint}; continue with: {command}"
    )


def _on_dask(args, n_fits, stack):
    """Send the search's fits to Dask until ``stack`` closes (``--scheduler``...)."""
    from sk_mnist._dask import ClusterError, on_dask

    try:
        client = stack.enter_context(
            on_dask(
                scheduler=args.scheduler,
                n_workers=args.dask_workers,
                total_fits=n_fits,
            )
        )
    except ClusterError as exc:
        raise _UserError(str(exc)) from None
    where = args.scheduler or f"a local cluster of {args.dask_workers} workers"
    threads = sum(client.ncores().values())
    print(f"Fits on Dask ({where}, {threads} worker threads):")


def _check_halving(args):
    """Refuse what --halving does not do, and halving options without it."""
    if not args.halving:
        args.epochs = args.epochs or [3, 5]
        for option in ("factor", "min_epochs"):
            if getattr(args, option) is not None:
                raise _UserError(f"--{option.replace('_', '-')} needs --halving")
        return
    args.epochs = args.epochs or [9]
    if args.factor is not None and args.factor < 2:
        raise _UserError(f"--factor must be at least 2, got {args.factor}")
    for option, value in [("--checkpoint", args.checkpoint), ("--plot", args.plot)]:
        if value:
            raise _UserError(
                f"{option} is not available with --halving; leave it out (the "
                "results CSV has every rung)"
            )
    if len(args.epochs) > 1:
        raise _UserError(
            "with --halving, --epochs is one number, the epochs of the last rung "
            f"(got {' '.join(map(str, args.epochs))}); the rungs come from "
            "--factor and --min-epochs"
        )
    if args.min_epochs is not None and args.min_epochs > args.epochs[0]:
        raise _UserError(
            f"--min-epochs {args.min_epochs} is more than --epochs {args.epochs[0]}, "
            "the epochs of the last rung"
        )


def _rungs(args, n_candidates):
    """Epochs -> candidates of each rung, as scikit-learn's successive halving."""
    import math

    factor, max_epochs = args.factor or 3, args.epochs[0]
    required = 1 + math.floor(math.log(n_candidates, factor))
    min_epochs = args.min_epochs or max(1, max_epochs // factor ** (required - 1))
    possible = 1 + math.floor(math.log(max_epochs // min_epochs, factor))
    rungs = {}
    for rung in range(min(required, possible)):
        epochs = min(int(factor**rung * min_epochs), max_epochs)
        rungs[epochs] = n_candidates
        n_candidates = math.ceil(n_candidates / factor)
    return rungs


def _run_search(args, X_train, y_train):
    if args.halving:
        return _run_halving(args, X_train, y_train)
    import pandas as pd

    _start_backend()  # TensorFlow: after the checks
    from sk_mnist import EpochGridSearchCV, make_mnist_pipeline

    grid = {
        "classifier__epochs": args.epochs,
        "classifier__batch_size": args.batch_size,
        "classifier__hidden_units": args.hidden_units,
    }
    search = EpochGridSearchCV(
        make_mnist_pipeline(random_state=args.random_state),
        grid,
        cv=args.cv,
        n_jobs=args.n_jobs,
        verbose=2,
        checkpoint=args.checkpoint,
    )
    n_candidates = len(args.epochs) * len(args.batch_size) * len(args.hidden_units)
    print(
        f"Grid search over {n_candidates} candidates, {args.cv}-fold cross-validation"
        f" on {len(X_train)} MNIST images with EpochGridSearchCV: candidates that"
        " differ only in epochs share one fit per fold (scores as GridSearchCV's) ..."
    )
    start = time.perf_counter()
    try:
        with _backend_noise_hidden():
            search.fit(X_train, y_train)
    finally:
        if args.n_jobs not in (None, 1):  # loky's workers hold this stderr
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)
    print(
        f"search time: {time.perf_counter() - start:.1f} s"
        f" (fits per fold: {len(search.shared_fits_)}; GridSearchCV's: {n_candidates})"
    )

    results = pd.DataFrame(search.cv_results_).drop(columns="params")
    results = results.sort_values(["rank_test_score", "mean_fit_time"])
    table = results[
        ["rank_test_score"]
        + [f"param_{name}" for name in grid]
        + ["mean_test_score", "std_test_score", "mean_fit_time"]
    ].rename(columns=lambda c: c.removeprefix("param_classifier__"))
    _report(args, search, table, results)
    if args.plot:
        _save_figure(_plots().plot_search(search.cv_results_), args.plot)
    _log_search(args, search)
    return 0


def _run_halving(args, X_train, y_train):
    import pandas as pd

    _start_backend()  # TensorFlow: after the checks
    from sk_mnist import EpochHalvingGridSearchCV, make_mnist_pipeline

    grid = {
        "classifier__batch_size": args.batch_size,
        "classifier__hidden_units": args.hidden_units,
    }
    n_candidates = len(args.batch_size) * len(args.hidden_units)
    search = EpochHalvingGridSearchCV(
        make_mnist_pipeline(random_state=args.random_state),
        grid,
        factor=args.factor or 3,
        min_resources=args.min_epochs or "exhaust",
        max_resources=args.epochs[0],
        cv=args.cv,
        n_jobs=args.n_jobs,
        verbose=1,
    )
    rungs = _rungs(args, n_candidates)
    print(
        f"Successive halving over epochs: {n_candidates} candidates, {args.cv}-fold "
        f"cross-validation on {len(X_train)} MNIST images with "
        "EpochHalvingGridSearchCV (scikit-learn's HalvingGridSearchCV results; "
        "survivors train on instead of again); rungs of "
        + ", ".join(f"{e} epochs ({c} candidates)" for e, c in rungs.items())
        + " ..."
    )
    start = time.perf_counter()
    try:
        with _backend_noise_hidden(), contextlib.redirect_stdout(_RungLines()):
            search.fit(X_train, y_train)
    finally:
        if args.n_jobs not in (None, 1):  # loky's workers hold this stderr
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)
    print(f"search time: {time.perf_counter() - start:.1f} s")
    results = pd.DataFrame(search.cv_results_).drop(columns="params")
    results = results.sort_values(["iter", "rank_test_score"], ascending=[False, True])
    table = results[
        ["iter", "n_resources", "rank_test_score"]
        + [f"param_{name}" for name in grid]
        + ["mean_test_score", "std_test_score", "mean_fit_time"]
    ].rename(columns=lambda c: c.removeprefix("param_classifier__"))
    table = table.rename(columns={"n_resources": "epochs"})
    _report(args, search, table, results)
    _log_search(args, search)
    return 0


def _report(args, search, table, results):
    """Print the table and the best candidate, write the results CSV."""
    print(table.to_string(index=False, float_format="{:.4f}".format))
    print(f"best: {search.best_params_} ({search.best_score_:.4f})")
    try:
        results.to_csv(args.output, index=False)
    except OSError as exc:
        raise _UserError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"results written to {args.output}")


def _log_search(args, search):
    tracking = _tracking(args)
    if tracking is not None:
        parent_id = tracking.log_search(search, args.mlflow_experiment)
        _logged(parent_id, args.mlflow_experiment)


class _RungLines:
    """stdout that lets through only the halving search's line per rung."""

    def __init__(self):
        self.stdout, self.line = sys.stdout, ""

    def write(self, text):
        *lines, self.line = (self.line + text).split("\n")
        for line in lines:
            if line.startswith("rung "):
                self.stdout.write(line + "\n")
        return len(text)

    def flush(self):
        self.stdout.flush()


def _onnx_session(path):
    """An onnxruntime session for an ONNX model written by ``sk-mnist export``.

    Imports neither Keras nor TensorFlow (nor skl2onnx): onnxruntime alone.
    """
    path = Path(path)
    if not path.is_file():
        raise _UserError(f"{path}: no such model file")
    try:
        import onnxruntime
    except ImportError:
        raise _UserError(
            "predicting with an .onnx model needs onnxruntime; install it in the "
            'sk_mnist project folder with pip install ".[onnx]"'
        ) from None
    try:
        session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own classes for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _UserError(f"{path}: not an ONNX model ({reason})") from None
    kind = session.get_modelmeta().custom_metadata_map.get("sk_mnist.input")
    outputs = [output.name for output in session.get_outputs()]
    if kind is None or outputs != ["label", "probabilities"]:
        raise _UserError(
            f"{path}: not an ONNX model written by 'sk-mnist export' or "
            "sk_mnist.to_onnx"
        )
    if kind != "pixels":
        raise _UserError(
            f"{path}: this ONNX model takes feature rows, not images; export a "
            "pipeline that starts with PixelScaler to predict image files"
        )
    return session


def _predict_onnx(session, images):
    """Labels and probabilities of ``images`` (n, 28, 28) uint8 by onnxruntime."""
    import numpy as np

    (model_input,) = session.get_inputs()
    dtype = np.uint8 if model_input.type == "tensor(uint8)" else np.float32
    X = images.astype(dtype).reshape((len(images), *model_input.shape[1:]))
    labels, proba = session.run(None, {model_input.name: X})
    return labels, proba


def _predict(args):
    import numpy as np

    from sk_mnist.images import read_digits

    for path in args.files:  # a mistyped name is said before TensorFlow loads
        if not Path(path).is_file():
            raise _UserError(f"{path}: no such file")
    if Path(args.model).suffix.lower() == ".onnx":
        model = _onnx_session(args.model)  # onnxruntime only: no TensorFlow
    else:
        model = _load_model(args.model)
    names, digits = [], []
    for path in args.files:
        images = read_digits(path)  # ImageReadError: exit 2
        if Path(path).suffix.lower() == ".npy" and images.shape[0] > 1:
            names.extend(f"{path}[{i}]" for i in range(len(images)))
        else:
            names.append(str(path))
        digits.append(images)
    images = np.concatenate(digits)
    if hasattr(model, "predict_proba"):  # an sk_mnist model, else onnxruntime
        proba = model.predict_proba(images)
        labels = model.classes_[proba.argmax(axis=1)]
    else:
        labels, proba = _predict_onnx(model, images)
    width = max(len(name) for name in names)
    for name, label, row in zip(names, labels, proba):
        print(f"{name:<{width}}  {label}  {row.max():.4f}")
    return 0


def _export(args):
    _start_backend()
    try:
        from sk_mnist.export import to_onnx
    except ImportError as exc:
        raise _UserError(str(exc)) from None
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

    model = _load_model(args.model, for_images=False)  # a bare one exports as it is
    try:
        to_onnx(model, args.output, dtype=args.dtype)
    except (TypeError, ValueError) as exc:  # an activation without converter...
        raise _UserError(f"{args.model}: {exc}") from None
    except (MissingShapeCalculator, MissingConverter) as exc:  # a step without one
        reason = str(exc).strip().splitlines()[0]  # names the step's type
        raise _UserError(
            f"{args.model}: cannot export to ONNX: {reason} skl2onnx has no "
            "converter for this step."
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _UserError(f"cannot write {args.output}: {reason}") from None
    print(f"ONNX model written to {args.output}")
    return 0


# --- The parser. ------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, exit status 2.

    Its help ends with ``examples``: (command line, what it does) pairs, printed
    as written.
    """

    def __init__(self, *args, examples=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.examples = examples

    def format_help(self):
        text = super().format_help()
        if not self.examples:
            return text
        lines = ["", "examples:"]
        for command, what in self.examples:
            lines += [f"  {command}", f"      {what}"]
        return text + "\n".join(lines) + "\n"

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"expected an integer seed from 0 to {2**32 - 1}, got {text!r}"
        )
    return value


def _cv_folds(text):
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 folds, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-zero integer (-1: all cores), got {text!r}"
        )
    return value


def _dask_workers(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an integer of at least 2 (with 1 worker joblib runs the "
            f"fits in this process), got {text!r}"
        )
    return value


def _add_data_option(parser, dest="data"):
    parser.add_argument(
        "--data",
        dest=dest,
        metavar="DIR",
        default=None,
        help="folder with the MNIST IDX files or mnist.npz (default: $SK_MNIST_DATA, "
        "else keras.datasets)",
    )


_TRAINING_DEFAULTS = {"epochs": 5, "batch_size": 128, "hidden_units": 512}
_TRAINING_HELP = {
    "epochs": "passes over the training images",
    "batch_size": "images per gradient step",
    "hidden_units": "units of the hidden layer",
}


def _add_training_options(parser, *, top_level=False):
    # Before a subcommand the options get their own names, so that
    # "sk-mnist --epochs 3 train" is refused rather than silently ignored.
    prefix = "top_" if top_level else ""
    defaults = dict.fromkeys(_TRAINING_DEFAULTS) if top_level else _TRAINING_DEFAULTS
    for name, default in _TRAINING_DEFAULTS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=f"{prefix}{name}",
            type=_positive_int,
            default=defaults[name],
            metavar="N",
            help=f"{_TRAINING_HELP[name]} (default: {default})",
        )
    if top_level:
        parser.add_argument(
            "--random-state",
            dest="top_random_state",
            type=_seed,
            default=None,
            metavar="S",
            help="default: 0",
        )
        _add_data_option(parser, dest="top_data")
        return
    parser.add_argument(
        "--train-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train on N training images, a stratified subsample (default: all)",
    )
    parser.add_argument(
        "--random-state", type=_seed, default=0, metavar="S", help="default: 0"
    )
    _add_data_option(parser)


def _add_mlflow_option(parser):
    parser.add_argument(
        "--mlflow-experiment",
        metavar="NAME",
        default=None,
        help="also log the run to this MLflow experiment, the model as an "
        "sk_mnist flavour (no pickle); the store is MLflow's usual "
        "MLFLOW_TRACKING_URI (needs the [mlflow] extra)",
    )


def _build_parser():
    parser = _Parser(
        prog=PROG,
        description=(
            "The first network of 'Deep Learning with Python' (chapter 2.1) on MNIST "
            "as one scikit-learn pipeline. Without a subcommand: train it with the "
            "book's settings and report fit time and test accuracy."
        ),
        epilog=f"'{PROG} COMMAND --help' describes each command.",
        examples=[
            (PROG, "the book's example: 5 epochs on the 60000 training images"),
            (
                f"{PROG} --epochs 1 --hidden-units 64",
                "a quicker run: 1 epoch, 64 hidden units",
            ),
        ],
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROG} {sk_mnist.__version__}"
    )
    _add_training_options(parser, top_level=True)
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="the Keras backend, for any command (default: $KERAS_BACKEND, else "
        'tensorflow); jax needs pip install ".[jax]"',
    )
    parser.add_argument(
        "--backend-log",
        action="store_true",
        help="show the backend's own log lines on stderr, such as TensorFlow's "
        "start-up lines (default: hidden, unless TF_CPP_MIN_LOG_LEVEL is set)",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )

    train = commands.add_parser(
        "train",
        help="train the pipeline and save it",
        description="Load MNIST, fit the pipeline (one line per epoch), print the fit "
        "time and the test accuracy, and save the fitted pipeline.",
        examples=[
            (
                f"{PROG} train --train-size 1000 --epochs 1 --output model.skmnist",
                "a quick model: 1000 images, 1 epoch, saved to model.skmnist",
            ),
            (f"{PROG} train", f"the book's settings, saved to {DEFAULT_MODEL_PATH}"),
        ],
    )
    _add_training_options(train)
    train.add_argument(
        "--output",
        metavar="PATH",
        default=DEFAULT_MODEL_PATH,
        help=f"where to save the fitted pipeline (default: {DEFAULT_MODEL_PATH})",
    )
    _add_mlflow_option(train)
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="test accuracy and per-class report of a saved model",
        description="Test accuracy and scikit-learn's classification report of a "
        "model saved by 'sk-mnist train', on the 10000 MNIST test images.",
        examples=[
            (f"{PROG} evaluate model.skmnist", "accuracy and per-digit report"),
            (
                f"{PROG} evaluate model.skmnist --plot errors.png",
                "also draw the confusion matrix and misclassified digits",
            ),
        ],
    )
    evaluate.add_argument("model", metavar="MODEL", help="a saved model file")
    _add_data_option(evaluate)
    evaluate.add_argument(
        "--plot",
        metavar="FILE.png",
        help="write the confusion matrix and misclassified digits (needs matplotlib)",
    )
    evaluate.set_defaults(run=_evaluate)

    search = commands.add_parser(
        "search",
        help="grid search with cross-validation (one fit per fold for all epochs)",
        description="Grid search over the pipeline with sk_mnist.EpochGridSearchCV: "
        "GridSearchCV's results, but candidates that differ only in epochs share one "
        "fit per fold, to the largest epochs, each scored after its own epoch. Prints "
        "a ranked table of mean and std test score and mean fit time per candidate "
        "and writes cv_results_ as CSV.",
        examples=[
            (
                f"{PROG} search --train-size 3000 --epochs 1 2 3 --batch-size 128 "
                "--hidden-units 64 --output results.csv",
                "3 candidates, one fit per fold for all three epochs",
            ),
            (
                f"{PROG} search --train-size 3000 --plot search.png "
                "--scheduler tcp://scheduler-host:8786 --checkpoint search.ckpt",
                "the default grid (epochs 3 5, batch size 64 128), with a heatmap, "
                "fitted on a Dask cluster (or --dask-workers 2: on a local one); "
                "each finished fit kept in search.ckpt, so that after Ctrl-C or a "
                "lost cluster the same command continues",
            ),
        ],
    )
    for option, default in [
        ("--epochs", None),
        ("--batch-size", [64, 128]),
        ("--hidden-units", [512]),
    ]:
        search.add_argument(
            option,
            type=_positive_int,
            nargs="+",
            default=default,
            metavar="N",
            help=f"values to try (default: {' '.join(map(str, default))})"
            if default
            else "values to try (default: 3 5); with --halving, one number: the "
            "epochs of the last rung (default: 9)",
        )
    search.add_argument(
        "--cv", type=_cv_folds, default=3, metavar="K", help="folds (default: 3)"
    )
    search.add_argument(
        "--train-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="search on N training images, a stratified subsample (default: all)",
    )
    parallel = search.add_mutually_exclusive_group()
    parallel.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        metavar="N",
        help="fits in parallel, -1 for all cores (default: 1)",
    )
    parallel.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="run the fits on the Dask cluster of this scheduler (needs Dask: "
        'pip install ".[dask]"); its workers need sk_mnist installed',
    )
    parallel.add_argument(
        "--dask-workers",
        type=_dask_workers,
        default=None,
        metavar="N",
        help="run the fits on a local Dask cluster of N worker processes, one "
        "thread each (N >= 2; needs Dask)",
    )
    search.add_argument(
        "--random-state", type=_seed, default=0, metavar="S", help="default: 0"
    )
    _add_data_option(search)
    search.add_argument(
        "--output",
        metavar="PATH",
        default="results.csv",
        help="CSV file for cv_results_ (default: results.csv)",
    )
    search.add_argument(
        "--plot",
        metavar="FILE.png",
        help="write a heatmap of mean test score, epochs x batch size",
    )
    search.add_argument(
        "--checkpoint",
        metavar="FILE",
        default=None,
        help="append each finished fit's scores to FILE as it finishes; the same "
        "command run again (after Ctrl-C, a crash, a lost cluster) trains only the "
        "fits missing from FILE (default: keep nothing)",
    )
    search.add_argument(
        "--halving",
        action="store_true",
        help="successive halving over epochs (EpochHalvingGridSearchCV): every "
        "candidate gets a few epochs, the best 1/factor train on, and so on up to "
        "--epochs (then one number); the CSV has iter and n_resources",
    )
    search.add_argument(
        "--factor",
        type=_positive_int,
        default=None,
        metavar="N",
        help="with --halving: keep 1/N of the candidates at each rung, N times the "
        "epochs (default: 3)",
    )
    search.add_argument(
        "--min-epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="with --halving: epochs of the first rung (default: as many as lets "
        "the last rung reach --epochs)",
    )
    _add_mlflow_option(search)
    search.set_defaults(run=_search)

    predict = commands.add_parser(
        "predict",
        help="predict digits in image files or .npy arrays",
        description="Predict the digit in each image file (PNG, JPEG, ...; any size "
        "and mode, one digit, converted to 28x28 white on black as in MNIST) and "
        "in .npy arrays of shape (28, 28) or (n, 28, 28). Prints the file name, "
        "the digit and its probability, one line per image.",
        examples=[
            (
                f"{PROG} predict model.skmnist seven.png digits.npy",
                "a picture and an array of digits, with a saved model",
            ),
            (f"{PROG} predict model.onnx seven.png", "with onnxruntime, no TensorFlow"),
        ],
    )
    predict.add_argument(
        "model",
        metavar="MODEL",
        help="a saved model file, or an .onnx file from 'sk-mnist export' (then "
        "onnxruntime runs it, without TensorFlow)",
    )
    predict.add_argument("files", metavar="FILE", nargs="+", help="images or .npy")
    predict.set_defaults(run=_predict)

    export = commands.add_parser(
        "export",
        help="write a saved model as ONNX, for onnxruntime without sk_mnist",
        description="Convert a model saved by 'sk-mnist train' to an ONNX file "
        '(needs skl2onnx: pip install ".[onnx]"). Input X: uint8 images '
        "(n, 28, 28); outputs label and probabilities.",
        examples=[
            (
                f"{PROG} export model.skmnist model.onnx",
                f"then: {PROG} predict model.onnx seven.png",
            ),
        ],
    )
    export.add_argument("model", metavar="MODEL", help="a saved model file")
    export.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument(
        "--dtype",
        choices=["uint8", "float32"],
        default=None,
        help="type of the input X (default: uint8 for a pipeline starting with "
        "PixelScaler, else float32)",
    )
    export.set_defaults(run=_export)
    return parser


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 on a user mistake (bad option, missing or unreadable
        file, a file that is not a model, data or images that are not MNIST's),
        130 when interrupted.
    """
    _ensure_std_streams()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing warnings
    global _argv
    _argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2)
        return exc.code
    global _hide_backend_log
    user_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    _hide_backend_log = not args.backend_log and user_level is None
    if _hide_backend_log:  # TensorFlow's info and warnings after its start-up too
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if args.backend is not None:
        problem = _select_backend(args.backend)
        if problem:
            return _usage_error(parser, problem)
    given = {k[4:]: v for k, v in vars(args).items() if k.startswith("top_")}
    given = {name: value for name, value in given.items() if value is not None}
    if args.command is not None and given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        return _usage_error(parser, f"put {options} after {args.command!r}")
    # The whole run, so that no start-up line of TensorFlow escapes (worker
    # processes inherit the filtered stderr) and a fatal error still shows.
    with _backend_noise_hidden():
        return _run(args, given)


def _run(args, given):
    from sk_mnist.images import ImageReadError

    try:
        if args.command is None:  # the book's example: train, do not save
            book = {**_TRAINING_DEFAULTS, "random_state": 0, "data": None, **given}
            return _train(argparse.Namespace(train_size=None, **book), save=False)
        return args.run(args)
    except (_UserError, OSError, ImageReadError, ValueError) as exc:
        # ValueError: what scikit-learn, NumPy and sk_mnist raise for bad input
        # (a model or data file that is not what it should be, parameters out of
        # range); an error message over several lines is joined into one.
        message = str(exc) if not isinstance(exc, OSError) else _os_message(exc)
        message = " ".join(message.split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _ensure_std_streams():
    """Give a closed stdout or stderr (``2>&-``) to /dev/null.

    Otherwise ``sys.stderr`` is None, and the next file opened takes descriptor
    2: TensorFlow's log lines would be written into the saved model.
    """
    for fd, name in [(1, "stdout"), (2, "stderr")]:
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115


def _select_backend(name):
    """Set ``KERAS_BACKEND`` before Keras is imported; a problem, or None."""
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != name:
        return (
            f"--backend {name}: Keras is already imported in this process with "
            f"the {keras.backend.backend()} backend; run sk-mnist in a new process"
        )
    if importlib.util.find_spec(name) is None:
        return (
            f"--backend {name}: {name} is not installed (in the sk_mnist project "
            'folder: pip install ".[jax]")'
        )
    os.environ["KERAS_BACKEND"] = name
    return None


def _usage_error(parser, message):
    try:
        parser.error(message)
    except SystemExit as exc:
        return exc.code


def _os_message(exc):
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)
