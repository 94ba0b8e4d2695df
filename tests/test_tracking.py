"""Where runs go: the notebooks' one rule for choosing a tracking store."""
from __future__ import annotations

from pathlib import Path

from course import paths, tracking, uris


def test_parameter_beats_environment_beats_course_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.resolve_uri("sqlite:////x/mlflow.db")[0] == "sqlite:////x/mlflow.db"
    assert tracking.resolve_uri("")[0] == "http://127.0.0.1:5999"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    uri, source = tracking.resolve_uri("")
    assert uri == f"sqlite:///{paths.default_store_dir().resolve() / 'mlflow.db'}"
    assert source == "the course default"


def test_embedded_store_keeps_artifacts_beside_the_database_not_in_the_working_folder(tmp_path, monkeypatch):
    import mlflow

    workdir = tmp_path / "kernel-started-here"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    uri = paths.sqlite_uri(tmp_path / "store")
    experiment = tracking.use_experiment("my experiment/v1", uri)
    with mlflow.start_run():
        mlflow.log_text("hi", "note.txt")

    assert experiment.artifact_location == (tmp_path / "store" / "artifacts" / "my-experiment-v1").as_uri()
    assert list((tmp_path / "store" / "artifacts").rglob("note.txt"))
    assert list(workdir.iterdir()) == [], "nothing may be written where the kernel started"


def test_ui_link_opens_the_runs_table():
    link = tracking.ui_link("http://127.0.0.1:5000/", "7")
    assert link == "http://127.0.0.1:5000/#/experiments/7?workflowType=machine_learning"
    assert tracking.ui_link("sqlite:////tmp/x.db", "7") is None


def test_sqlite_uri_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.sqlite_uri(Path("rel")) == f"sqlite:///{tmp_path / 'rel' / 'mlflow.db'}"


def test_every_store_says_how_to_see_its_runs_in_the_ui(tmp_path, monkeypatch, capsys):
    own = paths.sqlite_uri(tmp_path / "own")
    tracking.use_experiment("hint", own)
    assert f"Runs in the UI: run `mlflow ui --backend-store-uri {own}` in a terminal" in capsys.readouterr().out

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(paths, "HOME", tmp_path / "course-home")
    tracking.use_experiment("hint", "")
    assert "Runs in the UI: run `make ui` in a terminal and open the link it prints" in capsys.readouterr().out


def test_sqlite_file_is_the_inverse_of_sqlite_uri(tmp_path):
    assert uris.sqlite_file(paths.sqlite_uri(tmp_path)) == tmp_path.resolve() / "mlflow.db"
    for other in ("sqlite:///", "http://127.0.0.1:5000", "postgresql://u@h/db", "file:///x"):
        assert uris.sqlite_file(other) is None, other
