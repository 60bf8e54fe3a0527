"""What scikeras' import of TensorFlow costs a process on the JAX backend.

Each case runs in a fresh process under ``KERAS_BACKEND=jax``: the import
time (from before the interpreter starts to the end of the import) and the peak
RSS, best of ``--repeats``.

    python benchmarks/import_cost.py --repeats 3
"""

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {
    "import sk_mnist.classifier (TensorFlow importable, as installed)": (
        "import sk_mnist.classifier"
    ),
    "import sk_mnist.classifier, TensorFlow blocked": (
        "import sys; sys.modules['tensorflow'] = None; import sk_mnist.classifier"
    ),
    "import keras alone": "import keras",
}

_REPORT = (
    "; import resource, json, sys; print(json.dumps(["
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
    " 'tensorflow' in sys.modules and sys.modules['tensorflow'] is not None]))"
)


def run_case(code):
    """Wall time (s), peak RSS (MiB) and whether TensorFlow was imported."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.perf_counter() - start
    rss, tensorflow = json.loads(out.strip().splitlines()[-1])
    return wall, rss, tensorflow


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    runs = {name: [] for name in CASES}
    for _ in range(args.repeats):  # interleaved, so that noise hits every case
        for name, code in CASES.items():
            runs[name].append(run_case(code))
    base = min(wall for wall, _, _ in runs["import keras alone"])
    print(f"KERAS_BACKEND=jax, best of {args.repeats}, each in a fresh process")
    print("| case | import s | ratio to keras | peak RSS MiB | TensorFlow loaded |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, results in runs.items():
        wall = min(r[0] for r in results)
        rss = min(r[1] for r in results)
        print(
            f"| {name} | {wall:.2f} | {wall / base:.2f} | {rss:.0f} "
            f"| {'yes' if results[0][2] else 'no'} |"
        )


if __name__ == "__main__":
    main()
