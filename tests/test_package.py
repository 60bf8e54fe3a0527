"""The public API: every name in __all__, and TensorFlow loaded only when needed."""

import subprocess
import sys

import pytest

import sk_mnist


@pytest.mark.parametrize("name", sk_mnist.__all__)
def test_public_names_resolve(name):
    value = getattr(sk_mnist, name)
    assert getattr(value, "__module__", "").startswith("sk_mnist")
    assert name in dir(sk_mnist)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'MNISTClasifier'"):
        sk_mnist.MNISTClasifier  # noqa: B018


def test_reading_data_scaling_and_the_help_do_not_import_tensorflow(tmp_path):
    script = (
        "import pickle, sys\n"
        "from sk_mnist import PixelScaler, load_mnist\n"
        "from sk_mnist.cli import main\n"
        "assert main(['--help']) == 0\n"
        "scaler = pickle.loads(pickle.dumps(PixelScaler().fit([[0, 255]])))\n"
        "assert scaler.transform([[255, 0]]).tolist() == [[1.0, 0.0]]\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "assert 'mlflow' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout
