"""PixelScaler: images of 0..255 pixels to flat float32 rows of 0..1."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import validate_data

from sk_mnist import _versions
from sk_mnist._aligned import aligned_empty

__all__ = ["AlreadyScaledWarning", "PixelScaler"]

MAX_PIXEL = 255


class AlreadyScaledWarning(UserWarning):
    """Warns that pixels look scaled to 0..1 already and will be divided again."""


def _flatten_images(X):
    """Flatten (n, h, w) images to (n, h*w); leave 2-D input and DataFrames alone."""
    if hasattr(X, "iloc") or hasattr(X, "tocsr"):  # DataFrame or sparse matrix
        return X
    X = np.asarray(X)
    if X.ndim == 3:
        return X.reshape(X.shape[0], X.shape[1] * X.shape[2])
    if X.ndim == 1:
        raise ValueError(
            f"PixelScaler expects a batch of images: an array of shape "
            f"(n_samples, 28, 28) or (n_samples, 784); got a 1-D array of shape "
            f"{X.shape}. Reshape your data: for a single image use X[np.newaxis] "
            "or X.reshape(1, -1)."
        )
    if X.ndim > 3:
        raise ValueError(
            f"PixelScaler expects grayscale images of shape (n_samples, 28, 28) or "
            f"flat rows (n_samples, 784); got shape {X.shape}. Convert colour "
            "images to one grayscale channel first."
        )
    return X


def _shape(X):
    """The shape of an array-like, None for DataFrames and ragged lists."""
    if hasattr(X, "iloc"):
        return None
    if hasattr(X, "shape"):
        return tuple(X.shape)
    try:
        return np.asarray(X).shape
    except (ValueError, TypeError):  # ragged lists: validation says what is wrong
        return None


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Flatten images and map pixel values 0..255 to 0..1 as float32.

    The transformer is stateless: the mapping ``x / 255`` is fixed. ``fit``
    only records the number of features (and their names, for DataFrames) so
    that later calls are checked against them.

    Images of shape (n_samples, height, width) are flattened to
    (n_samples, height * width); 2-D arrays and DataFrames are taken as they are.
    The image shape seen in ``fit`` is kept: later images must have it (a
    pipeline fitted on 28x28 digits refuses 56x14 ones, though both have 784
    pixels), while flat rows of as many pixels are taken as flattened images.
    After a fit on flat rows the image shape is unknown: images are then taken
    only when square with as many pixels.
    NaN, infinity, negative values and values above 255 are refused. When every
    value is within 0..1 already (and not all zero), an :class:`AlreadyScaledWarning`
    is issued: the data was most likely scaled twice.

    Attributes
    ----------
    n_features_in_ : int
        Number of features (pixels per image) seen during ``fit``.
    image_shape_ : tuple of int or None
        ``(height, width)`` of the images seen during ``fit``; None when it was
        given flat rows or a DataFrame.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, for DataFrame input only.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : Learns the range from the data instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mnist import PixelScaler
    >>> images = np.full((2, 28, 28), 255, dtype=np.uint8)
    >>> Xt = PixelScaler().fit_transform(images)
    >>> Xt.shape, Xt.dtype, float(Xt.max())
    ((2, 784), dtype('float32'), 1.0)
    """

    def fit(self, X, y=None):
        """Record the number of features (and names) of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, n_features)
            Images with pixel values in 0..255.
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
            The fitted transformer.
        """
        self._validate(X, reset=True)
        shape = _shape(X)
        self.image_shape_ = None
        if shape is not None and len(shape) == 3:
            self.image_shape_ = (int(shape[1]), int(shape[2]))
        return self

    def transform(self, X):
        """Flatten ``X`` and divide it by 255.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, n_features)
            Images with pixel values in 0..255.

        Returns
        -------
        X_scaled : ndarray of shape (n_samples, n_features), dtype float32
            Pixel values in 0..1.
        """
        X_given = X
        X = self._raw_images(X)
        if X is None:  # not plain uint8 images of the fitted shape: check all
            X = self._validate(X_given, reset=False)
        # The only copy: float32, never float64, in a buffer that TensorFlow's
        # fit reads in place (sk_mnist._aligned).
        X_scaled = aligned_empty(X.shape, np.float32)
        np.copyto(X_scaled, X, casting="unsafe")
        X_scaled /= np.float32(MAX_PIXEL)
        return X_scaled

    def _raw_images(self, X):
        """``X`` flattened if it is what a fitted scaler needs no check for, else None.

        A NumPy uint8 array of at least one image of the fitted shape (or rows of
        the fitted length), fitted without feature names, whose pixels are not
        all 0 or 1: every pixel is a number in 0..255 and nothing would warn. The
        check costs microseconds where ``validate_data`` costs about 0.1 ms, most
        of the time of one image through the pipeline.
        """
        if type(X) is not np.ndarray or X.dtype != np.uint8 or not len(X):
            return None
        if hasattr(self, "feature_names_in_"):
            return None
        fitted = getattr(self, "image_shape_", None)
        if X.ndim == 3 and fitted is not None and X.shape[1:] == tuple(fitted):
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[1] != getattr(self, "n_features_in_", None):
            return None
        if X.max() <= 1:  # may warn that the images look scaled already
            return None
        return X

    def _validate(self, X, *, reset):
        if not reset:
            self._check_image_shape(X)
        try:
            X = validate_data(
                self,
                _flatten_images(X),
                reset=reset,
                dtype="numeric",
                accept_sparse=False,
            )
        except TypeError as exc:
            if "Sparse data" in str(exc):
                raise
            raise TypeError(
                f"PixelScaler expects numbers (pixel values 0..255); got values it "
                f"cannot convert to numbers ({exc}). Convert your images to a "
                "numeric NumPy array, e.g. np.asarray(images, dtype=np.uint8)."
            ) from exc
        if X.size == 0:
            return X
        low, high = X.min(), X.max()
        if low < 0 or high > MAX_PIXEL:
            problem = "Negative values in data" if low < 0 else "Values above 255"
            raise ValueError(
                f"{problem} passed to PixelScaler: it expects pixel values from 0 to "
                f"{MAX_PIXEL}, got values from {low} to {high}. Pass the raw images "
                "(uint8 0..255), not standardised or otherwise transformed data."
            )
        if high <= 1 and high > 0 and not reset:
            warnings.warn(
                "Every pixel is within 0..1: the images look scaled already, and "
                f"PixelScaler will divide them by {MAX_PIXEL} again. Pass the raw "
                "0..255 images to the pipeline.",
                AlreadyScaledWarning,
                stacklevel=3,
            )
        return X

    def _check_image_shape(self, X):
        """Say what is wrong with images whose shape differs from those of fit."""
        n_features = getattr(self, "n_features_in_", None)
        shape = _shape(X)
        if n_features is None or shape is None:
            return
        fitted_shape = getattr(self, "image_shape_", None)
        if len(shape) == 3 and fitted_shape is not None:
            if tuple(shape[1:]) != tuple(fitted_shape):
                raise ValueError(
                    f"PixelScaler was fitted on images of shape {tuple(fitted_shape)}"
                    f"; got images of shape {tuple(shape[1:])}. Resize the images "
                    "to the shape seen in fit."
                )
        elif len(shape) == 3:  # fitted on flat rows: the image shape is unknown
            height, width = shape[1:]
            if height * width != n_features or height != width:
                raise ValueError(
                    f"PixelScaler was fitted on flat rows of {n_features} pixels, "
                    f"so it takes images only when square with as many pixels; got "
                    f"images of shape {(height, width)}. Resize the images, or fit "
                    "on images of shape (n_samples, height, width)."
                )
        if len(shape) == 2 and shape[0] * shape[1] == n_features and shape[0] > 1:
            raise ValueError(
                f"PixelScaler got a 2-D array of shape {shape}, the size of one "
                f"image of {n_features} pixels, but it expects a batch: "
                "(n_samples, height, width) or (n_samples, n_features). For a "
                "single image use X[np.newaxis]."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def __getstate__(self):
        return _versions.add_versions(dict(super().__getstate__()))

    def __setstate__(self, state):
        super().__setstate__(_versions.pop_versions(state, type(self).__name__))
