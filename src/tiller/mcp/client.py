"""Connections to MCP servers, owned by one event-loop thread.

The `mcp` SDK is async only, and a client must be opened, used and closed on the loop
that owns it (a client opened and closed in different tasks raises). So `McpLoop` runs
one asyncio loop in a daemon thread; each `McpConnection` keeps its `mcp.Client` open
inside one task of that loop for its whole life, and the engine's threads submit calls
with `asyncio.run_coroutine_threadsafe`, waiting in short slices so a cancel or a
timeout is honoured at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from tiller.mcp.config import McpConfigError, McpServerConfig, expand, server_env
from tiller.terminal_text import inert

POLL_S = 0.05
"""How often a waiting engine thread looks at its cancel token."""
STDERR_TAIL = 400
"""Characters of a failed server's stderr quoted in its warning."""
STDERR_KEEP = 4096
"""Bytes of a server's stderr kept (the rest is read and dropped)."""


class ServerStatus(StrEnum):
    """Where a server is in its life."""

    DISABLED = "disabled"
    UNTRUSTED = "not trusted"
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class CallFailed(Exception):
    """A tool call that did not produce a result; the message is for the model."""


@dataclass(frozen=True, slots=True)
class RemoteTool:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]


class McpLoop:
    """One asyncio event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started on first use).

        Raises:
            RuntimeError: the loop was stopped; it is never started again.
        """
        with self._lock:
            if self._stopped:
                raise RuntimeError("the MCP loop was stopped")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="tiller-mcp", daemon=True
                )
                self._thread.start()
            return self._loop

    def submit(self, coroutine: Any) -> Future[Any]:
        """Run `coroutine` on the loop; the future is thread-safe.

        Raises:
            RuntimeError: the loop was stopped (the coroutine is closed unrun).
        """
        try:
            loop = self.loop
        except RuntimeError:
            coroutine.close()
            raise
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def stop(self) -> None:
        """Stop the loop and wait for its thread (call after every connection closed)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            self._stopped = True
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()


class McpConnection:
    """One configured server: started, listed, called, restarted once, stopped.

    Args:
        config: the server's entry.
        loop: the loop thread that owns the client.
        root: the workspace root (a relative `cwd` is relative to it; default cwd).
        environ: the environment to pass on (filtered; see `server_env`).
        on_change: told (from the loop thread) whenever status or tools change.
    """

    def __init__(
        self,
        config: McpServerConfig,
        loop: McpLoop,
        *,
        root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        on_change: Callable[[McpConnection], None] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.status = ServerStatus.STARTING if config.enabled else ServerStatus.DISABLED
        self.error = ""
        if config.blocked:
            self.status, self.error = ServerStatus.UNTRUSTED, config.blocked
        self.tools: list[RemoteTool] = []
        self.restarts = 0
        self._loop = loop
        self._root = root
        self._environ = dict(os.environ if environ is None else environ)
        self._on_change = on_change
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._ready_async: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = False
        self._stderr: StderrTail | None = None

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server in the background (never raises; failures become status)."""
        if not self.config.enabled or self.config.blocked or self._closed:
            self._ready.set()
            return
        self._ready.clear()
        self._loop.submit(self._begin())

    def wait_ready(self, timeout: float, cancel: threading.Event | None = None) -> bool:
        """Wait until the server is ready or has failed; False when `timeout` ran out."""
        deadline = timeout
        while deadline > 0:
            if self._ready.wait(min(POLL_S, deadline)):
                return True
            if cancel is not None and cancel.is_set():
                return False
            deadline -= POLL_S
        return self._ready.is_set()

    def close(self) -> None:
        """Stop the server and wait for it to exit (its process is gone afterwards)."""
        self._closed = True
        if self.status in (ServerStatus.DISABLED, ServerStatus.UNTRUSTED):
            return
        with contextlib.suppress(Exception):
            self._loop.submit(self._end()).result(timeout=15)
        self._set(ServerStatus.STOPPED)

    async def _begin(self) -> None:
        self._stop = asyncio.Event()
        self._ready_async = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._task = task = loop.create_task(self._serve(self._stop, self._ready_async))
        waiter = loop.create_task(self._ready_async.wait())
        timeout = self.config.startup_timeout_s
        await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not self._ready_async.is_set() and not task.done() and not self._closed:
            task.cancel()
            self._fail(f"not ready after {timeout:g} s (startup_timeout_s)")

    async def _end(self) -> None:
        if self._stop is not None:
            self._stop.set()
        task = self._task
        if task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _serve(self, stop: asyncio.Event, ready: asyncio.Event) -> None:
        """Open the client, list the tools, and keep it open until told to stop."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(await self._client_for(stack))
                self.tools = await _list_tools(client)
                self._client = client
                self.error = ""
                self._set(ServerStatus.READY)
                ready.set()
                self._ready.set()
                await stop.wait()
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # a server failing is data, never a crash
            if not self._closed and not stop.is_set():
                self._fail(_describe(exc))
        finally:
            self._client = None
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    async def _client_for(self, stack: contextlib.AsyncExitStack) -> Any:
        from mcp import Client, StdioServerParameters

        _quiet_sdk_logs()

        config = self.config
        if config.transport == "stdio":
            from mcp.client.stdio import stdio_client

            cwd = Path(config.cwd).expanduser() if config.cwd else None
            if self._root is not None and (cwd is None or not cwd.is_absolute()):
                cwd = self._root / cwd if cwd is not None else self._root
            params = StdioServerParameters(
                command=config.command,
                args=[expand(arg, self._environ) for arg in config.args],
                env=server_env(config, self._environ),
                cwd=cwd,
                # One byte that is not UTF-8 (a Latin-1 file echoed back) would end the
                # SDK's reader silently: every later call would wait for its timeout.
                encoding_error_handler="replace",
            )
            # The server's stderr must never reach the terminal (it would tear the TUI);
            # its end is kept so a failure can quote it, the rest read and dropped.
            self._stderr = StderrTail(asyncio.get_running_loop())
            return Client(stdio_client(params, errlog=self._stderr.writer))
        url = expand(config.url, self._environ)
        headers = {k: expand(v, self._environ) for k, v in config.headers.items()}
        if config.transport == "sse":
            from mcp.client.sse import sse_client

            return Client(sse_client(url, headers=headers))
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
        return Client(streamable_http_client(url, http_client=http))

    def _fail(self, why: str) -> None:
        # Said on terminals (warnings, `tiller mcp list`): what the server wrote, or its
        # tool list quoted in a validation error, must not reach them as control codes.
        self.error = inert(why + self._stderr_tail())
        self.tools = self.tools  # keep them listed: calls say why they cannot run
        self._set(ServerStatus.FAILED)
        self._ready.set()

    def _stderr_tail(self) -> str:
        text = self._stderr.text() if self._stderr is not None else ""
        return f"; its stderr ends: {text[-STDERR_TAIL:]}" if text else ""

    def _set(self, status: ServerStatus) -> None:
        self.status = status
        if self._on_change is not None:
            with contextlib.suppress(Exception):
                self._on_change(self)

    # -- calls -------------------------------------------------------------------------

    def call(
        self, tool: str, arguments: dict[str, Any], cancel: threading.Event | None = None
    ) -> Any:
        """Call `tool` and return the SDK's `CallToolResult`.

        Raises:
            CallFailed: the server is not running, crashed during the call (it is then
                restarted once), timed out (`tool_timeout_s`) or the run was cancelled.
        """
        if self._closed:
            raise CallFailed("The session is closing; the call was not made.")
        if self.status is not ServerStatus.READY or self._client is None:
            raise CallFailed(self._unavailable())
        client = self._client
        try:
            future = self._loop.submit(client.call_tool(tool, arguments))
        except RuntimeError:
            raise CallFailed("The session is closing; the call was not made.") from None
        timeout = self.config.tool_timeout_s
        waited = 0.0
        while True:
            try:
                return future.result(timeout=POLL_S)
            except FutureTimeout:
                waited += POLL_S
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    raise CallFailed("Cancelled by the user; the call was abandoned.") from None
                if waited >= timeout:
                    future.cancel()
                    raise CallFailed(
                        f"The MCP server {self.name!r} did not answer within {timeout:g} s "
                        "(tool_timeout_s); the call was cancelled."
                    ) from None
            except Exception as exc:
                raise CallFailed(self._after_error(exc)) from None

    def _after_error(self, exc: Exception) -> str:
        """What to tell the model after a call raised; restart a server that went away."""
        why = _describe(exc)
        if self._closed:
            return f"The session closed during the call ({why})."
        if not _connection_lost(exc):
            return f"The MCP server {self.name!r} answered with an error: {why}"
        if self.restarts >= 1:
            self._loop.submit(self._end())
            self._fail(f"stopped again during a call ({why}); not restarted a second time")
            return (
                f"The MCP server {self.name!r} stopped during the call ({why}) and has already "
                "been restarted once; its tools are unavailable for this session."
            )
        self.restarts += 1
        self._client = None
        self._ready.clear()  # before anyone can wait on it: the restart has not begun yet
        self._set(ServerStatus.RESTARTING)
        self._loop.submit(self._restart())
        return (
            f"The MCP server {self.name!r} stopped during the call ({why}); it is being "
            "restarted. The call may or may not have taken effect."
        )

    async def _restart(self) -> None:
        await self._end()
        if self._closed:
            self._ready.set()
            return
        await self._begin()

    def _unavailable(self) -> str:
        if self.status is ServerStatus.RESTARTING or self.status is ServerStatus.STARTING:
            return f"The MCP server {self.name!r} is still starting; try again shortly."
        if self.status is ServerStatus.FAILED:
            return f"The MCP server {self.name!r} is not running: {self.error}"
        return f"The MCP server {self.name!r} is {self.status}."


class StderrTail:
    """A stdio server's stderr: a pipe the loop reads as it fills, keeping only its end.

    A file would grow with everything a chatty (or hostile) server logs over a session;
    this keeps `STDERR_KEEP` bytes whatever it writes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._loop = loop
        self._fd: int | None = read_fd
        self._tail = b""
        self.writer: IO[str] = os.fdopen(write_fd, "w")
        """The end the server's process gets as its stderr."""
        loop.add_reader(read_fd, self._drain)

    def _drain(self) -> None:
        while self._fd is not None:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # every writer closed
                self._stop_reading()
                return
            self._tail = (self._tail + data)[-STDERR_KEEP:]

    def _stop_reading(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def text(self) -> str:
        """What the server wrote last, stripped (on the loop's thread, what is still in
        the pipe too: only that thread reads it)."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop and self._fd is not None:
            self._drain()
        return self._tail.decode("utf-8", "replace").strip()

    def close(self) -> None:
        """Stop reading and close both ends (call on the loop's thread)."""
        with contextlib.suppress(OSError):
            self.writer.close()
        self._stop_reading()


async def _list_tools(client: Any) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        for tool in page.tools:
            schema = dict(tool.input_schema or {})
            schema.setdefault("type", "object")
            tools.append(RemoteTool(tool.name, tool.description or tool.title or "", schema))
        cursor = page.next_cursor
        if not cursor:
            return tools


def _quiet_sdk_logs() -> None:
    """Keep the SDK's log records (a server's garbage line comes with a traceback) off
    the terminal: with no logging configured, Python prints them on stderr, over the TUI
    or the REPL. A front end that configures logging still receives them."""
    sdk = logging.getLogger("mcp")
    if not any(isinstance(handler, logging.NullHandler) for handler in sdk.handlers):
        sdk.addHandler(logging.NullHandler())


def _connection_lost(exc: BaseException) -> bool:
    """Whether the server went away (worth a restart), not merely answered with an error."""
    import httpx2  # the SDK's HTTP client, loaded with it

    text = str(exc).lower()
    return "connection closed" in text or isinstance(
        exc, OSError | EOFError | httpx2.TransportError
    )


def _describe(exc: BaseException) -> str:
    """One line for an exception, unwrapping the SDK's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, McpConfigError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
