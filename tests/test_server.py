"""The fake OpenAI server, spoken to with raw httpx (no litellm)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tiller.testing import FakeOpenAIServer, ServerReply, load_script

CHAT = "/chat/completions"


def post(server: FakeOpenAIServer, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    payload = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        **(body or {}),
    }
    return httpx.post(server.base_url + CHAT, json=payload, timeout=10, **kw)


def sse_events(response: httpx.Response) -> list[Any]:
    lines = [line for line in response.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in lines]


def test_non_streaming_reply_has_the_chat_completion_shape(fake_server: FakeOpenAIServer) -> None:
    """A non-streamed reply is one chat.completion JSON with message, tool calls and usage."""
    fake_server.add(ServerReply(text="hi", tool_calls=[("read_file", '{"file_path": "a"}')]))
    body = post(fake_server).json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-model"
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hi",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"file_path": "a"}'},
            }
        ],
    }
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}


def test_streamed_text_arrives_in_chunks_after_a_role_delta(fake_server: FakeOpenAIServer) -> None:
    """SSE: role delta first, text in `chunk_size` pieces, finish "stop", then [DONE]."""
    fake_server.add(ServerReply(text="hello world", chunk_size=4))
    events = sse_events(post(fake_server, {"stream": True}))
    assert events[-1] == "[DONE]"
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d["content"] for d in deltas[1:-1]] == ["hell", "o wo", "rld"]
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert {e["object"] for e in events[:-1]} == {"chat.completion.chunk"}


def test_streamed_usage_comes_in_a_final_chunk_when_asked(fake_server: FakeOpenAIServer) -> None:
    """With stream_options.include_usage the last chunk has no choices and the usage."""
    fake_server.add(ServerReply(text="x", usage=(7, 3, 2)))
    events = sse_events(
        post(fake_server, {"stream": True, "stream_options": {"include_usage": True}})
    )
    assert events[-2]["choices"] == []
    assert events[-2]["usage"]["prompt_tokens"] == 7
    assert events[-2]["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}
    assert all(e["usage"] is None for e in events[:-2])


def test_streamed_usage_rides_on_the_finish_chunk_otherwise(fake_server: FakeOpenAIServer) -> None:
    """Without include_usage the finish chunk carries the usage."""
    fake_server.add(ServerReply(text="x", usage=(7, 3, 0)))
    events = sse_events(post(fake_server, {"stream": True}))
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["usage"]["completion_tokens"] == 3


def test_streamed_tool_call_arguments_are_split(fake_server: FakeOpenAIServer) -> None:
    """A tool call streams its id and name first, then its arguments in pieces."""
    fake_server.add(ServerReply(tool_calls=[("grep", '{"pattern": "x"}')], chunk_size=5))
    events = sse_events(post(fake_server, {"stream": True}))
    calls = [e["choices"][0]["delta"]["tool_calls"][0] for e in events[1:-2]]
    assert calls[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "grep", "arguments": ""},
    }
    pieces = [c["function"]["arguments"] for c in calls[1:]]
    assert pieces == ['{"pat', 'tern"', ': "x"', "}"]
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_call_ids_are_unique_across_replies(fake_server: FakeOpenAIServer) -> None:
    """Tool-call ids count up per server, not per reply."""
    fake_server.add(*[ServerReply(tool_calls=[("a", "{}"), ("b", "{}")])] * 2)
    ids = [
        c["id"]
        for _ in range(2)
        for c in post(fake_server).json()["choices"][0]["message"]["tool_calls"]
    ]
    assert ids == ["call_1", "call_2", "call_3", "call_4"]


def test_requests_are_recorded(fake_server: FakeOpenAIServer) -> None:
    """Each request is recorded with its path, headers and JSON body."""
    fake_server.add(ServerReply(text="ok"))
    post(fake_server, {"temperature": 0.5}, headers={"Authorization": "Bearer sk-test"})
    [request] = fake_server.wait_for_requests(1)
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.body["temperature"] == 0.5


def test_wait_for_requests_times_out_loudly(fake_server: FakeOpenAIServer) -> None:
    """Waiting for requests that never come raises TimeoutError."""
    with pytest.raises(TimeoutError, match="expected 1 request"):
        fake_server.wait_for_requests(1, timeout=0.05)


def test_empty_queue_answers_500(fake_server: FakeOpenAIServer) -> None:
    """With no reply left (and no default) the server answers 500 so the test fails loudly."""
    response = post(fake_server)
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "no scripted reply left"


def test_default_reply_answers_when_the_queue_is_empty() -> None:
    """The default reply serves every request once the queue is empty."""
    with FakeOpenAIServer([ServerReply(text="first")], default=ServerReply(text="again")) as srv:
        texts = [post(srv).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert texts == ["first", "again", "again"]


def test_error_reply_has_an_openai_error_body_and_headers(fake_server: FakeOpenAIServer) -> None:
    """A non-200 reply sends an OpenAI-style error body and the scripted headers."""
    fake_server.add(
        ServerReply(status=429, error_message="slow down", headers={"Retry-After": "3"})
    )
    response = post(fake_server, {"stream": True})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["message"] == "slow down"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_models_are_listed(fake_server: FakeOpenAIServer) -> None:
    """GET /v1/models lists the fake model."""
    response = httpx.get(fake_server.base_url + "/models")
    assert [m["id"] for m in response.json()["data"]] == ["fake-model"]


def test_gate_holds_the_reply_until_set(fake_server: FakeOpenAIServer) -> None:
    """A gated reply sends nothing until its gate is set."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="late", gate=gate))
    result: list[httpx.Response] = []
    client = threading.Thread(target=lambda: result.append(post(fake_server)))
    client.start()
    assert fake_server.held()
    assert result == []
    gate.set()
    client.join(5)
    assert result[0].json()["choices"][0]["message"]["content"] == "late"


def test_stop_releases_a_held_reply_promptly() -> None:
    """Stopping the server ends a held response at once (the client sees the connection close)."""
    server = FakeOpenAIServer([ServerReply(gate=threading.Event())]).start()
    errors: list[Exception] = []

    def call() -> None:
        try:
            post(server)
        except httpx.HTTPError as exc:
            errors.append(exc)

    client = threading.Thread(target=call)
    client.start()
    assert server.held()
    started = time.monotonic()
    server.stop()
    client.join(5)
    assert time.monotonic() - started < 1.0
    assert len(errors) == 1


def test_client_hangup_ends_a_slow_stream(fake_server: FakeOpenAIServer) -> None:
    """When the client goes away mid-stream the server notices instead of streaming on."""
    fake_server.add(ServerReply(text="x" * 100, chunk_size=1, chunk_delay=10))
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", fake_server.base_url + CHAT, json={"stream": True}) as response,
    ):
        next(response.iter_lines())
    assert fake_server.wait_for_hangup(1, timeout=2)


def test_drop_after_cuts_the_stream(fake_server: FakeOpenAIServer) -> None:
    """`drop_after` closes the connection after that many events: a mid-stream failure."""
    fake_server.add(ServerReply(text="hello world", drop_after=2))
    with pytest.raises(httpx.RemoteProtocolError):
        post(fake_server, {"stream": True})


def test_raw_body_is_served_as_given(fake_server: FakeOpenAIServer) -> None:
    """`raw_body` answers 200 with that body and content type (a proxy's page), streamed or not."""
    fake_server.add(ServerReply(raw_body="<html>oops</html>"))
    response = post(fake_server, {"stream": True})
    assert (response.status_code, response.headers["content-type"], response.text) == (
        200,
        "text/html; charset=utf-8",
        "<html>oops</html>",
    )


def test_stall_after_goes_silent_until_the_client_hangs_up(fake_server: FakeOpenAIServer) -> None:
    """`stall_after` sends that many events, then nothing, until the client goes away."""
    fake_server.add(ServerReply(text="hello world", stall_after=2))
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=0.3)) as client,
        client.stream("POST", fake_server.base_url + CHAT, json={"stream": True}) as response,
    ):
        lines = response.iter_lines()
        sent = [next(lines) for _ in range(4)]  # two events, each followed by a blank line
        with pytest.raises(httpx.ReadTimeout):
            next(lines)
    assert ([line[:6] for line in sent], fake_server.wait_for_hangup(1, timeout=5)) == (
        ["data: ", "", "data: ", ""],
        True,
    )


def test_close_without_reply_sends_nothing(fake_server: FakeOpenAIServer) -> None:
    """`close_without_reply` closes the connection before a byte of the response."""
    fake_server.add(ServerReply(close_without_reply=True))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(fake_server)


def test_keep_alive_calls_are_fast(fake_server: FakeOpenAIServer) -> None:
    """TCP_NODELAY: 20 calls on one connection take far less than Nagle's 40 ms each."""
    fake_server.default = ServerReply(text="ok")
    with httpx.Client(timeout=10) as client:
        client.post(fake_server.base_url + CHAT, json={})
        started = time.perf_counter()
        for _ in range(20):
            client.post(fake_server.base_url + CHAT, json={"stream": True})
        elapsed = time.perf_counter() - started
    assert elapsed < 0.7  # with Nagle's delayed ACKs: at least 0.8 s


def test_script_accepts_a_list_or_replies_with_a_default(tmp_path: Path) -> None:
    """Scripts are a list of replies or {"replies", "default"}; tool arguments may be objects."""
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"tool_calls": [["grep", {"pattern": "x"}]]}]))
    assert load_script(path) == ([ServerReply(tool_calls=[("grep", '{"pattern": "x"}')])], None)
    path.write_text(
        json.dumps(
            {
                "replies": [
                    {"tool_calls": [{"name": "ls", "arguments": "{}"}], "usage": [1, 2, 0]}
                ],
                "default": {"text": "bye"},
            }
        )
    )
    assert load_script(path) == (
        [ServerReply(tool_calls=[("ls", "{}")], usage=(1, 2, 0))],
        ServerReply(text="bye"),
    )


def test_script_rejects_unknown_fields(tmp_path: Path) -> None:
    """A misspelt reply field is an error, not silently ignored."""
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"txt": "hi"}]))
    with pytest.raises(ValueError, match="unknown reply field"):
        load_script(path)


def test_cli_serves_a_script_and_holds_until_a_file_exists(tmp_path: Path) -> None:
    """The CLI prints READY, serves its script and holds a reply until a file exists."""
    release = tmp_path / "release"
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "held", "hold_until_file": str(release)}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiller.testing.server", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY"
        with httpx.Client(base_url=ready[1], timeout=10) as client:
            result: list[httpx.Response] = []
            caller = threading.Thread(
                target=lambda: result.append(client.post(CHAT, json={"model": "m"}))
            )
            caller.start()
            caller.join(0.3)
            assert result == []
            release.touch()
            caller.join(5)
        assert result[0].json()["choices"][0]["message"]["content"] == "held"
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
    assert proc.stderr is not None
    assert proc.stderr.read() == ""


def test_responder_picks_each_reply_from_the_request_body() -> None:
    """A responder answers from the request body; one that raises gets a 500."""

    def respond(body: dict[str, Any]) -> ServerReply:
        return ServerReply(text=f"seen {len(body['messages'])}")

    with FakeOpenAIServer([ServerReply(text="queued")], responder=respond) as server:
        two = post(server, {"messages": [{"role": "user", "content": "a"}] * 2})
        server.responder = lambda body: ServerReply(text=body["missing"])
        broken = post(server)
    assert (two.json()["choices"][0]["message"]["content"], broken.status_code) == ("seen 2", 500)
