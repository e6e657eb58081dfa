"""MCP servers as tools: a real SDK server over stdio and streamable HTTP, driven by a
scripted model through a Session (approvals, failures, timeouts, crashes, secrets)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tiller import EventKind, Session, SessionConfig
from tiller.approvals import Approval, Decision
from tiller.events import Event
from tiller.mcp import McpServerConfig
from tiller.testing.scripted import ScriptedModel, Step, call

FIXTURE = str(Path(__file__).parent / "fixtures" / "mcp_server.py")


def stdio(name: str = "fx", *extra: str, **options: Any) -> McpServerConfig:
    return McpServerConfig(
        name=name, command=sys.executable, args=(FIXTURE, *extra), source="test", **options
    )


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One streamable-HTTP fixture server on 127.0.0.1 for the whole module."""
    process = subprocess.Popen(
        [sys.executable, FIXTURE, "--http"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{line.split()[1]}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


SECRETS = {"FIXTURE_API_KEY": "k1", "OTHER_TOKEN": "t1", "PLAIN_SETTING": "p1"}


@pytest.fixture(scope="module")
def shared_stdio() -> Iterator[Session]:
    """One session with one stdio fixture server for the module; tests add their steps."""
    server = stdio(
        env={"RENAMED": "${OTHER_TOKEN}"}, env_vars=("FIXTURE_API_KEY",), tool_timeout_s=0.5
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        session = session_with(server, steps=[])
        assert session.mcp is not None
        session.mcp.wait_ready()
    try:
        yield session
    finally:
        session.close()


def http(url: str, name: str = "web", **options: Any) -> McpServerConfig:
    return McpServerConfig(name=name, transport="http", url=url, source="test", **options)


def session_with(
    *servers: McpServerConfig, steps: list[Step | str], approval: str = "allow"
) -> Session:
    config = SessionConfig(mcp_servers=servers, shell_approval=approval)  # type: ignore[arg-type]
    return Session(ScriptedModel(steps), files={}, config=config)


def tool_ends(session: Session) -> list[dict[str, Any]]:
    ends: list[dict[str, Any]] = []

    def collect(event: Event) -> None:
        if event.kind is EventKind.TOOL_CALL_END:
            ends.append({k: event.data.get(k) for k in ("name", "output", "is_error")})

    session.subscribe(collect)
    return ends


def answer_approvals(session: Session, answer: Approval) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = []

    def on_event(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            asked.append({k: v for k, v in event.data.items() if k != "future"})
            event.data["future"].set_result(answer)

    session.subscribe(on_event)
    return asked


def test_stdio_tool_called_by_the_model(shared_stdio: Session) -> None:
    """A stdio server's tool joins the registry as mcp__fx__add and the model calls it."""
    shared_stdio.client.add(call("mcp__fx__add", a=2, b=3), "done")  # type: ignore[attr-defined]
    ends = tool_ends(shared_stdio)
    reply = shared_stdio.send("add")
    assert (reply.stop_reason, ends) == (
        "completed",
        [{"name": "mcp__fx__add", "output": "5", "is_error": False}],
    )


def test_http_tool_called_by_the_model(http_url: str) -> None:
    """A streamable-HTTP server's tool is called the same way."""
    session = session_with(http(http_url), steps=[call("mcp__web__echo", text="hi"), "done"])
    try:
        ends = tool_ends(session)
        session.send("echo")
        assert ends == [{"name": "mcp__web__echo", "output": "hi", "is_error": False}]
    finally:
        session.close()


def test_server_schema_reaches_the_model(http_url: str) -> None:
    """The tool schema the model sees is the server's input schema."""
    session = session_with(http(http_url), steps=[])
    try:
        session.mcp.wait_ready()  # type: ignore[union-attr]
        schemas = {s["function"]["name"]: s["function"] for s in session.registry.schemas()}
        assert schemas["mcp__web__add"]["parameters"]["required"] == ["a", "b"]
    finally:
        session.close()


def test_image_and_resource_link_become_placeholders(http_url: str) -> None:
    """Images are placeholders and resource links are named; text stays."""
    session = session_with(http(http_url), steps=[call("mcp__web__picture"), "done"])
    try:
        ends = tool_ends(session)
        session.send("picture")
        assert ends[0]["output"].splitlines() == [
            "a red dot",
            "[image: image/png, 70 bytes, not shown]",
            "[resource link: readme <file:///readme.md>, text/markdown]",
        ]
    finally:
        session.close()


def test_tool_error_is_an_error_result(http_url: str) -> None:
    """A tool that reports an error gives the model an error result with its message."""
    session = session_with(http(http_url), steps=[call("mcp__web__fail", message="no"), "ok"])
    try:
        ends = tool_ends(session)
        session.send("fail")
        assert ends == [
            {
                "name": "mcp__web__fail",
                "output": "Tool error (mcp__web__fail): Error executing tool fail: no",
                "is_error": True,
            }
        ]
    finally:
        session.close()


def test_big_output_is_truncated_for_the_model(http_url: str) -> None:
    """Output over 20,000 characters is cut for the model; the event keeps all of it."""
    session = session_with(http(http_url), steps=[call("mcp__web__big", size=50_000), "ok"])
    try:
        ends = tool_ends(session)
        session.send("big")
        sent = session.history[-2].results[0].model_output  # type: ignore[union-attr]
        assert (len(ends[0]["output"]), len(sent) < 21_000) == (50_000, True)
    finally:
        session.close()


def test_approval_is_asked_and_allowed(http_url: str) -> None:
    """In ask mode the call waits for an approval naming the tool and server."""
    session = session_with(
        http(http_url), steps=[call("mcp__web__add", a=1, b=1), "ok"], approval="ask"
    )
    try:
        asked = answer_approvals(session, Approval(Decision.ALLOW))
        ends = tool_ends(session)
        session.send("add")
        assert ([(a["tool"], a["server"]) for a in asked], ends[0]["output"]) == (
            [("mcp__web__add", "web")],
            "2",
        )
    finally:
        session.close()


def test_denial_reaches_the_model_with_the_reason(http_url: str) -> None:
    """A denied call does not run; the model reads the person's reason."""
    session = session_with(
        http(http_url), steps=[call("mcp__web__add", a=1, b=1), "ok"], approval="ask"
    )
    try:
        answer_approvals(session, Approval(Decision.DENY, "not now"))
        ends = tool_ends(session)
        session.send("add")
        assert (ends[0]["is_error"], "Their reason: not now." in ends[0]["output"]) == (True, True)
    finally:
        session.close()


def test_allow_for_session_asks_once(http_url: str) -> None:
    """Allowing a tool for the session lets its later calls run unasked."""
    steps: list[Step | str] = [
        call("mcp__web__add", a=1, b=1),
        call("mcp__web__add", a=2, b=2),
        "ok",
    ]
    session = session_with(http(http_url), steps=steps, approval="ask")
    try:
        asked = answer_approvals(session, Approval(Decision.ALLOW_SESSION))
        ends = tool_ends(session)
        session.send("add twice")
        assert (len(asked), [e["output"] for e in ends]) == (1, ["2", "4"])
    finally:
        session.close()


def test_headless_denies_unlisted_tools(http_url: str) -> None:
    """Without anyone to ask (deny mode) an unlisted tool fails with how to allow it."""
    session = session_with(
        http(http_url), steps=[call("mcp__web__add", a=1, b=1), "ok"], approval="deny"
    )
    try:
        ends = tool_ends(session)
        session.send("add")
        assert ("--yes" in ends[0]["output"], "[mcp_servers.web]" in ends[0]["output"]) == (
            True,
            True,
        )
    finally:
        session.close()


def test_user_allow_list_runs_unasked(http_url: str) -> None:
    """A tool on the user config's allow list runs even in deny mode."""
    server = http(http_url, allow=("add",), trusted=True)
    session = session_with(server, steps=[call("mcp__web__add", a=1, b=1), "ok"], approval="deny")
    try:
        ends = tool_ends(session)
        session.send("add")
        assert ends[0]["output"] == "2"
    finally:
        session.close()


def test_untrusted_allow_list_is_ignored(http_url: str) -> None:
    """An allow list on an entry not from the user's config does not pre-approve."""
    server = http(http_url, allow=("add",), trusted=False)
    session = session_with(server, steps=[call("mcp__web__add", a=1, b=1), "ok"], approval="deny")
    try:
        ends = tool_ends(session)
        session.send("add")
        assert ends[0]["is_error"] is True
    finally:
        session.close()


def test_server_that_fails_to_start_is_one_warning() -> None:
    """A server that exits at start gives one WARNING (quoting its stderr); the run goes on."""
    session = session_with(stdio("bad", "--fail"), steps=["fine"])
    warnings: list[str] = []
    session.subscribe(
        lambda e: warnings.append(e.data["message"]) if e.kind is EventKind.WARNING else None
    )
    try:
        reply = session.send("hi")
        assert (reply.text, len(warnings), "refusing to start" in warnings[0]) == (
            "fine",
            1,
            True,
        )
    finally:
        session.close()


def test_missing_command_is_a_warning() -> None:
    """A command that does not exist is reported, not raised."""
    server = McpServerConfig(name="nope", command="/nonexistent/mcp-server", source="test")
    session = session_with(server, steps=["fine"])
    warnings: list[str] = []
    session.subscribe(
        lambda e: warnings.append(e.data["message"]) if e.kind is EventKind.WARNING else None
    )
    try:
        session.send("hi")
        assert warnings == ["MCP server 'nope' failed: command not found: /nonexistent/mcp-server"]
    finally:
        session.close()


def test_hanging_call_times_out(shared_stdio: Session) -> None:
    """A call past tool_timeout_s is cancelled and reported; the server keeps serving."""
    shared_stdio.client.add(  # type: ignore[attr-defined]
        call("mcp__fx__hang"), call("mcp__fx__add", a=1, b=2), "ok"
    )
    ends = tool_ends(shared_stdio)
    shared_stdio.send("hang")
    assert ("did not answer within 0.5 s" in ends[0]["output"], ends[1]["output"]) == (
        True,
        "3",
    )


def test_crash_mid_call_restarts_once() -> None:
    """A server that dies mid-call is reported, restarted once, and serves again."""
    steps: list[Step | str] = [call("mcp__fx__crash"), "crashed"]
    session = session_with(stdio(), steps=steps)
    try:
        ends = tool_ends(session)
        session.send("crash")
        assert session.mcp is not None
        session.mcp.wait_ready()
        session.client.add(call("mcp__fx__add", a=2, b=2), "ok")  # type: ignore[attr-defined]
        session.send("again")
        assert ("being restarted" in ends[0]["output"], ends[1]["output"]) == (True, "4")
    finally:
        session.close()


def test_second_crash_is_reported_and_final() -> None:
    """After its one restart, a second crash leaves the server failed with a warning."""
    steps: list[Step | str] = [call("mcp__fx__crash"), "one"]
    session = session_with(stdio(), steps=steps)
    warnings: list[str] = []
    session.subscribe(
        lambda e: warnings.append(e.data["message"]) if e.kind is EventKind.WARNING else None
    )
    try:
        session.send("crash")
        assert session.mcp is not None
        session.mcp.wait_ready()
        session.client.add(call("mcp__fx__crash"), call("mcp__fx__add", a=1, b=1), "two")  # type: ignore[attr-defined]
        session.send("crash again")
        status = session.mcp.connections[0].status
        assert (str(status), len(warnings)) == ("failed", 1)
    finally:
        session.close()


def test_secrets_reach_only_servers_that_name_them(shared_stdio: Session) -> None:
    """A secret-named variable is withheld unless the entry names it; others pass."""
    names = ["FIXTURE_API_KEY", "OTHER_TOKEN", "PLAIN_SETTING", "RENAMED"]
    shared_stdio.client.add(call("mcp__fx__env", names=names), "ok")  # type: ignore[attr-defined]
    ends = tool_ends(shared_stdio)
    shared_stdio.send("env")
    assert ends[0]["output"].splitlines() == [
        "FIXTURE_API_KEY=k1",
        "OTHER_TOKEN=<unset>",
        "PLAIN_SETTING=p1",
        "RENAMED=t1",
    ]


def test_close_stops_the_server_process() -> None:
    """Closing the session ends the stdio server's process."""
    session = session_with(stdio(), steps=[])
    assert session.mcp is not None
    session.mcp.wait_ready()
    session.close()
    assert [str(c.status) for c in session.mcp.connections] == ["stopped"]


def test_subagent_sees_the_parent_servers(http_url: str) -> None:
    """A child session offers the parent's MCP tools without starting servers of its own."""
    session = session_with(http(http_url), steps=[])
    try:
        assert session.mcp is not None
        session.mcp.wait_ready()
        child = Session(ScriptedModel([]), files=session.workspace, parent=session, depth=1)
        assert (child.mcp is session.mcp, "mcp__web__echo" in child.registry) == (True, True)
        child.close()
    finally:
        session.close()


def test_cancel_abandons_a_hanging_call(http_url: str) -> None:
    """Cancelling the run ends a call that is waiting on its server."""
    session = session_with(http(http_url), steps=[call("mcp__web__hang"), "never"])
    try:
        ends = tool_ends(session)
        started = threading.Event()
        session.subscribe(lambda e: started.set() if e.kind is EventKind.TOOL_CALL_START else None)
        worker = threading.Thread(target=session.send, args=("hang",))
        worker.start()
        assert started.wait(30)
        session.cancel()
        worker.join(30)
        assert ends[0]["output"].startswith("Tool error (mcp__web__hang): Cancelled")
    finally:
        session.close()


def test_abort_during_a_call_ends_the_server() -> None:
    """Aborting while a stdio call hangs ends the call and the server's process."""
    session = session_with(stdio(), steps=[call("mcp__fx__hang"), "never"])
    ends = tool_ends(session)
    started = threading.Event()
    session.subscribe(lambda e: started.set() if e.kind is EventKind.TOOL_CALL_START else None)
    worker = threading.Thread(target=session.send, args=("hang",))
    worker.start()
    assert started.wait(30)
    session.abort()
    worker.join(30)
    assert session.mcp is not None
    statuses = [str(c.status) for c in session.mcp.connections]
    assert (statuses, ends[0]["is_error"]) == (["stopped"], True)


def test_first_prompt_waits_for_a_starting_server() -> None:
    """A prompt sent while the server still starts sees its tools (the send waits for it)."""
    session = session_with(stdio(), steps=[call("mcp__fx__echo", text="early"), "ok"])
    try:
        ends = tool_ends(session)
        session.send("now")
        assert ends[0]["output"] == "early"
    finally:
        session.close()


def test_server_stderr_never_reaches_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    """What a server writes to stderr stays out of Tiller's own stderr (the TUI's screen)."""
    session = session_with(stdio("bad", "--fail"), steps=["fine"])
    try:
        session.send("hi")
    finally:
        session.close()
    assert "refusing to start" not in capfd.readouterr().err


def test_disabled_server_is_listed_but_not_started() -> None:
    """`enabled = false` keeps the entry visible and starts nothing."""
    session = session_with(stdio(enabled=False), steps=["fine"])
    try:
        session.send("hi")
        assert session.mcp is not None
        assert (session.mcp.describe()[0].split()[:2], session.mcp.tools()) == (
            ["fx", "disabled"],
            [],
        )
    finally:
        session.close()


def test_server_that_never_answers_times_out_at_start() -> None:
    """A command that never speaks MCP fails after startup_timeout_s and is stopped."""
    server = McpServerConfig(
        name="mute", command="sleep", args=("60",), startup_timeout_s=0.3, source="test"
    )
    session = session_with(server, steps=["fine"])
    warnings: list[str] = []
    session.subscribe(
        lambda e: warnings.append(e.data["message"]) if e.kind is EventKind.WARNING else None
    )
    try:
        session.send("hi")
        assert warnings == ["MCP server 'mute' failed: not ready after 0.3 s (startup_timeout_s)"]
    finally:
        session.close()
