"""`tiller acp`: Tiller as an Agent Client Protocol agent, driven by an editor over stdio.

Each ACP session is one `Session` whose workspace overlays the client's `cwd`.
The engine is synchronous: every `session/prompt` runs `Session.send` in a
worker thread while an `UpdateBridge` (see `acp_updates`) streams its events
back as `session/update`s and turns shell approvals into
`session/request_permission`. Edits stay in Tiller's overlay and reach the
editor as diffs; `/flush` writes them through the client's `fs/write_text_file`
when it offers that (so its buffers stay in sync), else to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from acp import (
    PROTOCOL_VERSION,
    Client,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptResponse,
    RequestError,
    run_agent,
    start_tool_call,
    text_block,
    tool_content,
    update_agent_message_text,
    update_tool_call,
    update_user_message_text,
)
from acp.helpers import update_available_commands
from acp.schema import (
    AgentCapabilities,
    AllowedOutcome,
    AvailableCommand,
    AvailableCommandInput,
    ClientCapabilities,
    Implementation,
    PermissionOption,
    PromptCapabilities,
    StopReason,
    ToolCallUpdate,
    UnstructuredCommandInput,
)

from tiller import __version__
from tiller.acp_updates import (
    TOOL_KINDS,
    PermissionAsk,
    UpdateBridge,
    coalesce,
    pending_update,
    shown_output,
    terminal_text,
    tool_arguments,
    tool_title,
)
from tiller.approvals import Approval, Decision
from tiller.errors import AuthError, SessionBusy, SessionClosed, TillerError
from tiller.history import AssistantTurn, ToolResultsTurn, UserTurn
from tiller.journal import JournalError
from tiller.session import Session, SessionState
from tiller.settings import ConfigError
from tiller.workspace.paths import ensure_inside, printable

McpEntries = dict[str, dict[str, Any]]
"""The client's MCP servers as `[mcp_servers.NAME]` entries (see `mcp_entries`)."""
SessionFactory = Callable[[Path, McpEntries], Session]
"""Builds a new session over a root directory (the client's `cwd`) with the client's MCP servers."""
SessionLoader = Callable[[str, Path, McpEntries], Session]
"""Restores a journaled session by id (the client's `cwd` given for settings)."""

COMMANDS: dict[str, str] = {
    "flush": "Write the workspace changes to the files (through the editor when it can)",
    "diff": "Show the unflushed changes as a patch",
    "undo": "Undo the last turn's edits in the workspace",
    "redo": "Redo what /undo undid",
    "export": "Write the changes as a .patch file (default: Tiller's data dir)",
}
COMMAND_HINTS: dict[str, str] = {"flush": "force", "export": "path"}
STOP_REASONS: dict[str, StopReason] = {
    "completed": "end_turn",
    "turn_limit": "max_turn_requests",
    "cancelled": "cancelled",
    "error": "end_turn",
}
PERMISSION_OPTIONS = [
    PermissionOption(option_id="allow", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="allow_session", name="Allow for this session", kind="allow_always"),
    PermissionOption(option_id="deny", name="Deny", kind="reject_once"),
]
DECISIONS = {"allow": Decision.ALLOW, "allow_session": Decision.ALLOW_SESSION}
NEEDS_IDLE = frozenset({"flush", "undo", "redo"})
"""Commands refused while a prompt runs (they change or write the workspace)."""
BUSY = "Error: Tiller is still working on the previous prompt; cancel it first."
NOTHING = (
    "Nothing to send: Tiller reads a prompt's text, file links and embedded text files "
    "(not images, audio or binary files)."
)


@dataclass
class AcpSession:
    """One ACP session: the engine session and what the client passed with it."""

    session: Session
    mcp_servers: list[Any] = field(default_factory=list)
    journaled: bool = False
    told_shell: bool = False
    running: bool = False
    cancel_requested: bool = False


class TillerAgent:
    """The ACP agent (the `acp.Agent` protocol) over Tiller sessions.

    Args:
        new_session: builds a session over a root; tests and the CLI decide the model.
        load_session: restores a saved session by id, or None when loading is off.
        journal: journal sessions from their first prompt (so `session/load` finds them).
    """

    def __init__(
        self,
        new_session: SessionFactory,
        load_session: SessionLoader | None = None,
        *,
        journal: bool = True,
    ) -> None:
        self._new_session = new_session
        self._load_session = load_session
        self._journal = journal
        self._conn: Client | None = None
        self._capabilities = ClientCapabilities()
        self.sessions: dict[str, AcpSession] = {}
        self._background: set[asyncio.Future[None]] = set()

    def on_connect(self, conn: Client) -> None:
        """Keep the client connection (the SDK calls this once)."""
        self._conn = conn

    @property
    def conn(self) -> Client:
        if self._conn is None:
            raise RuntimeError("TillerAgent used before a client connected")
        return self._conn

    @property
    def client_writes_files(self) -> bool:
        """Whether the client offered `fs/write_text_file`."""
        fs = self._capabilities.fs
        return bool(fs is not None and fs.write_text_file)

    # -- lifecycle ------------------------------------------------------------

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **_: Any,
    ) -> InitializeResponse:
        """Agree on the protocol and say what Tiller supports."""
        self._capabilities = client_capabilities or ClientCapabilities()
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=self._load_session is not None,
                prompt_capabilities=PromptCapabilities(embedded_context=True),
            ),
            agent_info=Implementation(name="tiller", title="Tiller", version=__version__),
        )

    async def new_session(
        self, cwd: str, mcp_servers: list[Any] | None = None, **_: Any
    ) -> NewSessionResponse:
        """Start a session whose workspace overlays `cwd`."""
        root = _root(cwd)
        entries = mcp_entries(list(mcp_servers or []))
        try:
            session = await asyncio.to_thread(self._new_session, root, entries)
        except (TillerError, ConfigError, OSError, ValueError) as exc:
            # A missing directory, a project config that does not parse: the editor's
            # request cannot be served as it is, which is what invalid params says.
            raise RequestError.invalid_params({"cwd": cwd, "error": str(exc)}) from None
        self.sessions[session.id] = AcpSession(session, list(mcp_servers or []))
        self._advertise_commands(session.id)
        return NewSessionResponse(session_id=session.id)

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **_: Any
    ) -> LoadSessionResponse:
        """Reopen a journaled session and replay its conversation to the client."""
        if self._load_session is None:
            raise RequestError.method_not_found("session/load")
        root = _root(cwd)
        running = self.sessions.get(session_id)
        if running is not None and (
            running.running or running.session.state is SessionState.PROCESSING
        ):
            # Its run would go on journaling beside the reloaded copy (two writers on one
            # journal, the copy missing the run's last turns) and streaming to the editor.
            raise RequestError.invalid_params(
                {"sessionId": session_id, "error": "its prompt is running; cancel it first"}
            )
        open_already = self.sessions.pop(session_id, None)
        if open_already is not None:  # one journal writer per session
            await asyncio.to_thread(open_already.session.close)
        try:
            entries = mcp_entries(list(mcp_servers or []))
            session = await asyncio.to_thread(self._load_session, session_id, root, entries)
        except (TillerError, JournalError, ConfigError, OSError, ValueError) as exc:
            raise RequestError.invalid_params(
                {"sessionId": session_id, "error": str(exc)}
            ) from None
        self.sessions[session.id] = AcpSession(session, list(mcp_servers or []), journaled=True)
        await self._replay(session)
        self._advertise_commands(session.id)
        return LoadSessionResponse()

    async def cancel(self, session_id: str, **_: Any) -> None:
        """Stop the running prompt at the next safe point."""
        entry = self.sessions.get(session_id)
        if entry is not None:
            # Kept for the prompt too: the engine clears its token as a send starts, so a
            # cancel that arrives before the worker thread got there would be lost.
            entry.cancel_requested = entry.running
            entry.session.cancel()

    async def authenticate(self, method_id: str, **_: Any) -> None:
        """Tiller reads provider keys from the environment; nothing to do."""
        return None

    def close(self) -> None:
        """Close every session (journals end, sandboxes go)."""
        for entry in self.sessions.values():
            entry.session.close()
        self.sessions.clear()

    # -- prompts --------------------------------------------------------------

    async def prompt(self, prompt: list[Any], session_id: str, **_: Any) -> PromptResponse:
        """Run one prompt (or a slash command) and stream what happens."""
        entry = self._entry(session_id)
        text = prompt_text(prompt, entry.session.workspace.root)
        name, _, argument = text.strip().partition(" ")
        if name.startswith("/") and name[1:] in COMMANDS:
            if entry.running and name[1:] in NEEDS_IDLE:
                # The run's edits are under way: undoing or writing them now would act
                # on half a turn (the TUI refuses these while the agent works too).
                reply = f"Not while Tiller works on a prompt: cancel it or wait, then {name}."
            elif name[1:] in NEEDS_IDLE:
                entry.running = True  # a prompt arriving while the editor writes waits
                try:
                    reply = await self._command(entry, name[1:], argument.strip())
                finally:
                    entry.running = False
            else:
                reply = await self._command(entry, name[1:], argument.strip())
            await self.conn.session_update(session_id, update_agent_message_text(reply))
            return PromptResponse(stop_reason="end_turn")
        if not text.strip():
            # An image, audio or a binary file alone: an empty user message is refused by
            # some providers, and once in the history it would fail every later request.
            await self.conn.session_update(session_id, update_agent_message_text(NOTHING))
            return PromptResponse(stop_reason="end_turn")
        if entry.running:
            # Marked before the first await below: two prompts sent together would both
            # pass a check of the session's state, the engine starting in a thread later.
            await self.conn.session_update(session_id, update_agent_message_text(BUSY))
            return PromptResponse(stop_reason="end_turn")
        entry.running = True
        entry.cancel_requested = False
        try:
            return await self._prompt(entry, text)
        finally:
            entry.running = False

    async def _prompt(self, entry: AcpSession, text: str) -> PromptResponse:
        session_id = entry.session.id
        if not entry.told_shell and entry.session.shell_unavailable:
            # Said once, before the first answer: the editor would otherwise see the
            # shell tool silently missing (the TUI shows the same line as a notice).
            # The paragraph break is a chunk of its own: toad drops an opening chunk
            # that ends in a blank line once more text is appended to it.
            for chunk in (entry.session.shell_unavailable, "\n\n"):
                await self.conn.session_update(session_id, update_agent_message_text(chunk))
        entry.told_shell = True
        if self._journal and not entry.journaled:
            from tiller.journal import Journal

            Journal.attach(entry.session)
            entry.journaled = True
        return PromptResponse(stop_reason=await self._run(entry, text))

    async def _run(self, entry: AcpSession, text: str) -> StopReason:
        session = entry.session
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        bridge = UpdateBridge(session.workspace, loop, queue)
        done = object()
        asks: set[asyncio.Task[None]] = set()

        def honour_cancel(_: object) -> None:
            # The run's first event comes after send() cleared the cancel token.
            if entry.cancel_requested and not session.cancel_token.is_set():
                session.cancel()

        def send() -> str:
            unsubscribe = session.subscribe(bridge)
            stop_honouring = session.subscribe(honour_cancel)
            try:
                return session.send(text).stop_reason
            except (AuthError, SessionBusy, SessionClosed) as exc:
                # Said in the conversation; the editor's prompt still ends normally.
                bridge.put(update_agent_message_text(f"Error: {exc}"))
                return "error"
            finally:
                stop_honouring()
                unsubscribe()
                bridge.put(done)

        if session.state is SessionState.PROCESSING:
            # Refused before subscribing, so this prompt never echoes the running one.
            await self.conn.session_update(session.id, update_agent_message_text(BUSY))
            return "end_turn"
        worker = asyncio.ensure_future(asyncio.to_thread(send))
        finished = False
        while not finished:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            for queued in coalesce(batch):
                item = pending_update(queued)
                if item is done:
                    finished = True
                elif isinstance(item, PermissionAsk):
                    # A task of its own, so updates keep flowing while the client decides.
                    task = asyncio.create_task(self._ask(session.id, item))
                    asks.add(task)
                    task.add_done_callback(asks.discard)
                else:
                    await self.conn.session_update(session.id, item)  # type: ignore[arg-type]
        for task in list(asks):
            task.cancel()
        return STOP_REASONS.get(await worker, "end_turn")

    async def _ask(self, session_id: str, ask: PermissionAsk) -> None:
        tool = str(ask.details.get("tool", "shell"))
        arguments = ask.details if tool == "shell" else ask.details.get("arguments") or {}
        call = ToolCallUpdate(
            tool_call_id=ask.call_id,
            title=tool_title(tool, arguments),
            kind="execute" if tool == "shell" else "other",
            status="pending",
            raw_input=ask.details,
        )
        try:
            response = await self.conn.request_permission(
                session_id=session_id, tool_call=call, options=PERMISSION_OPTIONS
            )
            outcome = response.outcome
            if isinstance(outcome, AllowedOutcome) and outcome.option_id in DECISIONS:
                answer = Approval(DECISIONS[outcome.option_id])
            elif isinstance(outcome, AllowedOutcome):
                answer = Approval(Decision.DENY, "The user denied it in the editor.")
            else:
                answer = Approval(Decision.DENY, "The user cancelled the request.")
        except (RequestError, ConnectionError) as exc:
            answer = Approval(Decision.DENY, f"The editor could not ask: {exc}")
        except Exception as exc:  # an answer that does not parse: the engine must not wait on
            why = (str(exc).splitlines() or [type(exc).__name__])[0]
            answer = Approval(Decision.DENY, f"The editor's answer was not understood ({why})")
        if answer.decision is not Decision.DENY and not ask.future.done():
            # The request marked the call pending; it runs now. Sent before the engine
            # is released, so it precedes the call's output.
            with contextlib.suppress(Exception):
                running = update_tool_call(ask.call_id, status="in_progress")
                await self.conn.session_update(session_id, running)
        with contextlib.suppress(Exception):  # the engine may have given up (cancel)
            ask.future.set_result(answer)

    # -- slash commands -------------------------------------------------------

    async def _command(self, entry: AcpSession, name: str, argument: str) -> str:
        workspace = entry.session.workspace
        if name == "diff":
            patch = workspace.diff()
            return f"```diff\n{patch}```" if patch else "No unflushed changes."
        if name == "undo":
            return "Undid the last turn's edits." if workspace.undo() else "Nothing to undo."
        if name == "redo":
            return "Redid the undone edits." if workspace.redo() else "Nothing to redo."
        if name == "export":
            return export_patch(entry.session, argument)
        return await self._flush(entry.session, force=argument == "force")

    async def _flush(self, session: Session, *, force: bool) -> str:
        workspace = session.workspace
        changes = workspace.changes()
        if not changes:
            return "Nothing to flush."
        try:
            conflicts = [] if force else workspace.conflicts()
        except TillerError as exc:  # a symlink out of the root appeared since the edit
            return f"Nothing written: {exc}"
        if conflicts:
            names = ", ".join(conflicts)
            return (
                f"Nothing written: changed on disk since Tiller read them: {names}. "
                "Send `/flush force` to overwrite them."
            )
        if not self.client_writes_files or workspace.root is None:
            try:
                written = await asyncio.to_thread(workspace.flush, None, force)
            except TillerError as exc:
                return f"Nothing written: {exc}"
            return f"Wrote {len(written)} file(s) to disk: {', '.join(written)}."
        through: list[str] = []
        failure = ""
        root_real = os.path.realpath(workspace.root)
        for path, kind in changes:
            if kind == "deleted" or printable(path) != path:
                # ACP has no delete, and a name that is not UTF-8 cannot travel as JSON
                # text: these go to disk below, checked for conflicts.
                continue
            try:
                # The editor opens the path as it is, following links: one that a
                # directory became since the edit must not carry the write out of the root.
                ensure_inside(root_real, path)
            except TillerError as exc:
                failure = f" Stopped at {path}: {exc}."
                break
            try:
                await self.conn.write_text_file(
                    session_id=session.id,
                    path=str(workspace.root / path),
                    content=workspace.read(path),
                )
            except (RequestError, TillerError, ConnectionError, ValueError) as exc:
                failure = f" Stopped at {path}: the editor could not write it ({exc})."
                break
            through.append(path)
        # The editor wrote these after the conflict check above, so flushing them with
        # force only makes them the workspace's new base. Deletes (which ACP cannot
        # express) go to disk checked again: a file saved while the editor wrote is kept.
        try:
            written = await asyncio.to_thread(workspace.flush, through, True) if through else []
            if not failure:
                written += await asyncio.to_thread(workspace.flush, None, False)
        except TillerError as exc:
            return f"Written through the editor: {', '.join(through) or 'none'}; then {exc}"
        on_disk = len(written) - len(through)
        summary = f"{len(through)} through the editor, {on_disk} on disk"
        return f"Wrote {len(written)} file(s) ({summary}): {', '.join(written)}.{failure}"

    # -- helpers --------------------------------------------------------------

    def _entry(self, session_id: str) -> AcpSession:
        entry = self.sessions.get(session_id)
        if entry is None:
            raise RequestError.invalid_params({"sessionId": session_id, "error": "unknown session"})
        return entry

    def _advertise_commands(self, session_id: str) -> None:
        commands = [
            AvailableCommand(
                name=name,
                description=description,
                input=AvailableCommandInput(UnstructuredCommandInput(hint=COMMAND_HINTS[name]))
                if name in COMMAND_HINTS
                else None,
            )
            for name, description in COMMANDS.items()
        ]
        update = update_available_commands(commands)

        # Sent after the response that names the session (clients ignore unknown ids).
        def send() -> None:
            task = asyncio.ensure_future(self.conn.session_update(session_id, update))
            self._background.add(task)  # held until done: the loop keeps only weak refs
            task.add_done_callback(self._background.discard)

        asyncio.get_running_loop().call_soon(send)

    async def _replay(self, session: Session) -> None:
        """Send a restored conversation as updates, as `session/load` requires."""
        for turn in list(session.history):
            if isinstance(turn, UserTurn):
                update: Any = update_user_message_text(turn.text)
                await self.conn.session_update(session.id, update)
            elif isinstance(turn, AssistantTurn):
                if turn.text:
                    await self.conn.session_update(session.id, update_agent_message_text(turn.text))
                for call in turn.tool_calls:
                    args = tool_arguments(call.arguments)
                    start = start_tool_call(
                        call.id,
                        tool_title(call.name, args),
                        kind=TOOL_KINDS.get(call.name, "other"),
                        status="in_progress",
                        raw_input=args,
                    )
                    await self.conn.session_update(session.id, start)
            elif isinstance(turn, ToolResultsTurn):
                for result in turn.results:
                    output = result.output
                    # Cut as it was live: a tool's whole output can be megabytes.
                    body = terminal_text(output) if result.name == "shell" else shown_output(output)
                    done = update_tool_call(
                        result.call_id,
                        status="failed" if result.is_error else "completed",
                        content=[tool_content(text_block(body))],
                    )
                    await self.conn.session_update(session.id, done)


def _root(cwd: str) -> Path:
    """The editor's `cwd` as a root; ACP requires it absolute (a relative one would be
    taken from wherever `tiller acp` was started).

    Raises:
        RequestError: invalid params, `cwd` is relative.
    """
    if not Path(cwd).is_absolute():
        raise RequestError.invalid_params(
            {"cwd": cwd, "error": f"cwd must be an absolute path, got {cwd!r}"}
        )
    return Path(cwd)


def mcp_entries(servers: list[Any]) -> dict[str, dict[str, Any]]:
    """The client's MCP servers in the shape of `[mcp_servers.NAME]` (Codex's TOML shape).

    Stdio servers give `command`, `args`, `env`; HTTP and SSE ones `url`, `headers`
    (and `transport = "sse"` for SSE). This is what the MCP client reads from config.
    """
    entries: dict[str, dict[str, Any]] = {}
    for server in servers:
        if getattr(server, "url", None):
            entry: dict[str, Any] = {
                "url": server.url,
                "headers": {h.name: h.value for h in server.headers or []},
            }
            entry["type"] = "sse" if getattr(server, "type", "") == "sse" else "http"
        else:
            entry = {
                "command": server.command,
                "args": list(server.args or []),
                "env": {v.name: v.value for v in server.env or []},
            }
        entries[server.name] = entry
    return entries


def prompt_text(blocks: list[Any], root: Path | None) -> str:
    """The prompt's content blocks as one message: text, file mentions and embedded files."""
    parts: list[str] = []
    for block in blocks:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource_link":
            parts.append(f"@{_mention(block.uri, root)}")
        elif kind == "resource" and hasattr(block.resource, "text"):
            name = _mention(block.resource.uri, root)
            body = block.resource.text.removesuffix("\n")
            parts.append(f'\n<file path="{name}">\n{body}\n</file>')
    return "".join(parts)


def _mention(uri: str, root: Path | None) -> str:
    # A file URI is percent-encoded (`my%20notes.md`); the model needs the name itself.
    path = unquote(uri.removeprefix("file://")) if uri.startswith("file://") else uri
    if root is not None:
        with contextlib.suppress(ValueError):
            return Path(path).relative_to(root).as_posix()
    return path


def export_patch(session: Session, argument: str) -> str:
    """Write the workspace diff to `argument` (relative to the root) or the data dir."""
    from tiller.chat import patch_may_replace
    from tiller.journal import data_dir

    patch = session.workspace.diff()
    if not patch:
        return "No unflushed changes to export."
    root = session.workspace.root or Path.cwd()
    if argument:
        target = root / argument
        if not patch_may_replace(target):
            return f"Nothing exported: {target} exists and is not a patch; give another name."
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = data_dir() / "exports" / f"tiller-{session.id}-{stamp}.patch"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(patch, encoding="utf-8")
    notes = "".join(f"\n{note}" for note in session.workspace.diff_notes())
    return f"Exported the changes to {target}.{notes}"


async def serve(agent: TillerAgent) -> None:
    """Serve `agent` on stdin/stdout until the client hangs up.

    The protocol gets its own duplicate of stdout, and file descriptor 1 then
    points at stderr, so a stray print (or a child process) can never corrupt
    the JSON-RPC stream.
    """
    loop = asyncio.get_running_loop()
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    reader = asyncio.StreamReader(limit=50 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, protocol_out
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        await run_agent(agent, writer, reader)
    finally:
        await asyncio.to_thread(agent.close)
