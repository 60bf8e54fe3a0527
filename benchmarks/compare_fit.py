"""Fit time, predict time, accuracy and peak memory: sk_mnist beside what users
would write instead, in one run, as ratios to the book's hand-written Keras code.

Each candidate runs in its own process (so peak RSS is its own) on full MNIST with
the book's settings (Dense(512, relu) -> Dense(10, softmax), rmsprop, 5 epochs, batch
128), unseeded everywhere so no candidate pays for deterministic ops.

    SK_MNIST_DATA=../shared/datasets/mnist python benchmarks/compare_fit.py --repeats 2
"""

import argparse
import json
import resource
import subprocess
import sys
import time

CANDIDATES = {
    "book: Keras by hand": "book_keras",
    "sk_mnist pipeline": "sk_mnist_pipeline",
    "scikeras KerasClassifier + manual scaling": "scikeras_plain",
    "scikit-learn MLPClassifier(512,), adam, 5 epochs": "sklearn_mlp",
}


def _data():
    from sk_mnist import load_mnist

    return load_mnist()


def _scaled_by_hand():
    """MNIST preprocessed as the book does it, outside any model."""
    (X_train, y_train), (X_test, y_test) = _data()
    X_train = X_train.reshape((60000, 28 * 28)).astype("float32") / 255
    X_test = X_test.reshape((10000, 28 * 28)).astype("float32") / 255
    return (X_train, y_train), (X_test, y_test)


def _timed(fit, predict, y_test):
    """Seconds to fit, seconds to predict, and the test accuracy."""
    start = time.perf_counter()
    fit()
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = predict()
    predict_seconds = time.perf_counter() - start
    return fit_seconds, predict_seconds, float((predicted == y_test).mean())


def _book_network(n_features=784, n_classes=10):
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


def book_keras():
    import keras

    (X_train, y_train), (X_test, y_test) = _scaled_by_hand()
    Y_train = keras.utils.to_categorical(y_train)
    network = _book_network()
    network.compile(
        optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"]
    )
    return _timed(
        lambda: network.fit(X_train, Y_train, epochs=5, batch_size=128, verbose=0),
        lambda: network.predict(X_test, batch_size=128, verbose=0).argmax(axis=1),
        y_test,
    )


def sk_mnist_pipeline():
    from sk_mnist import make_mnist_pipeline

    (X_train, y_train), (X_test, y_test) = _data()  # raw: the pipeline scales
    model = make_mnist_pipeline()
    return _timed(
        lambda: model.fit(X_train, y_train), lambda: model.predict(X_test), y_test
    )


def scikeras_plain():
    from scikeras.wrappers import KerasClassifier

    (X_train, y_train), (X_test, y_test) = _scaled_by_hand()
    model = KerasClassifier(
        lambda meta: _book_network(meta["n_features_in_"], meta["n_classes_"]),
        loss="categorical_crossentropy",
        optimizer="rmsprop",
        metrics=["accuracy"],
        epochs=5,
        batch_size=128,
        verbose=0,
    )
    return _timed(
        lambda: model.fit(X_train, y_train), lambda: model.predict(X_test), y_test
    )


def sklearn_mlp():
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    (X_train, y_train), (X_test, y_test) = _scaled_by_hand()
    model = MLPClassifier(hidden_layer_sizes=(512,), batch_size=128, max_iter=5)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)

    return _timed(fit, lambda: model.predict(X_test), y_test)


def _run_child(function_name):
    fit, predict, accuracy = globals()[function_name]()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(fit=fit, predict=predict, accuracy=accuracy, peak=peak_mib)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _run_child(args.child)

    rows = {}
    for _ in range(args.repeats):
        for label, function_name in CANDIDATES.items():
            out = subprocess.run(
                [sys.executable, __file__, "--child", function_name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            rows.setdefault(label, []).append(result)

    def best(label, key):
        values = [r[key] for r in rows[label]]
        return min(values) if key != "accuracy" else sum(values) / len(values)

    base = next(iter(CANDIDATES))
    print(f"best of {args.repeats} run(s) per candidate; ratios to '{base}'\n")
    print(
        "| candidate | fit s | fit ratio | predict s | predict ratio "
        "| peak RSS MiB | memory ratio | test accuracy |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label in CANDIDATES:
        fit, predict = best(label, "fit"), best(label, "predict")
        peak, accuracy = best(label, "peak"), best(label, "accuracy")
        print(
            f"| {label} | {fit:.1f} | {fit / best(base, 'fit'):.2f} "
            f"| {predict:.2f} | {predict / best(base, 'predict'):.2f} "
            f"| {peak:.0f} | {peak / best(base, 'peak'):.2f} | {accuracy:.4f} |"
        )


if __name__ == "__main__":
    main()
