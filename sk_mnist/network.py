"""The book's network: Dense(hidden, relu) then Dense(n_classes, softmax)."""

import math

import keras

from sk_mnist._seeding import initializer_seeds

__all__ = ["build_dense_network"]


def build_dense_network(
    n_features,
    n_classes,
    *,
    hidden_units=512,
    activation="relu",
    optimizer="rmsprop",
    loss="categorical_crossentropy",
    metrics=("accuracy",),
    run_eagerly=False,
    seed=None,
):
    """Build and compile the network of "Deep Learning with Python", chapter 2.1.

    A module-level function, so that a pickled classifier refers to
    ``sk_mnist.network`` and never to a notebook's or ``__main__``'s code.

    Parameters
    ----------
    n_features : int
        Length of one input row (784 for flattened MNIST images).
    n_classes : int
        Number of output units, one per class.
    hidden_units : int, default=512
        Units of the hidden Dense layer.
    activation : str or callable, default="relu"
        Activation of the hidden layer.
    optimizer : str or keras.optimizers.Optimizer, default="rmsprop"
        Passed to ``Model.compile``.
    loss : str or keras.losses.Loss, default="categorical_crossentropy"
        Passed to ``Model.compile``.
    metrics : sequence, default=("accuracy",)
        Passed to ``Model.compile``.
    run_eagerly : bool, default=False
        Passed to ``Model.compile``: run the train step eagerly, for debugging.
    seed : int, default=None
        Seeds the layers' Glorot-uniform kernel initializers (one seed each, see
        :func:`sk_mnist._seeding.initializer_seeds`): the same seed gives the same
        weights in any thread or process. None draws seeds the Keras way, from
        Python's global ``random``.

    Returns
    -------
    model : keras.Sequential
        The compiled, untrained network.
    """
    hidden_seed, output_seed = (
        (None, None) if seed is None else initializer_seeds(seed, 2)
    )
    initializers = [
        keras.initializers.GlorotUniform(hidden_seed),
        keras.initializers.GlorotUniform(output_seed),
    ]
    hidden, output = (
        keras.layers.Dense(
            units,
            activation=layer_activation,
            kernel_initializer=_drawn_flat(initializer),
        )
        for units, layer_activation, initializer in zip(
            (hidden_units, n_classes), (activation, "softmax"), initializers
        )
    )
    model = keras.Sequential([keras.Input(shape=(n_features,)), hidden, output])
    for layer, initializer in zip((hidden, output), initializers):
        layer.kernel_initializer = initializer  # what the network's config says
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=list(metrics),
        run_eagerly=run_eagerly,
    )
    return model


def _drawn_flat(initializer):
    """A Dense kernel's ``GlorotUniform`` draw, made as one flat vector then reshaped.

    The values are those of ``initializer(shape)``, bit for bit (random ops fill
    a shape in row-major order; ``tests/test_classifier.py`` checks it, on each
    backend). On JAX a draw is compiled per shape, and a flat one compiles
    faster than a small 2-D one: the manual's Measurements page has the figures
    (``benchmarks/jax_init_compiles.py``).
    """

    def draw(shape, dtype=None):
        fan_in, fan_out = shape
        scale = initializer.scale / max(1.0, (fan_in + fan_out) / 2.0)
        limit = math.sqrt(3.0 * scale)  # as keras.initializers.VarianceScaling
        flat = keras.random.uniform(
            (fan_in * fan_out,),
            minval=-limit,
            maxval=limit,
            dtype=dtype,
            seed=initializer.seed,
        )
        return keras.ops.reshape(flat, shape)

    return draw
