"""Where a task's repository comes from: a local directory as it is, or a fresh clone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_TIMEOUT_S = 600.0
PREFIX = "tiller-batch-"
"""Every clone directory's name starts with this; it holds `repo/` and `lock` (the shell
sandbox's sweep removes one whose batch died: `tiller.shell.sandbox.sweep_once`)."""


# `scheme://...` or scp-style `user@host:path`; anything else is a local path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")


class RepoError(Exception):
    """The task's repository could not be found, cloned or checked out."""


class CheckoutInterrupted(RepoError):
    """git died of a signal: Ctrl+C reaches it with the batch, it says nothing of the repo."""


def is_git_url(repo: str) -> bool:
    """Whether `repo` names a remote (a URL or `user@host:path`) rather than a directory."""
    return _URL.match(repo) is not None


def _is_bare(path: Path) -> bool:
    return (
        not (path / ".git").exists() and (path / "HEAD").is_file() and (path / "objects").is_dir()
    )


def _git(*args: str, cwd: Path | None = None) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLONE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepoError(f"git {args[0]} failed: {exc}") from exc
    if done.returncode < 0 or done.returncode == 128 + signal.SIGINT:
        raise CheckoutInterrupted(f"git {args[0]} was interrupted")
    if done.returncode != 0:
        raise RepoError(f"git {args[0]} failed: {done.stderr.strip() or done.returncode}")


@contextmanager
def checkout(repo: str, commit: str | None = None, *, parent: Path | None = None) -> Iterator[Path]:
    """The directory a task's workspace overlays, for the duration of the block.

    A local working tree without `commit` is used in place (the overlay never
    writes to it). A git URL, a bare repository, or any repo with a `commit` is
    cloned into a temp dir (in `parent`, default the system's) that is removed
    afterwards, however the block ends; one left by a killed batch is removed by
    the first clone of the next.

    Raises:
        RepoError: the path does not exist, or the clone or checkout failed.
    """
    from tiller.shell.nofollow import remove_tree
    from tiller.shell.sandbox import sweep_once, take_lock

    if commit is not None and commit.startswith("-"):  # never an option to git checkout
        raise RepoError(f"not a commit: {commit!r}")
    local = None if is_git_url(repo) else Path(repo).expanduser()
    if local is not None and not local.is_dir():
        raise RepoError(f"repo not found: {repo} is not a directory")
    if local is not None and commit is None and not _is_bare(local):
        yield local.resolve()
        return
    where = str(parent) if parent is not None else tempfile.gettempdir()
    sweep_once(where, PREFIX)
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX, dir=where))
    lock_fd = take_lock(str(tmp / "lock"), create=True)
    try:
        target = tmp / "repo"
        source = str(local.resolve()) if local is not None else repo
        _git("clone", "--quiet", "--no-hardlinks", "--", source, str(target))
        if commit is not None:
            _git("checkout", "--quiet", "--detach", commit, cwd=target)
        yield target
    finally:
        remove_tree(str(tmp))
        if lock_fd is not None:
            os.close(lock_fd)
