"""What determinism costs: fit time of the book pipeline, seeded vs unseeded.

``random_state=0`` seeds Keras and switches on TensorFlow's op determinism for
the fit; ``random_state=None`` does neither. Fits alternate between the two so
that a change in machine load hits both alike.

Run: ``SK_MNIST_DATA=/path/to/mnist python benchmarks/determinism.py [--repeats 2]``
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from sk_mnist import load_mnist, make_mnist_pipeline

    (X_train, y_train), (X_test, y_test) = load_mnist()
    make_mnist_pipeline(epochs=1).fit(X_train[:1000], y_train[:1000])  # warm up TF
    times = {0: [], None: []}
    for repeat in range(args.repeats):
        for random_state in (0, None):
            pipe = make_mnist_pipeline(random_state=random_state)
            start = time.perf_counter()
            pipe.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            times[random_state].append(seconds)
            print(
                f"repeat {repeat} random_state={random_state!s:4} fit {seconds:6.2f} s"
                f"  test accuracy {pipe.score(X_test, y_test):.4f}",
                flush=True,
            )
    seeded, unseeded = min(times[0]), min(times[None])
    print(
        f"best fit time: deterministic {seeded:.2f} s, unseeded {unseeded:.2f} s, "
        f"ratio {seeded / unseeded:.2f}"
    )


if __name__ == "__main__":
    main()
