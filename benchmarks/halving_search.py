"""Successive halving over epochs: EpochHalvingGridSearchCV against the others.

Three searches of one grid of 18 candidates (batch size x learning rate x
hidden units), each in its own fresh process (``python`` this file with
``--one``), one after the other:

- ``HalvingGridSearchCV``: scikit-learn's, ``resource="classifier__epochs"``,
  ``factor=3``, up to ``--max-epochs`` (27: rungs of 3, 9 and 27 epochs),
  every survivor trained from scratch at each rung;
- ``EpochHalvingGridSearchCV``: the same search, survivors continued;
- ``EpochGridSearchCV``: every candidate at ``--max-epochs`` epochs.

All seeded (``random_state=0``): the two halving searches must give the same
``cv_results_`` scores, which the script checks. Printed: each search's time
(without its refit), its best candidate, the best candidate's test accuracy
(refitted on all the training images, tested on MNIST's 10,000 test images),
and the time ratios against EpochHalvingGridSearchCV.

Run (the issue's configuration: 20,000 images, 3 folds):
``SK_MNIST_DATA=/path/to/mnist nice -n 5 python benchmarks/halving_search.py``;
``--quick`` takes 2,000 images, ``--images N`` N of them.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEARCHES = ("HalvingGridSearchCV", "EpochHalvingGridSearchCV", "EpochGridSearchCV")
GRID = {
    "classifier__batch_size": [64, 128, 256],
    "classifier__learning_rate": [3e-4, 1e-3, 3e-3],
    "classifier__hidden_units": [64, 512],
}


def run_one(args):
    """One search in this process; prints a JSON line with its results."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    from sk_mnist import (
        EpochGridSearchCV,
        EpochHalvingGridSearchCV,
        load_mnist,
        make_mnist_pipeline,
    )

    (X, y), (X_test, y_test) = load_mnist()
    X, y = X[: args.images], y[: args.images]
    estimator = make_mnist_pipeline(random_state=0, epochs=args.max_epochs)
    halving = dict(factor=3, max_resources=args.max_epochs, cv=args.cv)
    if args.one == "HalvingGridSearchCV":
        search = HalvingGridSearchCV(
            estimator, GRID, resource="classifier__epochs", **halving
        )
    elif args.one == "EpochHalvingGridSearchCV":
        search = EpochHalvingGridSearchCV(estimator, GRID, **halving)
    else:
        search = EpochGridSearchCV(estimator, GRID, cv=args.cv)
    start, start_cpu = time.perf_counter(), time.process_time()
    search.fit(X, y)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    results = search.cv_results_
    print(
        json.dumps(
            {
                "wall": total - search.refit_time_,
                "cpu": total_cpu,  # with the refit: CPU time of the whole fit
                "best": {k.split("__")[1]: v for k, v in search.best_params_.items()},
                "best_cv": float(search.best_score_),
                "test_accuracy": float(search.score(X_test, y_test)),
                "scores": results["mean_test_score"].tolist(),
                "n_resources": getattr(search, "n_resources_", None),
                # Each row's candidate, rung and mean fit time (the time to
                # reach the row's epochs: for EpochGridSearchCV, its 27 epochs).
                "params": [
                    {k.split("__")[1]: v for k, v in row.items() if "epochs" not in k}
                    for row in results["params"]
                ],
                "iter": results["iter"].tolist() if "iter" in results else None,
                "mean_fit_time": results["mean_fit_time"].tolist(),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="2,000 images")
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument(
        "--searches",
        nargs="+",
        choices=SEARCHES,
        default=list(SEARCHES),
        help="the searches to run (default: all three)",
    )
    parser.add_argument("--one", choices=SEARCHES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.images = 2000
    if args.one:
        return run_one(args)

    options = ["--images", str(args.images), "--max-epochs", str(args.max_epochs)]
    options += ["--cv", str(args.cv)]
    print(
        f"18 candidates, epochs up to {args.max_epochs}, factor 3, {args.cv} folds, "
        f"{args.images} images",
        flush=True,
    )
    measured = {}
    for name in args.searches:
        output = subprocess.run(
            [sys.executable, __file__, "--one", name, *options],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        measured[name] = result = json.loads(output.strip().splitlines()[-1])
        print(
            f"{name:25} {result['wall']:8.1f} s (CPU with refit {result['cpu']:.1f} s)"
            f"  best {result['best']} "
            f"(CV {result['best_cv']:.4f}, test accuracy "
            f"{result['test_accuracy']:.4f})",
            flush=True,
        )
    ours = measured.get("EpochHalvingGridSearchCV")
    if ours is None:
        return 0
    same = True
    if "HalvingGridSearchCV" in measured:
        same = ours["scores"] == measured["HalvingGridSearchCV"]["scores"]
        print(f"halving searches' scores identical: {same}")
    print(f"rungs {ours['n_resources']}")
    for name in ("HalvingGridSearchCV", "EpochGridSearchCV"):
        if name in measured:
            print(
                f"EpochHalvingGridSearchCV / {name}: "
                f"{ours['wall'] / measured[name]['wall']:.2f}x"
            )
    if "EpochGridSearchCV" in measured:
        print(priced_epochs(ours, measured["EpochGridSearchCV"], args.max_epochs))
    return 0 if same else 1


def priced_epochs(halving, grid, max_epochs):
    """The halving search's epochs priced by each candidate's own epoch time.

    The epoch count alone (126 of 486 per fold: 0.26x) assumes every
    candidate's epoch costs the same; a batch of 64 rows and 512 units costs
    more than one of 256 rows and 64 units. Here each candidate's epoch is
    priced at its ``EpochGridSearchCV`` fit time / ``max_epochs``, and each rung
    trains a survivor only the epochs it lacks.
    """
    price = {
        json.dumps(p, sort_keys=True): t / max_epochs
        for p, t in zip(grid["params"], grid["mean_fit_time"])
    }
    done, cost = {}, 0.0
    rungs = sorted(set(halving["iter"]))
    for rung in rungs:
        epochs = halving["n_resources"][rung]
        for p, i in zip(halving["params"], halving["iter"]):
            if i == rung:
                key = json.dumps(p, sort_keys=True)
                cost += price[key] * (epochs - done.get(key, 0))
                done[key] = epochs
    whole = sum(grid["mean_fit_time"])
    return (
        f"epochs trained, priced by each candidate's EpochGridSearchCV fit time: "
        f"{cost / whole:.2f}x the grid's (by count alone: "
        f"{sum(done.values()) / (max_epochs * len(price)):.2f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
