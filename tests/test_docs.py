"""The manual's API reference: a page for every public name, its methods listed.

The manual is built (without running the notebooks) into a temporary folder, and the
pages are read back: each class page must hold an entry for every public method and
property of the class, its own and the ones it inherits from scikit-learn and
scikeras, since a user calls those too.
"""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sk_mnist
import sk_mnist.images
import sk_mnist.mlflow
import sk_mnist.plots
from sk_mnist._quiet import is_startup_noise

DOCS = Path(__file__).resolve().parents[1] / "docs"


def public_names():
    """``(module prefix, name)`` of every name the API reference must show."""
    names = [("sk_mnist", name) for name in sk_mnist.__all__]
    for module in (sk_mnist.images, sk_mnist.plots, sk_mnist.mlflow):
        names += [(module.__name__, name) for name in module.__all__]
    return names


def public_members(cls):
    """Public methods and properties of ``cls``, inherited ones included."""
    members = set()
    for name, value in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(
            inspect.getattr_static(cls, name), property
        ):
            members.add(name)
    return members


@pytest.fixture(scope="module")
def built_api(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"),
            *("-D", "nb_execution_mode=off"),
            *(str(DOCS), str(out)),
        ],
        capture_output=True,
        text=True,
    )
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    warnings = [w for w in warnings if "absl::InitializeLog" not in w]
    assert result.returncode == 0 and not warnings, result.stderr[-3000:]
    return out / "api" / "generated"


@pytest.mark.parametrize("module, name", public_names())
def test_every_public_name_has_a_page(built_api, module, name):
    assert (built_api / f"{module}.{name}.html").is_file()


@pytest.mark.parametrize(
    "name",
    [
        name
        for name in sk_mnist.__all__
        if inspect.isclass(getattr(sk_mnist, name))
        and not issubclass(getattr(sk_mnist, name), (Exception, Warning))
    ],
)
def test_class_pages_list_their_methods(built_api, name):
    cls = getattr(sk_mnist, name)
    page = (built_api / f"sk_mnist.{name}.html").read_text()
    documented = set(re.findall(rf'id="sk_mnist\.{name}\.(\w+)"', page))
    expected = public_members(cls)
    assert {"fit", "get_params", "set_params"} <= expected  # the check has teeth
    assert expected <= documented, sorted(expected - documented)


def test_the_dask_script_of_the_scale_out_page_runs_as_a_script(tmp_path):
    """As a user runs it: a script that starts a local cluster, with its guard."""
    script = DOCS / "user_guide" / "search_on_dask.py"
    result = subprocess.run(
        [sys.executable, str(script), "600"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best_params, best_score = result.stdout.strip().rsplit(" ", 1)
    assert "classifier__epochs" in best_params and float(best_score) > 0.5
    assert not [line for line in result.stderr.splitlines() if is_startup_noise(line)]


def _continued_after_other_languages(text):
    """Line numbers of ``cont`` markers whose previous fenced block is not Python."""
    found, in_block, syntax, previous = [], False, None, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if in_block:
                in_block, previous = False, syntax
            else:
                in_block, syntax = True, stripped.strip("`").strip()
        elif not in_block and stripped == "<!--pytest-codeblocks:cont-->":
            if previous != "python":
                found.append(number)
    return found


def test_continued_examples_continue_python():
    # pytest-codeblocks appends a continued block to the block before it, whatever
    # its language: after a bash block, the Python would be run as bash, i.e. never.
    assert _continued_after_other_languages(
        "```python\na = 1\n```\n```bash\nls\n```\n<!--pytest-codeblocks:cont-->\n"
    ) == [7]
    pages = [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]
    wrong = {
        str(page.relative_to(DOCS.parent)): lines
        for page in pages
        if "_build" not in page.parts
        and (lines := _continued_after_other_languages(page.read_text()))
    }
    assert not wrong, f"continued after a non-Python block (page: lines): {wrong}"
