"""`ShellRunner`: one session's shell — approval, sandbox sync, the command, the way back."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.errors import ToolError
from tiller.shell.confinement import (
    Confinement,
    ConfinementError,
    hidden_paths,
    problem,
    unconfined_argv,
)
from tiller.shell.environment import sandbox_env
from tiller.shell.nofollow import MAX_COLLECT_BYTES
from tiller.shell.process import KILL_GRACE_SECONDS, CommandResult, run_command
from tiller.shell.sandbox import MAX_COLLECT_TOTAL_BYTES, Collected, Sandbox
from tiller.workspace import Workspace

MAX_TIMEOUT_MS = 600_000
"""No single command may run longer than ten minutes."""

MAX_COMMAND_BYTES = 128 * 1024 - 1
"""The longest command bash can be given: it is one argument (`bash -c COMMAND`), and
the kernel refuses an argument over 128 KiB with its NUL (MAX_ARG_STRLEN)."""

Ask = Callable[[dict[str, Any]], Approval]
"""Asks the person about a request (its details) and returns the answer."""


@dataclass(frozen=True, slots=True)
class ShellSettings:
    """How a session's shell behaves.

    Attributes:
        default_timeout_ms: for a call that gives no `timeout_ms`.
        cwd: where commands start, relative to the workspace root.
        sandbox_parent: where sandboxes are created (default: the temp dir).
        environ: the environment to filter for commands (default: `os.environ`).
        sandbox: `bwrap` confines every command (see `tiller.shell.confinement`);
            `none` runs them unconfined (only the user's own config may ask for it).
        network: commands may reach the network (under bwrap; unconfined always can).
        hidden: paths commands must not read (default: Tiller's data and config dirs).
    """

    default_timeout_ms: int = 10_000
    cwd: str = ""
    sandbox_parent: Path | None = None
    environ: Mapping[str, str] | None = None
    sandbox: str = "bwrap"
    network: bool = False
    hidden: tuple[Path, ...] | None = None


class ShellRunner:
    """Runs the model's commands in a sandbox copy of the workspace, asking first.

    Args:
        workspace: the workspace the sandbox mirrors and feeds back into.
        policy: what runs without asking.
        ask: how to ask the person when the policy does not decide.
        settings: timeouts, cwd and where the sandbox lives.
        label: a readable part of the sandbox's directory name.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        policy: ApprovalPolicy,
        ask: Ask,
        settings: ShellSettings | None = None,
        label: str = "",
    ) -> None:
        self.policy = policy
        self.settings = settings or ShellSettings()
        self.workspace = workspace
        self.sandbox = Sandbox(workspace, parent=self.settings.sandbox_parent, label=label)
        self._ask = ask
        self._lock = threading.Lock()
        self._closing = False

    @property
    def confined(self) -> bool:
        """Whether commands run under bwrap (False only for `sandbox = "none"`)."""
        return self.settings.sandbox != "none"

    def close(self) -> None:
        """Remove the sandbox; if a command is running, as soon as it ends (never waits)."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self.sandbox.close()
            finally:
                self._lock.release()

    def _argv(self, command: str, info_fd: int | None = None) -> tuple[list[str], str]:
        """The argv for `command` and the directory it starts in, as the command sees it."""
        cwd = self.settings.cwd
        if not self.confined:
            return unconfined_argv(command), str(self.sandbox.path / cwd)
        why = problem()
        if why is not None:
            raise ConfinementError(why)
        root = self.workspace.root if self.workspace.root is not None else self.sandbox.path
        hidden = self.settings.hidden
        if hidden is None:
            hidden = hidden_paths(environ=self.settings.environ)
        confinement = Confinement(
            root=root, sandbox=self.sandbox.path, network=self.settings.network, hidden=hidden
        )
        self.sandbox.never_copied = tuple(confinement.left_out_of_the_copy())
        argv = confinement.argv(command, cwd, info_fd)
        return argv, str(root / cwd) if cwd else str(root)

    def run(
        self,
        command: str,
        *,
        timeout_ms: int | None,
        description: str,
        cancel: threading.Event,
        on_output: Callable[[str], None],
        call_id: str = "",
    ) -> str:
        """Ask, sync, run, bring changes back; returns the text the model reads.

        `call_id` (the model's id for the call) goes into the approval request, so a
        front end can show which call waits.

        Raises:
            ToolError: the command was denied, cancelled, or could not start.
        """
        if not command.strip():
            raise ToolError("The command is empty.")
        size = len(command.encode("utf-8", "surrogatepass"))
        if size > MAX_COMMAND_BYTES:
            # Refused before anyone is asked: it could never start, and a person would be
            # shown megabytes to approve.
            raise ToolError(
                f"The command is {size} bytes; bash can be given at most {MAX_COMMAND_BYTES}. "
                "For long input, write it to a script file (write_file) and run that."
            )
        notes: list[str] = []
        timeout = timeout_ms or self.settings.default_timeout_ms
        if timeout > MAX_TIMEOUT_MS:
            notes.append(f"timeout_ms {timeout} was capped at {MAX_TIMEOUT_MS} (10 minutes).")
            timeout = MAX_TIMEOUT_MS
        self._approve(command, description, timeout, call_id)
        if cancel.is_set():
            raise ToolError("Cancelled by the user before the command started; it did not run.")
        try:
            with self._lock:
                if self._closing:
                    raise ToolError("The session is closing; the command did not run.")
                return self._run_locked(command, timeout, notes, cancel, on_output)
        finally:
            # close() came while the command ran and could not take the lock: finish it now.
            # (Checked after releasing the lock, so one of the two always sees both.)
            if self._closing:
                self.close()

    def _run_locked(
        self,
        command: str,
        timeout: int,
        notes: list[str],
        cancel: threading.Event,
        on_output: Callable[[str], None],
    ) -> str:
        """Sync, run and collect, with the runner's lock held."""
        # bwrap names the sandbox's PID 1 on this pipe: the command is over only once the
        # whole namespace is (bwrap itself exits while its PID 1 is still ending the rest).
        info = os.pipe() if self.confined else None
        try:
            argv, env = self._prepare(command, info[1] if info else None)
        except BaseException:
            if info:  # run_command takes the pipe over; it never got it
                os.close(info[0])
                os.close(info[1])
            raise
        try:
            result = run_command(
                argv,
                cwd=self.sandbox.path / self.settings.cwd,
                env=env,
                timeout=timeout / 1000,
                cancel=cancel,
                on_output=on_output,
                namespace_info=info,
            )
        except OSError as exc:
            raise ToolError(f"Could not start the command: {exc}") from exc
        collected = self.sandbox.collect()
        text = _report(result, collected, timeout, notes, confined=self.confined)
        if result.cancelled:
            raise ToolError(f"Cancelled by the user; the command was stopped.\n{text}")
        return text

    def _prepare(self, command: str, info_fd: int | None) -> tuple[list[str], dict[str, str]]:
        """The argv and environment for `command`, with the sandbox copy brought up to date."""
        try:
            argv, pwd = self._argv(command, info_fd)
        except ConfinementError as exc:
            raise ToolError(str(exc)) from exc
        try:
            self.sandbox.sync()
            self.sandbox.ensure_dir(self.settings.cwd)
        except (OSError, ValueError) as exc:
            raise ToolError(f"Could not prepare the sandbox copy: {exc}") from exc
        root = self.workspace.root
        env = sandbox_env(
            self.settings.environ if self.settings.environ is not None else os.environ,
            pwd=pwd,
            untrusted=os.path.realpath(root) if root is not None else None,
        )
        if self.confined:
            env["TMPDIR"] = "/tmp"  # the command's private /tmp; any other is hidden
        return argv, env

    def _approve(self, command: str, description: str, timeout_ms: int, call_id: str) -> None:
        verdict = self.policy.review(command)
        if verdict.allowed:
            return
        if self.policy.mode == "deny":
            raise ToolError(
                f"This command needs approval because {verdict.reason}; nobody can give it here "
                "(a headless run). "
                "Run with --yes, or add a matching pattern to `allow` under [shell] in "
                "config.toml. Do not retry the same command."
            )
        answer = self._ask(
            {
                "tool": "shell",
                "call_id": call_id,
                "command": command,
                "reason": verdict.reason,
                "description": description,
                "cwd": self.settings.cwd or ".",
                "timeout_ms": timeout_ms,
            }
        )
        if answer.decision is Decision.ALLOW_SESSION:
            self.policy.remember(command)
        if not answer.allowed:
            reason = f" Their reason: {answer.reason.rstrip('.')}." if answer.reason else ""
            raise ToolError(
                "The user denied this command; it did not run." + reason + " "
                "Do not retry it unchanged; adjust your approach or ask the user."
            )


def _report(
    result: CommandResult,
    collected: Collected,
    timeout_ms: int,
    notes: list[str],
    *,
    confined: bool = True,
) -> str:
    """The model's view of a finished command."""
    lines: list[str] = []
    if not confined:
        lines.append(
            'UNCONFINED: this command ran directly on the machine ([shell] sandbox = "none").'
        )
    if result.timed_out:
        lines.append(
            f"Timed out after {timeout_ms / 1000:g} s: the command and every process it started "
            f"were stopped (SIGTERM, then SIGKILL after {KILL_GRACE_SECONDS:g} s). The output so "
            f"far is below. If it needs longer, call shell again with a larger timeout_ms "
            f"(at most {MAX_TIMEOUT_MS})."
        )
    elif result.exit_code is not None:
        lines.append(f"Exit code: {result.exit_code}")
    lines.append(f"Duration: {result.seconds:.1f} s")
    lines.extend(f"Note: {note}" for note in notes)
    if result.stopped_leftovers:
        lines.append("Note: background processes it left running were stopped.")
    lines.append("Output:")
    lines.append(result.output.rstrip("\n") if result.output.strip() else "(no output)")
    if collected.changes:
        marks = {"added": "A", "modified": "M", "deleted": "D"}
        listed = ", ".join(f"{marks[kind]} {path}" for path, kind in collected.changes)
        lines.append(f"Workspace changes from this command: {listed}")
    if collected.moved:
        lines.append(
            "Changed on disk while the command ran, so the disk's version was kept and the "
            "command's change to it was dropped (read it again): " + ", ".join(collected.moved)
        )
    if collected.skipped:
        lines.append(
            "Binary files it wrote stay in the sandbox only (the workspace holds text): "
            + ", ".join(collected.skipped)
        )
    if collected.too_large:
        lines.append(
            f"Files over {MAX_COLLECT_BYTES // (1024 * 1024)} MB (or past "
            f"{MAX_COLLECT_TOTAL_BYTES // (1024 * 1024)} MB read back for one command) stay in "
            "the sandbox only (not read back): " + ", ".join(collected.too_large)
        )
    if collected.symlinks:
        lines.append(
            "Symlinks it made stay in the sandbox only (never followed, not in the workspace): "
            + ", ".join(f"{path} -> {target}" for path, target in collected.symlinks)
        )
    return "\n".join(lines)
