"""Plots of digits, confusion matrices, training curves and grid searches.

Needs matplotlib (``pip install ".[plots]"``); ``import sk_mnist`` does
not import it. Every function draws into a new figure, or into ``fig`` (a
``Figure`` or ``SubFigure``) when given, and returns the figure, so
``plot_...(...).savefig("file.png")`` writes it.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay

__all__ = ["plot_confusion_matrix", "plot_digits", "plot_history", "plot_search"]


def _figure(fig, figsize):
    return plt.figure(figsize=figsize, layout="constrained") if fig is None else fig


def plot_digits(
    images,
    labels=None,
    *,
    predicted=None,
    n_cols=10,
    title=None,
    fig=None,
    figsize=None,
):
    """Show digits in a grid, each titled with its label and prediction.

    Parameters
    ----------
    images : array-like of shape (n, 28, 28) or (n, 784)
        The digits, gray values 0..255 (or 0..1).
    labels : array-like of shape (n,), default=None
        True labels, shown above each digit.
    predicted : array-like of shape (n,), default=None
        Predicted labels; shown as ``label→predicted``, red where they differ.
    n_cols : int, default=10
        Digits per row.
    title : str, default=None
        Title above the grid.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw; a new figure when None.
    figsize : tuple of float, default=None
        Size in inches of a new figure; by default 1 inch per digit.

    Returns
    -------
    fig : matplotlib Figure or SubFigure
    """
    images = np.asarray(images).reshape(len(images), 28, 28)
    n_cols = max(1, min(n_cols, len(images)))
    n_rows = max(1, math.ceil(len(images) / n_cols))
    fig = _figure(fig, figsize or (n_cols, n_rows + (0.4 if title else 0)))
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(images):
            continue
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        text, color = "", "black"
        if labels is not None:
            text = str(labels[i])
        if predicted is not None:
            text = f"{text}→{predicted[i]}" if text else str(predicted[i])
            if labels is not None and labels[i] != predicted[i]:
                color = "tab:red"
        if text:
            ax.set_title(text, fontsize=9, color=color, pad=2)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(y_true, y_pred, *, normalize=None, fig=None, figsize=(6, 5)):
    """Confusion matrix of true and predicted digits (``ConfusionMatrixDisplay``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels.
    y_pred : array-like of shape (n,)
        Predicted labels.
    normalize : {"true", "pred", "all"}, default=None
        As in :func:`sklearn.metrics.confusion_matrix`; counts when None.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw; a new figure when None.
    figsize : tuple of float, default=(6, 5)
        Size in inches of a new figure.

    Returns
    -------
    fig : matplotlib Figure or SubFigure
    """
    fig = _figure(fig, figsize)
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        normalize=normalize,
        ax=ax,
        cmap="Blues",
        colorbar=False,
        values_format=None if normalize is None else ".2f",
        text_kw={"fontsize": 8},
    )
    accuracy = np.mean(np.asarray(y_true) == np.asarray(y_pred))
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.4f}, n={len(y_true)})")
    return fig


def _history(estimator_or_history):
    if isinstance(estimator_or_history, dict):
        return estimator_or_history
    estimator = estimator_or_history
    if hasattr(estimator, "steps"):  # a Pipeline: its classifier holds the history
        estimator = estimator.steps[-1][1]
    if not hasattr(estimator, "history_"):
        raise ValueError(
            "expected a fitted MNISTClassifier, a pipeline ending in one, or its "
            f"history_ dict; got {type(estimator_or_history).__name__}"
        )
    return estimator.history_


def plot_history(estimator, *, fig=None, figsize=(9, 3.5)):
    """Loss and accuracy per epoch of a fitted classifier.

    Parameters
    ----------
    estimator : MNISTClassifier, Pipeline or dict
        A fitted :class:`~sk_mnist.MNISTClassifier`, a pipeline ending in one,
        or its ``history_`` dict. ``val_*`` curves are drawn when present
        (``validation_split > 0``).
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw; a new figure when None.
    figsize : tuple of float, default=(9, 3.5)
        Size in inches of a new figure.

    Returns
    -------
    fig : matplotlib Figure or SubFigure
    """
    history = _history(estimator)
    fig = _figure(fig, figsize)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ["loss", "accuracy"]):
        for key, label in [(metric, "training"), (f"val_{metric}", "validation")]:
            if key in history:
                epochs = np.arange(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_search(
    cv_results,
    *,
    rows="classifier__epochs",
    columns="classifier__batch_size",
    fig=None,
    figsize=(6, 4.5),
):
    """Heatmap of the mean test score of a grid search over two parameters.

    Parameters
    ----------
    cv_results : dict or GridSearchCV
        ``cv_results_`` of a fitted search, or the search itself.
    rows : str, default="classifier__epochs"
        Parameter on the vertical axis.
    columns : str, default="classifier__batch_size"
        Parameter on the horizontal axis.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw; a new figure when None.
    figsize : tuple of float, default=(6, 4.5)
        Size in inches of a new figure.

    Returns
    -------
    fig : matplotlib Figure or SubFigure

    Notes
    -----
    Where other parameters vary too, each cell shows the best mean test score
    over them.
    """
    if hasattr(cv_results, "cv_results_"):
        cv_results = cv_results.cv_results_
    results = pd.DataFrame(cv_results)
    for name in (rows, columns):
        if f"param_{name}" not in results:
            raise ValueError(f"the search did not vary {name!r}")
    table = results.pivot_table(
        index=f"param_{rows}",
        columns=f"param_{columns}",
        values="mean_test_score",
        aggfunc="max",
    )
    fig = _figure(fig, figsize)
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(columns.split("__")[-1])
    ax.set_ylabel(rows.split("__")[-1])
    middle = np.nanmean(table.to_numpy(dtype=float))
    for (i, j), score in np.ndenumerate(table.to_numpy(dtype=float)):
        if not np.isnan(score):
            color = "black" if score > middle else "white"
            ax.text(j, i, f"{score:.4f}", ha="center", va="center", color=color)
    fig.colorbar(image, ax=ax, label="mean test score (accuracy)")
    ax.set_title("Grid search: mean cross-validated accuracy")
    return fig
