"""MNISTClassifier alone: scikeras put right, and the book's knobs."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags

from sk_mnist import MNISTClassifier

SMALL = dict(hidden_units=16, epochs=5, batch_size=16, learning_rate=0.01)


def test_scikit_learn_sees_a_classifier():
    clf = MNISTClassifier()
    assert is_classifier(clf)
    tags = get_tags(clf)
    assert tags.estimator_type == "classifier"
    assert tags.input_tags.sparse is False
    mro = type(clf).mro()
    assert mro.index(ClassifierMixin) < mro.index(BaseEstimator)


def test_defaults_are_the_books():
    params = MNISTClassifier().get_params()
    assert params["hidden_units"] == 512
    assert params["activation"] == "relu"
    assert params["optimizer"] == "rmsprop"
    assert params["loss"] == "categorical_crossentropy"
    assert params["epochs"] == 5 and params["batch_size"] == 128


def test_network_is_the_books(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=12, epochs=1).fit(X, y)
    hidden, output = clf.model_.layers
    assert hidden.units == 12 and hidden.activation.__name__ == "relu"
    assert output.units == 4 and output.activation.__name__ == "softmax"
    assert type(clf.model_.optimizer).__name__ == "RMSprop"
    assert set(clf.history_) == {"loss", "accuracy"}
    assert len(clf.history_["loss"]) == 1


def test_learns_separable_classes(blobs):
    X, y = blobs
    clf = MNISTClassifier(**SMALL, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2, 3])


def test_string_labels(blobs):
    X, y = blobs
    names = np.array(["zero", "one", "two", "three"])[y]
    clf = MNISTClassifier(**{**SMALL, "epochs": 10}, random_state=0).fit(X, names)
    assert set(clf.predict(X)) <= set(names)
    assert clf.score(X, names) > 0.95
    assert list(clf.classes_) == sorted(set(names))


def test_two_classes_with_categorical_crossentropy(blobs):
    X, y = blobs
    mask = y < 2
    clf = MNISTClassifier(**SMALL, random_state=0).fit(X[mask], y[mask])
    proba = clf.predict_proba(X[mask])
    assert proba.shape == (mask.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.score(X[mask], y[mask]) > 0.95


def test_predict_proba_of_one_sample_stays_2d(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    assert clf.predict_proba(X[:1]).shape == (1, 4)
    assert clf.predict(X[:1]).shape == (1,)


def test_dataframe_input_records_and_checks_feature_names(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    assert clf.predict(frame).shape == (len(y),)
    renamed = frame.rename(columns={"f0": "other"})
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(renamed)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(X)


@pytest.mark.parametrize("seed", [0, 7, None])
def test_initial_kernels_are_glorot_uniforms_own_draws_and_config(seed):
    import keras

    from sk_mnist._seeding import initializer_seeds
    from sk_mnist.network import build_dense_network

    model = build_dense_network(784, 10, seed=seed)
    seeds = [None, None] if seed is None else initializer_seeds(seed, 2)
    for layer, layer_seed in zip(model.layers, seeds):
        initializer = layer.kernel_initializer
        assert type(initializer) is keras.initializers.GlorotUniform
        if seed is not None:
            assert initializer.get_config()["seed"] == layer_seed
        # The kernel drawn flat holds what the initializer draws in its shape.
        drawn = keras.initializers.GlorotUniform(initializer.seed)(layer.kernel.shape)
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        np.testing.assert_array_equal(kernel, keras.ops.convert_to_numpy(drawn))
        assert np.ptp(kernel) > 0.05  # drawn, not constant


def test_same_seed_same_model_different_seed_different_model(blobs):
    X, y = blobs
    first = MNISTClassifier(**SMALL, random_state=1).fit(X, y).predict_proba(X)
    again = MNISTClassifier(**SMALL, random_state=1).fit(X, y).predict_proba(X)
    other = MNISTClassifier(**SMALL, random_state=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_random_state_instances_are_not_all_seed_zero(blobs):
    # scikeras turns every RandomState into seed 0.
    X, y = blobs
    a = MNISTClassifier(**SMALL, random_state=np.random.RandomState(1)).fit(X, y)
    b = MNISTClassifier(**SMALL, random_state=np.random.RandomState(2)).fit(X, y)
    c = MNISTClassifier(**SMALL, random_state=np.random.RandomState(1)).fit(X, y)
    assert not np.allclose(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))


def test_unseeded_fit_works_after_seeded_fit(blobs):
    # scikeras leaves op determinism on; a later unseeded fit then fails.
    from tensorflow.python.framework import config as tf_config

    X, y = blobs
    MNISTClassifier(hidden_units=4, epochs=1, random_state=0).fit(X, y)
    assert not tf_config.is_op_determinism_enabled()
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    assert clf.predict(X).shape == (len(y),)


def test_class_weight_shifts_predictions_and_leaves_sample_weight_alone(blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    X_noisy = X + 0.3 * rng.randn(*X.shape).astype(np.float32)
    sample_weight = np.ones(len(y), dtype=np.float32)
    plain = MNISTClassifier(**SMALL, random_state=0).fit(X_noisy, y)
    weighted = MNISTClassifier(
        **SMALL, class_weight={0: 50, 1: 1, 2: 1, 3: 1}, random_state=0
    ).fit(X_noisy, y, sample_weight=sample_weight)
    assert (weighted.predict(X_noisy) == 0).sum() > (plain.predict(X_noisy) == 0).sum()
    np.testing.assert_array_equal(sample_weight, 1)  # scikeras multiplies in place


def test_balanced_class_weight_recovers_a_rare_class(blobs):
    X, y = blobs
    keep = np.r_[np.flatnonzero(y != 0), np.flatnonzero(y == 0)[:3]]
    params = dict(**SMALL, random_state=0)
    plain = MNISTClassifier(**params).fit(X[keep], y[keep])
    balanced = MNISTClassifier(**params, class_weight="balanced").fit(X[keep], y[keep])
    rare = y == 0
    balanced_proba = balanced.predict_proba(X[rare])[:, 0].mean()
    assert balanced_proba > plain.predict_proba(X[rare])[:, 0].mean() + 0.2


def test_zero_sample_weight_is_removing_the_sample(blobs):
    X, y = blobs
    sample_weight = np.ones(len(y))
    sample_weight[::3] = 0
    params = dict(**SMALL, shuffle=False, random_state=0)
    weighted = MNISTClassifier(**params).fit(X, y, sample_weight=sample_weight)
    removed = MNISTClassifier(**params).fit(X[sample_weight > 0], y[sample_weight > 0])
    np.testing.assert_allclose(
        weighted.predict_proba(X), removed.predict_proba(X), atol=1e-5
    )


def test_integer_sample_weight_is_close_to_repeating_the_sample(blobs):
    # The statistical form of scikit-learn's sample-weight equivalence check.
    X, y = blobs
    rng = np.random.RandomState(0)
    X_noisy = X + 0.2 * rng.randn(*X.shape).astype(np.float32)
    sample_weight = rng.randint(1, 4, size=len(y))
    params = dict(hidden_units=16, epochs=40, batch_size=len(y) * 3, random_state=0)
    weighted = MNISTClassifier(**params).fit(X_noisy, y, sample_weight=sample_weight)
    repeated = MNISTClassifier(**params).fit(
        X_noisy.repeat(sample_weight, axis=0), y.repeat(sample_weight)
    )
    ignored = MNISTClassifier(**params).fit(X_noisy, y)  # weights dropped
    expected = repeated.predict_proba(X)
    difference = np.abs(weighted.predict_proba(X) - expected).mean()
    without_weights = np.abs(ignored.predict_proba(X) - expected).mean()
    # Measured with random_state 0, 1, 2: weighted vs repeated 0.00012-0.00037,
    # weights ignored vs repeated 0.0036-0.0078. The threshold lies between, a
    # factor of about 3 from each; the second assert shows the data tells them apart.
    assert difference < 0.001, difference
    assert without_weights > 0.001, without_weights


def test_grid_parameters_reach_the_network(blobs):
    X, y = blobs
    clf = MNISTClassifier(
        hidden_units=7, optimizer="adam", learning_rate=0.05, epochs=1
    ).fit(X, y)
    assert clf.model_.layers[0].units == 7
    assert type(clf.model_.optimizer).__name__ == "Adam"
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.05)


def test_optimizer_instance_is_not_changed(blobs):
    import keras

    X, y = blobs
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    clf = MNISTClassifier(optimizer=optimizer, learning_rate=0.02, epochs=1)
    clf.fit(X, y)
    cloned = clone(clf).fit(X, y)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert int(optimizer.iterations.numpy()) == 0  # never built nor stepped
    for fitted in (clf, cloned):
        assert fitted.model_.optimizer is not optimizer
        assert float(fitted.model_.optimizer.momentum) == pytest.approx(0.9)
        assert float(fitted.model_.optimizer.learning_rate) == pytest.approx(0.02)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"epochs": -1}, "'epochs' parameter of MNISTClassifier must be an int"),
        ({"hidden_units": 0}, "'hidden_units' parameter"),
        ({"optimizer": "adamx"}, "'optimizer' parameter.*'rmsprop'"),
        ({"learning_rate": 0}, "'learning_rate' parameter"),
        ({"validation_split": 1.0}, "'validation_split' parameter"),
    ],
)
def test_invalid_parameters_say_what_is_allowed(blobs, params, message):
    X, y = blobs
    with pytest.raises(ValueError, match=message):
        MNISTClassifier(**params).fit(X, y)


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="'optimizer__momentum'.*optimizer instance"):
        MNISTClassifier().set_params(optimizer__momentum=0.9)


def test_single_class_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes.*1 class"):
        MNISTClassifier(epochs=1).fit(X, np.zeros(len(X)))


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        MNISTClassifier().predict(np.zeros((2, 784)))


def test_wrong_feature_count_at_predict(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 7 features.*expecting 8 features"):
        clf.predict(X[:, :7])


def test_partial_fit_continues_training(blobs):
    X, y = blobs
    clf = MNISTClassifier(**SMALL, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(4))
    weights = [w.copy() for w in clf.model_.get_weights()]
    clf.partial_fit(X, y)
    assert len(clf.history_["loss"]) == 2
    assert not np.allclose(weights[0], clf.model_.get_weights()[0])


def test_warm_start_keeps_the_network(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, warm_start=True).fit(X, y)
    model = clf.model_
    clf.fit(X, y)
    assert clf.model_ is model


def test_callbacks_and_validation_split_reach_keras(blobs):
    import keras

    X, y = blobs
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=10, patience=1)
    clf = MNISTClassifier(
        hidden_units=4, epochs=20, validation_split=0.25, callbacks=[stop]
    )
    cloned = clone(clf).fit(X, y)  # callbacks survive clone, as in a grid search
    clf.fit(X, y)
    for fitted in (clf, cloned):
        assert len(fitted.history_["loss"]) == 2  # stopped: no 10-unit improvement
        assert {"val_loss", "val_accuracy"} <= set(fitted.history_)


def test_fit_without_weights_makes_no_copy_of_X():
    # scikeras copies X to drop zero-weight rows whenever a weight array is passed.
    import tracemalloc

    X = np.random.RandomState(0).rand(20000, 100).astype(np.float32)
    y = np.arange(len(X)) % 3
    clf = MNISTClassifier(hidden_units=4, epochs=1, batch_size=4096)
    clf.fit(X[:100], y[:100])  # build and trace Keras' functions outside the count
    tracemalloc.start()
    clf.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Keras itself turns X into one tensor (1x); a copy by scikeras makes it 2x.
    assert peak < 1.5 * X.nbytes, peak / X.nbytes


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_run_eagerly_reaches_the_network(blobs, run_eagerly):
    import keras

    X, y = blobs  # 120 rows: one step per epoch at the default batch size
    calls = []

    def loss(y_true, y_pred):  # runs at every step when eager, else at tracing only
        calls.append(1)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    clf = MNISTClassifier(hidden_units=4, epochs=4, loss=loss, run_eagerly=run_eagerly)
    clf.fit(X, y)
    assert clf.model_.run_eagerly is run_eagerly
    if run_eagerly:  # every step (JAX also calls it once more to build)
        assert len(calls) >= clf.epochs
    else:  # traced once (or twice), on either backend, then compiled
        assert 1 <= len(calls) <= 2


@pytest.mark.parametrize("first_call", [True, False])
def test_partial_fit_names_labels_missing_from_classes(blobs, first_call):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1)
    if first_call:
        call = lambda: clf.partial_fit(X, y, classes=[0, 1, 2])  # noqa: E731
        where = r"classes=\[0, 1, 2\]"
    else:
        clf.partial_fit(X[y < 3], y[y < 3])
        call = lambda: clf.partial_fit(X, y)  # noqa: E731
        where = r"the classes of the first partial_fit, \[0, 1, 2\]"
    with pytest.raises(ValueError, match=rf"labels \[3\] that are not in {where}"):
        call()


# --- the predict path ---------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_on_mnist(mnist_small):
    (X, y), _ = mnist_small
    X = X.reshape(len(X), -1).astype(np.float32) / 255
    return MNISTClassifier(hidden_units=64, epochs=2, random_state=0).fit(X, y)


def test_predict_equals_keras_predict_on_the_whole_test_set(fitted_on_mnist, mnist):
    _, (X_test, _) = mnist
    X_test = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
    clf = fitted_on_mnist
    proba = clf.predict_proba(X_test)  # 10000 rows: more than one chunk
    keras_proba = clf.model_.predict(X_test, verbose=0)
    assert proba.dtype == np.float32 and proba.shape == (10000, 10)
    np.testing.assert_allclose(proba, keras_proba, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[keras_proba.argmax(axis=1)]
    )


def test_a_rows_probabilities_do_not_depend_on_its_batch(fitted_on_mnist, mnist):
    _, (X_test, _) = mnist
    X = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
    clf = fitted_on_mnist
    whole = clf.predict_proba(X)  # 10000 rows: 3 calls of the compiled network
    # Batches of 1, 7, 32, 33 rows, at the start, in the middle, across blocks
    # and calls, in big batches: bit for bit the same probabilities (XLA's matrix
    # product differs by 1e-7 from one batch shape to another on both backends).
    for start, stop in [(0, 1), (0, 7), (0, 32), (0, 33), (2, 5), (5, 6), (1, 130)]:
        np.testing.assert_array_equal(
            clf.predict_proba(X[start:stop]), whole[start:stop]
        )
    for start, stop in [(100, 400), (4000, 4097), (4095, 8200), (9999, 10000)]:
        np.testing.assert_array_equal(
            clf.predict_proba(X[start:stop]), whole[start:stop]
        )
    np.testing.assert_array_equal(clf.predict_proba(X[:1024])[:3], whole[:3])
    np.testing.assert_array_equal(clf.predict_proba(X[::-1]), whole[::-1])


def test_the_compiled_network_is_called_once_per_4096_rows(
    fitted_on_mnist, monkeypatch
):
    from sk_mnist import _forward
    from sk_mnist._forward import PREDICT_BLOCK, PREDICT_CALL_BLOCKS, SMALL_BLOCK

    X = np.random.RandomState(0).rand(9000, 784).astype(np.float32)
    forward = _forward.CompiledForwardPass(fitted_on_mnist.model_)
    monkeypatch.setitem(_forward._FORWARD_PASSES, fitted_on_mnist.model_, forward)
    assert forward.small_block_is_exact()  # on both backends' XLA here
    shapes, call = [], forward._call

    def recording(size, block=PREDICT_BLOCK):
        compiled = call(size, block)
        return lambda blocks: shapes.append(blocks.shape) or compiled(blocks)

    monkeypatch.setattr(forward, "_call", recording)
    sizes = [*range(1, 41), 64, 65, 128, 129, 300, 4096, 4097, 9000]
    for n_rows in sizes:
        shapes.clear()
        proba = fitted_on_mnist.predict_proba(X[:n_rows])
        assert proba.shape == (n_rows, 10)
        if n_rows <= SMALL_BLOCK:  # one block of SMALL_BLOCK rows
            assert shapes == [(1, SMALL_BLOCK, 784)], n_rows
            continue
        n_blocks = -(-n_rows // PREDICT_BLOCK)
        # One call per PREDICT_CALL_BLOCKS blocks, each of a power of two of blocks
        assert len(shapes) == -(-n_blocks // PREDICT_CALL_BLOCKS), n_rows
        assert sum(shape[0] for shape in shapes) < 2 * n_blocks
        for size, block, n_features in shapes:
            assert size & (size - 1) == 0 and size <= PREDICT_CALL_BLOCKS
            assert (block, n_features) == (PREDICT_BLOCK, 784)
    # XLA compiles once per number of blocks: 1, 2, 4, ..., PREDICT_CALL_BLOCKS,
    # and once for the small block.
    assert forward.traces <= PREDICT_CALL_BLOCKS.bit_length() + 1


def test_predict_keeps_no_state_in_the_estimator_and_frees_the_network(blobs):
    import gc
    import weakref

    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    before = dict(vars(clf))
    clf.predict_proba(X)
    assert vars(clf).keys() == before.keys()
    assert all(vars(clf)[name] is value for name, value in before.items())
    network = weakref.ref(clf.model_)
    del clf, before
    gc.collect()
    assert network() is None  # the cache of compiled networks holds it weakly


def test_predict_follows_weights_changed_in_place(blobs):
    X, y = blobs
    clf = MNISTClassifier(**SMALL, random_state=0, warm_start=True).fit(X, y)
    for train_more in (lambda: clf.partial_fit(X, y), lambda: clf.fit(X, y)):
        before = clf.predict_proba(X)
        train_more()  # the same network, trained in place
        after = clf.predict_proba(X)
        assert not np.allclose(before, after)
        np.testing.assert_allclose(after, clf.model_.predict(X, verbose=0), atol=1e-6)


def test_predict_refuses_unknown_keywords_and_bad_batch_size(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    with pytest.raises(TypeError, match=r"\['steps'\].*batch_size"):
        clf.predict(X, steps=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int.*got 0"):
        clf.predict_proba(X, batch_size=0)


def test_callbacks_with_predict_hooks_see_the_batches(blobs):
    import keras

    class CountBatches(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_predict_batch_end(self, batch, logs=None):
            self.batches += 1

    X, y = blobs
    param, keyword = CountBatches(), CountBatches()
    clf = MNISTClassifier(hidden_units=4, epochs=1, batch_size=40, callbacks=[param])
    clf.fit(X, y)
    expected = clf.model_.predict(X, verbose=0)
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-6)
    assert param.batches == 3  # 120 rows in batches of 40, through Keras' predict
    clf.set_params(callbacks=None)
    clf.predict(X, callbacks=[keyword], batch_size=60)
    assert keyword.batches == 2


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_run_eagerly_predicts_through_keras(blobs, run_eagerly):
    from sk_mnist._forward import _FORWARD_PASSES

    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, run_eagerly=run_eagerly)
    proba = clf.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba, clf.model_.predict(X, verbose=0), atol=1e-6)
    # Eagerly: Keras' predict, never the compiled forward pass.
    assert (clf.model_ in _FORWARD_PASSES) is not run_eagerly


def test_verbose_predict_runs_keras_predict_with_its_progress_bar(blobs, capsys):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    capsys.readouterr()
    clf.predict_proba(X)
    assert capsys.readouterr().out == ""
    clf.predict_proba(X, verbose=1, batch_size=40)
    assert "3/3" in capsys.readouterr().out  # 120 rows in batches of 40


# --- Promises of issue 21 kept: warm start, validation_split, routed parameters ---


def test_a_second_warm_start_fit_keeps_classes_and_round_trips(blobs, tmp_path):
    from sk_mnist import dump, load

    X, y = blobs
    clf = MNISTClassifier(hidden_units=8, epochs=1, warm_start=True).fit(X, y)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    assert clf.predict(X).shape == (120,) and 0 <= clf.score(X, y) <= 1
    dump(clf, tmp_path / "warm.skmnist")
    loaded = load(tmp_path / "warm.skmnist")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    message = r"warm_start=True got labels \[7\].*warm_start=False"
    with pytest.raises(ValueError, match=message):
        clf.fit(X, np.where(y == 3, 7, y))
    np.testing.assert_array_equal(clf.classes_, np.arange(4))  # the fit rolled back


def test_warm_start_fits_count_epochs_on(blobs):
    # Two warm-start fits of one epoch are one fit of two epochs, bit for bit:
    # the second fit shuffles as epoch 1, not as epoch 0 again.
    X, y = blobs
    params = dict(hidden_units=8, batch_size=16, random_state=0)
    warm = MNISTClassifier(**params, epochs=1, warm_start=True).fit(X, y).fit(X, y)
    cold = MNISTClassifier(**params, epochs=2).fit(X, y)
    np.testing.assert_array_equal(warm.predict_proba(X), cold.predict_proba(X))
    assert len(warm.history_["loss"]) == 2


@pytest.mark.parametrize(
    ("n_samples", "validation_split"),
    [(999, 0.1), (10, 0.05), (120, 0.25), (7, 0.5), (1000, 0.3)],
)
def test_validation_split_cuts_where_keras_cuts(n_samples, validation_split):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    from sk_mnist._seeding import validation_split_of

    X = np.arange(n_samples, dtype=np.float32)[:, None]
    (train, _, _), (validation, _, _) = validation_split_of(
        (X, X[:, 0], None), validation_split
    )
    keras_train, keras_validation = train_validation_split(X, validation_split)
    assert len(validation) == len(keras_validation)
    np.testing.assert_array_equal(train, np.asarray(keras_train))


def test_a_validation_split_keras_accepts_is_accepted(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1, validation_split=0.05)
    clf.fit(X[:40:4], y[:40:4])  # 10 rows: 9 to train on, 1 to validate on
    assert len(clf.history_["val_loss"]) == 1


def test_routed_parameters_in_the_constructor_get_the_message():
    with pytest.raises(TypeError, match="'optimizer__momentum'.*optimizer instance"):
        MNISTClassifier(optimizer__momentum=0.9)
    with pytest.raises(TypeError, match="'hiden_units' \\(did you mean 'hidden_units'"):
        MNISTClassifier(hiden_units=5)


def test_predicts_fast_path_still_refuses_bad_rows(blobs):
    X, y = blobs
    clf = MNISTClassifier(hidden_units=4, epochs=1).fit(X, y)
    for value in (np.nan, np.inf):
        bad = np.full((2, 8), value, np.float32)
        with pytest.raises(ValueError, match="NaN|infinity"):
            clf.predict(bad)
    with pytest.raises(ValueError, match="8 features"):
        clf.predict(np.zeros((2, 9), np.float32))
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict(np.zeros((0, 8), np.float32))
    with pytest.raises(NotFittedError):
        MNISTClassifier().predict(np.zeros((2, 8), np.float32))
