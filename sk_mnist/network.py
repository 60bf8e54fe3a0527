"""The book's network: Dense(hidden, relu) then Dense(n_classes, softmax)."""

import keras

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

    Returns
    -------
    model : keras.Sequential
        The compiled, untrained network.
    """
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(hidden_units, activation=activation),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=list(metrics),
        run_eagerly=run_eagerly,
    )
    return model
