"""The whole chain as one estimator: raw images in, digits out."""

from sklearn.pipeline import Pipeline

from sk_mnist.classifier import MNISTClassifier
from sk_mnist.preprocessing import PixelScaler

__all__ = ["make_mnist_pipeline"]


def make_mnist_pipeline(**classifier_params):
    """Make a ``Pipeline`` of :class:`PixelScaler` then :class:`MNISTClassifier`.

    Parameters
    ----------
    **classifier_params
        Parameters of the classifier, e.g. ``epochs=3`` or ``random_state=0``.
        In a grid search they are ``classifier__epochs`` and so on.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"scaler"`` and ``"classifier"``.

    Examples
    --------
    >>> from sk_mnist import make_mnist_pipeline
    >>> pipe = make_mnist_pipeline(epochs=3)
    >>> [name for name, _ in pipe.steps], pipe.get_params()["classifier__epochs"]
    (['scaler', 'classifier'], 3)
    """
    return Pipeline(
        [
            ("scaler", PixelScaler()),
            ("classifier", MNISTClassifier(**classifier_params)),
        ]
    )
