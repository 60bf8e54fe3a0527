"""numpydoc's own validation over every public callable of sk_mnist.

Checked: the names in ``sk_mnist.__all__``, the public methods and properties of
those classes that sk_mnist defines (not the ones inherited from scikit-learn or
scikeras), and the public functions of ``sk_mnist.images``, ``sk_mnist.plots`` and
``sk_mnist.mlflow``.
"""

import inspect

import pytest
from numpydoc.validate import validate

import sk_mnist
import sk_mnist.images
import sk_mnist.mlflow
import sk_mnist.plots

# numpydoc check codes not enforced, and why. Everything else is.
IGNORED = {
    "ES01": "an extended summary is optional: the project asks for short docstrings",
    "SA01": "See Also only where there is a relative worth pointing to",
    "RT02": "returned values are named (``self : MNISTClassifier``), as in "
    "scikit-learn; numpydoc wants the type alone unless several are returned",
}
# EX01 (no Examples) is not enforced for methods and for exception and warning
# classes: the examples of a class show its methods, and the Raises and Warns
# sections of the functions show when an exception or warning comes.
EXAMPLES_NOT_REQUIRED = "EX01"


def _is_sk_mnist(obj):
    function = obj.fget if isinstance(obj, property) else obj
    return getattr(function, "__module__", "").startswith("sk_mnist")


def public_callables():
    """``(qualified name, needs Examples)`` of every public callable."""
    names = []
    for name in sk_mnist.__all__:
        obj = getattr(sk_mnist, name)
        qualified = f"{obj.__module__}.{obj.__qualname__}"
        is_exception = inspect.isclass(obj) and issubclass(obj, BaseException)
        names.append((qualified, not is_exception))
        if not inspect.isclass(obj) or is_exception:
            continue
        for attribute, value in inspect.getmembers(obj):
            if attribute.startswith("_"):
                continue
            value = inspect.getattr_static(obj, attribute)
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if (inspect.isfunction(value) or isinstance(value, property)) and (
                _is_sk_mnist(value)
            ):
                names.append((f"{qualified}.{attribute}", False))
    for module in (sk_mnist.images, sk_mnist.plots, sk_mnist.mlflow):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                names.append((f"{module.__name__}.{name}", True))
    return names


def problems(qualified_name, needs_examples=True):
    """numpydoc's errors for one name, less the ignored codes."""
    ignored = set(IGNORED) | (set() if needs_examples else {EXAMPLES_NOT_REQUIRED})
    return [
        f"{code}: {message}"
        for code, message in validate(qualified_name)["errors"]
        if code not in ignored
    ]


def test_every_public_module_is_covered():
    names = {name for name, _ in public_callables()}
    assert "sk_mnist.persistence.load" in names
    assert "sk_mnist.classifier.MNISTClassifier.fit" in names
    assert "sk_mnist.images.read_digits" in names
    assert {f"sk_mnist.plots.{name}" for name in sk_mnist.plots.__all__} <= names
    # Inherited from scikit-learn, not written here: not ours to check.
    assert "sk_mnist.search.EpochGridSearchCV.predict" not in names


@pytest.mark.parametrize(
    ("name", "needs_examples"), public_callables(), ids=lambda v: str(v)
)
def test_docstring_passes_numpydoc_validation(name, needs_examples):
    assert problems(name, needs_examples) == []


def _documented(x):
    """Twice ``x``.

    Parameters
    ----------
    x : int
        A number.

    Returns
    -------
    int
        Twice ``x``.

    Examples
    --------
    >>> _documented(2)
    4
    """
    return 2 * x


def _without_returns(x):
    """Twice ``x``.

    Parameters
    ----------
    x : int
        A number.

    Examples
    --------
    >>> _without_returns(2)
    4
    """
    return 2 * x


def test_the_check_fails_when_a_section_is_removed():
    module = __name__
    assert problems(f"{module}._documented") == []
    assert [p[:4] for p in problems(f"{module}._without_returns")] == ["RT01"]
