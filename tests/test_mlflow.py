"""sk_mnist.mlflow: the MLflow flavour, its registry round trip, serving, tracking."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")  # the [mlflow] extra, part of [test]
import yaml  # noqa: E402  (MLflow's dependency)
from mlflow.exceptions import MlflowException  # noqa: E402

import sk_mnist.mlflow as sk_mlflow  # noqa: E402
from sk_mnist import make_mnist_pipeline  # noqa: E402

NAME = "digits"
N_TRAIN = 600


@pytest.fixture(scope="module")
def data(mnist_small):
    (X_train, y_train), (X_test, y_test) = mnist_small
    return (X_train[:N_TRAIN], y_train[:N_TRAIN]), (X_test[:20], y_test[:20])


@pytest.fixture(scope="module")
def fitted(data):
    (X_train, y_train), _ = data
    model = make_mnist_pipeline(hidden_units=16, epochs=3, random_state=0)
    return model.fit(X_train, y_train)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite tracking and registry store in a temporary folder, for the module."""
    folder = tmp_path_factory.mktemp("mlruns")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # artifacts go to ./mlruns, beside the database
        yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def registered(fitted, store):
    """The fitted pipeline logged and registered as version 1 of NAME."""
    with mlflow.start_run():
        info = sk_mlflow.log_model(fitted, name="model", registered_model_name=NAME)
    assert info.registered_model_version == 1
    return info


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model"
    sk_mlflow.save_model(fitted, path)
    return path


# --- The registry round trip, in a process where pickle cannot load -------------

NO_PICKLE = """
import json, pickle, sys
import cloudpickle
calls = []
def refuse(*args, **kwargs):
    calls.append(1)
    raise RuntimeError("pickle loading is forbidden in this test")
class RefusingUnpickler(pickle.Unpickler):
    def load(self):
        refuse()
pickle.load = pickle.loads = refuse
pickle.Unpickler = RefusingUnpickler
cloudpickle.load = cloudpickle.loads = refuse
import numpy as np
import mlflow
import sk_mnist.mlflow
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
X = np.load(sys.argv[3])
labels = model.predict(X)
proba = model.predict(X, params={"predict_proba": True})
native = sk_mnist.mlflow.load_model(sys.argv[2])
np.save(sys.argv[4], np.stack([labels, native.predict(X)]))
np.save(sys.argv[5], np.stack([proba, native.predict_proba(X)]))
print(json.dumps({"calls": len(calls), "type": type(native).__name__}))
"""


def test_registered_version_loads_where_pickle_cannot_load(
    fitted, data, registered, store, tmp_path
):
    _, (X_test, _) = data
    np.save(tmp_path / "X.npy", X_test)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_PICKLE,
            store,
            f"models:/{NAME}/1",
            str(tmp_path / "X.npy"),
            str(tmp_path / "labels.npy"),
            str(tmp_path / "proba.npy"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"calls": 0, "type": "Pipeline"}
    labels = np.load(tmp_path / "labels.npy")
    proba = np.load(tmp_path / "proba.npy")
    expected = fitted.predict(X_test)
    assert (labels == expected).all()
    np.testing.assert_allclose(proba[0], fitted.predict_proba(X_test), atol=1e-6)
    np.testing.assert_array_equal(proba[0], proba[1])  # pyfunc and native alike
    # The model learned something: not the same label everywhere.
    assert len(set(expected.tolist())) > 3


def _is_pickle(data):
    # Pickle protocols 2 to 5 start with PROTO (0x80) and the protocol number.
    return len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5


def _pickles_in(path, data=None):
    """Names of pickles in a file, looking inside zip archives (nested too)."""
    data = Path(path).read_bytes() if data is None else data
    found = (
        [str(path)]
        if _is_pickle(data) or str(path).endswith((".pkl", ".pickle"))
        else []
    )
    if data[:4] == b"PK\x03\x04":
        import io

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                found += _pickles_in(f"{path}!{name}", archive.read(name))
    return found


def test_logged_model_folder_holds_no_pickle_and_no_code(registered, tmp_path):
    folder = Path(
        mlflow.artifacts.download_artifacts(f"models:/{NAME}/1", dst_path=tmp_path)
    )
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert "model.skmnist" in files and "MLmodel" in files
    assert not [f for f in files if f.startswith("code")]
    pickles = [
        p for f in files for p in _pickles_in(folder / f) if (folder / f).is_file()
    ]
    assert pickles == []
    # The check finds a pickle where there is one (inside a zip, too).
    import pickle

    (tmp_path / "x.zip").unlink(missing_ok=True)
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as archive:
        archive.writestr("inner.bin", pickle.dumps([1]))
    assert _pickles_in(tmp_path / "x.zip") == [f"{tmp_path / 'x.zip'}!inner.bin"]
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "sk_mnist.mlflow"
    assert mlmodel["flavors"]["sk_mnist"]["data"] == "model.skmnist"
    requirements = (folder / "requirements.txt").read_text().split()
    import keras

    backend = keras.backend.backend()
    pinned = {r.split("==")[0]: r for r in requirements}
    assert backend in pinned or (backend == "jax" and "jaxlib" in pinned)
    assert pinned[backend].startswith(f"{backend}==")
    assert pinned["keras"] == f"keras=={keras.__version__}"
    assert "sk_mnist" in pinned


# --- Serving -------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url, payload, timeout=60):
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:  # every process of the group has ended
        pass


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_mlflow_models_serve_answers_with_the_right_digits(
    fitted, data, registered, store, tmp_path
):
    _, (X_test, _) = data
    port = _free_port()
    bin_folder = Path(sys.executable).parent  # mlflow, and the uvicorn it runs
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    server = subprocess.Popen(
        [
            str(bin_folder / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{NAME}/1",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "wb"),
        start_new_session=True,  # its own process group: stopped as one below
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(1)
        url = f"http://127.0.0.1:{port}/invocations"
        answer = _post(url, {"inputs": X_test.tolist()})
        assert answer["predictions"] == fitted.predict(X_test).tolist()
        answer = _post(
            url, {"inputs": X_test[:3].tolist(), "params": {"predict_proba": True}}
        )
        np.testing.assert_allclose(
            answer["predictions"], fitted.predict_proba(X_test[:3]), atol=1e-6
        )
    finally:
        _signal_group(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_group(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _group_alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not _group_alive(server.pid), "processes of the server were left running"


# --- Input forms and the signature ------------------------------------------------


def test_default_signature_is_the_fitted_image_form_and_says_what_else_to_do(
    fitted, data, saved
):
    _, (X_test, _) = data
    model = mlflow.pyfunc.load_model(str(saved))
    inputs = model.metadata.get_input_schema().inputs
    assert [(str(s.type), s.shape) for s in inputs] == [("uint8", (-1, 28, 28))]
    assert (model.predict(X_test) == fitted.predict(X_test)).all()
    with pytest.raises(MlflowException, match="dtype of input float32"):
        model.predict(X_test.astype(np.float32))  # refused, not silently cast


@pytest.mark.parametrize("form", ["float32 flat", "DataFrame"])
def test_other_input_forms_through_their_input_example(fitted, data, tmp_path, form):
    _, (X_test, _) = data
    X = X_test.reshape(len(X_test), -1)
    if form == "float32 flat":
        X = X.astype(np.float32)
    else:
        X = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(784)])
    with warnings.catch_warnings():  # names the pipeline was not fitted with
        warnings.filterwarnings("error", message=".*has feature names")
        sk_mlflow.save_model(fitted, tmp_path / "m", input_example=X[:2])
        model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
        labels = model.predict(X)
        proba = model.predict(X, params={"predict_proba": True})
    assert (labels == fitted.predict(X_test)).all()
    np.testing.assert_allclose(proba, fitted.predict_proba(X_test), atol=1e-6)


def test_an_unfitted_model_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="Fit it first"):
        sk_mlflow.save_model(make_mnist_pipeline(), tmp_path / "m")
    assert not (tmp_path / "m" / "model.skmnist").exists()


# --- Hostile data paths -----------------------------------------------------------


def _edit_data(folder, value):
    path = folder / "MLmodel"
    mlmodel = yaml.safe_load(path.read_text())
    mlmodel["flavors"]["sk_mnist"]["data"] = value
    mlmodel["flavors"]["python_function"]["data"] = value
    path.write_text(yaml.safe_dump(mlmodel))


def _hostile(kind, saved, tmp_path):
    """A copy of the saved model whose data path leads to a valid model file outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(saved / "model.skmnist", outside / "model.skmnist")
    folder = outside / "model"  # ../model.skmnist from here is a valid file
    shutil.copytree(saved, folder)
    if kind == "parent":
        _edit_data(folder, "../model.skmnist")
    elif kind == "absolute":
        _edit_data(folder, str(outside / "model.skmnist"))
    elif kind == "nested parent":
        (folder / "sub").mkdir()
        _edit_data(folder, "sub/../../model.skmnist")
    elif kind == "symlink":
        (folder / "model.skmnist").unlink()
        (folder / "model.skmnist").symlink_to(outside / "model.skmnist")
    return folder


@pytest.mark.parametrize("kind", ["parent", "absolute", "nested parent", "symlink"])
@pytest.mark.parametrize("loader", ["sk_mnist", "pyfunc"])
def test_a_data_path_out_of_the_model_folder_is_refused_before_reading(
    kind, loader, saved, tmp_path, monkeypatch
):
    folder = _hostile(kind, saved, tmp_path)
    import sk_mnist.persistence

    read = []
    real_load = sk_mnist.persistence.load
    monkeypatch.setattr(
        sk_mnist.persistence,
        "load",
        lambda *a, **k: read.append(a) or real_load(*a, **k),
    )
    load = sk_mlflow.load_model if loader == "sk_mnist" else mlflow.pyfunc.load_model
    with pytest.raises(
        MlflowException, match="outside the model folder|out of its folder|not a path"
    ):
        load(str(folder))
    assert read == []


def test_a_link_inside_the_model_folder_is_followed(saved, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(saved, folder)
    (folder / "real.skmnist").write_bytes((folder / "model.skmnist").read_bytes())
    (folder / "model.skmnist").unlink()
    (folder / "model.skmnist").symlink_to("real.skmnist")
    assert type(sk_mlflow.load_model(str(folder))).__name__ == "Pipeline"


# --- Tracking: what sk-mnist train/search --mlflow-experiment log ------------------


def test_log_training_run_logs_params_metrics_and_the_model(fitted, data, store):
    _, (X_test, _) = data
    info = sk_mlflow.log_training_run(
        fitted,
        {"epochs": 3, "hidden_units": 16, "callbacks": [object()]},
        2.5,
        0.875,
        "train runs",
    )
    run = mlflow.get_run(info.run_id)
    assert run.data.params == {"epochs": "3", "hidden_units": "16"}
    assert run.data.metrics == {"fit_seconds": 2.5, "test_accuracy": 0.875}
    assert mlflow.get_experiment(run.info.experiment_id).name == "train runs"
    with mlflow.start_run() as later:  # MLflow's active experiment is left alone
        pass
    assert mlflow.get_experiment(later.info.experiment_id).name == "Default"
    model = sk_mlflow.load_model(info.model_uri)
    assert (model.predict(X_test) == fitted.predict(X_test)).all()


def test_log_search_makes_one_child_run_per_candidate_with_its_scores(data, store):
    from sk_mnist import EpochGridSearchCV

    (X_train, y_train), (X_test, _) = data
    search = EpochGridSearchCV(
        make_mnist_pipeline(random_state=0),
        {"classifier__epochs": [1, 2], "classifier__hidden_units": [8, 16]},
        cv=2,
    ).fit(X_train[:300], y_train[:300])
    parent_id = sk_mlflow.log_search(search, "searches")
    client = mlflow.MlflowClient()
    parent = client.get_run(parent_id)
    assert parent.data.metrics["best_cv_score"] == search.best_score_
    assert parent.data.params["best_classifier__epochs"] == str(
        search.best_params_["classifier__epochs"]
    )
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
    )
    results = search.cv_results_
    assert len(children) == len(results["params"]) == 4
    seen = set()
    score_keys = [k for k in results if k != "params" and not k.startswith("param_")]
    assert "split1_test_score" in score_keys
    for child in children:
        params = child.data.params
        index = next(
            i
            for i, candidate in enumerate(results["params"])
            if all(params[k] == str(v) for k, v in candidate.items())
        )
        seen.add(index)
        assert set(child.data.metrics) == set(score_keys)
        for key in score_keys:
            assert child.data.metrics[key] == pytest.approx(
                float(results[key][index]), rel=1e-12
            ), key
    assert seen == {0, 1, 2, 3}
    # The best estimator is logged with the flavour, and loads.
    logged = [
        m
        for m in client.search_logged_models([parent.info.experiment_id])
        if m.source_run_id == parent_id
    ]
    assert len(logged) == 1
    model = sk_mlflow.load_model(f"models:/{logged[0].model_id}")
    assert (model.predict(X_test) == search.best_estimator_.predict(X_test)).all()
