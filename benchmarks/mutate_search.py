"""Hand mutants of sk_mnist/search.py, each a one-line change, against chosen tests.

Usage (from the repository root; a few minutes per mutant on a loaded machine)::

    python benchmarks/mutate_search.py [NAME ...]   # no NAME: every mutant

Each mutant is written into its own copy of ``sk_mnist`` under a temporary folder,
imported ahead of the editable install, and the tests named by its ``-k``
expression run with ``-x``. A mutant is KILLED when they fail, SURVIVED when they
pass. (Tests with ``n_jobs`` import the unmutated package in their workers.)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

MUTANTS = {
    # name: (original line fragment, replacement, pytest -k expression)
    "no_finalize": (
        "self.weights[epoch + 1] = _end_of_fit_weights(self.model)",
        "self.weights[epoch + 1] = self.model.get_weights()",
        "equivalence and ema",
    ),
    "no_weight_restore": (
        "    model.set_weights(weights)\n",
        "    pass\n",
        "equivalence and ema",
    ),
    "no_optimizer_restore": (
        "        variable.assign(value)\n",
        "        pass\n",
        "equivalence and ema",
    ),
    "final_weights_scored": (
        "classifier.model_.set_weights(snapshots.weights[epochs])",
        "pass",
        "bit_for_bit",
    ),
    "history_not_cut": ("values[:epochs] for key", "values for key", "every_epochs"),
    "refit_without_fit_params": (
        "self.best_estimator_.fit(X, y, **fit_params)",
        "self.best_estimator_.fit(X, y)",
        "sample_weight_reaches",
    ),
    "shared_fit_without_fit_params": (
        "estimator.fit(X_train, y_train, **fit_params)",
        "estimator.fit(X_train, y_train)",
        "sample_weight_reaches",
    ),
    "train_score_params_on_test": (
        "estimator, X_test, y_test, scorer, score_params_test, error_score",
        "estimator, X_test, y_test, scorer, score_params_train, error_score",
        "own_fold",
    ),
    "test_score_params_on_train": (
        "estimator, X_train, y_train, scorer, score_params_train, error_score",
        "estimator, X_train, y_train, scorer, score_params_test, error_score",
        "own_fold",
    ),
    "no_fit_param_fallback": (
        'reason = f"fit parameters {unsafe_fit_params}"',
        "pass",
        "other_fit_params",
    ),
    "no_unsafe_fit_params": (
        'if name not in {"sample_weight", f"{prefix}sample_weight"}',
        "if False",
        "other_fit_params",
    ),
    "no_callback_fallback": (
        'elif probe.get_params()[f"{prefix}callbacks"]:',
        "elif False:",
        "callbacks_are",
    ),
    "no_finalize_owner_fallback": (
        "elif owner := _own_end_of_fit_step(",
        "elif owner := None and (",
        "own_end",
    ),
    "keras_module_check": (
        'not finalize.__module__.startswith("keras.")',
        "False",
        "own_end",
    ),
    "no_nested_optimizers": (
        "            todo.extend(vars(item).values())\n",
        "            pass\n",
        "own_end",
    ),
    "group_ignores_params": (
        "if group_key is not None and _same_params(key, group_key):",
        "if group_key is not None:",
        "bit_for_bit",
    ),
    "shared_fit_to_min_epochs": (
        "shared_params[epochs_key] = max(needed)",
        "shared_params[epochs_key] = min(needed)",
        "largest",
    ),
    "never_failed": (
        "failed = not set(needed) <= snapshots.weights.keys()",
        "failed = False",
        "stops_early",
    ),
    "split_major_order": (
        "out[index * n_splits + split_index] = result",
        "out[split_index * len(candidates) + index] = result",
        "bit_for_bit",
    ),
    "fit_time_whole_fit": (
        "(end if epochs == max(needed) else snapshots.times[epochs])",
        "(end)",
        "fit_time",
    ),
    "train_scores_on_test": (
        "estimator, X_train, y_train, scorer, score_params_train, error_score",
        "estimator, X_test, y_test, scorer, score_params_train, error_score",
        "bit_for_bit",
    ),
    "candidate_params_not_set": (
        "estimator.set_params(**{epochs_key: epochs, callbacks_key: None})",
        "pass",
        "every_epochs",
    ),
    "fallback_from_shared_estimator": (
        "clone(fresh),",
        "clone(estimator),",
        "failed_fits",
    ),
}

worktree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
names = sys.argv[1:] or list(MUTANTS)
tmp = tempfile.mkdtemp(prefix="mutate_search_")
source = open(os.path.join(worktree, "sk_mnist", "search.py")).read()
for name in names:
    old, new, tests = MUTANTS[name]
    assert source.count(old) == 1, (name, source.count(old))
    root = os.path.join(tmp, name)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(os.path.join(worktree, "sk_mnist"), f"{root}/sk_mnist")
    with open(f"{root}/sk_mnist/search.py", "w") as f:
        f.write(source.replace(old, new))
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        f"sys.path.insert(0, {root!r})\n"
        "import sk_mnist\n"
        f"assert sk_mnist.__file__.startswith({root!r})\n"
        "import pytest\n"
        "sys.exit(pytest.main(sys.argv[1:]))\n"
    )
    start = time.time()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "tests/test_search.py",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            tests,
        ],
        cwd=worktree,
        capture_output=True,
        text=True,
    )
    last = [line for line in result.stdout.splitlines() if line.strip()][-1:]
    status = (
        "KILLED"
        if result.returncode == 1
        else ("SURVIVED" if result.returncode == 0 else f"rc={result.returncode}")
    )
    print(
        f"{name:35s} {status:9s} {time.time() - start:6.0f}s  -k {tests!r}  {last}",
        flush=True,
    )
