"""Nothing a command starts outlives it, its timeout, its cancel or Tiller; sandboxes go too."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.errors import ToolError
from tiller.shell.process import run_command
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.shell.sandbox import PREFIX, Sandbox, remove_stale
from tiller.testing.processes import live_processes
from tiller.workspace import Workspace

# Unique to this process, so a second copy of the suite running at once is not counted.
KILLED_SLEEP = f"sleep 1007.{os.getpid() % 100000:05d}"
ESCAPED_SLEEP = f"sleep 1006.{os.getpid() % 100000:05d}"
# "ready" only once the background child has become `sleep` (before its exec it is a
# copy of bash, which the host's process list would not show as the sleeper).
KILLED_COMMAND = (
    f"{KILLED_SLEEP} & until tr '\\0' ' ' < /proc/$!/cmdline | grep -q '^sleep'; do :; done; "
    "echo ready; wait"
)

RUNNER_SCRIPT = """
import sys, threading
from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.workspace import Workspace
from pathlib import Path
runner = ShellRunner(
    Workspace(root=Path(sys.argv[1])),
    policy=ApprovalPolicy("allow"),
    ask=lambda _: Approval(Decision.ALLOW),
    settings=ShellSettings(sandbox_parent=Path(sys.argv[2])),
)
runner.run(
    sys.argv[3], timeout_ms=60_000, description="",
    cancel=threading.Event(), on_output=lambda text: print(text, end="", flush=True),
)
"""


def host_pids(marker: str) -> list[int]:
    """Live host processes whose command line starts with `marker`."""
    return [pid for pid, cmdline in live_processes() if cmdline.startswith(marker)]


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait (on pidfds, not by polling) until every pid has exited; False on timeout."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            left = max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
                return False
        finally:
            os.close(fd)
    return True


def test_killing_tiller_ends_its_commands(tmp_path: Path) -> None:
    """kill -9 of the process running a command takes the command's processes with it."""
    root = tmp_path / "root"
    root.mkdir()
    tiller = subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, str(root), str(tmp_path), KILLED_COMMAND],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert tiller.stdout is not None
        assert tiller.stdout.readline() == "ready\n"
        sleepers = host_pids(KILLED_SLEEP)
        tiller.kill()
        tiller.wait()
        assert (len(sleepers), wait_gone(sleepers, 10)) == (1, True)
    finally:
        tiller.kill()
        tiller.wait()
        if tiller.stdout is not None:
            tiller.stdout.close()
        remove_stale(tmp_path)


def test_cancel_stops_within_a_second(tmp_path: Path) -> None:
    """Cancel ends a confined command that ignores SIGTERM in well under a second."""
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def on_output(text: str) -> None:
        if "ready" in text:
            cancelled_at.append(time.monotonic())
            cancel.set()

    (tmp_path / "root").mkdir()
    runner = ShellRunner(
        Workspace(root=tmp_path / "root"),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    try:
        with pytest.raises(ToolError, match="Cancelled"):
            runner.run(
                "trap '' TERM; echo ready; sleep 30",
                timeout_ms=60_000,
                description="",
                cancel=cancel,
                on_output=on_output,
            )
        stopped = time.monotonic() - cancelled_at[0]
    finally:
        runner.close()
    assert stopped < 1.0


def test_escaped_pipe_holder_cannot_hold_the_reader(tmp_path: Path) -> None:
    """Unconfined, a setsid child keeping the pipe open does not keep the tool waiting."""
    result = run_command(
        f"setsid {ESCAPED_SLEEP} & echo started",
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=30,
        cancel=threading.Event(),
        on_output=lambda _: None,
        kill_grace=0.2,
    )
    for pid in host_pids(ESCAPED_SLEEP):  # unconfined: it escaped; clean up after it
        os.kill(pid, signal.SIGKILL)
    assert (result.exit_code, result.output) == (0, "started\n")


def test_stale_sandbox_of_a_killed_process_is_removed(tmp_path: Path) -> None:
    """A sandbox whose owner died (its lock free) is removed when the next sandbox starts."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tiller.shell.sandbox import Sandbox\n"
        "from tiller.workspace import Workspace\n"
        "box = Sandbox(Workspace(files={}), parent=Path(sys.argv[1]))\n"
        "print(box.path, flush=True)\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    stale = Path(owner.stdout.readline().strip()).parent
    owner.kill()
    owner.wait()
    owner.stdout.close()
    fresh = Sandbox(Workspace(files={}), parent=tmp_path)
    try:
        made = fresh.path.parent
        left = sorted(p for p in tmp_path.iterdir() if p.name.startswith(PREFIX))
    finally:
        fresh.close()
    assert (stale.exists(), left) == (False, [made])


def test_live_sandbox_is_not_swept(tmp_path: Path) -> None:
    """A sandbox whose lock is held (its process alive) survives another's start."""
    first = Sandbox(Workspace(files={}), parent=tmp_path)
    first.path  # noqa: B018  created here
    try:
        removed = remove_stale(tmp_path)
        alive = first.path.exists()
    finally:
        first.close()
    assert (removed, alive) == ([], True)


def test_sandbox_with_unreadable_directories_is_removed(tmp_path: Path) -> None:
    """close() removes a sandbox where a command chmod'ed directories to 000."""
    box = Sandbox(Workspace(files={}), parent=tmp_path)
    inner = box.path / "locked" / "inner"
    inner.mkdir(parents=True)
    (inner / "f.txt").write_text("x")
    os.chmod(inner, 0)
    os.chmod(inner.parent, 0)
    where = box.path.parent
    box.close()
    assert where.exists() is False


def test_abort_during_a_command_removes_the_sandbox(tmp_path: Path) -> None:
    """Aborting a session mid-command stops it and removes the sandbox, without waiting it out."""
    from tiller import EventKind, Session, SessionConfig
    from tiller.testing.scripted import ScriptedModel, call

    session = Session(
        ScriptedModel([call("shell", command="echo ready; sleep 30"), "never"]),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="allow"),
    )
    session.subscribe(
        lambda e: (
            e.kind is EventKind.TOOL_CALL_OUTPUT_DELTA
            and "ready" in str(e.data["delta"])
            and session.abort()
        )
    )
    reply = session.send("go")
    assert session.shell is not None
    assert (reply.stop_reason, session.shell.sandbox.directory) == ("cancelled", None)


def test_nothing_writes_into_the_sandbox_after_collect(tmp_path: Path) -> None:
    """A detached writer is gone before Tiller reads the sandbox back: it collects the last state.

    Otherwise it could still change the copy while Tiller walks it.
    """
    root = tmp_path / "root"
    root.mkdir()
    runner = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    command = (
        "setsid bash -c 'trap \"\" TERM HUP; while :; do echo x >> tick.txt; done' "
        ">/dev/null 2>&1 < /dev/null & "
        # Many processes for the kernel to end and reap: the namespace takes longer to die.
        "for i in $(seq 400); do setsid sleep 1000 >/dev/null 2>&1 & done; "
        "until [ -s tick.txt ]; do :; done; echo started"
    )
    try:
        runner.run(
            command,
            timeout_ms=20_000,
            description="",
            cancel=threading.Event(),
            on_output=lambda _: None,
        )
        in_sandbox = (runner.sandbox.path / "tick.txt").read_text()
        collected = runner.workspace.read("tick.txt")
    finally:
        runner.close()
    assert len(in_sandbox) == len(collected)
