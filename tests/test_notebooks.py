"""Every notebook in notebooks/ runs top to bottom, quickly (SK_MNIST_QUICK=1)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sk_mnist._quiet import ABSL_LINE, is_startup_noise

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_every_notebook_is_described_in_the_readme():
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    section = readme.split("## Notebooks")[1].split("\n## ")[0]
    described = set(re.findall(r"`(\w+\.ipynb)`", section))
    assert described, "the README's Notebooks section names no notebook"
    assert {path.name for path in NOTEBOOKS.glob("*.ipynb")} == described


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem
)
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("SK_MNIST_QUICK", "1")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # as a user runs it
    # ipykernel sends what the kernel writes to its file descriptors into the
    # notebook, as Jupyter shows it, except under pytest: it looks for this.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.read(path, as_version=4)
    # The kernel must be this environment's Python, with this sk_mnist installed.
    notebook.cells.append(
        nbformat.v4.new_code_cell("import sys, sk_mnist; print(sys.executable)")
    )
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    kernel_python = notebook.cells[-1].outputs[0]["text"].strip()
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve()
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook shows no plot"
    # What the reader sees holds none of TensorFlow's C++ log lines
    # (sk_mnist.hide_tensorflow_startup_lines() in the first cell).
    shown = [
        line
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
        for line in output["text"].splitlines()
    ]
    tensorflow_lines = [
        line for line in shown if ABSL_LINE.match(line) or is_startup_noise(line)
    ]
    assert not tensorflow_lines
