"""The sk-mnist command line: each subcommand on a small subset, and its errors."""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from PIL import Image, ImageDraw

import sk_mnist
from sk_mnist import MNISTClassifier, dump, load, make_mnist_pipeline
from sk_mnist.cli import _build_parser, _subsample, main
from sk_mnist.images import to_mnist

SUBCOMMANDS = ["train", "evaluate", "search", "predict"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``sk-mnist train`` on 1000 images for 1 epoch: the model path and the output."""
    path = tmp_path_factory.mktemp("cli") / "model.skmnist"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(
            ["train", "--train-size", "1000", "--epochs", "1", "--output", str(path)]
        )
    assert status == 0
    return path, out.getvalue()


@pytest.fixture
def drawn_seven(tmp_path):
    """A dark 7 drawn on light paper at 112x112 pixels, as a PNG file."""
    image = Image.new("RGB", (112, 112), "white")
    ImageDraw.Draw(image).line([(30, 20), (80, 20), (50, 95)], fill="black", width=9)
    path = tmp_path / "seven.png"
    image.save(path)
    return path


def run(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sk-mnist") and ": error: " in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def test_train_reports_progress_time_accuracy_and_saves(trained):
    path, output = trained
    assert "Training on 1000 MNIST images for 1 epoch ..." in output
    # Keras' line per epoch (the final "test accuracy:" line does not match)
    epoch_line = r"^\d+/\d+ - \d+m?s - .*/step - accuracy: \d\.\d+ - loss: \d\.\d+$"
    assert re.search(epoch_line, output, re.MULTILINE), output
    assert "fit time: " in output
    accuracy = float(output.split("test accuracy: ")[1].split()[0])
    assert 0.6 < accuracy <= 1.0
    model = load(path)
    assert [name for name, _ in model.steps] == ["scaler", "classifier"]
    assert model.named_steps["classifier"].epochs == 1


def test_train_size_is_a_stratified_subsample(tmp_path, capsys):
    path = tmp_path / "tiny.skmnist"
    status, out, _ = run(
        capsys, "train", "--train-size", "50", "--hidden-units", "8",
        "--epochs", "1", "--output", path,
    )  # fmt: skip
    assert status == 0 and "Training on 50 MNIST images" in out
    classifier = load(path).named_steps["classifier"]
    assert classifier.hidden_units == 8
    np.testing.assert_array_equal(classifier.classes_, np.arange(10))


def test_evaluate_prints_accuracy_and_report_and_plots(trained, tmp_path, capsys):
    plot = tmp_path / "evaluation.png"
    status, out, _ = run(capsys, "evaluate", trained[0], "--plot", plot)
    assert status == 0
    trained_accuracy = trained[1].split("test accuracy: ")[1].split()[0]
    assert f"test accuracy: {trained_accuracy} on 10000 images" in out
    assert "precision" in out and "recall" in out and "macro avg" in out
    with Image.open(plot) as image:
        assert image.size == (1600, 600)


def test_predict_image_files_and_npy(trained, drawn_seven, mnist, tmp_path, capsys):
    _, (X_test, _) = mnist
    np.save(tmp_path / "three.npy", X_test[:3])
    np.save(tmp_path / "one.npy", X_test[3])
    status, out, _ = run(
        capsys, "predict", trained[0], drawn_seven, tmp_path / "three.npy",
        tmp_path / "one.npy",
    )  # fmt: skip
    assert status == 0
    lines = [line.split() for line in out.strip().splitlines()]
    names = [line[0] for line in lines]
    assert names == [
        str(drawn_seven),
        *(f"{tmp_path / 'three.npy'}[{i}]" for i in range(3)),
        str(tmp_path / "one.npy"),
    ]
    model = load(trained[0])
    expected_input = np.concatenate([to_mnist(Image.open(drawn_seven))[None], X_test])
    proba = model.predict_proba(expected_input[:5])
    assert [int(line[1]) for line in lines] == list(proba.argmax(axis=1))
    np.testing.assert_allclose([float(line[2]) for line in lines], proba.max(axis=1),
                               atol=1e-4)  # fmt: skip


def test_search_prints_ranked_table_writes_csv_and_heatmap(tmp_path, capsys):
    csv, plot = tmp_path / "results.csv", tmp_path / "search.png"
    status, out, _ = run(
        capsys, "search", "--train-size", "300", "--cv", "2", "--epochs", "1", "2",
        "--batch-size", "32", "--hidden-units", "16", "--output", csv, "--plot", plot,
    )  # fmt: skip
    assert status == 0
    assert "rank_test_score" in out and "mean_fit_time" in out and "best: " in out
    assert "with EpochGridSearchCV" in out
    assert "(fits per fold: 1; GridSearchCV's: 2)" in out
    results = pd.read_csv(csv)
    assert len(results) == 2
    assert list(results["rank_test_score"]) == sorted(results["rank_test_score"])
    assert set(results["param_classifier__epochs"]) == {1, 2}
    assert {"split0_test_score", "split1_test_score"} <= set(results.columns)
    table = out.split("rank_test_score")[1].splitlines()[1:3]
    assert [int(row.split()[0]) for row in table] == [1, 2]
    with Image.open(plot) as image:
        assert image.size == (600, 450)


def test_no_subcommand_runs_the_book_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "--epochs", "1", "--hidden-units", "16")
    assert status == 0
    assert "Training on 60000 MNIST images for 1 epoch" in out
    assert "test accuracy: " in out
    assert list(tmp_path.iterdir()) == []  # the book's example saves nothing


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS])
def test_help(subcommand, capsys):
    argv = ["--help"] if subcommand is None else [subcommand, "--help"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert out.startswith("usage: sk-mnist")
    for option in {"train": ["--train-size", "--output"], "search": ["--cv"]}.get(
        subcommand, []
    ):
        assert option in out


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS, "export"])
def test_help_ends_with_examples_that_parse(subcommand, capsys):
    command = [] if subcommand is None else [subcommand]
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0
    examples = out.split("\nexamples:\n")[-1]
    assert len(out.split("\nexamples:\n")) == 2, "no (or two) examples sections"
    lines = examples.rstrip("\n").splitlines()
    assert all(line.startswith("  ") for line in lines), "examples: not last"
    command_lines = [line.strip() for line in lines if line.startswith("  sk-mnist")]
    assert 1 <= len(command_lines) <= 2
    parser = _build_parser()
    for line in command_lines:
        argv = shlex.split(line)[1:]
        assert argv[: len(command)] == command, line
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                args = parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"{line!r} does not parse: {err.getvalue()}")
        assert args.command == subcommand


def test_version_without_tensorflow():
    script = (
        "import sys\n"
        "from sk_mnist.cli import main\n"
        "status = main(['--version'])\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"sk-mnist {version('sk_mnist')}",
        "False False",
    ]


def test_install_hints_have_one_form():
    """Every ``pip install`` in sk_mnist/ installs an extra from the project folder."""
    extras = tomllib.loads(
        (Path(sk_mnist.__file__).parents[1] / "pyproject.toml").read_text()
    )["project"]["optional-dependencies"]
    hints = []
    for module in Path(sk_mnist.__file__).parent.glob("*.py"):
        # adjacent string literals joined, escaped quotes unescaped
        source = re.sub(r"[\"']\s*\n\s*f?[\"']", "", module.read_text())
        hints += re.findall(r"pip install (\S+ ?\S*)", source.replace('\\"', '"'))
    assert len(hints) >= 6
    for hint in hints:
        if hint.startswith("--upgrade"):  # a newer sk_mnist: from its folder too
            assert hint.startswith("--upgrade .)"), hint
            continue
        match = re.match(r'"\.\[(\w+)\]"', hint)
        assert match, f'pip install {hint}: not the form pip install ".[EXTRA]"'
        assert match[1] in extras


#: A line of TensorFlow's C++ logging (absl), or absl's note before it starts.
TF_CPP_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog", re.MULTILINE)


def test_tensorflow_start_up_lines_are_hidden(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "sk_mnist", "train", "--train-size", "500",
         "--epochs", "1", "--hidden-units", "16", "--output", tmp_path / "m.skmnist"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test accuracy: " in result.stdout
    assert not TF_CPP_LINE.search(result.stderr), result.stderr


def _without_log_level(**changes):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **changes}


@pytest.mark.parametrize(
    "backend, variable",
    [("tensorflow", "TF_XLA_FLAGS"), ("jax", "XLA_FLAGS")],
)
def test_a_fatal_backend_error_reaches_the_user(backend, variable, tmp_path):
    # The backend aborts in C++ while its start-up lines are being hidden.
    result = subprocess.run(
        [sys.executable, "-m", "sk_mnist", "--backend", backend, "train",
         "--train-size", "100", "--epochs", "1", "--hidden-units", "4",
         "--output", tmp_path / "m.skmnist"],
        capture_output=True, text=True, timeout=300,
        env=_without_log_level(**{variable: "--bogus_flag"}),
    )  # fmt: skip
    assert result.returncode != 0
    assert f"Unknown flag in {variable}: --bogus_flag" in result.stderr, result.stderr
    assert not (tmp_path / "m.skmnist").exists()


def test_train_with_stderr_closed_trains_and_saves(tmp_path):
    model = tmp_path / "m.skmnist"
    command = shlex.join(
        [sys.executable, "-m", "sk_mnist", "train", "--train-size", "200",
         "--epochs", "1", "--hidden-units", "8", "--output", str(model)]
    )  # fmt: skip
    result = subprocess.run(
        ["bash", "-c", f"exec {command} 2>&-"],
        capture_output=True, text=True, timeout=300, env=_without_log_level(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert f"model saved to {model}" in result.stdout
    assert load(model).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)


def test_the_offline_error_has_no_tensorflow_line(tmp_path):
    # No SK_MNIST_DATA and no cached copy: keras.datasets tries to download.
    env = _without_log_level(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / "keras"))
    env.pop("SK_MNIST_DATA", None)
    result = subprocess.run(
        [sys.executable, "-m", "sk_mnist", "train", "--train-size", "100"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sk-mnist: error: MNIST could"), (
        result.stderr
    )


@pytest.mark.parametrize(
    "option, level", [([], "0"), (["--backend-log"], None)], ids=["user", "option"]
)
def test_tensorflow_lines_shown_when_asked(trained, drawn_seven, option, level):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:  # the user's own setting
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    result = subprocess.run(
        [sys.executable, "-m", "sk_mnist", *option, "predict", trained[0],
         drawn_seven],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(drawn_seven))
    assert "failed call to cuInit" in result.stderr or "cpu_feature_guard" in (
        result.stderr
    )
    assert TF_CPP_LINE.search(result.stderr)


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["train", "--epochs", "0"], ["--epochs", "positive integer", "'0'"]),
        (["train", "--batch-size", "many"], ["--batch-size", "'many'"]),
        (["search", "--cv", "1"], ["--cv", "at least 2 folds"]),
        (["search", "--n-jobs", "0"], ["--n-jobs"]),
        (["fit"], ["invalid choice: 'fit'"]),
        (["--epochs", "2", "train"], ["put --epochs after 'train'"]),
        (["evaluate"], ["MODEL"]),
        (["train", "--train-size", "70000"], ["exceeds the 60000 training images"]),
        (["train", "--train-size", "5"], ["at least 10"]),
    ],
)
def test_bad_option_values(argv, fragments, capsys):
    status, _, err = run(capsys, *argv)
    assert_one_line_error(status, err, *fragments)


def test_missing_data_folder(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--data", tmp_path / "nowhere")
    assert_one_line_error(status, err, "nowhere")


def test_missing_and_non_model_files(trained, tmp_path, capsys):
    status, _, err = run(capsys, "evaluate", tmp_path / "missing.skmnist")
    assert_one_line_error(status, err, "missing.skmnist: no such model file")

    text = tmp_path / "notes.skmnist"
    text.write_text("these are not the weights you are looking for\n" * 3)
    for argv in (["evaluate", text], ["predict", text, text]):
        status, _, err = run(capsys, *argv)
        assert_one_line_error(status, err, "notes.skmnist", "not an sk_mnist model")

    import pickle

    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    status, _, err = run(capsys, "evaluate", pickled)
    assert_one_line_error(status, err, "model.pkl", "not an sk_mnist model")

    import joblib

    joblib_file = tmp_path / "model.joblib"  # the network's Keras zip inside
    joblib.dump(sk_mnist.load(trained[0]), joblib_file)
    inputs = Path(__file__).parent / "data" / "inputs.npy"
    status, _, err = run(capsys, "predict", joblib_file, inputs)
    assert_one_line_error(status, err, "model.joblib", "not an sk_mnist model")
    assert "joblib.load" in err and "not part of the format" not in err

    from sk_mnist import PixelScaler

    dump(PixelScaler().fit(np.zeros((2, 28, 28))), tmp_path / "scaler.skmnist")
    status, _, err = run(capsys, "evaluate", tmp_path / "scaler.skmnist")
    assert_one_line_error(status, err, "not a model that predicts", "PixelScaler")

    dump(make_mnist_pipeline(), tmp_path / "unfitted.skmnist")
    status, _, err = run(capsys, "evaluate", tmp_path / "unfitted.skmnist")
    assert_one_line_error(status, err, "not fitted")


def test_missing_and_unreadable_images(trained, drawn_seven, tmp_path, capsys):
    status, out, err = run(
        capsys, "predict", trained[0], drawn_seven, tmp_path / "missing.png"
    )
    assert_one_line_error(status, err, "missing.png: no such file")
    assert out == ""  # nothing is predicted when one file is bad

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    status, _, err = run(capsys, "predict", trained[0], broken)
    assert_one_line_error(status, err, "broken.png")

    np.save(tmp_path / "flat.npy", np.zeros((2, 784)))
    status, _, err = run(capsys, "predict", trained[0], tmp_path / "flat.npy")
    assert_one_line_error(status, err, "flat.npy", "(2, 784)")


def test_unwritable_outputs(tmp_path, monkeypatch, capsys):
    status, out, err = run(
        capsys, "train", "--train-size", "20", "--hidden-units", "4", "--epochs", "1",
        "--output", tmp_path / "no" / "such" / "folder" / "model.skmnist",
    )  # fmt: skip
    assert_one_line_error(status, err, "--output", "folder", "does not exist")
    assert out == ""  # refused before training, not after

    def disk_full(model, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("sk_mnist.persistence.dump", disk_full)
    status, out, err = run(
        capsys, "train", "--train-size", "20", "--hidden-units", "4", "--epochs", "1",
        "--output", tmp_path / "model.skmnist",
    )  # fmt: skip
    assert_one_line_error(status, err, "cannot write the model", "No space left")


def test_plot_without_matplotlib(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sk_mnist.plots", None)  # as if not installed
    status, _, err = run(capsys, "evaluate", trained[0], "--plot", tmp_path / "x.png")
    assert_one_line_error(status, err, "needs matplotlib", 'pip install ".[plots]"')
    assert not (tmp_path / "x.png").exists()


def console_script():
    script = Path(sys.executable).with_name("sk-mnist")
    return str(script) if script.exists() else shutil.which("sk-mnist")


def test_real_processes(trained, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    help_ = subprocess.run(
        [sys.executable, "-m", "sk_mnist", "--help"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert help_.returncode == 0 and help_.stdout.startswith("usage: sk-mnist")
    for subcommand in SUBCOMMANDS:
        assert subcommand in help_.stdout

    script = Path(sys.executable).with_name("sk-mnist")
    script = str(script) if script.exists() else shutil.which("sk-mnist")
    assert script is not None, "the sk-mnist console script is not installed"
    error = subprocess.run(
        [script, "predict", trained[0], tmp_path / "missing.png"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert error.returncode == 2
    assert "Traceback" not in error.stderr
    # TensorFlow may log on import; our own message is the last line.
    assert error.stderr.strip().splitlines()[-1] == (
        f"sk-mnist: error: {tmp_path / 'missing.png'}: no such file"
    )


# --- Every user mistake, through a real process: one line on stderr, exit 2. ------

#: What TensorFlow's C++ logging prints on import, even at TF_CPP_MIN_LOG_LEVEL=3.
TF_NOISE = re.compile(r"WARNING: All log messages before absl|[IWEF]\d{4} ")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """A folder of things that are not what the command line expects."""
    folder = tmp_path_factory.mktemp("bad")
    (folder / "corrupt").mkdir()
    (folder / "corrupt" / "mnist.npz").write_bytes(b"PK\x03\x04 cut short")
    (folder / "partial").mkdir()
    np.savez(
        folder / "partial" / "mnist.npz",
        x_train=np.zeros((2, 28, 28), np.uint8),
        y_train=np.zeros(2, np.uint8),
    )
    (folder / "notes.skmnist").write_text("not a model\n")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    np.save(folder / "tall.npy", np.zeros((2, 56, 14), np.uint8))
    (folder / "folder").mkdir()
    return folder


# Small settings, so that a check that regresses costs seconds, not a full fit.
TINY = "--epochs 1 --batch-size 32 --hidden-units 4"
SMALL = f"--train-size 30 {TINY}"
BAD_INVOCATIONS = {
    # fail before TensorFlow loads: about a second each
    "negative seed": ("train --random-state -1", ["--random-state", "'-1'"]),
    "seed above 2**32-1": ("train --random-state 4294967296", ["from 0 to"]),
    "corrupt mnist.npz": (
        "train --data {bad}/corrupt --train-size 20",
        ["corrupt/mnist.npz", "not an .npz archive"],
    ),
    "mnist.npz missing arrays": (
        "train --data {bad}/partial --train-size 20",
        ["partial/mnist.npz", "lacks the arrays x_test, y_test"],
    ),
    "no data folder": ("train --data {bad}/nowhere", ["nowhere"]),
    "train size above the data": ("train --train-size 70000", ["exceeds the 60000"]),
    "output is a folder": (f"train --output {{bad}}/folder {SMALL}", ["is a folder"]),
    "output folder missing": (
        f"train --output {{bad}}/no/such.skmnist {SMALL}",
        ["--output", "no/such.skmnist", "does not exist"],
    ),
    "more folds than images of a digit": (
        f"search --train-size 20 --cv 3 {TINY}",
        ["--cv 3 needs at least 3 images of each digit", "only 2", "--train-size"],
    ),
    "search output is a folder": (
        f"search --output {{bad}}/folder --cv 2 {SMALL}",
        ["is a folder"],
    ),
    "model is a folder": ("evaluate {bad}/folder", ["is a folder, not a model"]),
    "model missing": ("evaluate {bad}/missing.skmnist", ["no such model file"]),
    "plot folder missing": (
        "evaluate {bad}/notes.skmnist --plot {bad}/no/such.png",
        ["--plot", "does not exist"],
    ),
    "image missing": (
        "predict {bad}/notes.skmnist {bad}/missing.png",
        ["missing.png: no such file"],
    ),
    # load TensorFlow: about five seconds each
    "model is text": ("evaluate {bad}/notes.skmnist", ["not an sk_mnist model"]),
    "image is not an image": ("predict {model} {bad}/broken.png", ["broken.png"]),
    "npy of wrong shape": ("predict {model} {bad}/tall.npy", ["(2, 56, 14)"]),
}


@pytest.mark.parametrize(
    "command, fragments", BAD_INVOCATIONS.values(), ids=list(BAD_INVOCATIONS)
)
def test_user_mistakes_in_a_real_process(command, fragments, bad_files, request):
    script = console_script()
    assert script is not None, "the sk-mnist console script is not installed"
    # a real model only where the row needs one: the others are refused before
    model = request.getfixturevalue("trained")[0] if "{model}" in command else None
    argv = command.format(model=model, bad=bad_files).split()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [script, *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not TF_NOISE.match(line)]
    assert len(lines) == 1, result.stderr
    assert re.match(r"sk-mnist( \w+)?: error: ", lines[0]), lines[0]
    for fragment in fragments:
        assert fragment.format(bad=bad_files) in lines[0]
    assert result.stdout == ""  # refused before any work


@pytest.fixture(scope="module")
def bare_classifier(tmp_path_factory, mnist):
    """A bare MNISTClassifier fitted on scaled flat rows, written by sk_mnist.dump."""
    (X_train, y_train), _ = mnist
    X = X_train[:1000].reshape(1000, -1).astype(np.float32) / np.float32(255)
    clf = MNISTClassifier(hidden_units=16, epochs=1, random_state=0)
    clf.fit(X, y_train[:1000])
    path = tmp_path_factory.mktemp("bare") / "bare.skmnist"
    dump(clf, path)
    return clf, path


def test_evaluate_and_predict_a_dumped_bare_classifier(
    bare_classifier, mnist, tmp_path, capsys
):
    clf, path = bare_classifier
    _, (X_test, y_test) = mnist
    scaled = X_test.reshape(len(X_test), -1).astype(np.float32) / np.float32(255)
    status, out, err = run(capsys, "evaluate", path)
    assert status == 0, err
    assert f"test accuracy: {clf.score(scaled, y_test):.4f} on 10000 images" in out

    np.save(tmp_path / "three.npy", X_test[:3])
    status, out, err = run(capsys, "predict", path, tmp_path / "three.npy")
    assert status == 0, err
    lines = [line.split() for line in out.strip().splitlines()]
    assert [int(line[1]) for line in lines] == list(clf.predict(scaled[:3]))
    np.testing.assert_allclose(
        [float(line[2]) for line in lines],
        clf.predict_proba(scaled[:3]).max(axis=1),
        atol=1e-4,
    )


def test_bare_classifier_not_fitted_on_images_is_refused(blobs, tmp_path, capsys):
    X, y = blobs
    dump(MNISTClassifier(hidden_units=4, epochs=1).fit(X, y), tmp_path / "b.skmnist")
    status, _, err = run(capsys, "evaluate", tmp_path / "b.skmnist")
    assert_one_line_error(status, err, "fitted on 8 features", "784 pixels")


def test_train_size_close_to_all_images_still_subsamples():
    # train_test_split refuses to stratify when fewer images than digits are left out
    X, y = np.arange(100), np.arange(100) % 10
    X_sub, y_sub = _subsample(X, y, 95, random_state=0)
    assert len(X_sub) == 95 and len(set(X_sub.tolist())) == 95
    np.testing.assert_array_equal(y_sub, X_sub % 10)  # rows stay with their labels


def test_train_size_above_the_images_is_refused():
    from sk_mnist.cli import _UserError

    X, y = np.arange(100), np.arange(100) % 10
    assert len(_subsample(X, y, 100, random_state=0)[0]) == 100
    with pytest.raises(_UserError, match="--train-size 101 exceeds the 100"):
        _subsample(X, y, 101, random_state=0)


def test_train_size_below_one_image_per_digit_is_refused():
    from sk_mnist.cli import _UserError

    X, y = np.arange(100), np.arange(100) % 10
    X_sub, y_sub = _subsample(X, y, 10, random_state=0)
    assert sorted(y_sub.tolist()) == list(range(10))  # stratified: one of each
    with pytest.raises(_UserError, match="at least 10 .*got 9"):
        _subsample(X, y, 9, random_state=0)


def test_folds_need_as_many_images_of_each_digit():
    from sk_mnist.cli import _check_folds, _UserError

    y = np.repeat(np.arange(10), 3)
    _check_folds(y, 3)  # three of each digit: three folds are fine
    with pytest.raises(_UserError, match="--cv 4 needs at least 4 .*only 3"):
        _check_folds(y, 4)


def test_model_not_trained_on_mnist_images_is_one_line(blobs, tmp_path, capsys):
    # a pipeline fitted on 8 features: its PixelScaler refuses 28x28 images
    X, y = blobs
    model = make_mnist_pipeline(hidden_units=4, epochs=1).fit(X.clip(0, 1) * 255, y)
    dump(model, tmp_path / "blobs.skmnist")
    status, _, err = run(capsys, "evaluate", tmp_path / "blobs.skmnist")
    assert_one_line_error(status, err, "PixelScaler", "flat rows of 8")


def test_any_value_error_of_a_command_is_one_line(monkeypatch, capsys):
    # the net under every check: scikit-learn's and NumPy's ValueErrors, even
    # those whose message spans lines, become one line and exit status 2
    def fail(args):
        raise ValueError("first line\n  second line")

    monkeypatch.setattr("sk_mnist.cli._evaluate", fail)
    status, _, err = run(capsys, "evaluate", "model.skmnist")
    assert_one_line_error(status, err, "first line second line")


def test_predict_refuses_a_picture_too_large_and_an_empty_npy(
    trained, tmp_path, capsys
):
    import struct
    import zlib

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    bomb = tmp_path / "bomb.png"  # 68 bytes that declare 400 million pixels
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    )
    status, out, err = run(capsys, "predict", trained[0], bomb)
    assert_one_line_error(status, err, "bomb.png: the picture declares more than")
    assert out == ""
    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28), np.uint8))
    status, out, err = run(capsys, "predict", trained[0], tmp_path / "empty.npy")
    assert_one_line_error(status, err, "empty.npy: expected at least one 28x28 image")


def test_search_refuses_another_searchs_checkpoint_in_one_line(tmp_path, capsys):
    checkpoint, output = tmp_path / "other.ckpt", tmp_path / "results.csv"
    header = '{"search": {"grid": [], "search": "EpochGridSearchCV"}, '
    checkpoint.write_text(header + '"sk_mnist_checkpoint": 1}\n')
    status, _, err = run(
        capsys, "search", "--train-size", "100", "--epochs", "1", "--batch-size",
        "32", "--hidden-units", "4", "--cv", "2", "--checkpoint", checkpoint,
        "--output", output,
    )  # fmt: skip
    assert_one_line_error(
        status, err, f"{checkpoint} holds the fits of another search", "grid"
    )
    assert not output.exists()


_HALVING = ["search", "--halving", "--train-size", "300", "--cv", "2", "--epochs",
            "4", "--factor", "2", "--batch-size", "32", "128", "--hidden-units",
            "16"]  # fmt: skip


def test_search_halving_prints_a_line_per_rung_and_writes_iter_and_epochs(
    tmp_path, capsys
):
    csv = tmp_path / "results.csv"
    status, out, _ = run(capsys, *_HALVING, "--output", csv)
    assert status == 0, out
    assert "rungs of 2 epochs (2 candidates), 4 epochs (1 candidates)" in out
    rungs = [line for line in out.splitlines() if line.startswith("rung ")]
    assert [line.split(", best")[0] for line in rungs] == [
        "rung 0: 2 candidates at 2 epochs",
        "rung 1: 1 candidates at 4 epochs",
    ]
    results = pd.read_csv(csv)
    assert results["iter"].tolist() == [1, 0, 0]
    assert results["n_resources"].tolist() == [4, 2, 2]
    assert (results["mean_test_score"] > 0.15).all()  # learnt; chance is 0.1
    assert "best: " in out


@pytest.mark.parametrize(
    "options, message",
    [
        (["--factor", "2"], "--factor needs --halving"),
        (["--min-epochs", "2"], "--min-epochs needs --halving"),
        (["--halving", "--epochs", "3", "5"], "--epochs is one number"),
        (["--halving", "--factor", "1"], "--factor must be at least 2"),
        (["--halving", "--epochs", "3", "--min-epochs", "4"], "more than --epochs 3"),
        (["--halving", "--checkpoint", "c"], "--checkpoint is not available with"),
    ],
)
def test_search_halving_options_are_checked(options, message, tmp_path, capsys):
    status, _, err = run(capsys, "search", "--output", tmp_path / "r.csv", *options)
    assert_one_line_error(status, err, message)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """An MLflow store in a temporary folder, as MLFLOW_TRACKING_URI names it."""
    mlflow = pytest.importorskip("mlflow")  # the [mlflow] extra, in [test]
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder, ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_tracking_uri(None)  # read the variable again
    yield mlflow.tracking.MlflowClient()
    mlflow.set_tracking_uri(None)


def test_train_logs_params_metrics_and_the_model_to_mlflow(
    mlflow_store, tmp_path, capsys
):
    status, out, _ = run(
        capsys, "train", "--train-size", "300", "--epochs", "1", "--hidden-units",
        "16", "--output", tmp_path / "m.skmnist", "--mlflow-experiment", "digits",
    )  # fmt: skip
    assert status == 0, out
    run_id = re.search(r"logged to MLflow experiment 'digits' \(run (\w+)\)", out)[1]
    logged = mlflow_store.get_run(run_id).data
    assert logged.params["epochs"] == "1" and logged.params["hidden_units"] == "16"
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert round(logged.metrics["test_accuracy"], 4) == accuracy
    assert logged.metrics["fit_seconds"] > 0
    import sk_mnist.mlflow

    model = sk_mnist.mlflow.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(
        model.predict(np.zeros((2, 28, 28), np.uint8)),
        load(tmp_path / "m.skmnist").predict(np.zeros((2, 28, 28), np.uint8)),
    )


def test_search_logs_one_child_run_per_candidate_to_mlflow(
    mlflow_store, tmp_path, capsys
):
    status, out, _ = run(
        capsys, "search", "--train-size", "300", "--cv", "2", "--epochs", "1",
        "--batch-size", "32", "64", "--hidden-units", "8", "--n-jobs", "1",
        "--output", tmp_path / "r.csv", "--mlflow-experiment", "grid",
    )  # fmt: skip
    assert status == 0, out
    parent = re.search(r"logged to MLflow experiment 'grid' \(run (\w+)\)", out)[1]
    experiment = mlflow_store.get_experiment_by_name("grid").experiment_id
    children = mlflow_store.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{parent}'"
    )
    results = pd.read_csv(tmp_path / "r.csv")
    assert len(children) == len(results) == 2
    by_batch = {int(c.data.params["classifier__batch_size"]): c for c in children}
    for _, row in results.iterrows():
        metrics = by_batch[row["param_classifier__batch_size"]].data.metrics
        for column in ("mean_test_score", "split0_test_score", "split1_test_score"):
            assert metrics[column] == row[column]


def test_mlflow_experiment_without_mlflow_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sk_mnist.mlflow", None)  # import fails
    status, _, err = run(
        capsys, "train", "--train-size", "300", "--epochs", "1",
        "--output", tmp_path / "m.skmnist", "--mlflow-experiment", "digits",
    )  # fmt: skip
    assert_one_line_error(status, err, "--mlflow-experiment needs MLflow", "[mlflow]")
    assert not (tmp_path / "m.skmnist").exists()  # refused before any training
