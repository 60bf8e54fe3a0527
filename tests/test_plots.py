"""Each plot function writes a PNG of the expected pixel size."""

import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")

from sk_mnist import plots  # noqa: E402

DPI = 50


def saved_size(fig, path):
    fig.savefig(path, dpi=DPI)
    matplotlib.pyplot.close(fig)
    with Image.open(path) as image:
        return image.size


@pytest.fixture(scope="module")
def fitted_tiny(mnist_small):
    from sk_mnist import make_mnist_pipeline

    (X_train, y_train), _ = mnist_small
    return make_mnist_pipeline(
        hidden_units=32, epochs=2, validation_split=0.2, random_state=0
    ).fit(X_train[:500], y_train[:500])


def test_plot_digits(tmp_path, mnist_small):
    (X, y), _ = mnist_small
    fig = plots.plot_digits(X[:12], y[:12], predicted=y[:12][::-1], n_cols=6)
    assert saved_size(fig, tmp_path / "digits.png") == (6 * DPI, 2 * DPI)
    fig = plots.plot_digits(X[:3].reshape(3, 784), figsize=(4, 2))
    assert saved_size(fig, tmp_path / "flat.png") == (4 * DPI, 2 * DPI)


def test_plot_confusion_matrix(tmp_path):
    y_true = np.repeat(np.arange(10), 5)
    y_pred = np.roll(y_true, 3)
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    assert saved_size(fig, tmp_path / "cm.png") == (6 * DPI, 5 * DPI)
    fig = plots.plot_confusion_matrix(y_true, y_pred, normalize="true")
    assert fig.axes[0].texts[0].get_text() in {"0.40", "0.60"}
    matplotlib.pyplot.close(fig)


def test_plot_history_from_pipeline_classifier_and_dict(tmp_path, fitted_tiny):
    fig = plots.plot_history(fitted_tiny)
    assert saved_size(fig, tmp_path / "history.png") == (9 * DPI, 3.5 * DPI)
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_allclose(
        loss_ax.lines[0].get_ydata(),
        fitted_tiny.named_steps["classifier"].history_["loss"],
    )
    fig = plots.plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]})
    assert len(fig.axes[1].lines) == 1
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="fitted MNISTClassifier"):
        plots.plot_history(object())


def test_plot_search(tmp_path):
    cv_results = {
        "param_classifier__epochs": [1, 1, 3, 3, 3],
        "param_classifier__batch_size": [64, 128, 64, 128, 128],
        "param_classifier__hidden_units": [512, 512, 512, 512, 64],
        "mean_test_score": [0.90, 0.88, 0.95, 0.93, 0.97],
    }
    fig = plots.plot_search(cv_results)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.9000", "0.8800", "0.9500", "0.9700"]  # best over hidden units
    assert saved_size(fig, tmp_path / "search.png") == (6 * DPI, 4.5 * DPI)
    with pytest.raises(ValueError, match="did not vary 'classifier__verbose'"):
        plots.plot_search(cv_results, rows="classifier__verbose")


def test_sk_mnist_works_without_matplotlib(tmp_path):
    """matplotlib is optional: only sk_mnist.plots needs it.

    Fits, dumps, loads and predicts with the classifier (so Keras is imported too:
    Keras imports matplotlib when it is installed, so the check blocks it).
    """
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import numpy as np\n"
        "import sk_mnist, sk_mnist.cli, sk_mnist.images\n"
        "from sk_mnist import dump, load, make_mnist_pipeline\n"
        "X = np.random.RandomState(0).randint(0, 256, (20, 28, 28)).astype('uint8')\n"
        "y = np.arange(20) % 4\n"
        "model = make_mnist_pipeline(hidden_units=4, epochs=1).fit(X, y)\n"
        "dump(model, sys.argv[1])\n"
        "print(load(sys.argv[1]).predict(X[:3]).shape)\n"
        "assert 'keras' in sys.modules and sys.modules['matplotlib'] is None\n"
        "try:\n"
        "    import sk_mnist.plots\n"
        "except ImportError:\n"
        "    print('plots need matplotlib')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "model.skmnist")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(3,)", "plots", "need", "matplotlib"]
