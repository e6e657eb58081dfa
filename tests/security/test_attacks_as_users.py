"""Issue 12's attacks through a real Session, as root and as the unprivileged user `nobody`.

`attacks.py` runs every attack in one scripted session and reports what happened;
each test below checks one promise of that report, for both users.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("attacks.py")
NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="runs the attacks as root and, through setpriv, as nobody",
)


def run_attacks(user: str) -> dict[str, Any]:
    # pytest's tmp_path is 0700 under /tmp/pytest-of-root: nobody could not enter it.
    workdir = Path(tempfile.mkdtemp(prefix="tiller-attacks-"))
    try:
        os.chmod(workdir, 0o755)
        env = {
            **os.environ,
            "HOME": str(workdir),
            "TILLER_DATA_DIR": str(workdir / "data"),
            "TMPDIR": str(workdir),
        }
        argv = [sys.executable, str(SCRIPT), str(workdir)]
        if user == "nobody":
            os.chown(workdir, NOBODY, NOBODY)
            argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        report["left_in_tmpdir"] = sorted(
            p.name for p in workdir.iterdir() if p.name.startswith("tiller-sandbox-")
        )
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module", params=["root", "nobody"])
def report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    yield run_attacks(request.param)


def test_real_tree_and_git_are_untouched(report: dict[str, Any]) -> None:
    """Planted links, absolute paths, unmounts and commits leave the real tree and .git alone."""
    assert report["tree_unchanged"] is True


def test_write_through_a_planted_link_stays_in_the_sandbox(report: dict[str, Any]) -> None:
    """write_file esc/main.py after `ln -s $ROOT esc` writes a sandbox file, not the real one."""
    assert report["outputs"]["after_write"].endswith("main.py\nPWNED")


def test_links_are_reported_and_left_out(report: dict[str, Any]) -> None:
    """The model is told about the links; the workspace holds only what was written as files."""
    assert ("esc -> " in report["outputs"]["plant"], report["workspace_files"]) == (
        True,
        ["data/d.txt", "data_link/d.txt", "esc/main.py", "main.py"],
    )


def test_secret_never_appears_in_any_output(report: dict[str, Any]) -> None:
    """/proc/$PPID/environ, /proc/1/environ, env and every /proc/*/environ hide the API key."""
    assert report["secret_leaked"] is False


def test_tiller_process_is_invisible(report: dict[str, Any]) -> None:
    """`ps` inside lists only the sandbox's own processes, never Tiller's."""
    listing = report["outputs"]["environ"].split("PID COMMAND", 1)[1]
    assert "attacks.py" not in listing


def test_unmount_is_refused(report: dict[str, Any]) -> None:
    """Without capabilities, `umount $ROOT` fails (as root too)."""
    assert "rc=32" in report["outputs"]["umount"]


def test_host_is_read_only(report: dict[str, Any]) -> None:
    """Writing outside the sandbox copy fails with a read-only file system."""
    assert (report["outside_written"], "Read-only file system" in report["outputs"]["outside"]) == (
        False,
        True,
    )


def test_git_reads_work(report: dict[str, Any]) -> None:
    """git status and git log work in the sandbox against the real .git."""
    assert report["outputs"]["git_status"].rstrip().endswith(" init")


def test_git_commit_fails_with_gits_message(report: dict[str, Any]) -> None:
    """git commit cannot write the real .git and says why."""
    assert "index.lock': Read-only file system" in report["outputs"]["git_commit"]


def test_network_is_off(report: dict[str, Any]) -> None:
    """A TCP server on 127.0.0.1 outside the sandbox is not reachable."""
    assert (report["connections"], "CONNECTED" in report["outputs"]["network"]) == (0, False)


def test_pipe_holder_does_not_hang_the_tool(report: dict[str, Any]) -> None:
    """`setsid sleep &` holding the output pipe ends with the command (2 s timeout unused)."""
    assert report["outputs"]["hold_pipe"].startswith("Exit code: 0")


def test_timeout_ends_everything(report: dict[str, Any]) -> None:
    """A timed-out command's setsid children are stopped with it."""
    assert report["outputs"]["timeout"].startswith("Timed out after 1 s")


def test_no_process_survives(report: dict[str, Any]) -> None:
    """Nothing a command started (setsid, setsid -f, background) outlives it."""
    assert report["survivors"] == []


def test_huge_file_is_never_read(report: dict[str, Any]) -> None:
    """A 3 GB sparse file stays in the sandbox; later commands keep peak RSS small."""
    assert (
        "huge.log" in report["outputs"]["huge"].split("Files over 10 MB")[-1],
        report["peak_rss_mb"] < 300,
    ) == (True, True)


def test_sandbox_is_removed_on_close(report: dict[str, Any]) -> None:
    """Closing the session removes the sandbox, even with directories chmod'ed 000 inside."""
    assert (report["sandbox_left"], report["left_in_tmpdir"]) == (False, [])


def test_unreadable_directory_is_not_a_deletion(report: dict[str, Any]) -> None:
    """`chmod 000` on a directory hides nothing from Tiller: its files are not deleted."""
    outputs = report["outputs"]
    assert ("changes" in outputs["hide_dir"], "changes" in outputs["after_hide"]) == (False, False)
