"""`Session`: one conversation with a model over a workspace.

The session holds state (history, queues, usage, subscribers); the control flow
of a run lives in `loop.Run`. Everything reaches the outside as `Event`s.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.compaction import Compaction
from tiller.config import SessionConfig, check_reasoning
from tiller.errors import SessionBusy, SessionClosed
from tiller.events import Event, EventKind, Subscriber
from tiller.history import MessageCache, Turn
from tiller.mcp.servers import McpServers
from tiller.model import ModelClient, ModelRequest, Usage
from tiller.profiles import Profile, pick_profile
from tiller.project_docs import ProjectDocsCache
from tiller.settings import resolve_model
from tiller.skills import Skill, SkillDiagnostic, default_skill_dirs, discover_skills, skill_catalog
from tiller.subagents import SubagentPool, subagent_tools
from tiller.system_prompt import Environment, build_system_prompt
from tiller.tools import file_tools
from tiller.tools.base import Tool
from tiller.tools.registry import ToolRegistry
from tiller.tools.shell import shell_tool
from tiller.tools.skill import skill_tool
from tiller.workspace import Workspace

if TYPE_CHECKING:
    from tiller.shell.runner import ShellRunner


class SessionState(StrEnum):
    """Where a session is in its life."""

    IDLE = "idle"
    PROCESSING = "processing"
    AWAITING_INPUT = "awaiting_input"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of one `send`.

    Attributes:
        text: the final assistant text.
        files: the workspace map afterwards.
        stop_reason: `completed`, `turn_limit`, `cancelled` or `error`.
        rounds: model calls made.
        usage: tokens and cost of this send.
        error: what went wrong when `stop_reason == "error"`.
    """

    text: str
    files: dict[str, str]
    stop_reason: str
    rounds: int
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


def _resolve_model(
    model: str | ModelClient | None, root: str | Path | None = None
) -> tuple[str, ModelClient | None]:
    if model is None or isinstance(model, str):
        return resolve_model(model, root=Path(root) if root is not None else None), None
    return str(getattr(model, "model", "custom")), model


def _shell_unavailable(sandbox_mode: str) -> str | None:
    from tiller.shell.confinement import unavailable

    return unavailable(sandbox_mode)


class Session:
    """A conversation with a model that edits an in-memory workspace.

    Args:
        model: a litellm model id, or a `ModelClient` (e.g. `testing.ScriptedModel`).
        system_prompt: appended last to the assembled system prompt.
        skills_dirs: where to look for skills (default: DESIGN §5).
        tools: extra tools; one named like a built-in replaces it.
        max_turns: model round-trips per `send`.
        files: seed files, or a `Workspace` to share.
        root: a directory the workspace overlays (read-only until flushed).
        cwd: the working directory, relative to the root.
        profile: `anthropic`, `openai` or `gemini`; None picks from the model.
        config: limits; see `SessionConfig`.
        client: a model client to use with the model id `model` (shared by subagents).
        depth: subagent nesting level (0 for a top-level session).
        parent: the session that spawned this one; approvals are asked through it.
        session_id: a fixed id (default: random).
        reasoning_effort: `none`, `low`, `medium` or `high`; None leaves the provider's
            default. litellm maps it per provider (Anthropic: extended thinking).
        **llm_options: forwarded to the provider (api_base, api_key, temperature, ...);
            `prompt_caching=False` turns off Claude's cache breakpoints (see `caching`).
    """

    def __init__(
        self,
        model: str | ModelClient | None = None,
        *,
        system_prompt: str | None = None,
        skills_dirs: Iterable[str | Path] | None = None,
        tools: Iterable[Tool] | None = None,
        max_turns: int = 10,
        files: Mapping[str, str] | Workspace | None = None,
        root: str | Path | None = None,
        cwd: str = "",
        profile: str | None = None,
        config: SessionConfig | None = None,
        client: ModelClient | None = None,
        depth: int = 0,
        parent: Session | None = None,
        session_id: str | None = None,
        reasoning_effort: str | None = None,
        **llm_options: Any,
    ) -> None:
        self.id = session_id or uuid.uuid4().hex[:12]
        self.reasoning_effort = check_reasoning(reasoning_effort)
        self.config = config or SessionConfig()
        self.max_turns = max_turns
        self.depth = depth
        self.parent = parent
        self.llm_options: dict[str, Any] = dict(llm_options)
        self.system_prompt = system_prompt
        self.cwd = cwd.strip("/")
        if isinstance(files, Workspace):
            self.workspace = files
        else:
            self.workspace = Workspace(files=dict(files or {}), root=root)
        self.model, resolved = _resolve_model(model, root)
        self._client = client or resolved
        # The transport the session's own client was made for (None: the caller's client).
        self._client_transport: str | None = None
        self._client_lock = threading.Lock()  # `warm_up` may make it on another thread
        self._profile_name = profile
        self.profile: Profile = pick_profile(self.model, profile)
        self.history: list[Turn] = []
        self._turn_listeners: list[Callable[[Turn], None]] = []
        self.usage = Usage()
        self.state = SessionState.IDLE
        self.last_input_tokens = 0

        root_path = self.workspace.root
        dirs = [Path(d) for d in skills_dirs] if skills_dirs is not None else None
        self.skills: list[Skill]
        self.skill_diagnostics: list[SkillDiagnostic]
        self.skills, self.skill_diagnostics = discover_skills(
            dirs if dirs is not None else default_skill_dirs(root_path)
        )
        self._environment = Environment.detect(root_path, self.cwd, self.model)
        self._extra_tools = list(tools or [])
        self._subscribers: list[Subscriber] = []
        self._lock = threading.RLock()
        self._steering: deque[str] = deque()
        self._follow_ups: deque[str] = deque()
        self.cancel_token = threading.Event()
        self._close_requested = False
        self._ended = False
        self._end_lock = threading.Lock()
        self._started = False
        self._closers: list[Callable[[], None]] = []
        self.subagents = SubagentPool(self)
        self.on_close(self.subagents.close_all)
        self.approvals: ApprovalPolicy = (
            parent.approvals
            if parent is not None
            else ApprovalPolicy(self.config.shell_approval, tuple(self.config.shell_allow))
        )
        # The shell machinery is imported only by sessions that offer the shell tool.
        self.shell: ShellRunner | None = None
        # Why the shell tool is not offered though asked for (no bwrap here): one line
        # a front end shows with the install command.
        self.shell_unavailable: str | None = (
            _shell_unavailable(self.config.shell_sandbox) if self.config.shell else None
        )
        self._project_docs = ProjectDocsCache(self.workspace)
        self._prompt_key: tuple[Any, ...] | None = None
        self._prompt = ""
        self._messages = MessageCache()
        self.on_close(self.workspace.subscribe(self._on_workspace_change))
        self._mcp_warnings: list[str] = []
        self.mcp: McpServers | None = parent.mcp if parent is not None else self._start_mcp()
        self.registry = self._build_registry()

    # -- wiring ---------------------------------------------------------------

    def _build_registry(self) -> ToolRegistry:
        tools: list[Tool] = list(file_tools(self.workspace, edit_style=self.profile.edit_tool))
        if self.skills:
            tools.append(skill_tool(self.skills, on_load=self._on_skill_loaded))
        if self.depth < self.config.max_subagent_depth:
            tools += subagent_tools(self.subagents)
        if self.config.shell and self.shell_unavailable is None:
            tools.append(shell_tool(self._shell_runner()))
        if self.mcp is not None:
            tools += self.mcp.tools()
        by_name = {tool.name: tool for tool in tools}
        for tool in self._extra_tools:
            by_name[tool.name] = tool
        return ToolRegistry(by_name.values(), limits=self.config.truncation)

    def _shell_runner(self) -> ShellRunner:
        from tiller.shell.runner import ShellRunner, ShellSettings

        settings = ShellSettings(
            default_timeout_ms=self.config.shell_timeout_ms or self.profile.shell_timeout_ms,
            cwd=self.cwd,
            sandbox=self.config.shell_sandbox,
            network=self.config.shell_network,
        )
        if self.shell is None:
            self.shell = ShellRunner(
                self.workspace,
                policy=self.approvals,
                ask=self.request_approval,
                settings=settings,
                label=self.id,
            )
            self.on_close(self.shell.close)
        else:
            self.shell.settings = settings
        return self.shell

    def _start_mcp(self) -> McpServers | None:
        """Start the configured MCP servers in the background (None when there are none)."""
        if not self.config.mcp_servers:
            return None
        servers = McpServers(
            self.config.mcp_servers,
            root=self.workspace.root,
            approval_mode=lambda: self.approvals.mode,
            ask=self.request_approval,
            on_tools=self.refresh_tools,
            on_warning=self._on_mcp_warning,
        )
        self.on_close(servers.close)
        servers.start()
        return servers

    def _on_mcp_warning(self, message: str) -> None:
        # Before the first send nobody may be subscribed yet: keep it for SESSION_START.
        with self._lock:
            if not self._started:
                self._mcp_warnings.append(message)
                return
        self.emit(EventKind.WARNING, message=message, source="mcp")

    def refresh_tools(self) -> None:
        """Rebuild the tool registry (MCP servers call it when their tools arrive)."""
        with self._lock:
            self.registry = self._build_registry()

    def _on_skill_loaded(self, skill: Skill) -> None:
        self.emit(EventKind.SKILL_LOADED, name=skill.name, path=str(skill.path))

    def _on_workspace_change(self, path: str, action: str) -> None:
        self._project_docs.invalidate(path)
        self.emit(EventKind.WORKSPACE_CHANGED, path=path, action=action)

    def add_tools(self, *tools: Tool) -> None:
        """Add (or replace by name) tools; used by subagent and shell wiring."""
        with self._lock:
            self._extra_tools.extend(tools)
            self.registry = self._build_registry()

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run `fn` before `SESSION_END` (children close here)."""
        self._closers.append(fn)

    @property
    def client(self) -> ModelClient:
        """The model client, created on first use so importing stays cheap.

        The `transport` option picks it (`transport.resolve_transport`): `auto`
        (default) is the lean client for OpenAI-compatible endpoints and litellm
        for every other provider; `litellm` and `openai` force one. Under `auto`
        a model switch to another kind of endpoint gets a client of its kind.

        Raises:
            ValueError: `transport` names no transport.
        """
        if self._client is None or self._client_transport is not None:
            name = self._resolved_transport()
            with self._client_lock:
                if self._client is None or name != self._client_transport:
                    from tiller.transport import client_for

                    self._client = client_for(name, stall_timeout=self.config.stall_timeout)
                    self._client_transport = name
        return self._client

    def warm_up(self) -> threading.Thread:
        """Load what the first model call needs (the engine's loop, the client's modules
        and connection pool) on a daemon thread, so that a prompt sent later starts at once.

        Front ends call it once their first frame is drawn; it is never required, and a
        problem it meets is left for the first call to report.
        """
        thread = threading.Thread(target=self._warm, name="tiller-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        import tiller.loop  # noqa: F401  (what `send` imports first)

        try:
            warm = getattr(self.client, "warm_up", None)
            if callable(warm):
                warm(self.llm_options)
        except Exception:
            return  # the first call reports it, where the person sees it

    @property
    def transport(self) -> str:
        """How the model is reached: `litellm`, `openai` (the lean client), or the name
        a caller's own client gives itself (`custom` when it gives none)."""
        if self._client is not None and self._client_transport is None:
            return str(getattr(self._client, "transport", "custom"))
        return self._resolved_transport()

    def _resolved_transport(self) -> str:
        from tiller.transport import resolve_transport

        return resolve_transport(
            self.llm_options.get("transport"), self.model, self.llm_options.get("api_base")
        )

    def set_model(self, model: str, profile: str | None = None) -> None:
        """Switch models from the next call on; the profile follows unless pinned."""
        self.model = model
        if profile is not None:
            self._profile_name = profile
        new_profile = pick_profile(model, self._profile_name)
        if new_profile != self.profile:
            self.profile = new_profile
            self.registry = self._build_registry()
        self._environment = Environment.detect(self.workspace.root, self.cwd, model)

    def set_reasoning(self, effort: str | None) -> None:
        """Change the reasoning effort from the next model call on (None: provider default).

        Raises:
            ValueError: `effort` is not one of `REASONING_EFFORTS`.
        """
        self.reasoning_effort = check_reasoning(effort)

    @property
    def context_window(self) -> int:
        """The model's context window in tokens (a default when unknown)."""
        return self.client.context_window(self.model) or self.config.default_context_window

    # -- history --------------------------------------------------------------

    def add_turn(self, turn: Turn) -> None:
        """Append `turn` to the history and tell `on_turn` listeners (the loop's one way in)."""
        self.history.append(turn)
        for fn in list(self._turn_listeners):
            try:
                fn(turn)
            except Exception:
                continue

    def replace_history(self, turns: list[Turn]) -> None:
        """Put `turns` in place of the whole history (compaction; `on_turn` is not told)."""
        self.history[:] = turns

    def on_turn(self, fn: Callable[[Turn], None]) -> Callable[[], None]:
        """Call `fn(turn)` after each turn is appended (a journal); returns an unsubscribe."""
        with self._lock:
            self._turn_listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._turn_listeners:
                    self._turn_listeners.remove(fn)

        return unsubscribe

    # -- events ---------------------------------------------------------------

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Receive every event; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def emit(self, kind: EventKind, /, **data: Any) -> None:
        """Send an event to every subscriber (a failing subscriber is ignored).

        Nothing follows `SESSION_END`: a late event (a child that stopped after
        its parent closed) is dropped.
        """
        event = Event(kind, self.id, data)
        with self._end_lock:
            if self._ended:
                return
            if kind is EventKind.SESSION_END:
                self._ended = True
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:
                continue

    # -- prompt ---------------------------------------------------------------

    def build_system_prompt(self) -> str:
        """The system prompt for the next call.

        Project docs are loaded again whenever one of their files changed (in
        the workspace or on disk); the prompt is assembled again whenever a part
        of it changed.
        """
        docs = self._project_docs.get(self.cwd, self.profile)
        key = (self.profile, self._environment, docs.text, self.system_prompt, tuple(self.skills))
        if key != self._prompt_key:
            self._prompt = build_system_prompt(
                profile=self.profile,
                environment=self._environment,
                project_docs=docs.text,
                skill_catalog=skill_catalog(self.skills) if self.skills else "",
                user_prompt=self.system_prompt,
            )
            self._prompt_key = key
        return self._prompt

    def context(self) -> list[dict[str, Any]]:
        """The messages as the model would receive them next."""
        return self._messages.messages(self.build_system_prompt(), self.history)

    def build_request(self) -> ModelRequest:
        """The next model request: messages, tool schemas and options."""
        # `transport` chose the client; it is not an option for the provider.
        options = {k: v for k, v in self.llm_options.items() if k != "transport"}
        if self.reasoning_effort is not None:
            options["reasoning_effort"] = self.reasoning_effort
        return ModelRequest(
            model=self.model,
            messages=self.context(),
            tools=self.registry.schemas(),
            options=options,
        )

    def files(self) -> dict[str, str]:
        """The workspace's in-memory map."""
        return self.workspace.files()

    # -- control --------------------------------------------------------------

    def send(self, text: str, *, on_chunk: Callable[[str], None] | None = None) -> Reply:
        """Run the agent on `text` (then any queued follow-ups) to completion.

        Raises:
            SessionClosed: the session is closed.
            SessionBusy: a run is in progress; use `steer()` or `follow_up()`.
            AuthError: the provider rejected the credentials (the session closes).
        """
        from tiller.loop import Run

        with self._lock:
            if self.state is SessionState.CLOSED or (
                self._close_requested and self.state is SessionState.IDLE
            ):
                raise SessionClosed(f"Session {self.id} is closed; start a new one.")
            if self.state is not SessionState.IDLE:
                raise SessionBusy(
                    f"Session {self.id} is {self.state}; use steer() or follow_up() while it runs."
                )
            self.state = SessionState.PROCESSING
            self.cancel_token.clear()
            first = not self._started
            self._started = True
        if first:
            self.emit(
                EventKind.SESSION_START,
                model=self.model,
                profile=self.profile.name,
                transport=self.transport,
            )
            self._first_send_mcp()
        return Run(self, on_chunk).execute(text)

    def _first_send_mcp(self) -> None:
        """Let servers still starting finish (a cancel stops waiting); say what failed."""
        if self.mcp is None or self.parent is not None:
            return
        self.mcp.wait_ready(cancel=self.cancel_token)
        with self._lock:
            warnings, self._mcp_warnings = self._mcp_warnings, []
        for message in warnings:
            self.emit(EventKind.WARNING, message=message, source="mcp")

    def compact(self, instructions: str | None = None) -> Compaction:
        """Replace the older history with a model-written summary; keep the newest turns.

        The model summarises the task, decisions, files changed and what remains
        (`instructions` adds a focus, as `/compact [focus]` does). Queues, the
        workspace, undo checkpoints and usage totals are kept; the summary call's
        tokens are added to `usage`. Emits `CONTEXT_COMPACTED` (tokens before and
        after, estimated), which the journal records so a resume sees the result.

        Returns:
            What happened: tokens and turns before and after, and the summary.

        Raises:
            SessionClosed: the session is closed.
            SessionBusy: a run is in progress (it compacts by itself when needed).
            CompactionError: nothing to compact, or the model failed or was cancelled;
                the history is unchanged.
            AuthError: the provider rejected the credentials (the session closes).
        """
        from tiller.compaction import compact_history
        from tiller.errors import AuthError

        with self._lock:
            if self.state is SessionState.CLOSED or self._close_requested:
                raise SessionClosed(f"Session {self.id} is closed; start a new one.")
            if self.state is not SessionState.IDLE:
                raise SessionBusy(f"Session {self.id} is {self.state}; it cannot compact now.")
            self.state = SessionState.PROCESSING
            self.cancel_token.clear()
        try:
            return compact_history(self, instructions, reason="manual")
        except AuthError as exc:
            self.emit(EventKind.ERROR, message=str(exc), fatal=True)
            self.state = SessionState.IDLE
            self._finish_close()
            raise
        finally:
            with self._lock:
                if self.state is SessionState.PROCESSING:
                    self.state = SessionState.IDLE
            if self._close_requested and self.state is SessionState.IDLE:
                self._finish_close()

    def steer(self, text: str) -> None:
        """Inject `text` after the current tool call; if idle, with the next send."""
        with self._lock:
            self._steering.append(text)

    def follow_up(self, text: str) -> None:
        """Queue `text` as a new input once the current one finishes."""
        with self._lock:
            self._follow_ups.append(text)

    def take_steering(self) -> list[str]:
        """Remove and return the queued steering messages."""
        with self._lock:
            items = list(self._steering)
            self._steering.clear()
            return items

    def take_follow_up(self) -> str | None:
        """Remove and return the oldest queued follow-up."""
        with self._lock:
            return self._follow_ups.popleft() if self._follow_ups else None

    def take_queued(self) -> list[str]:
        """Remove and return everything queued (steering, then follow-ups).

        Front ends call this after an interrupt to give the text back to the user.
        """
        with self._lock:
            items = [*self._steering, *self._follow_ups]
            self._steering.clear()
            self._follow_ups.clear()
            return items

    @property
    def queued(self) -> tuple[list[str], list[str]]:
        """Copies of the queued steering and follow-up messages."""
        with self._lock:
            return list(self._steering), list(self._follow_ups)

    def cancel(self) -> None:
        """Stop the current run at the next safe point; the session stays usable."""
        self.cancel_token.set()

    # -- approvals ------------------------------------------------------------

    def request_approval(
        self, details: dict[str, Any], *, cancel: threading.Event | None = None
    ) -> Approval:
        """Ask the person whether a tool may go ahead, and wait for the answer.

        Emits `APPROVAL_REQUESTED` with `details`, a `request_id` and a `future`
        that a front end resolves with an `Approval` (or True / False / a
        decision name). A subagent asks through its parent. Cancelling the run
        cancels the future and counts as a denial.
        """
        if self.parent is not None:
            return self.parent.request_approval(
                {**details, "agent_id": self.id}, cancel=cancel or self.cancel_token
            )
        future: Future[object] = Future()
        tokens = [token for token in (self.cancel_token, cancel) if token is not None]
        self.emit(
            EventKind.APPROVAL_REQUESTED, **details, request_id=uuid.uuid4().hex[:8], future=future
        )
        while True:
            try:
                return Approval.of(future.result(timeout=0.1))
            except FutureTimeout:
                if any(token.is_set() for token in tokens):
                    future.cancel()
                    return Approval(Decision.DENY, "The run was cancelled.")
            except CancelledError:
                return Approval(Decision.DENY, "The request was cancelled.")

    def close(self) -> None:
        """Close the session once the current tool call finishes."""
        with self._lock:
            if self.state is SessionState.CLOSED:
                return
            idle = self.state is SessionState.IDLE
            self._close_requested = True  # from here on, send() refuses
        if idle:
            # Outside the lock: closing waits for children, which emit through this session.
            self._finish_close()
            return
        self.cancel_token.set()

    def abort(self) -> None:
        """Cancel now (a running tool sees it at once), close subagents and the session.

        The cancel is set before anything waits, so a running command ends and
        no further model call is made; the run ends with `cancelled`.
        """
        self.cancel_token.set()
        with self._lock:
            if self.state is SessionState.CLOSED:
                return
            idle = self.state is SessionState.IDLE
            self._close_requested = True  # from here on, send() refuses
        if idle:
            self._finish_close()
        else:
            self.cancel_token.set()  # a send starting meanwhile clears the token
            self._run_closers()

    @property
    def closing(self) -> bool:
        return self._close_requested

    def _run_closers(self) -> None:
        with self._lock:
            closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                closer()
            except Exception:
                continue

    def _finish_close(self) -> None:
        """Close children, then mark closed and say so (called with the run over)."""
        self._run_closers()
        with self._lock:
            if self.state is SessionState.CLOSED:
                return
            self.state = SessionState.CLOSED
        self.emit(EventKind.SESSION_END)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
