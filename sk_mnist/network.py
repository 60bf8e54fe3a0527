"""The book's network: Dense(hidden, relu) then Dense(n_classes, softmax)."""

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
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(
                hidden_units,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(hidden_seed),
            ),
            keras.layers.Dense(
                n_classes,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(output_seed),
            ),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=list(metrics),
        run_eagerly=run_eagerly,
    )
    return model
