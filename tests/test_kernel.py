"""The course's kernel ends as Python would, minus the teardown: threads joined, atexit handlers run."""
from __future__ import annotations

import os

from course import kernel


def test_the_course_kernel_finishes_an_open_run_and_the_notebooks_threads_before_it_exits(tmp_path, monkeypatch):
    import mlflow
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("JUPYTER_PATH", kernel.jupyter_path(os.environ.get("JUPYTER_PATH", "")))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = tmp_path / "thread-done"
    # Nothing of MLflow's from this worker's earlier tests (an experiment id of another store).
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=clean)
    try:
        reply = kc.execute_interactive(
            "import sys, threading, time, mlflow\n"
            f"mlflow.set_tracking_uri({store!r})\n"
            "run = mlflow.start_run()  # never ended in the notebook\n"
            "mlflow.log_param('seed', 42)\n"
            f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(done)!r}, 'w').write('ok'))).start()\n"
            "print(' '.join(sys.orig_argv[1:3]))", timeout=120)
        assert reply["content"]["status"] == "ok"
        assert km.kernel_spec.argv[:3] == ["python", "-m", "course.kernel"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert done.read_text() == "ok", "the kernel exited before the notebook's thread finished"
    (run,) = mlflow.MlflowClient(store).search_runs(["0"])
    assert run.info.status == "FINISHED", "MLflow's atexit handler did not end the open run"
    assert run.data.params == {"seed": "42"}


def test_the_python3_kernel_spec_on_the_course_path_is_the_course_kernel(monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setenv("JUPYTER_PATH", kernel.jupyter_path("/elsewhere"))
    assert os.environ["JUPYTER_PATH"].split(os.pathsep) == [str(kernel.KERNEL_SPECS), "/elsewhere"]
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[:3] == ["python", "-m", "course.kernel"] and spec.language == "python"
