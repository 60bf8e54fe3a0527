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
        [sys.executable, str(SCRIPT), "--quick", "--only", "mlp"]
        + ["--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "performance.json").read_text())
    assert results["settings"]["n_train"] == 2000
    assert results["settings"]["seeded"] is False
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
    assert "tensorflow" not in cold["imported"]  # a joblib of MLPClassifier

    report = (tmp_path / "performance.md").read_text()
    assert report.startswith("**Quick run")
    assert "python benchmarks/performance.py --quick --only mlp" in report
    assert "| scikit-learn `MLPClassifier(512,)`, adam | — |" in report
    assert "| `joblib.load` | — |" in report


def _run(**figures):
    return {"runs": [figures]}


def test_report_ratios_are_to_the_book_on_the_same_backend(performance):
    fit = dict(accuracy=0.98, p50_ms=1.0, p99_ms=2.0, predict_all_s=0.3)
    results = {
        "command": "python benchmarks/performance.py --repeats 2",
        "settings": dict(quick=False, n_train=60000, epochs=5, repeats=2, calls=200),
        "machine": dict(cpu="CPU", cores=2, platform="Linux", python="3.11"),
        "versions": {"keras": "3.15", "jax": None},
        "load_average": {"before": 0.1, "after": 0.2},
        "contenders": {
            "book/tensorflow": dict(kind="book", backend="tensorflow", runs=[]),
            "sk_mnist/tensorflow": dict(kind="sk_mnist", backend="tensorflow"),
            "book/jax": dict(kind="book", backend="jax"),
            "sk_mnist/jax": dict(kind="sk_mnist", backend="jax"),
            "scikeras/jax": dict(kind="scikeras", backend="jax"),
        },
        "cold_starts": {
            "sk_mnist/jax:skmnist": dict(
                contender="sk_mnist/jax",
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
    contenders["book/tensorflow"]["runs"] = [
        dict(fit_s=12.0, peak_rss_mib=1000, **fit),
        dict(fit_s=10.0, peak_rss_mib=1100, **fit),
    ]
    contenders["sk_mnist/tensorflow"]["runs"] = [
        dict(fit_s=15.0, peak_rss_mib=1050, **fit)
    ]
    contenders["book/jax"]["runs"] = [dict(fit_s=5.0, peak_rss_mib=500, **fit)]
    contenders["sk_mnist/jax"]["runs"] = [dict(fit_s=6.0, peak_rss_mib=1000, **fit)]
    contenders["scikeras/jax"]["runs"] = [{"error": "RuntimeError: no"}]

    report = performance.markdown(results)
    lines = report.splitlines()
    # best of the repeats (10 s, 1000 MiB), and ratios to that best
    book_tf = "by hand | tensorflow | 10.0 | 1.00 | 1000 | 1.00 |"
    assert book_tf in report
    (sk_tf, sk_jax) = [
        line
        for line in lines
        if line.startswith("| sk_mnist `ma") and "`sk_mnist.load`" not in line
    ]
    assert "| tensorflow | 15.0 | 1.50 | 1050 | 1.05 | 0.9800 |" in sk_tf
    assert "| jax | 6.0 | 1.20 | 1000 | 2.00 | 0.9800 |" in sk_jax
    assert "+ hand-written scaling | jax | failed: see JSON |" in report
    assert "by hand: 0.50; sk_mnist `make_mnist_pipeline()`: 0.40." in report
    assert "not the fitted model's label" in report
    assert "fit times moved by up to 1.20x" in report  # 12 s / 10 s
    assert "best of 2 run(s)" in report and "jax None" not in report
