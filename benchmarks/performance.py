"""The README's performance table: sk_mnist beside what users would write instead.

One command measures every contender, each in its own fresh Python process (so that
peak memory and start-up costs are its own), on full MNIST with the book's settings
(Dense(512, relu) -> Dense(10, softmax), rmsprop, 5 epochs, batch 128, pixels / 255):

- the book's Keras code typed by hand (build, compile, fit: the fit time includes
  building and compiling the network, as every other contender's does), on
  TensorFlow and on JAX;
- a plain scikeras ``KerasClassifier`` in a ``Pipeline`` behind a hand-written
  ``FunctionTransformer`` that scales, on each backend;
- the sk_mnist pipeline (``make_mnist_pipeline()``), seeded (``random_state=0``:
  bit-identical fits anywhere) and unseeded, on each backend;
- scikit-learn's own pipeline, ``MinMaxScaler`` + ``MLPClassifier(512,)`` (adam,
  5 epochs, batch 128);
- when ``sk_mnist.to_onnx`` exists: the TensorFlow sk_mnist pipeline exported to
  ONNX and run by onnxruntime alone.

JAX contenders run only when jax is installed (``KERAS_BACKEND=jax`` in their
process). For each: fit time, peak RSS of the whole process (``ru_maxrss``), test
accuracy, one-image predict p50/p99 through the user's call
(``pipeline.predict(X_test[i:i + 1])``, ``model.predict`` for the book, with Keras'
default batch size as the book has it; after 10 warm-up calls) and the 10000 test
images in one predict call (the second such call; the first is in the JSON). Peak
RSS is taken after fit and predictions, before the model is saved. Then cold
starts: a fresh process that imports, loads the saved model and predicts one
image, timed from before the interpreter starts; the ONNX one imports only numpy
and onnxruntime.

``--repeats N`` runs N rounds; each round runs every contender once, in turn, the
order reversed every other round, so that a contender and the book's code on its
backend run side by side under the same load. Each figure is the median of the
rounds with its spread (min-max); each ratio is the median of the ratios of the
same round (paired), with their spread. Every run is in ``performance.json``;
``performance.md`` holds the tables, with the machine, the versions, the load
average and the command. The last 12 lines printed are the ratio table.

    SK_MNIST_DATA=/path/to/mnist python benchmarks/performance.py --repeats 3
    SK_MNIST_DATA=/path/to/mnist python benchmarks/performance.py --quick

``--quick`` (under a minute on 2 cores) fits 10000 images for 1 epoch, one round,
no cold starts: the same contenders side by side, ratios only. Run it before every
stop: a ratio far from the last full run's says a change cost speed.

Only the standard library is imported at module level: the cold-start processes run
this file too, and what they import is what they measure.
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

BACKENDS = ("tensorflow", "jax")
KINDS = ("book", "scikeras", "sk_mnist", "sk_mnist_seeded", "mlp")
QUICK_KINDS = ("book", "sk_mnist", "sk_mnist_seeded", "mlp")
LABELS = {
    "book": "the book's Keras code, by hand",
    "scikeras": "scikeras `KerasClassifier` + hand-written scaling",
    "sk_mnist": "sk_mnist `make_mnist_pipeline()`",
    "sk_mnist_seeded": "sk_mnist `make_mnist_pipeline(random_state=0)`",
    "mlp": "scikit-learn `MinMaxScaler` + `MLPClassifier(512,)`, adam",
    "onnx": "the sk_mnist model in onnxruntime (`sk_mnist.to_onnx`)",
}
VERSIONS = (
    "sk_mnist",
    "tensorflow",
    "keras",
    "jax",
    "scikit-learn",
    "scikeras",
    "onnxruntime",
    "numpy",
)
# Modules whose import a cold start reports: what loading the model pulled in.
HEAVY_MODULES = ("tensorflow", "jax", "keras", "sklearn", "scikeras", "sk_mnist")
RESULT_PREFIX = "BENCHMARK-RESULT "
WARMUP_CALLS = 10
BATCH_SIZE = 128


# --------------------------------------------------------------------------------
# Measuring, inside a child process


def peak_rss_mib():
    """Peak resident memory of this whole process so far, in MiB (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, *args):
    """``function(*args)`` and the wall-clock seconds it took."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def one_image_latency(predict, X, calls):
    """p50 and p99 in ms of ``predict(X[i:i + 1])`` over ``calls`` images."""
    import numpy as np

    for i in range(WARMUP_CALLS):
        predict(X[i : i + 1])
    seconds = [timed(predict, X[i % len(X) : i % len(X) + 1])[1] for i in range(calls)]
    p50, p99 = np.percentile(np.array(seconds) * 1000, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "calls": calls}


def measure_predictions(predict, X_test, y_test, calls):
    """Accuracy, one-image latency and two 10000-image predicts of ``predict``."""
    latency = one_image_latency(predict, X_test, calls) if calls else {}
    labels, first_s = timed(predict, X_test)
    labels, second_s = timed(predict, X_test)
    return {
        "accuracy": float((labels == y_test).mean()),
        **latency,
        "predict_all_first_s": first_s,
        "predict_all_s": second_s,
        "n_test": len(X_test),
        "label_of_image_0": int(labels[0]),
        "peak_rss_mib": peak_rss_mib(),
    }


# --------------------------------------------------------------------------------
# The contenders that fit: one function each, returning what to measure


def scale_by_hand(X):
    """The book's preprocessing, written by the user: flatten, float32, / 255."""
    return X.reshape((len(X), -1)).astype("float32") / 255


def book_network(n_features=784, n_classes=10):
    """The book's network, uncompiled."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


def build_for_scikeras(meta):
    """The book's network as a scikeras ``model`` function."""
    return book_network(meta["n_features_in_"], meta["n_classes_"])


def fit_book(X_train, y_train, spec):
    """The book's code: scale by hand, one-hot labels, compile, fit, predict."""
    import keras

    network = None

    def fit():  # the book scales, builds, compiles, then fits: all of it is timed
        nonlocal network
        X, Y = scale_by_hand(X_train), keras.utils.to_categorical(y_train)
        network = book_network()
        network.compile(
            optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"]
        )
        network.fit(X, Y, epochs=spec["epochs"], batch_size=BATCH_SIZE, verbose=0)

    def predict(X_raw):  # as the book: scaled by hand, Keras' default batch size
        return network.predict(scale_by_hand(X_raw), verbose=0).argmax(axis=1)

    def save(stem):
        network.save(f"{stem}.keras")
        return {"keras": f"{stem}.keras"}

    return fit, predict, save


def fit_scikeras(X_train, y_train, spec):
    """scikeras as a user would write it, in a pipeline with their own scaling."""
    from scikeras.wrappers import KerasClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(
        FunctionTransformer(scale_by_hand),
        KerasClassifier(
            build_for_scikeras,
            loss="categorical_crossentropy",
            optimizer="rmsprop",
            metrics=["accuracy"],
            epochs=spec["epochs"],
            batch_size=BATCH_SIZE,
            verbose=0,
        ),
    )
    # Its pickle would name this script's functions: no cold start for it.
    return lambda: model.fit(X_train, y_train), model.predict, lambda stem: {}


def fit_sk_mnist(X_train, y_train, spec):
    """The sk_mnist pipeline with its defaults (the epochs aside in --quick)."""
    import joblib

    import sk_mnist

    seed = {"random_state": 0} if spec["kind"] == "sk_mnist_seeded" else {}
    model = sk_mnist.make_mnist_pipeline(epochs=spec["epochs"], **seed)

    def save(stem):
        sk_mnist.dump(model, f"{stem}.skmnist")
        joblib.dump(model, f"{stem}.joblib")
        files = {"skmnist": f"{stem}.skmnist", "joblib": f"{stem}.joblib"}
        if spec["onnx"]:
            try:
                sk_mnist.to_onnx(model, f"{stem}.onnx")
                files["onnx"] = f"{stem}.onnx"
            except Exception as error:  # the pipeline's own figures still count
                files["onnx_error"] = f"{type(error).__name__}: {error}"
        return files

    return lambda: model.fit(X_train, y_train), model.predict, save


def flat(X):
    """Images as float32 rows: scikit-learn then computes in float32, as Keras does.

    From uint8, ``MinMaxScaler`` would make float64 and ``MLPClassifier`` fit in
    float64: on this benchmark's machine about twice as slow (and 4 minutes of a
    loaded one), for no difference a user would want.
    """
    return X.reshape((len(X), -1)).astype("float32")


def fit_mlp(X_train, y_train, spec):
    """scikit-learn's own pipeline: MinMaxScaler, then the book's layer in an MLP."""
    import warnings

    import joblib
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    X = flat(X_train)
    model = make_pipeline(
        MinMaxScaler(),
        MLPClassifier(
            hidden_layer_sizes=(512,), batch_size=BATCH_SIZE, max_iter=spec["epochs"]
        ),
    )

    def fit():
        with warnings.catch_warnings():  # max_iter is the epoch count here
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y_train)

    def save(stem):
        joblib.dump(model, f"{stem}.joblib")
        return {"joblib": f"{stem}.joblib"}

    return fit, lambda X_raw: model.predict(flat(X_raw)), save


def run_fit(spec):
    """Fit one contender on MNIST, measure it, save its model files."""
    from sk_mnist.datasets import load_mnist

    (X_train, y_train), (X_test, y_test) = load_mnist()
    X_train, y_train = X_train[: spec["n_train"]], y_train[: spec["n_train"]]
    contender = {
        "book": fit_book,
        "scikeras": fit_scikeras,
        "sk_mnist": fit_sk_mnist,
        "sk_mnist_seeded": fit_sk_mnist,
        "mlp": fit_mlp,
    }[spec["kind"]]
    fit, predict, save = contender(X_train, y_train, spec)
    _, fit_s = timed(fit)
    result = {"fit_s": fit_s, "peak_rss_after_fit_mib": peak_rss_mib()}
    result.update(measure_predictions(predict, X_test, y_test, spec["calls"]))
    result["files"] = save(spec["stem"])
    if spec["backend"]:  # the backend asked for is the one that ran
        ran_on = result["keras_backend"] = sys.modules["keras"].backend.backend()
        if ran_on != spec["backend"]:
            raise RuntimeError(f"ran on {ran_on}, not on {spec['backend']}")
    return result


# --------------------------------------------------------------------------------
# onnxruntime alone: numpy and onnxruntime, nothing else


def onnx_session(path):
    """An onnxruntime session and a function: uint8 images -> its input feed."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ValueError(f"expected an ONNX model with one input, got {len(inputs)}")
    (onnx_input,) = inputs
    dtype = {"tensor(uint8)": np.uint8, "tensor(double)": np.float64}.get(
        onnx_input.type, np.float32
    )

    def feed(images):
        shape = images.shape if len(onnx_input.shape) == 3 else (len(images), -1)
        return {onnx_input.name: images.reshape(shape).astype(dtype)}

    return session, feed


def run_onnx(spec):
    """onnxruntime's ``session.run`` measured as the fitted contenders are."""
    import numpy as np

    session, feed = onnx_session(spec["file"])
    X_test, y_test = np.load(spec["test_images"]), np.load(spec["test_labels"])

    def predict(images):
        return session.run(["label"], feed(images))[0].ravel()

    result = measure_predictions(predict, X_test, y_test, spec["calls"])
    result["imported"] = [name for name in HEAVY_MODULES if name in sys.modules]
    return result


# --------------------------------------------------------------------------------
# Cold starts: import, load the saved model, predict one image


def load_skmnist(path):
    import sk_mnist

    return sk_mnist.load(path).predict


def load_joblib(path):
    import joblib

    return joblib.load(path).predict


def load_joblib_flat(path):  # scikit-learn's pipeline: images as rows
    import joblib

    model = joblib.load(path)
    return lambda images: model.predict(flat(images))


def load_keras(path):  # the book's model: scale by hand, argmax by hand
    import keras

    model = keras.saving.load_model(path)
    return lambda images: model.predict(scale_by_hand(images), verbose=0).argmax(1)


def load_onnx(path):
    session, feed = onnx_session(path)
    return lambda images: session.run(["label"], feed(images))[0].ravel()


def run_cold_start(spec):
    """Load one model file and predict one image; seconds since the parent's clock."""
    import numpy as np

    image = np.load(spec["image"])
    label = LOADERS[spec["loader"]](spec["file"])(image)[0]
    return {
        "seconds": time.monotonic() - spec["started"],
        "peak_rss_mib": peak_rss_mib(),
        "label": int(label),
        "imported": [name for name in HEAVY_MODULES if name in sys.modules],
    }


# --------------------------------------------------------------------------------
# The parent: plan, run each child, keep every number


def run_child(spec, backend=None, timeout=3600):
    """Run ``spec`` in a fresh ``sys.executable``; its result or its error."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("KERAS_BACKEND", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    spec = dict(spec, started=time.monotonic())
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps(spec),
    ]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    return {"error": done.stderr.strip().splitlines()[-5:] or f"exit {done.returncode}"}


def child_main(spec):
    runner = {"fit": run_fit, "onnx": run_onnx, "cold": run_cold_start}[spec["task"]]
    print(RESULT_PREFIX + json.dumps(runner(spec)), flush=True)


def fit_contenders(kinds, backends):
    """(name, kind, backend) of each contender that fits, book first per backend."""
    keras_kinds = [kind for kind in KINDS if kind in kinds and kind != "mlp"]
    rows = [(f"{k}/{b}", k, b) for b in BACKENDS if b in backends for k in keras_kinds]
    return rows + ([("mlp", "mlp", None)] if "mlp" in kinds else [])


# What each saved file is loaded with, for the cold starts.
COLD_STARTS = {
    ("book", "keras"): (load_keras, "`keras.saving.load_model`"),
    ("sk_mnist", "skmnist"): (load_skmnist, "`sk_mnist.load`"),
    ("sk_mnist", "joblib"): (load_joblib, "`joblib.load`"),
    ("sk_mnist", "onnx"): (load_onnx, "`onnxruntime.InferenceSession`"),
    ("sk_mnist_seeded", "skmnist"): (load_skmnist, "`sk_mnist.load`"),
    ("mlp", "joblib"): (load_joblib_flat, "`joblib.load`"),
}
LOADERS = {loader.__name__: loader for loader, _ in COLD_STARTS.values()}


def run_once(plan, settings, models, results):
    """One round: every fit, then each saved model's cold start (and onnxruntime).

    Odd rounds run the contenders in reverse order, so that over the rounds each
    one runs as often before as after the book's code on its backend.
    """
    common = {key: settings[key] for key in ("epochs", "n_train", "calls")}
    common["test_images"] = str(models / "test_images.npy")
    common["test_labels"] = str(models / "test_labels.npy")
    saved = []  # (contender, kind, backend, file kind, path, its label of image 0)
    for name, kind, backend in plan[:: -1 if settings["round"] % 2 else 1]:
        print(f"  fit {name} ...", flush=True)
        stem = str(models / name.replace("/", "-"))
        onnx = settings["onnx"] and name == "sk_mnist/tensorflow"
        spec = common | {"task": "fit", "kind": kind, "stem": stem, "onnx": onnx}
        if settings["quick"] and kind == "book":
            spec["calls"] = 0  # no ratio needs Keras' one-image predict (50 ms)
        spec["backend"] = backend
        result = run_child(spec, backend)
        results["contenders"][name]["runs"].append(result)
        files = result.get("files", {})
        label = result.get("label_of_image_0")
        if settings["cold_starts"]:
            saved += [(name, kind, backend, key, f, label) for key, f in files.items()]
        if onnx and "onnx" not in files:
            error = files.get("onnx_error", "the fit failed")
            results["contenders"]["onnx"]["runs"].append({"error": error})
    for name, kind, backend, file_kind, path, label in saved:
        if file_kind == "onnx":
            print("  onnxruntime ...", flush=True)
            spec = common | {"task": "onnx", "file": path}
            results["contenders"]["onnx"]["runs"].append(run_child(spec))
        if (kind, file_kind) not in COLD_STARTS:
            continue
        loader, loaded_with = COLD_STARTS[kind, file_kind]
        cold_backend = None if file_kind == "onnx" else backend
        print(f"  cold start {name} .{file_kind} ...", flush=True)
        row = results["cold_starts"].setdefault(
            f"{name}:{file_kind}",
            {"contender": name, "file_kind": file_kind, "backend": cold_backend}
            | {"loader": loaded_with, "runs": []},
        )
        spec = {"task": "cold", "loader": loader.__name__, "file": path}
        spec["image"] = str(models / "image.npy")
        cold = run_child(spec, cold_backend)
        if "label" in cold:  # the loaded model must answer as the fitted one did
            cold["same_label_as_fitted"] = cold["label"] == label
        row["runs"].append(cold)


def machine():
    """CPU model, core count, OS and Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def installed_versions():
    """Versions of the installed packages, read without importing them."""
    versions = {}
    for package in VERSIONS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


# --------------------------------------------------------------------------------
# The report


def best(runs, key):
    """The lowest ``key`` over the runs that have it (cold starts: the best)."""
    values = [run[key] for run in runs if key in run]
    return min(values) if values else None


def median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def mean(values):
    return sum(values) / len(values) if values else None


def figures(runs, key):
    """Median, min and max of ``key`` over the runs that have it, or None."""
    values = [run[key] for run in runs if key in run]
    return (median(values), min(values), max(values)) if values else None


def paired(runs, base_runs, key, base_key=None):
    """Median, min and max of run[key] / base[base_key], run and base of one round."""
    base_key = base_key or key
    ratios = [
        run[key] / base[base_key]
        for run, base in zip(runs, base_runs)
        if key in run and base.get(base_key)
    ]
    return (median(ratios), min(ratios), max(ratios)) if ratios else None


def cell(value, digits):
    return "—" if value is None else f"{value:.{digits}f}"


def spread_cell(stats, digits):
    """``median [min-max]``, or the median alone when there is one value."""
    if stats is None:
        return "—"
    middle, low, high = stats
    if low == high:
        return f"{middle:.{digits}f}"
    return f"{middle:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def fit_table(results):
    contenders = results["contenders"]
    lines = [
        "| contender | backend | fit s | fit ratio | peak RSS MiB | RSS ratio "
        "| test accuracy | 1 image p50 ms | 1 image p99 ms | 10000 images s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in contenders.items():
        runs = row["runs"]
        backend = row["backend"] or "—"
        if not any("error" not in run for run in runs):
            error = next((r["error"] for r in runs if "error" in r), "not run")
            lines.append(f"| {LABELS[row['kind']]} | {backend} | failed: see JSON |")
            print(f"{name} failed: {error}", file=sys.stderr)
            continue
        base = contenders.get(f"book/{row['backend'] or 'tensorflow'}", {"runs": []})
        accuracy = mean([run["accuracy"] for run in runs if "accuracy" in run])
        lines.append(
            f"| {LABELS[row['kind']]} | {backend} "
            f"| {spread_cell(figures(runs, 'fit_s'), 1)} "
            f"| {spread_cell(paired(runs, base['runs'], 'fit_s'), 2)} "
            f"| {spread_cell(figures(runs, 'peak_rss_mib'), 0)} "
            f"| {spread_cell(paired(runs, base['runs'], 'peak_rss_mib'), 2)} "
            f"| {cell(accuracy, 4)} | {spread_cell(figures(runs, 'p50_ms'), 2)} "
            f"| {spread_cell(figures(runs, 'p99_ms'), 2)} "
            f"| {spread_cell(figures(runs, 'predict_all_s'), 3)} |"
        )
    return lines


def cold_start_table(results):
    lines = [
        "| model file | loaded with | backend | cold start s | peak RSS MiB "
        "| heavy modules imported |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for name, row in results["cold_starts"].items():
        runs = [run for run in row["runs"] if "error" not in run]
        kind = results["contenders"][row["contender"]]["kind"]
        what = f"{LABELS[kind]}, `.{row['file_kind']}`"
        if not runs:
            lines.append(f"| {what} | {row['loader']} | failed: see JSON |")
            continue
        imported = ", ".join(runs[0]["imported"]) or "none"
        if not all(run.get("same_label_as_fitted", True) for run in runs):
            what += " **(not the fitted model's label!)**"
        seconds, rss = figures(runs, "seconds"), figures(runs, "peak_rss_mib")
        lines.append(
            f"| {what} | {row['loader']} | {row['backend'] or '—'} "
            f"| {spread_cell(seconds, 2)} | {spread_cell(rss, 0)} | {imported} |"
        )
    return lines


#: The rows of the ratio table: (what, key, base contender kind, base key, target
#: per backend). Ratios of the same round; the targets are those of issue 24.
RATIO_ROWS = (
    ("fit ÷ the book's fit", "fit_s", "book", "fit_s", ("<= 1.0", "<= 0.95")),
    ("peak RSS ÷ the book's", "peak_rss_mib", "book", "peak_rss_mib", ("<= 1.05",) * 2),
    (
        "10000 images ÷ Keras' predict",
        "predict_all_s",
        "book",
        "predict_all_s",
        ("<= 0.2", "<= 0.75"),
    ),
    (
        "1 image p50 ÷ scikit-learn's pipeline",
        "p50_ms",
        "mlp",
        "p50_ms",
        ("< 1 and <= 0.30 ms",) * 2,
    ),
)


def ratio_table(results):
    """12 lines: sk_mnist seeded and unseeded over the book (and scikit-learn)."""
    contenders, s = results["contenders"], results["settings"]
    load = results["load_average"]
    rounds = s.get("rounds_done", s["repeats"])
    lines = [
        f"Ratios to what users would write instead, same round, median of "
        f"{rounds} round(s) [spread]; {s['n_train']} images, "
        f"{s['epochs']} epoch(s).",
        f"Load average (1 min) before and after: {load['before']:.2f}, "
        f"{load.get('after', float('nan')):.2f}.",
        "| ratio | backend | sk_mnist seeded | sk_mnist unseeded | target (seeded) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for what, key, base_kind, base_key, targets in RATIO_ROWS:
        for backend, target in zip(BACKENDS, targets):
            base_name = "mlp" if base_kind == "mlp" else f"{base_kind}/{backend}"
            base = contenders.get(base_name, {"runs": []})["runs"]
            cells = []
            for kind in ("sk_mnist_seeded", "sk_mnist"):
                runs = contenders.get(f"{kind}/{backend}", {"runs": []})["runs"]
                text = spread_cell(paired(runs, base, key, base_key), 2)
                if key == "p50_ms" and figures(runs, key):
                    text += f" ({figures(runs, key)[0]:.2f} ms)"
                cells.append(text)
            lines.append(f"| {what} | {backend} | {cells[0]} | {cells[1]} | {target} |")
    return lines


def backend_ratio_line(results):
    """Fit time on JAX over fit time on TensorFlow, for each contender on both."""
    contenders, ratios = results["contenders"], []
    for kind in KINDS:
        fits = [
            figures(contenders.get(f"{kind}/{backend}", {}).get("runs", []), "fit_s")
            for backend in BACKENDS
        ]
        if None not in fits:
            ratios.append(f"{LABELS[kind]}: {fits[1][0] / fits[0][0]:.2f}")
    if not ratios:
        return []
    return [f"Fit time on JAX ÷ on TensorFlow (medians): {'; '.join(ratios)}.", ""]


def spread_line(results):
    """The largest max/min ratio of fit times over the rounds: how noisy it was."""
    spreads = {}
    for name, row in results["contenders"].items():
        fits = [run["fit_s"] for run in row["runs"] if "fit_s" in run]
        if len(fits) > 1:
            spreads[name] = max(fits) / min(fits)
    if not spreads:
        return "One run per contender: no measure of the noise."
    worst = max(spreads, key=spreads.get)
    return (
        f"Noise: fit times moved by up to {spreads[worst]:.2f}x between the rounds "
        f"({worst}); read ratios within that as equal."
    )


def markdown(results):
    s, m, v = results["settings"], results["machine"], results["versions"]
    versions = ", ".join(f"{name} {version}" for name, version in v.items() if version)
    load = results["load_average"]
    lines = []
    if s["quick"]:
        lines += [
            "**Quick run (`--quick`): ratios of one round on a subset, a check "
            "before a stop, not a measurement.**",
            "",
        ]
    lines += [
        f"Measured on {results.get('date', 'an unrecorded date')} "
        f"with `{results['command']}` on {m['cpu']} ({m['cores']} cores), "
        f"{m['platform']}; Python {m['python']}, {versions}. "
        f"{s['n_train']} training images, {s['epochs']} epoch(s), batch 128; each "
        f"contender in its own process, {s.get('rounds_done', s['repeats'])} "
        "round(s), each round every "
        "contender in turn (the order reversed every other round). Figures: median "
        "of the rounds [min-max]; accuracy: their mean. Ratios: to the book's code "
        "on the same backend in the same round (MLPClassifier, onnxruntime: to "
        "TensorFlow's), median [min-max]. The book's fit time includes building and "
        "compiling its network. One image: "
        f"`predict(X_test[i:i + 1])`, {s['calls']} calls after {WARMUP_CALLS} warm-up "
        "calls; 10000 images: one `predict` call, the second one made (the book's "
        "code: Keras' default batch size). Load average "
        f"(1 min) before and after: {load['before']:.2f}, {load['after']:.2f}.",
        "",
        *fit_table(results),
        "",
        *backend_ratio_line(results),
    ]
    if results["cold_starts"]:
        lines += [
            "Cold start: a fresh process imports what it needs, loads the saved model "
            "and predicts one image; timed from before the interpreter starts.",
            "",
            *cold_start_table(results),
            "",
        ]
    lines += [spread_line(results), "", *ratio_table(results)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per contender")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="where performance.json, performance.md and the models go",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10000 training images, 1 epoch, 50 one-image calls, 1 round, no cold "
        "starts: ratios side by side in under a minute",
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="one-image predict calls (200)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=KINDS, default=None, help="contenders"
    )
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=None, help="Keras backends"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write performance.json here (the docs read docs/_data/)",
    )
    parser.add_argument(
        "--cold-starts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time cold starts of the saved models (default: not with --quick)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.backends is None:
        jax = importlib.util.find_spec("jax") is not None
        args.backends = list(BACKENDS if jax else BACKENDS[:1])
    if args.calls is None:
        args.calls = 50 if args.quick else 200
    if args.only is None:
        args.only = list(QUICK_KINDS if args.quick else KINDS)
    if args.calls < 1:
        parser.error(f"--calls must be at least 1, got {args.calls}")
    return args


def write_json(path, results):
    """Write ``results`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(temporary, path)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))

    import numpy as np

    import sk_mnist
    from sk_mnist.datasets import load_mnist

    models = args.output_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    _, (X_test, y_test) = load_mnist()
    np.save(models / "test_images.npy", X_test)
    np.save(models / "test_labels.npy", y_test)
    np.save(models / "image.npy", X_test[:1])
    cold_starts = not args.quick if args.cold_starts is None else args.cold_starts
    settings = {
        "repeats": args.repeats,
        "quick": args.quick,
        "epochs": 1 if args.quick else 5,
        "n_train": 10000 if args.quick else 60000,
        "calls": args.calls,
        "cold_starts": cold_starts,
        "onnx": "to_onnx" in sk_mnist.__all__ and cold_starts,
    }
    plan = fit_contenders(args.only, args.backends)
    results = {
        "command": " ".join(["python benchmarks/performance.py", *args.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "settings": settings,
        "machine": machine(),
        "versions": installed_versions(),
        "load_average": {"before": os.getloadavg()[0]},
        "contenders": {
            name: {"kind": kind, "backend": backend, "runs": []}
            for name, kind, backend in plan
        },
        "cold_starts": {},
    }
    if settings["onnx"] and ("sk_mnist/tensorflow" in results["contenders"]):
        results["contenders"]["onnx"] = {"kind": "onnx", "backend": None, "runs": []}
    for repeat in range(args.repeats):
        print(f"round {repeat + 1} of {args.repeats}", flush=True)
        run_once(plan, dict(settings, round=repeat), models, results)
        # Written after every round: an interrupted run keeps the rounds it made.
        results["settings"]["rounds_done"] = repeat + 1
        results["load_average"]["after"] = os.getloadavg()[0]
        write_json(args.output_dir / "performance.json", results)
        if args.json is not None:
            write_json(args.json, results)
    report = markdown(results)
    (args.output_dir / "performance.md").write_text(report)
    # The last 12 lines printed are the ratio table (the stop hook shows them).
    print(report if not args.quick else "\n".join(ratio_table(results)))


if __name__ == "__main__":
    main()
