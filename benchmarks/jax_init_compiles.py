"""What building the book's network costs on JAX: its initial draws' XLA compiles.

JAX compiles a random draw once per shape and process. sk_mnist draws each Dense
kernel as one flat vector, then reshapes it (``sk_mnist.network._drawn_flat``);
Keras' own ``GlorotUniform`` draws it in its shape. Each variant builds the
network in a fresh process, the two in turn, ``--pairs`` times; the script prints
the seconds XLA spent compiling draws (``jax_log_compiles``) and the build's wall
time, and the paired ratios.

    python benchmarks/jax_init_compiles.py --pairs 3
"""

import argparse
import os
import subprocess
import sys

CHILD = """
import logging, os, re, sys, time
os.environ["KERAS_BACKEND"] = "jax"
import jax
jax.config.update("jax_log_compiles", True)
compiles = []
class Record(logging.Handler):
    def emit(self, record):
        found = re.search(r"XLA compilation of jit\\((\\w+)\\) in ([0-9.]+) sec",
                          record.getMessage())
        if found and found.group(1) == "_uniform":
            compiles.append(float(found.group(2)))
logging.getLogger("jax").addHandler(Record())
logging.getLogger("jax").setLevel(logging.WARNING)
import sk_mnist.network as network
if sys.argv[1] == "shaped":
    network._drawn_flat = lambda initializer: initializer  # Keras' own draw
start = time.perf_counter()
network.build_dense_network(784, 10, seed=0)
print(sum(compiles), time.perf_counter() - start)
"""


def run(variant):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, variant],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    compiles, build = (float(x) for x in done.stdout.split()[-2:])
    return compiles, build


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    pairs = parser.parse_args().pairs
    rows = []
    for i in range(pairs):
        order = ("flat", "shaped") if i % 2 == 0 else ("shaped", "flat")
        rows.append({variant: run(variant) for variant in order})
    print("pair | draws compiled, flat / shaped (s) | build, flat / shaped (s) | ratio")
    for i, row in enumerate(rows, 1):
        (fc, fb), (sc, sb) = row["flat"], row["shaped"]
        print(f"{i} | {fc:.2f} / {sc:.2f} | {fb:.2f} / {sb:.2f} | {fb / sb:.2f}")


if __name__ == "__main__":
    main()
