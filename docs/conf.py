"""Sphinx configuration of the sk_mnist manual.

Build (warnings are errors): ``python -m sphinx -W --keep-going -b html docs
docs/_build/html``. The notebooks are executed during the build in quick mode
(``SK_MNIST_QUICK=1``: 2000 training images, 1 or 2 epochs); set
``SK_MNIST_DATA`` to a folder of MNIST files on a machine without internet.
"""

import json
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # docs/_cli.py, for sphinx-argparse

# The notebooks run at build time, quickly; their kernels inherit this.
os.environ["SK_MNIST_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sk_mnist  # noqa: E402

project = "sk_mnist"
author = "sk_mnist developers"
copyright = "2026, sk_mnist developers"
release = version = sk_mnist.__version__

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinxarg.ext",
    "sphinx_copybutton",
]

exclude_patterns = [
    "_build",
    "_data",  # steps.md is included by user_guide/saving.md
    "_generated",
    "jupyter_execute",
    "**.ipynb_checkpoints",
]
templates_path = ["_templates"]
html_theme = "pydata_sphinx_theme"
html_title = f"sk_mnist {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []
# Copy buttons leave out the prompts of console examples and the output lines.
copybutton_prompt_text = "$ "
copybutton_only_copy_prompt_lines = False

# --- Cross-references: every sk_mnist one must resolve. --------------------------
# Without internet there is no intersphinx; references to other projects (numpy,
# scikit-learn, Keras, ...) stay plain text. nitpicky then checks sk_mnist's own.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!sk_mnist\b).*"),  # names outside sk_mnist
]

# --- API reference --------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()  # tests/test_docstrings.py validates

# --- Markdown and notebooks -----------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
suppress_warnings = ["mystnb.unknown_mime_type"]


def _copy_notebooks():
    """notebooks/*.ipynb -> docs/notebooks/ (the build's copy; not committed)."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        destination = target / notebook.name
        if not destination.exists() or (
            destination.read_bytes() != notebook.read_bytes()
        ):
            shutil.copyfile(notebook, destination)


def _benchmark_page():
    """docs/_generated/performance.md from docs/_data/performance.json.

    The tables are made by the benchmark's own ``markdown`` function, so the page
    shows exactly what ``benchmarks/performance.py`` measured, with its date,
    machine, versions and command.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "performance", ROOT / "benchmarks" / "performance.py"
    )
    performance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(performance)
    results = json.loads((DOCS / "_data" / "performance.json").read_text())
    generated = DOCS / "_generated"
    generated.mkdir(exist_ok=True)
    text = performance.markdown(results)
    page = generated / "performance.md"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)


_copy_notebooks()
_benchmark_page()


def _always_reread_the_cli_page(app, env, added, changed, removed):
    """The CLI page is made from sk_mnist.cli, which Sphinx does not watch."""
    return ["user_guide/cli"]


def _inherited_sklearn_references(app, env, node, contnode):
    """Plain text for scikit-learn's own labels and glossary terms.

    The API pages list the methods a class inherits from scikit-learn, whose
    docstrings point into scikit-learn's manual (``:ref:`metadata_routing```,
    ``:term:`fit```). Without internet there is no intersphinx, so on those pages
    the reference stays text; everywhere else an unresolved one is still an error.
    """
    if (
        node.get("refdomain") == "std"
        and node.get("reftype") in ("ref", "term")
        and node.get("refdoc", "").startswith("api/generated/")
    ):
        return contnode
    return None


def setup(app):
    app.connect("env-get-outdated", _always_reread_the_cli_page)
    app.connect("missing-reference", _inherited_sklearn_references)
