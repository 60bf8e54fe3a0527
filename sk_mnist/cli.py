"""Command line: ``python -m sk_mnist`` (or ``sk-mnist``) runs the book's example."""

import argparse
import sys
import time

__all__ = ["main"]


def _book_example(args):
    from sk_mnist import load_mnist, make_mnist_pipeline

    (X_train, y_train), (X_test, y_test) = load_mnist(data_home=args.data)
    pipeline = make_mnist_pipeline(
        epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=args.random_state,
        verbose=2,  # Keras prints one line per epoch
    )
    print(f"Training on {len(X_train)} MNIST images for {args.epochs} epochs ...")
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    accuracy = pipeline.score(X_test, y_test)
    print(f"fit time: {fit_seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} on {len(X_test)} images")
    return 0


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="sk-mnist",
        description=(
            "Train the first network of 'Deep Learning with Python' (chapter 2.1) "
            "on MNIST as one scikit-learn pipeline and report its test accuracy."
        ),
    )
    parser.add_argument("--epochs", type=int, default=5, help="default: 5")
    parser.add_argument("--batch-size", type=int, default=128, help="default: 128")
    parser.add_argument("--random-state", type=int, default=0, help="default: 0")
    parser.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="folder with the MNIST IDX files or mnist.npz (default: $SK_MNIST_DATA, "
        "else keras.datasets)",
    )
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    from sk_mnist.datasets import MNISTNotFoundError

    try:
        return _book_example(args)
    except (MNISTNotFoundError, ValueError) as exc:
        print(f"sk-mnist: error: {exc}", file=sys.stderr)
        return 2
