"""Every attack of issue 12 through a real `Session`, run as a script; prints one JSON report.

    python attacks.py WORKDIR

The tests run it as root and, with `setpriv`, as the unprivileged user `nobody`,
over a project it creates (and so owns) in WORKDIR/root. It sets a secret API key
in its own environment first: nothing a command prints may contain it.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

SECRET = "sk-tiller-secret-7c1e5a"
# Unique to this run: the same attack running at once (as the other user, or in a second
# copy of the suite) must not be counted as this run's survivor.
_RUN = f"{os.getpid() % 100000:05d}"
MARKERS = (f"sleep 1003.{_RUN}", f"sleep 1004.{_RUN}", f"sleep 1005.{_RUN}")
OUTSIDE = Path(f"/var/tmp/tiller-attack-pwned-{_RUN}")
"""World-writable on the host: only the read-only mount can stop a write there."""


def build_project(root: Path) -> None:
    (root / "data").mkdir(parents=True)
    (root / "main.py").write_text("print('real')\n")
    (root / "data" / "d.txt").write_text("real data\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)


def tree_state(root: Path) -> dict[str, str]:
    """Every file under root (the real .git included) with a digest of its content."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = "link:" + os.readlink(path)
        elif path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[str(path.relative_to(root)) + "/"] = "dir"
    return out


def running(markers: tuple[str, ...]) -> list[str]:
    from tiller.testing.processes import live_processes

    return [m for _, cmdline in live_processes() for m in markers if m in cmdline]


class Listener:
    """A TCP server on 127.0.0.1 outside the sandbox that counts connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def main(workdir: Path) -> dict[str, Any]:
    os.environ["TILLER_SECURITY_API_KEY"] = SECRET
    from tiller import EventKind, Session, SessionConfig
    from tiller.testing.scripted import ScriptedModel, call

    root = workdir / "root"
    build_project(root)
    before = tree_state(root)
    listener = Listener()
    connect = (
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
        f"{listener.port}), timeout=3); print('CONNECTED')\""
    )
    commands: dict[str, tuple[str, int | None]] = {
        "plant": (f"ln -s {root} esc && ln -s {root}/data data_link && echo planted", None),
        "after_write": ("ls -l esc && cat esc/main.py", None),
        "plant_dir": ("rm -rf data && ln -s /etc data && echo swapped", None),
        "environ": (
            "cat /proc/$PPID/environ /proc/1/environ; echo; env; ps -eo pid,args; "
            "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c TILLER_SECURITY",
            None,
        ),
        "absolute": (f"echo hacked > {root}/main.py && cat {root}/main.py", None),
        "umount": (f"umount {root} 2>&1; umount -l {root} 2>&1; echo rc=$?", None),
        "outside": (f"touch {OUTSIDE} 2>&1; echo done", None),
        "git_status": ("git status --short && git log --oneline", None),
        "git_commit": ("git commit -qam pwned 2>&1; echo rc=$?", None),
        "network": (connect + " 2>&1 | tail -1", None),
        "hold_pipe": (f"setsid {MARKERS[0]} & echo started", 2000),
        "detach": (f"setsid -f {MARKERS[1]}; echo detached", None),
        "timeout": (f"setsid {MARKERS[2]} & sleep 30", 1000),
        "huge": ("truncate -s 3G huge.log && echo made", None),
        "after_huge_1": ("true", None),
        "after_huge_2": ("true", None),
        "lock_dirs": ("mkdir -p locked/inner && chmod 000 locked/inner locked && echo ok", None),
        "hide_dir": ("chmod 000 esc && echo hidden", None),
        "after_hide": ("true", None),
    }
    names = list(commands)
    steps = []
    for name in names:
        command, timeout = commands[name]
        args: dict[str, Any] = {"command": command}
        if timeout is not None:
            args["timeout_ms"] = timeout
        steps.append(call("shell", **args))
        if name == "plant":
            steps.append(call("write_file", file_path="esc/main.py", content="PWNED\n"))
            steps.append(call("write_file", file_path="data_link/d.txt", content="PWNED\n"))
        if name == "plant_dir":
            steps.append(call("write_file", file_path="data/d.txt", content="PWNED\n"))
    steps.append("done")
    session = Session(
        ScriptedModel(steps),
        root=root,
        skills_dirs=[],
        max_turns=len(steps) + 1,
        config=SessionConfig(shell=True, shell_approval="allow"),
    )
    outputs: list[str] = []
    session.subscribe(
        lambda e: (
            e.kind is EventKind.TOOL_CALL_END
            and e.data.get("name") == "shell"
            and outputs.append(str(e.data["output"]))
        )
    )
    session.send("attack")
    by_name = dict(zip(names, outputs, strict=False))
    sandbox_dir = session.shell.sandbox.directory if session.shell else None
    workspace_files = sorted(session.files())
    session.close()
    listener.close()
    outside_written = OUTSIDE.exists()
    if outside_written:
        OUTSIDE.unlink()
    return {
        "outside_written": outside_written,
        "outputs": by_name,
        "tree_unchanged": tree_state(root) == before,
        "secret_leaked": any(SECRET in text for text in outputs),
        "connections": listener.connections,
        "survivors": running(MARKERS),
        "workspace_files": workspace_files,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "sandbox_left": sandbox_dir is not None and sandbox_dir.exists(),
        "self_pid": os.getpid(),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
