"""What determinism costs: fit time of the book pipeline, seeded vs unseeded.

``random_state=0`` seeds Keras and switches on TensorFlow's op determinism for
the fit; ``random_state=None`` does neither. Fits alternate between the two so
that a change in machine load hits both alike. Wall time and the process's CPU
time (all threads) are both printed: on a shared machine, CPU time is the steadier.

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
    cpu = {0: [], None: []}
    for repeat in range(args.repeats):
        for random_state in (0, None):
            pipe = make_mnist_pipeline(random_state=random_state)
            start, start_cpu = time.perf_counter(), time.process_time()
            pipe.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - start_cpu
            times[random_state].append(seconds)
            cpu[random_state].append(cpu_seconds)
            print(
                f"repeat {repeat} random_state={random_state!s:4} "
                f"fit {seconds:6.2f} s (CPU {cpu_seconds:6.2f} s)"
                f"  test accuracy {pipe.score(X_test, y_test):.4f}",
                flush=True,
            )
    for what, measured in (("wall", times), ("CPU", cpu)):
        seeded, unseeded = min(measured[0]), min(measured[None])
        print(
            f"best {what} time: deterministic {seeded:.2f} s, unseeded "
            f"{unseeded:.2f} s, ratio {seeded / unseeded:.2f}"
        )


if __name__ == "__main__":
    main()
