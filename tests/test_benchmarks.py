"""benchmarks/performance.py: end to end on tiny data, and its Markdown report."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "performance.py"


@pytest.fixture(scope="module")
def performance():
    spec = importlib.util.spec_from_file_location("performance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_json_and_markdown(tmp_path):
    # MLPClassifier only: every step (fit process, cold-start process, report) in
    # ~20 s; the Keras contenders run the same code with another fit function.
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "mlp", "--cold-starts"]
        + ["--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # The stop hook prints the last 12 lines: they are the ratio table.
    last = done.stdout.splitlines()[-12:]
    assert last[0].startswith("Ratios to what users would write instead")
    assert last[2].startswith("| ratio | backend | sk_mnist seeded")
    assert len([line for line in last if line.startswith("| ")]) == 10
    results = json.loads((tmp_path / "performance.json").read_text())
    assert results["settings"]["n_train"] == 10000
    assert results["settings"]["cold_starts"] is True
    assert results["versions"]["scikit-learn"]
    assert set(results["contenders"]) == {"mlp"}
    (run,) = results["contenders"]["mlp"]["runs"]
    assert "error" not in run, run
    assert run["fit_s"] > 0 and run["predict_all_s"] > 0
    assert run["calls"] == 50 and 0 < run["p50_ms"] <= run["p99_ms"]
    assert 0.5 < run["accuracy"] <= 1 and run["n_test"] == 10000
    assert run["peak_rss_mib"] >= run["peak_rss_after_fit_mib"] > 50

    (cold,) = results["cold_starts"]["mlp:joblib"]["runs"]
    assert cold["seconds"] > 0 and cold["peak_rss_mib"] > 0
    assert cold["same_label_as_fitted"] is True
    assert "sklearn" in cold["imported"]
    assert "tensorflow" not in cold["imported"]  # a joblib of scikit-learn's pipeline

    report = (tmp_path / "performance.md").read_text()
    assert report.startswith("**Quick run")
    assert "python benchmarks/performance.py --quick --only mlp --cold-starts" in report
    assert "| scikit-learn `MinMaxScaler` + `MLPClassifier(512,)`, adam | — |" in report
    assert "| `joblib.load` | — |" in report


def test_report_medians_and_ratios_paired_by_round(performance):
    fit = dict(accuracy=0.98, p99_ms=2.0)
    results = {
        "command": "python benchmarks/performance.py --repeats 3",
        "settings": dict(quick=False, n_train=60000, epochs=5, repeats=3, calls=200),
        "machine": dict(cpu="CPU", cores=2, platform="Linux", python="3.11"),
        "versions": {"keras": "3.15", "jax": None},
        "load_average": {"before": 0.1, "after": 0.2},
        "contenders": {
            "book/tensorflow": dict(kind="book", backend="tensorflow"),
            "sk_mnist_seeded/tensorflow": dict(
                kind="sk_mnist_seeded", backend="tensorflow"
            ),
            "book/jax": dict(kind="book", backend="jax"),
            "sk_mnist_seeded/jax": dict(kind="sk_mnist_seeded", backend="jax"),
            "scikeras/jax": dict(kind="scikeras", backend="jax"),
            "mlp": dict(kind="mlp", backend=None),
        },
        "cold_starts": {
            "sk_mnist_seeded/jax:skmnist": dict(
                contender="sk_mnist_seeded/jax",
                file_kind="skmnist",
                backend="jax",
                loader="`sk_mnist.load`",
                runs=[
                    dict(seconds=3.0, peak_rss_mib=500, label=7, imported=["jax"])
                    | {"same_label_as_fitted": False}
                ],
            )
        },
    }
    contenders = results["contenders"]
    # Round 2 was slow for both: paired ratios see through it, best-of would not.
    contenders["book/tensorflow"]["runs"] = [
        dict(fit_s=10.0, peak_rss_mib=1000, predict_all_s=1.0, **fit),
        dict(fit_s=20.0, peak_rss_mib=1000, predict_all_s=1.0, **fit),
        dict(fit_s=12.0, peak_rss_mib=1100, predict_all_s=1.0, **fit),
    ]
    contenders["sk_mnist_seeded/tensorflow"]["runs"] = [
        dict(fit_s=9.0, peak_rss_mib=1050, predict_all_s=0.1, p50_ms=0.5, **fit),
        dict(fit_s=19.0, peak_rss_mib=1050, predict_all_s=0.2, p50_ms=0.6, **fit),
        dict(fit_s=13.0, peak_rss_mib=1050, predict_all_s=0.3, p50_ms=0.4, **fit),
    ]
    contenders["book/jax"]["runs"] = [dict(fit_s=5.0, peak_rss_mib=500, **fit)]
    contenders["sk_mnist_seeded/jax"]["runs"] = [
        dict(fit_s=6.0, peak_rss_mib=1000, **fit)
    ]
    contenders["scikeras/jax"]["runs"] = [{"error": "RuntimeError: no"}]
    contenders["mlp"]["runs"] = [dict(p50_ms=1.0), dict(p50_ms=1.0), dict(p50_ms=0.8)]

    report = performance.markdown(results)
    lines = report.splitlines()
    # medians [min-max] of the rounds
    assert (
        "by hand | tensorflow | 12.0 [10.0-20.0] | 1.00 | 1000 [1000-1100] |" in report
    )
    (sk_tf,) = [
        line
        for line in lines
        if line.startswith("| sk_mnist `ma") and "| tensorflow |" in line
    ]
    # fit ratios of the same round: 0.90, 0.95, 1.083 -> median 0.95
    assert "| tensorflow | 13.0 [9.0-19.0] | 0.95 [0.90-1.08] |" in sk_tf
    assert "+ hand-written scaling | jax | failed: see JSON |" in report
    assert "not the fitted model's label" in report
    assert "fit times moved by up to 2.11x" in report  # 19 s / 9 s
    assert "3 round(s)" in report and "jax None" not in report
    # The ratio table closes the report, 12 lines.
    table = lines[-12:]
    assert table[0].startswith("Ratios to what users would write instead")
    assert "| fit ÷ the book's fit | tensorflow | 0.95 [0.90-1.08] | — | <= 1.0 |" in (
        table
    )
    # 10000 images: 0.1, 0.2, 0.3 of Keras' 1.0; one image: 0.5, 0.6, 0.5 of MLP's
    assert "| 10000 images ÷ Keras' predict | tensorflow | 0.20 [0.10-0.30] |" in (
        "\n".join(table)
    )
    assert "| tensorflow | 0.50 [0.50-0.60] (0.50 ms) |" in "\n".join(table)


def test_halving_benchmark_prices_each_survivors_missing_epochs():
    # Two candidates at 27 epochs cost 27 s and 54 s in the grid (1 s and 2 s an
    # epoch). Halving: both 9 epochs (27 s), then the dearer one 18 more (36 s):
    # 63 of 81 s, 0.78x; by epoch count 36 of 54, 0.67x.
    spec = importlib.util.spec_from_file_location(
        "halving_search", SCRIPT.with_name("halving_search.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cheap, dear = {"batch_size": 256}, {"batch_size": 64}
    grid = {"params": [cheap, dear], "mean_fit_time": [27.0, 54.0]}
    halving = {
        "params": [cheap, dear, dear],
        "iter": [0, 0, 1],
        "n_resources": [9, 27],
    }
    line = module.priced_epochs(halving, grid, max_epochs=27)
    assert "0.78x the grid's (by count alone: 0.67x)" in line
