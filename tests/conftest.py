"""Shared fixtures: MNIST from SK_MNIST_DATA (or Keras' cache), seeds, small data."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# scikit-learn runs its array-API check (NumPy input with dispatch on) only with this
# set before SciPy is imported; without it the check is skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST as ``load_mnist()`` returns it."""
    from sk_mnist import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """A stratified-enough slice: 3000 training and 1000 test images."""
    (X_train, y_train), (X_test, y_test) = mnist
    return (X_train[:3000], y_train[:3000]), (X_test[:1000], y_test[:1000])


@pytest.fixture(scope="session")
def blobs():
    """Four well separated classes in 8 features, values in 0..1: quick to learn."""
    rng = np.random.RandomState(0)
    centers = rng.rand(4, 8)
    y = np.repeat(np.arange(4), 30)
    X = (centers[y] + 0.05 * rng.randn(len(y), 8)).astype(np.float32)
    return X, y


@pytest.fixture(autouse=True)
def _fixed_numpy_seed():
    np.random.seed(0)


# --- The fast tier: python -m pytest -m "not slow" ----------------------------------
# Tests marked ``slow`` here, in one list, so that the fast tier is decided in one
# place: a test file name marks the whole file, "file::test" one test (all its
# parameters). Each entry says why it is slow. The fast tier still runs tests of
# every module and the doctests of every module.
SLOW_TESTS = {
    "test_backends.py": "three test files again, under the other backend",
    "test_dask.py": "a local Dask cluster",
    "test_halving.py::test_the_other_backend_gives_scikit_learns_results": (
        "four searches under the other backend, in a subprocess"
    ),
    "test_halving.py::test_survivors_continue_on_a_dask_cluster": (
        "a local Dask cluster"
    ),
    "test_halving.py::test_cli_halving_on_dask_gives_the_in_process_scores": (
        "a local Dask cluster"
    ),
    "test_docs.py": "builds the manual (without the notebooks)",
    "test_estimator_checks.py": "scikit-learn's whole estimator check suite",
    "test_image_round_trip.py": "a fit on all 60000 training digits",
    "test_notebooks.py::test_notebook_executes": "runs each notebook",
    "test_benchmarks.py::test_quick_run_writes_json_and_markdown": "subprocesses",
    "test_pipeline.py::test_book_accuracy_on_full_mnist": "a fit on full MNIST",
    "test_classifier.py::test_predict_equals_keras_predict_on_the_whole_test_set": (
        "a fit on full MNIST"
    ),
    "test_export.py::test_full_test_set_labels_equal_probabilities_within_1e_5": (
        "a fit on full MNIST"
    ),
    "test_classifier.py::test_the_compiled_network_is_called_once_per_4096_rows": (
        "a fit on 3000 images"
    ),
    "test_classifier.py::test_integer_sample_weight_is_close_to_repeating_the_sample": (
        "several fits"
    ),
    "test_classifier.py::test_fit_without_weights_makes_no_copy_of_X": (
        "a fit on a large array"
    ),
    "test_classifier.py::test_run_eagerly_reaches_the_network": "eager training",
    "test_classifier.py::test_random_state_instances_are_not_all_seed_zero": (
        "several fits"
    ),
    "test_classifier.py::test_predict_follows_weights_changed_in_place": (
        "several fits"
    ),
    "test_cli.py::test_no_subcommand_runs_the_book_example": "a fit on full MNIST",
    "test_mlflow.py::test_registered_version_loads_where_pickle_cannot_load": (
        "a fresh process that imports TensorFlow and MLflow"
    ),
    "test_mlflow.py::test_mlflow_models_serve_answers_with_the_right_digits": (
        "starts mlflow models serve (TensorFlow and MLflow in a new process)"
    ),
    "test_cli.py::test_user_mistakes_in_a_real_process": "a process per mistake",
    "test_cli.py::test_real_processes": "processes that import TensorFlow",
    "test_cli.py::test_tensorflow_start_up_lines_are_hidden": "a process with a fit",
    "test_cli.py::test_tensorflow_lines_shown_when_asked": (
        "processes that import TensorFlow"
    ),
    "test_cli.py::test_a_fatal_backend_error_reaches_the_user": (
        "processes that import TensorFlow or JAX"
    ),
    "test_cli.py::test_train_with_stderr_closed_trains_and_saves": (
        "a process with a fit"
    ),
    "test_cli.py::test_the_offline_error_has_no_tensorflow_line": (
        "a process that imports TensorFlow"
    ),
    "test_export.py::test_export_from_the_jax_backend": "a JAX process",
    "test_export.py::test_every_supported_activation_matches_keras": (
        "a fit per Keras activation"
    ),
    "test_model_file_fuzz.py::test_edited_members_behind_a_valid_zip": (
        "hundreds of loads"
    ),
    "test_pipeline.py::test_saved_pipeline_predicts_the_same_in_a_fresh_process": (
        "processes that import TensorFlow"
    ),
    "test_pipeline.py::test_grid_search_over_epochs_and_batch_size": "12 fits",
    "test_pipeline.py::test_grid_search_over_network_and_optimizer": "a grid search",
    "test_pipeline.py::test_cross_val_score_uses_stratified_folds": "three fits",
    "test_search.py::test_failed_fits_come_out_as_in_grid_search": "two searches",
    "test_plots.py::test_sk_mnist_works_without_matplotlib": "a process with a fit",
    "test_reliability.py::test_two_processes_give_identical_predict_proba": (
        "two processes with a fit each"
    ),
    "test_search.py::test_cv_results_are_grid_search_cv_results_bit_for_bit": (
        "two searches on MNIST"
    ),
    "test_search.py::test_fit_time_is_the_time_to_reach_the_candidates_epoch": (
        "two searches on MNIST"
    ),
    "test_search.py::test_settings_that_keep_the_equivalence": (
        "two searches per setting"
    ),
    "test_search.py::test_n_jobs_runs_the_shared_fits_in_worker_processes": (
        "worker processes that import TensorFlow"
    ),
}


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect anything
def pytest_collection_modifyitems(config, items):
    modules = {}
    for item in items:
        file = item.path.name
        if getattr(item, "module", None) is not None:
            modules[file] = item.module
        name = f"{file}::{getattr(item, 'originalname', None) or item.name}"
        if file in SLOW_TESTS or name in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    stale = sorted(
        key
        for key in SLOW_TESTS
        if "::" in key
        and key.split("::")[0] in modules
        and not hasattr(modules[key.split("::")[0]], key.split("::")[1])
    )
    if stale:
        raise pytest.UsageError(
            f"tests/conftest.py: SLOW_TESTS names tests that do not exist: {stale}; "
            "remove or rename them there."
        )


@pytest.fixture
def file_size_limit():
    """``with file_size_limit(n):`` a file written past ``n`` bytes fails (EFBIG).

    A real failing write, as on a full disk: RLIMIT_FSIZE for this process, with
    SIGXFSZ ignored so that the write raises OSError instead of killing it.
    """
    import contextlib
    import resource
    import signal

    @contextlib.contextmanager
    def limit(nbytes):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)

    return limit
