"""The whole chain: raw images in, digits out, wherever scikit-learn goes."""

import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
    cross_validate,
)

from sk_mnist import AlreadyScaledWarning, make_mnist_pipeline


@pytest.fixture(scope="module")
def fitted_small(mnist_small):
    (X_train, y_train), _ = mnist_small
    return make_mnist_pipeline(epochs=2, random_state=0).fit(X_train, y_train)


def test_book_accuracy_on_full_mnist(mnist):
    """The book reports 0.9777-0.9789 with these settings."""
    (X_train, y_train), (X_test, y_test) = mnist
    pipeline = make_mnist_pipeline(random_state=0).fit(X_train, y_train)
    accuracy = pipeline.score(X_test, y_test)
    assert accuracy >= 0.975, accuracy


def test_pipeline_applies_the_books_preprocessing(fitted_small, mnist_small):
    """Raw images in: the classifier sees exactly the book's scaled test images."""
    _, (X_test, y_test) = mnist_small
    book = X_test.reshape((len(X_test), 28 * 28)).astype("float32") / 255
    clf = fitted_small.named_steps["classifier"]
    np.testing.assert_array_equal(
        fitted_small.predict_proba(X_test), clf.predict_proba(book)
    )
    assert fitted_small.score(X_test, y_test) > 0.8  # seeds 0-5: 0.84-0.87


def test_scaling_twice_is_caught(fitted_small, mnist_small):
    """The opposite typo, images scaled by hand before the pipeline, warns."""
    _, (X_test, _) = mnist_small
    with pytest.warns(AlreadyScaledWarning):
        fitted_small.predict(X_test.astype("float32") / 255)


def test_pipeline_is_a_classifier_and_integer_cv_stratifies():
    pipeline = make_mnist_pipeline()
    assert is_classifier(pipeline)
    y = np.repeat(np.arange(10), 3)
    assert isinstance(
        check_cv(3, y, classifier=is_classifier(pipeline)), StratifiedKFold
    )


def test_cross_val_score_uses_stratified_folds(mnist_small):
    (X_train, y_train), _ = mnist_small
    order = np.argsort(y_train[:600], kind="stable")  # sorted labels: KFold would
    X, y = X_train[:600][order], y_train[:600][order]  # leave classes out of folds
    result = cross_validate(
        make_mnist_pipeline(epochs=2, random_state=0), X, y, cv=3, return_indices=True
    )
    overall = np.bincount(y, minlength=10) / len(y)
    for test_index in result["indices"]["test"]:
        fold = np.bincount(y[test_index], minlength=10) / len(test_index)
        np.testing.assert_allclose(fold, overall, atol=0.01)
    assert result["test_score"].min() > 0.5  # unstratified folds of sorted y: ~0
    scores = cross_val_score(make_mnist_pipeline(epochs=2, random_state=0), X, y, cv=3)
    np.testing.assert_allclose(scores, result["test_score"])


def test_grid_search_over_epochs_and_batch_size(mnist_small):
    (X_train, y_train), _ = mnist_small
    search = GridSearchCV(
        make_mnist_pipeline(random_state=0),
        {"classifier__epochs": [1, 2], "classifier__batch_size": [64, 128]},
        cv=2,
    ).fit(X_train[:1000], y_train[:1000])
    results = search.cv_results_
    assert len(results["params"]) == 4
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert results["mean_test_score"].max() > 0.75
    best_index = results["rank_test_score"].argmin()
    assert search.best_params_ == results["params"][best_index]
    assert search.best_score_ == results["mean_test_score"].max()
    best = search.best_estimator_.named_steps["classifier"]
    assert best.epochs == search.best_params_["classifier__epochs"]
    assert best.batch_size == search.best_params_["classifier__batch_size"]
    assert len(best.history_["loss"]) == best.epochs  # refit with the best params
    assert best.n_features_in_ == 784 and len(best.classes_) == 10
    assert search.score(X_train[1000:1500], y_train[1000:1500]) > 0.75


def test_grid_search_over_network_and_optimizer(mnist_small):
    (X_train, y_train), _ = mnist_small
    search = GridSearchCV(
        make_mnist_pipeline(epochs=1, random_state=0),
        {
            "classifier__hidden_units": [32, 64],
            "classifier__optimizer": ["rmsprop", "adam"],
            "classifier__learning_rate": [0.001],
        },
        cv=2,
    ).fit(X_train[:600], y_train[:600])
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_.named_steps["classifier"]
    assert best.model_.layers[0].units == best.hidden_units


def _predict_in_fresh_process(path, loader, X, tmp_path):
    """Load with only pickle/joblib imported and return predict_proba on X."""
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy
        import {loader}
        with open({str(path)!r}, "rb") as f:
            model = {loader}.load(f)
        assert "sk_mnist" in sys.modules  # imported by the pickle, not by hand
        numpy.save({str(tmp_path / "proba.npy")!r},
                   model.predict_proba(numpy.load({str(tmp_path / "X.npy")!r})))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    return np.load(tmp_path / "proba.npy")


@pytest.mark.parametrize("loader", ["pickle", "joblib"])
def test_saved_pipeline_predicts_the_same_in_a_fresh_process(
    fitted_small, mnist_small, tmp_path, loader
):
    _, (X_test, _) = mnist_small
    path = tmp_path / f"model.{loader}"
    with open(path, "wb") as f:
        (pickle if loader == "pickle" else joblib).dump(fitted_small, f)
    proba = _predict_in_fresh_process(path, loader, X_test[:200], tmp_path)
    np.testing.assert_array_equal(proba, fitted_small.predict_proba(X_test[:200]))
