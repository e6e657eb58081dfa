"""`tiller batch --ray` on a local Ray cluster started once for this module."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from batch_helpers import applies_cleanly, git, make_repo, read_lines, responder, write_tasks
from tiller.cli import app
from tiller.testing.processes import interruptible, live_processes
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.xdist_group("ray"),
    # A cluster's worker processes start slowly when two suites share two cores.
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CLUSTER_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # Token auth would write a token under ~/.ray; a throwaway local cluster needs none.
    "RAY_AUTH_MODE": "disabled",
    "OPENAI_API_KEY": "sk-test",
}


def _ray_processes(marker: str) -> list[str]:
    """Processes of this test run whose command line is Ray's (they carry `marker`)."""
    found = []
    for pid, cmdline in live_processes():
        if pid == os.getpid() or "ray" not in cmdline:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(f"{pid}: {cmdline}")
    return found


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A 2-CPU local Ray cluster; yields its address; nothing of it is left afterwards."""
    import ray

    home = Path(tempfile.mkdtemp(prefix="tiller-ray-", dir="/tmp"))
    env = {**CLUSTER_ENV, "TILLER_DATA_DIR": str(home / "data")}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    marker = f"TILLER_TEST_PROCESS={os.environ.get('TILLER_TEST_PROCESS', '')}"
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=str(home / "ray"),
            log_to_driver=False,
        )
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        # Workers may outlive shutdown by a moment; wait for them (a bounded poll of
        # /proc, not a synchronisation of threads).
        deadline = time.monotonic() + 30
        while _ray_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=responder) as running:
        yield running


def batch(server: FakeOpenAIServer, address: str, *args: str) -> Result:
    base = ["batch", "--ray", address, "--model", "openai/fake-model"]
    base += ["--api-base", server.base_url, "--transport", "openai"]
    base += ["--skills-dir", "/nonexistent-skills"]
    return CliRunner().invoke(app, [*base, *args], env=CLUSTER_ENV)


def test_twenty_tasks_on_ray_give_patches_that_apply(cluster, server, tmp_path: Path) -> None:
    """The same 20 tasks as on threads, each a Ray task: 20 completed, patches apply."""
    repos = [make_repo(tmp_path / f"repo{i}", text=f"repo {i}\n") for i in range(4)]
    tasks = write_tasks(
        tmp_path / "tasks.jsonl",
        [{"id": f"t{n}", "repo": str(repos[n % 4]), "prompt": f"task {n}"} for n in range(20)],
    )
    out = tmp_path / "results.jsonl"
    result = batch(server, "auto", str(tasks), "--out", str(out), "--workers", "4", "--json")
    lines = read_lines(out)
    applied = [
        applies_cleanly(repos[int(line["id"][1:]) % 4], line["patch"], tmp_path / f"c{line['id']}")
        for line in lines
    ]
    assert (
        result.exit_code,
        sorted(line["id"] for line in lines),
        {line["status"] for line in lines},
        all(applied),
    ) == (0, sorted(f"t{n}" for n in range(20)), {"completed"}, True)


def test_resume_on_ray_runs_only_the_rest(cluster, server, tmp_path: Path) -> None:
    """With 3 of 5 results already in --out, Ray runs exactly the other 2."""
    repo = make_repo(tmp_path / "repo")
    tasks = [{"id": f"r{n}", "repo": str(repo), "prompt": f"task r{n}"} for n in range(5)]
    first = write_tasks(tmp_path / "first.jsonl", tasks[:3])
    out = tmp_path / "results.jsonl"
    batch(server, "auto", str(first), "--out", str(out), "--workers", "3")
    before = len(server.requests)
    result = batch(
        server, "auto", str(write_tasks(tmp_path / "all.jsonl", tasks)), "--out", str(out)
    )
    started = [r for r in server.requests[before:] if r.body["messages"][-1]["role"] == "user"]
    assert (result.exit_code, len(started), sorted(line["id"] for line in read_lines(out))) == (
        0,
        2,
        [f"r{n}" for n in range(5)],
    )


def test_a_git_url_is_cloned_on_the_worker_and_removed(cluster, server, tmp_path: Path) -> None:
    """A file:// URL of a bare repo is cloned by the Ray task and removed after."""
    work = make_repo(tmp_path / "work")
    bare = tmp_path / "bare.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    tasks = write_tasks(
        tmp_path / "t.jsonl", [{"id": "u", "repo": bare.as_uri(), "prompt": "task u"}]
    )
    out = tmp_path / "r.jsonl"
    result = batch(server, "auto", str(tasks), "--out", str(out))
    left = sorted(p.name for p in Path(tempfile.gettempdir()).glob("tiller-batch-*"))
    line = read_lines(out)[0]
    assert (result.exit_code, line["status"], "out-u.txt" in line["patch"], left) == (
        0,
        "completed",
        True,
        [],
    )


def test_a_task_whose_worker_dies_is_retried(cluster, tmp_path: Path) -> None:
    """SIGKILL of the worker running a task: Ray runs it again and it completes."""
    gate = threading.Event()
    calls: list[int] = []

    def hold_first(body: dict) -> ServerReply:
        reply = responder(body)
        if reply.tool_calls:
            calls.append(1)
            if len(calls) == 1:
                return ServerReply(tool_calls=reply.tool_calls, gate=gate)
        return reply

    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "k", "repo": str(repo), "prompt": "task k"}])
    out = tmp_path / "r.jsonl"
    with FakeOpenAIServer(responder=hold_first) as srv:
        outcome: list[Result] = []
        runner = threading.Thread(
            target=lambda: outcome.append(batch(srv, "auto", str(tasks), "--out", str(out)))
        )
        runner.start()
        try:
            assert srv.held(timeout=120)
            running = [pid for pid, cmd in live_processes() if cmd.startswith("ray::tiller-batch")]
            for pid in running:
                os.kill(pid, signal.SIGKILL)
        finally:
            runner.join(timeout=120)
            gate.set()
    line = read_lines(out)[0]
    assert (len(running), outcome[0].exit_code, line["status"], len(calls)) == (
        1,
        0,
        "completed",
        2,
    )


def test_ctrl_c_cancels_the_ray_tasks(cluster, tmp_path: Path) -> None:
    """SIGINT to a batch on an existing cluster (by address): exit 130, the task cancelled."""
    gate = threading.Event()
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "c", "repo": str(repo), "prompt": "task c"}])
    out = tmp_path / "r.jsonl"
    with FakeOpenAIServer(default=ServerReply(text="never", gate=gate)) as srv:
        argv = [str(Path(sys.executable).parent / "tiller"), "batch", str(tasks), "--out", str(out)]
        argv += ["--ray", cluster, "--model", "openai/fake-model", "--api-base", srv.base_url]
        argv += ["--transport", "openai", "--skills-dir", "/nonexistent-skills", "--json"]
        proc = subprocess.Popen(
            interruptible(argv),
            env={**os.environ, **CLUSTER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            held = srv.held(timeout=120)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=120)
            hung_up = srv.wait_for_hangup(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            gate.set()
    line = read_lines(out)[0]
    assert (held, code, line["status"], hung_up) == (True, 130, "cancelled", True), (
        proc.stderr.read()
    )
