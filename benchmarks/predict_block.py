"""How ``PREDICT_BLOCK`` trades one-row latency against throughput.

Fits the book's pipeline for one epoch on 3000 images, then, in this one process
and round-robin over three rounds, sets ``sk_mnist.classifier.PREDICT_BLOCK`` to each
size given, and times ``predict_proba`` of one image (median of 100 calls) and of
the 10000 test images (one call), best of the rounds. It also checks that rows come
out the same alone and in the whole batch. Run it once per backend:

    SK_MNIST_DATA=/path/to/mnist python benchmarks/predict_block.py 16 32 64 128
    KERAS_BACKEND=jax SK_MNIST_DATA=/path/to/mnist python benchmarks/predict_block.py
"""

import argparse
import time

import numpy as np

import sk_mnist.classifier as classifier
from sk_mnist import load_mnist, make_mnist_pipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("blocks", type=int, nargs="*", default=[16, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    (X, y), (X_test, _) = load_mnist()
    pipe = make_mnist_pipeline(epochs=1, random_state=0, verbose=0)
    pipe.fit(X[:3000], y[:3000])
    one = {block: [] for block in args.blocks}
    whole = {block: [] for block in args.blocks}
    same = {block: True for block in args.blocks}
    for _ in range(args.rounds):
        for block in args.blocks:
            classifier.PREDICT_BLOCK = block
            classifier._FORWARD_PASSES.clear()
            pipe.predict_proba(X_test[:1])  # compile
            times = []
            for i in range(100):
                start = time.perf_counter()
                pipe.predict_proba(X_test[i : i + 1])
                times.append(time.perf_counter() - start)
            one[block].append(np.median(times))
            start = time.perf_counter()
            proba = pipe.predict_proba(X_test)
            whole[block].append(time.perf_counter() - start)
            same[block] &= np.array_equal(pipe.predict_proba(X_test[5:8]), proba[5:8])
    print("| block | one image, p50 (ms) | 10000 images (s) | rows as in the batch |")
    print("|---:|---:|---:|---|")
    for block in args.blocks:
        print(
            f"| {block} | {1e3 * min(one[block]):.2f} | {min(whole[block]):.3f} "
            f"| {'yes' if same[block] else 'no'} |"
        )


if __name__ == "__main__":
    main()
