"""The engine on both real transports (litellm and the lean client) against the local server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tiller import EventKind, Session, SessionConfig
from tiller.errors import AuthError
from tiller.events import Event
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=["litellm", "openai"])
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a test runs on: each runs on both (DESIGN §11, same behaviour)."""
    return str(request.param)


def tool(name: str, **args: object) -> ServerReply:
    return ServerReply(tool_calls=[(name, json.dumps(args))])


def session_on(server: FakeOpenAIServer, **kwargs: object) -> tuple[Session, list[Event]]:
    options = {"skills_dirs": [], "profile": "anthropic", **kwargs}
    session = Session(
        "openai/fake-model",
        api_base=server.base_url,
        api_key="sk-test",
        **options,  # type: ignore[arg-type]
    )
    events: list[Event] = []
    session.subscribe(events.append)
    return session, events


def messages(server: FakeOpenAIServer, index: int) -> list[dict]:
    return server.requests[index].body["messages"]


def test_write_edit_answer_leaves_disk_untouched(
    fake_server, tmp_path: Path, transport: str
) -> None:
    """Write then edit then answer: the workspace changes, the disk does not."""
    (tmp_path / "keep.txt").write_text("old\n")
    fake_server.add(
        tool("write_file", file_path="new.py", content="x = 1\n"),
        tool("edit_file", file_path="keep.txt", old_string="old", new_string="new"),
        ServerReply(text="All done."),
    )
    session, _ = session_on(fake_server, transport=transport, root=tmp_path)
    reply = session.send("go")
    on_disk = sorted(p.name for p in tmp_path.iterdir()), (tmp_path / "keep.txt").read_text()
    assert (reply.text, session.workspace.changes(), on_disk) == (
        "All done.",
        [("keep.txt", "modified"), ("new.py", "added")],
        (["keep.txt"], "old\n"),
    )


def test_on_chunk_reassembles_reply(fake_server, transport: str) -> None:
    """The streamed chunks join into the final text."""
    fake_server.add(ServerReply(text="Hello there, streaming world!", chunk_size=3))
    session, _ = session_on(fake_server, transport=transport)
    chunks: list[str] = []
    reply = session.send("hi", on_chunk=chunks.append)
    assert (len(chunks) > 3, "".join(chunks)) == (True, reply.text)


def test_unknown_tool_recovered(fake_server, transport: str) -> None:
    """An unknown tool becomes an error result and the run goes on."""
    fake_server.add(tool("teleport"), ServerReply(text="ok"))
    session, _ = session_on(fake_server, transport=transport)
    reply = session.send("x")
    assert (
        reply.text,
        messages(fake_server, 1)[-1]["content"].startswith("Unknown tool: teleport"),
    ) == (
        "ok",
        True,
    )


def test_malformed_json_arguments_recovered(fake_server, transport: str) -> None:
    """Arguments that are not JSON become an error result the model sees."""
    fake_server.add(
        ServerReply(tool_calls=[("read_file", '{"file_path": ')]), ServerReply(text="ok")
    )
    session, _ = session_on(fake_server, transport=transport)
    session.send("x")
    assert messages(fake_server, 1)[-1]["content"].startswith(
        "Invalid arguments for tool: read_file"
    )


def test_big_read_truncated_for_model_whole_in_event(fake_server, transport: str) -> None:
    """A 100 KB file reaches the model truncated and the event stream whole."""
    big = "".join(f"{i:05d} " + "y" * 94 + "\n" for i in range(1000))
    fake_server.add(tool("read_file", file_path="big.txt"), ServerReply(text="ok"))
    session, events = session_on(fake_server, transport=transport, files={"big.txt": big})
    session.send("read it")
    full = next(e for e in events if e.kind is EventKind.TOOL_CALL_END).data["output"]
    seen = messages(fake_server, 1)[-1]["content"]
    assert (len(full) >= 100_000, len(seen) <= 50_200, "characters omitted" in seen) == (
        True,
        True,
        True,
    )


def test_steering_while_response_held_reaches_next_request(fake_server, transport: str) -> None:
    """Steering sent from another thread during a held response is in the next request."""
    gate = threading.Event()
    fake_server.add(
        ServerReply(tool_calls=[("list_dir", "{}")], gate=gate), ServerReply(text="steered")
    )
    session, _ = session_on(fake_server, transport=transport)
    worker = threading.Thread(target=session.send, args=("start",))
    worker.start()
    assert fake_server.held()
    session.steer("actually, only look at src/")
    gate.set()
    worker.join(10)
    assert messages(fake_server, 1)[-1] == {
        "role": "user",
        "content": "actually, only look at src/",
    }


def test_follow_up_runs_after_first_input(fake_server, transport: str) -> None:
    """A follow-up queued while the first input runs is sent after its answer."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="first answer", gate=gate), ServerReply(text="second answer"))
    session, _ = session_on(fake_server, transport=transport)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(session.send("one").text))
    worker.start()
    assert fake_server.held()
    session.follow_up("two")
    gate.set()
    worker.join(10)
    tail = [m["content"] for m in messages(fake_server, 1)[-3:]]
    assert (tail, result) == (["one", "first answer", "two"], ["second answer"])


def test_turn_limit(fake_server, transport: str) -> None:
    """max_turns stops the run with turn_limit."""
    fake_server.add(tool("list_dir"), tool("glob", pattern="*"))
    session, events = session_on(fake_server, transport=transport, max_turns=2)
    reply = session.send("x")
    assert (reply.stop_reason, events[-2].kind, len(fake_server.requests)) == (
        "turn_limit",
        EventKind.TURN_LIMIT,
        2,
    )


def test_loop_detection(fake_server, transport: str) -> None:
    """Identical calls across the window trigger LOOP_DETECTION and a warning message."""
    fake_server.add(*[tool("list_dir")] * 3, ServerReply(text="ok"))
    session, events = session_on(
        fake_server, transport=transport, config=SessionConfig(loop_detection_window=3)
    )
    session.send("x")
    assert (
        [e.data["pattern_length"] for e in events if e.kind is EventKind.LOOP_DETECTION],
        messages(fake_server, 3)[-1]["content"].startswith("Loop detected"),
    ) == ([1], True)


def test_401_raises_auth_error_without_retry(fake_server, transport: str) -> None:
    """A 401 raises AuthError, closes the session and is not retried."""
    fake_server.add(ServerReply(status=401, error_message="bad key"))
    session, _ = session_on(fake_server, transport=transport)
    with pytest.raises(AuthError):
        session.send("x")
    assert (session.state.value, len(fake_server.requests)) == ("closed", 1)


def test_500_then_503_then_success(fake_server, transport: str) -> None:
    """Server errors are retried with backoff until the call succeeds."""
    now = {"Retry-After": "0"}
    fake_server.add(
        ServerReply(status=500, headers=now),
        ServerReply(status=503, headers=now),
        ServerReply(text="ok"),
    )
    session, events = session_on(fake_server, transport=transport)
    reply = session.send("x")
    retries = [e for e in events if e.kind is EventKind.WARNING and e.data.get("retry")]
    assert (reply.text, len(fake_server.requests), len(retries)) == ("ok", 3, 2)


def test_cancel_during_slow_stream(fake_server, transport: str) -> None:
    """cancel() mid-stream returns within a second as cancelled."""
    fake_server.add(ServerReply(text="slow " * 200, chunk_size=5, chunk_delay=0.05))
    session, _ = session_on(fake_server, transport=transport)
    cancelled_at: list[float] = []

    def cancel_once(_: str) -> None:
        if not cancelled_at:
            cancelled_at.append(time.monotonic())
            threading.Thread(target=session.cancel).start()

    reply = session.send("x", on_chunk=cancel_once)
    elapsed = time.monotonic() - cancelled_at[0]
    assert (reply.stop_reason, elapsed < 1.0, session.state.value) == ("cancelled", True, "idle")


def test_event_order_two_rounds(fake_server, transport: str) -> None:
    """A tool round then an answer emits events in this exact order."""
    fake_server.add(
        ServerReply(text="Looking.", tool_calls=[("list_dir", "{}")], chunk_size=100),
        ServerReply(text="Done.", chunk_size=100),
    )
    session, events = session_on(fake_server, transport=transport)
    session.send("hi")
    assert [e.kind.name for e in events] == [
        "SESSION_START",
        "USER_INPUT",
        "ASSISTANT_TEXT_START",
        "ASSISTANT_TEXT_DELTA",
        "ASSISTANT_TEXT_END",
        "USAGE",
        "TOOL_CALL_START",
        "TOOL_CALL_END",
        "ASSISTANT_TEXT_START",
        "ASSISTANT_TEXT_DELTA",
        "ASSISTANT_TEXT_END",
        "USAGE",
        "PROCESSING_END",
    ]


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_a_stalled_provider_is_retried_with_a_warning(fake_server, transport: str) -> None:
    """config.stall_timeout reaches the client: a silent provider gets a "Stalled" retry WARNING."""
    fake_server.add(ServerReply(text="never", gate=threading.Event()), ServerReply(text="ok"))
    session, events = session_on(
        fake_server, config=SessionConfig(stall_timeout=0.3), transport=transport
    )
    reply = session.send("x")
    warnings = [e.data["message"].split(";")[0] for e in events if e.kind is EventKind.WARNING]
    assert (reply.stop_reason, reply.text, warnings) == ("completed", "ok", ["Stalled"])


def test_text_streamed_before_a_lost_connection_stays_in_the_history(
    fake_server, transport: str
) -> None:
    """A run that fails mid-stream ends "error" with the streamed text as its last turn."""
    fake_server.add(ServerReply(text="hello world", drop_after=3))
    session, _ = session_on(fake_server, transport=transport)
    reply = session.send("x")
    assert (reply.stop_reason, reply.text, session.context()[-1]) == (
        "error",
        "hello wo",
        {"role": "assistant", "content": "hello wo"},
    )


def test_cached_tokens_are_counted_and_priced_alike(fake_server, transport: str) -> None:
    """gpt-4o, 800 of 1000 prompt tokens cached: same counts and cache-priced cost on both."""
    fake_server.add(ServerReply(text="ok", usage=(1000, 10, 800)))
    session, _ = session_on(fake_server, transport=transport)
    session.set_model("openai/gpt-4o")
    session.send("x")
    usage = session.usage
    expected_cost = 200 * 2.5e-6 + 800 * 1.25e-6 + 10 * 1e-5
    assert (usage.input_tokens, usage.cache_read_tokens, round(usage.cost_usd or 0, 9)) == (
        1000,
        800,
        round(expected_cost, 9),
    )


def test_an_unknown_model_has_no_price_and_no_window(fake_server, transport: str) -> None:
    """A local server's model is in no price map: cost unknown, the default window."""
    fake_server.add(ServerReply(text="ok"))
    session, _ = session_on(fake_server, transport=transport)
    session.send("x")
    assert (session.usage.cost_usd, session.context_window) == (
        None,
        session.config.default_context_window,
    )


def test_warm_up_sends_nothing_and_the_first_prompt_runs(fake_server, transport: str) -> None:
    """`warm_up` readies the client without a request; the prompt after it is answered."""
    fake_server.add(ServerReply(text="hello"))
    session, _ = session_on(fake_server, transport=transport)
    session.warm_up().join()
    sent_before = len(fake_server.requests)
    assert (sent_before, session.send("hi").text) == (0, "hello")


def test_warm_up_leaves_a_problem_to_the_first_call(
    fake_server, transport: str, tmp_path: Path
) -> None:
    """A setting the warm-up cannot use (a CA path with no certificate) fails the call,
    not the warm-up."""
    (tmp_path / "none.pem").write_text("not a certificate\n")
    session = Session(
        "openai/fake-model",
        api_base=fake_server.base_url.replace("http://", "https://"),
        api_key="sk-test",
        skills_dirs=[],
        transport=transport,
        ssl_verify=str(tmp_path / "none.pem"),
    )
    events: list[Event] = []
    session.subscribe(events.append)
    session.warm_up().join()
    session.send("hi")
    errors = [e.data["message"] for e in events if e.kind is EventKind.ERROR]
    assert ["ssl_verify" in message for message in errors] == [True]
