"""What TensorFlow costs a process on the JAX backend, before and after _scikeras.

Each case runs in a fresh process under ``KERAS_BACKEND=jax``, with TensorFlow
installed: the wall time (from before the interpreter starts to its end) and the
peak RSS, best of ``--repeats``, the cases interleaved so that noise hits each.

- imports: ``import sk_mnist.classifier`` as sk_mnist does it now
  (``sk_mnist/_scikeras.py`` imports scikeras with TensorFlow hidden), the old way
  (scikeras imported first, which loads TensorFlow), with TensorFlow blocked, and
  ``import keras`` alone;
- cold start: ``import sk_mnist``, ``sk_mnist.load`` of a saved model and one
  prediction, now and the old way. The model (the book's network, 1 epoch on 1000
  images) is fitted and saved once, under JAX, before the runs.

    python benchmarks/import_cost.py --repeats 3 [--cold-start-only]

On a loaded machine the wall times swell with the load; the CPU times less so.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# Before sk_mnist existed as it is now, sk_mnist.classifier imported scikeras
# directly, and scikeras imported TensorFlow: importing scikeras first repeats it.
OLD_WAY = "import scikeras.wrappers; "

CASES = {
    "import sk_mnist.classifier (now)": "import sk_mnist.classifier",
    "import sk_mnist.classifier (old way: scikeras first)": (
        OLD_WAY + "import sk_mnist.classifier"
    ),
    "import sk_mnist.classifier, TensorFlow blocked": (
        "import sys; sys.modules['tensorflow'] = None; import sk_mnist.classifier"
    ),
    "import keras alone": "import keras",
}

_COLD_START = (
    "import sys, numpy as np, sk_mnist; "
    "sk_mnist.load(sys.argv[1]).predict(np.zeros((1, 28, 28), np.uint8))"
)
COLD_STARTS = {
    "cold start: import, load, 1 prediction (now)": _COLD_START,
    "cold start: import, load, 1 prediction (old way)": OLD_WAY + _COLD_START,
}

_FIT_AND_SAVE = """
import sys
from sk_mnist import dump, load_mnist, make_mnist_pipeline
(X, y), _ = load_mnist()
dump(make_mnist_pipeline(epochs=1, random_state=0).fit(X[:1000], y[:1000]), sys.argv[1])
"""

_REPORT = (
    "\nimport resource, json, sys; print(json.dumps(["
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
    " resource.getrusage(resource.RUSAGE_SELF).ru_utime"
    " + resource.getrusage(resource.RUSAGE_SELF).ru_stime,"
    " sys.modules.get('tensorflow') is not None]))"
)

_ENV = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")


def run_case(code, *args):
    """Wall time (s), peak RSS (MiB), TensorFlow imported?, CPU time (s)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code + _REPORT, *args],
        env=_ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.perf_counter() - start
    rss, cpu, tensorflow = json.loads(out.strip().splitlines()[-1])
    return wall, rss, tensorflow, cpu


def _table(title, runs, base_name, repeats):
    base = min(r[0] for r in runs[base_name])
    base_cpu = min(r[3] for r in runs[base_name])
    lines = [
        f"{title} (KERAS_BACKEND=jax, TensorFlow installed; best of {repeats}, "
        "each in a fresh process)",
        f"| case | wall s | ratio to '{base_name}' | CPU s | CPU ratio "
        "| peak RSS MiB | TensorFlow loaded |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, results in runs.items():
        wall = min(r[0] for r in results)
        rss = min(r[1] for r in results)
        cpu = min(r[3] for r in results)
        loaded = sorted({"yes" if r[2] else "no" for r in results})
        lines.append(
            f"| {name} | {wall:.2f} | {wall / base:.2f} | {cpu:.2f} "
            f"| {cpu / base_cpu:.2f} | {rss:.0f} "
            f"| {'/'.join(loaded)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cold-start-only", action="store_true", help="skip the import cases"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, "model.skmnist")
        subprocess.run(
            [sys.executable, "-c", _FIT_AND_SAVE, model], env=_ENV, check=True
        )
        runs = {name: [] for name in ({} if args.cold_start_only else CASES)}
        cold = {name: [] for name in COLD_STARTS}
        for _ in range(args.repeats):  # interleaved, so that noise hits every case
            for name in runs:
                runs[name].append(run_case(CASES[name]))
            for name, code in COLD_STARTS.items():
                cold[name].append(run_case(code, model))
    if runs:
        print(_table("Imports", runs, "import keras alone", args.repeats))
        print()
    print(_table("Cold start", cold, next(iter(COLD_STARTS)), args.repeats))
    (new, old) = cold.values()
    wall = min(r[0] for r in new) / min(r[0] for r in old)
    cpu = min(r[3] for r in new) / min(r[3] for r in old)
    print(f"\ncold start, now / old way: wall {wall:.2f}, CPU {cpu:.2f}")


if __name__ == "__main__":
    main()
