"""Helpers shared by the search tests (test_search, test_halving, test_search_engine).

A module of its own, not one of the test files: mutmut's fork server imports the
tests it runs, and ``test_search.py`` makes Keras optimizers when imported.
"""

import numpy as np

from sk_mnist import MNISTClassifier


def assert_candidates_differ(search, key="mean_test_score"):
    """The candidates' scores are all different: the test can tell them apart."""
    scores = search.cv_results_[key]
    assert np.unique(scores).size == scores.size, scores


def count_epochs(monkeypatch):
    """Record the epochs every MNISTClassifier fit in this process trains."""
    epochs = []
    fit = MNISTClassifier.fit

    def counting_fit(self, *args, **kwargs):
        epochs.append(kwargs.get("epochs", self.epochs))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(MNISTClassifier, "fit", counting_fit)
    return epochs
