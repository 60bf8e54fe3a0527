"""Every kind of wrong input gets a clear ValueError or TypeError, never a wrong answer.

One table: each row is the input, the exception expected and words its message
must hold (what was expected, what was got, or what to do).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sk_mnist import MNISTClassifier, load_mnist, make_mnist_pipeline

TINY = dict(hidden_units=8, epochs=1, batch_size=64)


@pytest.fixture(scope="module")
def data(mnist_small):
    (X, y), _ = mnist_small
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_mnist_pipeline(**TINY, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def fitted_clf(data):
    X, y = data
    return MNISTClassifier(**TINY, random_state=0).fit(X.reshape(len(X), -1) / 255, y)


def _fit(X, y, **params):
    return make_mnist_pipeline(**{**TINY, **params}).fit(X, y)


def _flat(X):
    return X.reshape(len(X), -1)


def _objects(X):
    bad = _flat(X).astype(object)
    bad[0, 0] = object()
    return bad


# (id, call(pipe, clf, X, y), exception, regex the message must match)
PREDICT_CASES = [
    ("783 features", lambda p, c, X, y: p.predict(_flat(X)[:, :783]),
     ValueError, "X has 783 features, but PixelScaler is expecting 784"),
    ("785 features", lambda p, c, X, y: p.predict(_flat(X)[:, [0, *range(784)]]),
     ValueError, "X has 785 features, but PixelScaler is expecting 784"),
    ("27x27 images", lambda p, c, X, y: p.predict(X[:, :27, :27]),
     ValueError, r"shape \(28, 28\).*\(27, 27\).*Resize"),
    ("56x14 images, 784 pixels", lambda p, c, X, y: p.predict(X.reshape(-1, 56, 14)),
     ValueError, r"shape \(28, 28\).*\(56, 14\).*Resize"),
    ("colour images", lambda p, c, X, y: p.predict(np.stack([X] * 3, axis=-1)),
     ValueError, r"grayscale.*\(300, 28, 28, 3\).*one grayscale channel"),
    ("one flat image", lambda p, c, X, y: p.predict(_flat(X)[0]),
     ValueError, r"1-D array of shape \(784,\).*reshape\(1, -1\)"),
    ("one 28x28 image", lambda p, c, X, y: p.predict(X[0]),
     ValueError, r"shape \(28, 28\).*X\[np.newaxis\]"),
    ("NaN", lambda p, c, X, y: p.predict(np.where(X == 0, np.nan, X)),
     ValueError, "Input X contains NaN"),
    ("inf", lambda p, c, X, y: p.predict(np.where(X == 0, np.inf, X)),
     ValueError, "Input X contains infinity"),
    ("negative pixels", lambda p, c, X, y: p.predict(X.astype(int) - 1),
     ValueError, "Negative values.*0 to 255.*raw images"),
    ("pixels above 255", lambda p, c, X, y: p.predict(X.astype(int) + 1),
     ValueError, "Values above 255.*got values from 1 to 256"),
    ("strings", lambda p, c, X, y: p.predict(X.astype(str)),
     ValueError, "strings.*Convert your data to numeric"),
    ("objects", lambda p, c, X, y: p.predict(_objects(X)),
     TypeError, "expects numbers.*Convert your images to a numeric"),
    ("empty X", lambda p, c, X, y: p.predict(X[:0]),
     ValueError, "0 sample"),
    ("sparse X", lambda p, c, X, y: p.predict(sp.csr_matrix(_flat(X))),
     TypeError, "Sparse data.*toarray"),
    ("classifier: 783 features", lambda p, c, X, y: c.predict(_flat(X)[:, :783] / 255),
     ValueError, "X has 783 features, but MNISTClassifier is expecting 784"),
    ("classifier: NaN", lambda p, c, X, y: c.predict(np.full((2, 784), np.nan)),
     ValueError, "Input X contains NaN"),
    ("classifier: strings", lambda p, c, X, y: c.predict(np.full((2, 784), "x")),
     ValueError, "could not convert string to float"),
    ("classifier: sparse", lambda p, c, X, y: c.predict(sp.csr_matrix(_flat(X) / 255)),
     TypeError, "Sparse data"),
    ("classifier: 3-D", lambda p, c, X, y: c.predict(X / 255),
     ValueError, "Found array with dim 3"),
]  # fmt: skip

FIT_CASES = [
    ("empty X", lambda X, y: _fit(X[:0], y[:0]),
     ValueError, "0 sample"),
    ("X, y of different lengths", lambda X, y: _fit(X, y[:-1]),
     ValueError, r"inconsistent numbers of samples: \[300, 299\]"),
    ("a single class", lambda X, y: _fit(X, np.zeros(len(y))),
     ValueError, "at least 2 classes.*y has 1 class"),
    ("NaN in y", lambda X, y: _fit(X, np.where(y == 1, np.nan, y)),
     ValueError, "Input y contains NaN"),
    ("continuous y", lambda X, y: _fit(X, np.linspace(0, 1, len(y))),
     ValueError, "Unknown label type: continuous"),
    ("one-hot y", lambda X, y: _fit(X, np.eye(10)[y]),
     ValueError, "y should be a 1d array"),
    ("sparse X", lambda X, y: _fit(sp.csr_matrix(_flat(X)), y),
     TypeError, "Sparse data"),
    ("NaN in X", lambda X, y: _fit(np.where(X == 0, np.nan, X), y),
     ValueError, "Input X contains NaN"),
    ("epochs=-1", lambda X, y: _fit(X, y, epochs=-1),
     ValueError, r"'epochs' parameter of MNISTClassifier must be an int in the "
     r"range \[1, inf\)\. Got -1"),
    ("hidden_units=0", lambda X, y: _fit(X, y, hidden_units=0),
     ValueError, "'hidden_units' parameter of MNISTClassifier must be an int.*Got 0"),
    ("unknown optimizer", lambda X, y: _fit(X, y, optimizer="adamm"),
     ValueError, "'optimizer' parameter of MNISTClassifier must be a str "
     "among.*rmsprop.*Got 'adamm'"),
    ("batch_size=0", lambda X, y: _fit(X, y, batch_size=0),
     ValueError, "'batch_size' parameter"),
    ("routed parameter", lambda X, y: MNISTClassifier().set_params(optimizer__rho=0.9),
     ValueError, "routed parameters are not supported"),
    ("partial_fit: label not in classes",
     lambda X, y: MNISTClassifier(**TINY).partial_fit(_flat(X) / 255, y,
                                                      classes=range(5)),
     ValueError, r"labels \[5, 6, 7, 8, 9\] that are not in classes=\[0, 1, 2, 3, 4\]"
     r".*on the first call"),
]  # fmt: skip


@pytest.mark.parametrize(
    "call, error, match",
    [case[1:] for case in PREDICT_CASES],
    ids=[case[0] for case in PREDICT_CASES],
)
def test_bad_input_at_predict(fitted, fitted_clf, data, call, error, match):
    X, y = data
    before = fitted.predict_proba(X[:5])
    with pytest.raises(error, match=match):
        call(fitted, fitted_clf, X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X[:5]), before)


@pytest.mark.parametrize(
    "call, error, match",
    [case[1:] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
def test_bad_input_at_fit(data, call, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        call(X, y)


@pytest.mark.parametrize(
    "estimator",
    [make_mnist_pipeline(), MNISTClassifier()],
    ids=["pipeline", "classifier"],
)
def test_predict_before_fit(data, estimator):
    X, _ = data
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        estimator.predict(_flat(X) / 255)


@pytest.fixture(scope="module")
def frames():
    (X, y), _ = load_mnist(as_frame=True)
    X, y = X[:300], y[:300]
    return X, y, make_mnist_pipeline(**TINY, random_state=0).fit(X, y)


def test_dataframe_columns_renamed_or_reordered_are_refused(frames):
    X, _, pipe = frames
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        pipe.predict(X[:5].rename(columns=lambda name: name + "_x"))
    with pytest.raises(ValueError, match="must be in the same order"):
        pipe.predict(X[:5][X.columns[::-1]])


def test_dataframe_and_array_mixed_warn_as_scikit_learn_does(frames, fitted, data):
    X, _, pipe = frames
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        array_pred = pipe.predict(X[:5].to_numpy())
    np.testing.assert_array_equal(array_pred, pipe.predict(X[:5]))
    with pytest.warns(UserWarning, match="X has feature names, but PixelScaler"):
        fitted.predict(X[:5])


def test_valid_numeric_objects_are_accepted(fitted, data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            fitted.predict(_flat(X).astype(object)), fitted.predict(X)
        )
