"""scikit-learn's whole estimator contract, over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_mnist import MNISTClassifier, PixelScaler

# Checks that cannot pass, each with the reason. The README lists them too.
EXPECTED_FAILED_CHECKS = {
    "MNISTClassifier": {
        "check_estimator_tags_renamed": (
            "A lint over every class in the MRO: scikeras' BaseWrapper, which we "
            "cannot edit, defines the pre-1.6 `_more_tags` without "
            "`__sklearn_tags__`. MNISTClassifier defines the full "
            "`__sklearn_tags__`, the only tags scikit-learn >= 1.6 reads; "
            "test_classifier.py checks the tags themselves."
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch gradient descent: a weight of 2 scales a sample's loss, "
            "a repeated sample changes the batches and the mean over them, so the "
            "two fits agree only in expectation, not to 1e-7 (scikit-learn lists "
            "the same failure for SGDClassifier); tests/test_classifier.py checks "
            "the statistical equivalence instead."
        ),
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [
        MNISTClassifier(hidden_units=32, epochs=20, batch_size=16, learning_rate=0.01),
        PixelScaler(),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
