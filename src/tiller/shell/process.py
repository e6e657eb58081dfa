"""Running one command: its own process group, streamed output, timeout and cancel.

The command (usually `bwrap ... bash -c`, see `confinement`) runs in a new
session, so it and every child it starts share a process group that can be
signalled as one; under bwrap, ending the group's leader ends the command's whole
PID namespace, including anything that left the group (`setsid`). On timeout the
group gets SIGTERM, then SIGKILL after a grace period; on cancel, SIGKILL at
once. Whatever the command printed until then is kept. The output reader never
blocks past the end: a process that escaped and still holds the pipe cannot hold
the tool.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE_SECONDS = 2.0
"""How long a process group has between SIGTERM and SIGKILL."""

MAX_KEPT_CHARS = 4_000_000
"""Output kept in memory per command (head and tail halves); a runaway `yes` must not eat RAM."""

_POLL_SECONDS = 0.05
"""How often a waiting command checks its deadline and the cancel flag."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended.

    Attributes:
        output: stdout and stderr, interleaved as written.
        exit_code: the exit status; negative for a signal; None when it was stopped.
        timed_out: it ran past its timeout and was stopped.
        cancelled: the run was cancelled and the command stopped.
        seconds: wall-clock duration.
        stopped_leftovers: background processes still running after it exited were stopped.
    """

    output: str
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    seconds: float = 0.0
    stopped_leftovers: bool = False


class _Output:
    """Collects decoded output, keeping the head and the tail when it grows too large."""

    def __init__(self, on_output: Callable[[str], None]) -> None:
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head: list[str] = []
        self._head_size = 0
        self._tail: list[str] = []
        self._tail_size = 0
        self._dropped = 0

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decoder.decode(data, final)
        if not text:
            return
        half = MAX_KEPT_CHARS // 2
        if self._head_size < half:
            self._head.append(text)
            self._head_size += len(text)
        else:
            self._tail.append(text)
            self._tail_size += len(text)
            while self._tail_size > half and len(self._tail) > 1:
                removed = self._tail.pop(0)
                self._tail_size -= len(removed)
                self._dropped += len(removed)
        with contextlib.suppress(Exception):  # a broken listener must not kill the reader
            self._on_output(text)

    def text(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)
        if self._dropped:
            return f"{head}\n[... {self._dropped} characters of output dropped ...]\n{tail}"
        return head + tail


def _read_all(fd: int, output: _Output, stop: threading.Event) -> None:
    """Read until end of file, or until `stop` is set (someone outside still holds the pipe)."""
    poller = select.poll()  # not select(): a descriptor above 1023 is fine
    poller.register(fd, select.POLLIN)
    try:
        while not stop.is_set():
            if not poller.poll(_POLL_SECONDS * 1000):
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            output.feed(data)
    except OSError:
        pass
    finally:
        output.feed(b"", final=True)
        os.close(fd)


_NAMESPACE_END_SECONDS = 10.0
"""How long to wait for a sandbox's PID 1 after bwrap exited (it has been sent SIGKILL)."""


def _namespace_pidfd(fd: int, deadline: float) -> int | None:
    """A pidfd for the sandbox's PID 1 that bwrap names on `fd` (`--info-fd`), which is closed.

    bwrap writes the JSON and closes its end right after creating the namespace (or
    exits first, which also ends the read): None when it said nothing usable.
    """
    data = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        while time.monotonic() < deadline:
            if not poller.poll(_POLL_SECONDS * 1000):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        pid = int(json.loads(data)["child-pid"])
        return os.pidfd_open(pid)
    except (ValueError, KeyError, TypeError, OSError):
        return None  # gone already (nothing to wait for), or bwrap failed to start


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_command(
    command: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    cancel: threading.Event,
    on_output: Callable[[str], None],
    kill_grace: float = KILL_GRACE_SECONDS,
    namespace_info: tuple[int, int] | None = None,
) -> CommandResult:
    """Run `command` in `cwd` and wait for it, its output streamed.

    Args:
        command: a shell command line (run with `bash -c`), or a whole argv.
        cwd: the directory it starts in.
        env: its whole environment.
        timeout: seconds before the process group is stopped.
        cancel: when set, the process group is stopped at once.
        on_output: called with each piece of decoded output as it arrives.
        kill_grace: seconds between SIGTERM and SIGKILL on timeout; also how long the
            output may still arrive after the command ended.
        namespace_info: `(read, write)` of a pipe whose write end the argv gave bwrap as
            `--info-fd`; both are taken over (closed here). The call then returns only
            once the sandbox's PID 1, and so every process in its namespace, is gone.

    Raises:
        OSError: bash could not be started.
    """
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            ["bash", "-c", command] if isinstance(command, str) else command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
            pass_fds=namespace_info[1:] if namespace_info else (),
        )
    except BaseException:
        os.close(read_fd)
        if namespace_info:
            os.close(namespace_info[0])
        raise
    finally:
        os.close(write_fd)
        if namespace_info:
            os.close(namespace_info[1])
    namespace = _namespace_pidfd(namespace_info[0], started + timeout) if namespace_info else None
    output = _Output(on_output)
    stop_reading = threading.Event()
    reader = threading.Thread(target=_read_all, args=(read_fd, output, stop_reading), daemon=True)
    reader.start()
    pgid = proc.pid  # start_new_session makes the child its own group leader

    deadline = started + timeout
    timed_out = cancelled = False
    while True:
        try:
            proc.wait(timeout=max(0.0, min(_POLL_SECONDS, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            if cancel.is_set():
                cancelled = True
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break

    leftovers = False
    if cancelled:
        _signal_group(pgid, signal.SIGKILL)
        proc.wait()
    elif timed_out:
        _stop_group(pgid, proc, reader, kill_grace)
    else:
        # The pipe stays open while a background child still holds it.
        reader.join(timeout=0.5)
        if reader.is_alive():
            leftovers = True
            _stop_group(pgid, proc, reader, kill_grace)
    # Anything detached from the pipe (`nohup ... &`) must not outlive the command either.
    _signal_group(pgid, signal.SIGKILL)
    # What is still holding the pipe now escaped the group (only possible unconfined):
    # the output ends here rather than when it pleases.
    reader.join(timeout=0.2 if cancelled else 1.0)
    stop_reading.set()
    reader.join()
    if namespace is not None:
        # bwrap has exited, but its PID 1 may still be killing the rest of the namespace:
        # nothing may write into the sandbox copy once this returns (SIGKILL: milliseconds).
        with contextlib.suppress(OSError):
            select.select([namespace], [], [], _NAMESPACE_END_SECONDS)
        os.close(namespace)
    return CommandResult(
        output=output.text(),
        exit_code=None if (timed_out or cancelled) else proc.returncode,
        timed_out=timed_out,
        cancelled=cancelled,
        seconds=time.monotonic() - started,
        stopped_leftovers=leftovers,
    )


def _stop_group(
    pgid: int, proc: subprocess.Popen[bytes], reader: threading.Thread, grace: float
) -> None:
    """SIGTERM the group; SIGKILL it if the leader or the pipe's holders outlast `grace`."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    reader.join(timeout=max(0.0, deadline - time.monotonic()))
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
