"""EpochGridSearchCV against GridSearchCV: search time for the same grid.

Each search runs in its own fresh process (``python -m`` this file with
``--one``), the two alternating ``--repeats`` times so that a change in machine
load hits both alike. Both are seeded (``random_state=0``), so their test scores
must be identical; the script checks it. Printed: wall and CPU time of each
run, the best of each, and the ratios EpochGridSearchCV / GridSearchCV.

Run (the book's grid on all 60000 images, 3 folds):
``SK_MNIST_DATA=/path/to/mnist python benchmarks/epoch_search.py --repeats 2``
The issue's target: ``--epochs 1 2 3 4`` takes at most 0.55x GridSearchCV's time.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEARCHES = ("GridSearchCV", "EpochGridSearchCV")


def run_one(args):
    """One search in this process; prints a JSON line with its times and scores."""
    from sklearn.model_selection import GridSearchCV

    from sk_mnist import EpochGridSearchCV, load_mnist, make_mnist_pipeline

    (X, y), _ = load_mnist()
    X, y = X[: args.train_size], y[: args.train_size]
    search_class = {
        "GridSearchCV": GridSearchCV,
        "EpochGridSearchCV": EpochGridSearchCV,
    }
    search = search_class[args.one](
        make_mnist_pipeline(random_state=0, hidden_units=args.hidden_units),
        {"classifier__epochs": args.epochs, "classifier__batch_size": args.batch_size},
        cv=args.cv,
        refit=False,  # the refit is the same single fit for both
    )
    start, start_cpu = time.perf_counter(), time.process_time()
    search.fit(X, y)
    print(
        json.dumps(
            {
                "wall": time.perf_counter() - start,
                "cpu": time.process_time() - start_cpu,
                "scores": search.cv_results_["mean_test_score"].tolist(),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--hidden-units", type=int, default=512)
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--one", choices=SEARCHES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return run_one(args)

    options = [
        "--epochs", *map(str, args.epochs), "--batch-size", *map(str, args.batch_size),
        "--hidden-units", str(args.hidden_units), "--train-size", str(args.train_size),
        "--cv", str(args.cv),
    ]  # fmt: skip
    print(
        f"grid: epochs {args.epochs} x batch size {args.batch_size}, "
        f"{args.train_size} images, {args.cv} folds, {args.repeats} repeats",
        flush=True,
    )
    measured = {name: [] for name in SEARCHES}
    for repeat in range(args.repeats):
        order = SEARCHES if repeat % 2 == 0 else SEARCHES[::-1]
        for name in order:
            output = subprocess.run(
                [sys.executable, __file__, "--one", name, *options],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            measured[name].append(result)
            print(
                f"repeat {repeat} {name:17} wall {result['wall']:7.1f} s  "
                f"CPU {result['cpu']:7.1f} s",
                flush=True,
            )
    grid_scores = measured["GridSearchCV"][0]["scores"]
    same = all(r["scores"] == grid_scores for rs in measured.values() for r in rs)
    print(f"mean test scores identical in every run: {same}")
    for what in ("wall", "cpu"):
        best = {name: min(r[what] for r in measured[name]) for name in SEARCHES}
        print(
            f"best {what}: GridSearchCV {best['GridSearchCV']:.1f} s, "
            f"EpochGridSearchCV {best['EpochGridSearchCV']:.1f} s, ratio "
            f"{best['EpochGridSearchCV'] / best['GridSearchCV']:.2f}"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
