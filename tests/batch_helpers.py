"""Shared pieces of the batch tests: git repos, task files, a responder per task."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from tiller.testing.server import ServerReply

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}

_TASK = re.compile(r"task (\S+)")


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; its stdout."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(path: Path, text: str = "hello\n") -> Path:
    """A git repository at `path` with one committed file `README`."""
    path.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    (path / "README").write_text(text)
    git("add", "-A", cwd=path)
    git("commit", "--quiet", "-m", "init", cwd=path)
    return path


def write_tasks(path: Path, tasks: list[dict[str, Any]]) -> Path:
    """`tasks` as a tasks file at `path`."""
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks))
    return path


def responder(body: dict[str, Any]) -> ServerReply:
    """Task `X` (named in the prompt) writes `out-X.txt`; after the tool result, it is done."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return ServerReply(text="Done.")
    content = last["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    name = _TASK.search(text)
    assert name is not None, text
    args = {"file_path": f"out-{name.group(1)}.txt", "content": f"{name.group(1)}\n"}
    return ServerReply(tool_calls=[("write_file", json.dumps(args))])


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a results file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def applies_cleanly(repo: Path, patch: str, where: Path) -> bool:
    """Whether `patch` applies with `git apply` on a fresh clone of `repo` at `where`."""
    git("clone", "--quiet", str(repo), str(where), cwd=repo.parent)
    done = subprocess.run(
        ["git", "apply", "-"], cwd=where, input=patch, capture_output=True, text=True
    )
    return done.returncode == 0
