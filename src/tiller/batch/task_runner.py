"""One task from repository to result line: checkout, session, setup, prompt, patch.

The same function runs in a thread of this process and inside a Ray task on a
worker, so everything it needs travels in `Task` and `TaskDefaults`.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.batch.checkout import CheckoutInterrupted, RepoError, checkout
from tiller.batch.rate_limits import RateLimits, provider_key
from tiller.batch.tasks import Task, TaskResult
from tiller.config import SessionConfig
from tiller.errors import AuthError, ToolError
from tiller.events import Event, EventKind
from tiller.manager import SessionManager
from tiller.session import Reply, Session

SETUP_TIMEOUT_MS = 600_000
RATE_LIMIT_ATTEMPTS = 3
"""A task whose every provider retry hit a 429 starts over this many times in all."""

_EXIT = re.compile(r"^Exit code: (-?\d+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TaskDefaults:
    """What every task of a batch shares unless its line says otherwise.

    Attributes:
        model: the litellm model id.
        max_turns: model round-trips for the prompt.
        reasoning: the reasoning effort, or None for the provider's default.
        config: the session limits (shell sandbox, approvals, truncation, ...).
        llm_options: provider options (`api_base`, `transport`, ...).
        skills_dirs: where to look for skills; None for the defaults of each repo.
        journal: journal each session (`tiller sessions show <session_id>`).
    """

    model: str
    max_turns: int = 50
    reasoning: str | None = None
    config: SessionConfig = field(default_factory=SessionConfig)
    llm_options: dict[str, Any] = field(default_factory=dict)
    skills_dirs: tuple[str, ...] | None = None
    journal: bool = True


def _deny(details: dict[str, Any]) -> Approval:
    return Approval(Decision.DENY, reason="nobody can answer in a batch")


def run_setup(session: Session, command: str) -> str | None:
    """Run a task's `setup` in the session's shell sandbox; why it failed, or None.

    The setup's own runner allows its one command (it is the task author's, not the
    model's); what it writes comes back into the workspace like any command's.
    """
    if session.shell_unavailable is not None:
        return f"setup could not run: {session.shell_unavailable}"
    from tiller.shell.runner import ShellRunner, ShellSettings

    settings = ShellSettings(
        default_timeout_ms=SETUP_TIMEOUT_MS,
        sandbox=session.config.shell_sandbox,
        network=session.config.shell_network,
    )
    runner = ShellRunner(
        session.workspace,
        policy=ApprovalPolicy("allow"),
        ask=_deny,
        settings=settings,
        label=f"{session.id}-setup",
    )
    try:
        report = runner.run(
            command,
            timeout_ms=SETUP_TIMEOUT_MS,
            description="batch setup",
            cancel=session.cancel_token,
            on_output=lambda _text: None,
        )
    except ToolError as exc:
        return f"setup failed: {exc}"
    finally:
        runner.close()
    code = _EXIT.search(report)
    if code is None or code.group(1) != "0":
        return f"setup failed:\n{report}"
    return None


def _result(task: Task, session: Session, reply: Reply | None, error: str | None) -> TaskResult:
    workspace = session.workspace
    status = reply.stop_reason if reply is not None else "error"
    usage = reply.usage.to_dict() if reply is not None else session.usage.to_dict()
    return TaskResult(
        id=task.id,
        status=status,
        patch=workspace.diff(),
        files_changed=[[path, kind] for path, kind in workspace.changes()],
        rounds=reply.rounds if reply is not None else 0,
        usage=usage,
        error=error if error is not None else (reply.error if reply is not None else None),
        session_id=session.id,
        model=session.model,
        answer=reply.text if reply is not None else "",
    )


def _rate_limited(result: TaskResult) -> bool:
    return result.status == "error" and "Rate limited" in (result.error or "")


def _attempt(
    task: Task,
    defaults: TaskDefaults,
    manager: SessionManager,
    limits: RateLimits,
    provider: str,
    cancel: threading.Event,
) -> TaskResult:
    with checkout(task.repo, task.commit) as root:
        config = replace(defaults.config, shell=task.shell or defaults.config.shell)
        if config.shell_approval == "ask":
            config = replace(config, shell_approval="deny")  # nobody can answer in a batch
        session_id = uuid.uuid4().hex[:12]
        session = manager.start(
            session_id,
            model=task.model or defaults.model,
            root=root,
            max_turns=task.max_turns or defaults.max_turns,
            reasoning_effort=task.reasoning or defaults.reasoning,
            config=config,
            skills_dirs=list(defaults.skills_dirs) if defaults.skills_dirs is not None else None,
            **defaults.llm_options,
        )
        try:
            if defaults.journal:
                from tiller.journal import Journal

                Journal.attach(session, fsync=False)

            def on_event(event: Event) -> None:
                if event.kind is EventKind.WARNING and event.data.get("retry"):
                    limits.note_warning(provider, str(event.data.get("message", "")))

            session.subscribe(on_event)
            reply: Reply | None = None
            error = run_setup(session, task.setup) if task.setup else None
            if cancel.is_set():  # cancelled while cloning or setting up
                return TaskResult(id=task.id, status="cancelled", error="the batch was cancelled")
            if error is None:
                try:
                    reply = manager.send(session_id, task.prompt)
                except AuthError as exc:
                    error = str(exc)
            return _result(task, session, reply, error)
        finally:
            manager.stop(session_id)


def run_task(
    task: Task,
    defaults: TaskDefaults,
    manager: SessionManager,
    *,
    cancel: threading.Event | None = None,
    limits: RateLimits | None = None,
) -> TaskResult:
    """Run `task` to its result; every failure becomes an `error` result, never an exception.

    Args:
        task: the task line.
        defaults: the batch's shared options.
        manager: starts the task's session (its worker thread) and stops it after.
        cancel: set when the batch is cancelled; a task not yet started returns `cancelled`.
        limits: the batch's per-provider backoff.
    """
    cancel = cancel or threading.Event()
    limits = limits or RateLimits()
    provider = provider_key(task.model or defaults.model, defaults.llm_options.get("api_base"))
    started = time.monotonic()
    result = TaskResult(id=task.id, status="cancelled", error="the batch was cancelled")
    for _ in range(RATE_LIMIT_ATTEMPTS):
        if not limits.wait(provider, cancel):
            result = TaskResult(id=task.id, status="cancelled", error="the batch was cancelled")
            break
        try:
            result = _attempt(task, defaults, manager, limits, provider, cancel)
        except CheckoutInterrupted as exc:  # a resume runs it again, as any cancelled task
            result = TaskResult(id=task.id, status="cancelled", error=str(exc))
        except RepoError as exc:
            result = TaskResult(id=task.id, status="error", error=str(exc))
        except Exception as exc:  # one task failing never stops the batch
            result = TaskResult(id=task.id, status="error", error=f"{type(exc).__name__}: {exc}")
        if not _rate_limited(result):
            break
    result.duration_s = round(time.monotonic() - started, 3)
    return _redacted(result, defaults.llm_options)


def _redacted(result: TaskResult, options: dict[str, Any]) -> TaskResult:
    """`result` with its text (answer, error) redacted as a journal's text is.

    The patch is file content, left whole so that it applies (as a journal leaves
    content alone); keys, URL credentials and token formats in what the model said,
    a provider's or git's message, or a setup's output never reach the line.
    """
    from tiller.redaction import Redactor, secret_values

    redactor = Redactor(secret_values(options))
    result.answer = redactor.redact(result.answer)
    if result.error is not None:
        result.error = redactor.redact(result.error)
    return result
