"""`tiller run` and `--version` through typer's CliRunner against the local server."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tiller import __version__
from tiller.cli import EXIT_ERROR, EXIT_TURN_LIMIT, app
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WRITE = ServerReply(
    tool_calls=[("write_file", json.dumps({"file_path": "a.txt", "content": "A\n"}))]
)


@pytest.fixture(params=["litellm", "openai"])
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a test runs on: each runs on both (DESIGN §11, same behaviour)."""
    return str(request.param)


def run(server: FakeOpenAIServer, root: Path, *args: str) -> Result:
    base = ["run", "--model", "openai/fake-model", "--api-base", server.base_url]
    base += ["--root", str(root), "--skills-dir", str(root / "no-skills")]
    env = {"OPENAI_API_KEY": "sk-test"}
    return CliRunner().invoke(app, [*base, *args], env=env)


def test_version() -> None:
    """--version prints the version."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.output == f"tiller {__version__}\n"


def test_run_prints_answer_and_writes_diff(fake_server, tmp_path: Path, transport: str) -> None:
    """run prints the final answer and --diff writes the patch; the disk is untouched."""
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt."))
    patch = tmp_path / "out.patch"
    result = run(
        fake_server, tmp_path, "--transport", transport, "--diff", str(patch), "make a.txt"
    )
    assert (
        result.exit_code,
        result.stdout,
        "+A" in patch.read_text(),
        (tmp_path / "a.txt").exists(),
    ) == (
        0,
        "Wrote a.txt.\n",
        True,
        False,
    )


def test_run_diff_names_a_file_changed_on_disk(fake_server, tmp_path: Path) -> None:
    """--diff keeps the patch file pure and says on stderr which file changed on disk."""
    (tmp_path / "a.txt").write_text("old\n")
    gate = threading.Event()
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt.", gate=gate))
    patch = tmp_path / "out.patch"
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(run(fake_server, tmp_path, "--diff", str(patch), "x"))
    )
    worker.start()
    try:
        assert fake_server.held(timeout=30)
        (tmp_path / "a.txt").write_text("theirs\n")
    finally:
        gate.set()
        worker.join(timeout=60)
    [result] = results
    note = result.stderr.splitlines()[0]
    assert (result.exit_code, note, patch.read_text().startswith("diff --git")) == (
        0,
        "tiller: a.txt changed on disk after Tiller read it; the patch is against the version "
        "Tiller read and may not apply to the file as it is now",
        True,
    )


def test_run_flush_refusing_a_path_now_out_of_the_root_is_an_error_not_a_traceback(
    fake_server, tmp_path: Path
) -> None:
    """--flush into a directory swapped for a link out of the root says so and exits 1."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    write = json.dumps({"file_path": "d/a.txt", "content": "A\n"})
    gate = threading.Event()
    fake_server.add(
        ServerReply(tool_calls=[("write_file", write)]), ServerReply(text="ok", gate=gate)
    )
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(run(fake_server, root, "--flush", "x")))
    worker.start()
    try:
        assert fake_server.held(timeout=30)
        (root / "d").rmdir()
        (root / "d").symlink_to(outside)
    finally:
        gate.set()
        worker.join(timeout=60)
    [result] = results
    first = result.stderr.splitlines()[0]
    assert (
        result.exit_code,
        first.startswith("tiller: Path 'd/a.txt'"),
        list(outside.iterdir()),
    ) == (
        EXIT_ERROR,
        True,
        [],
    )


def test_run_flush_writes_to_disk(fake_server, tmp_path: Path) -> None:
    """--flush applies the workspace to disk at the end."""
    fake_server.add(WRITE, ServerReply(text="ok"))
    result = run(fake_server, tmp_path, "--flush", "make a.txt")
    assert (result.exit_code, (tmp_path / "a.txt").read_text()) == (0, "A\n")


def test_run_turn_limit_exit_code(fake_server, tmp_path: Path, transport: str) -> None:
    """Hitting --max-turns exits with the turn-limit code."""
    fake_server.add(WRITE, WRITE)
    result = run(fake_server, tmp_path, "--transport", transport, "--max-turns", "1", "loop")
    assert result.exit_code == EXIT_TURN_LIMIT


def test_run_auth_error_exit_code(fake_server, tmp_path: Path, transport: str) -> None:
    """A rejected key exits with the error code."""
    fake_server.add(ServerReply(status=401, error_message="bad key"))
    result = run(fake_server, tmp_path, "--transport", transport, "x")
    assert result.exit_code == EXIT_ERROR


def test_run_never_prints_a_key_the_provider_echoes(
    fake_server, tmp_path: Path, transport: str
) -> None:
    """A provider error quoting the API key reaches neither `--json` events nor stderr."""
    key = "sk-echoed-key-5f0c2e9a"
    fake_server.add(ServerReply(status=401, error_message=f"Incorrect API key provided: {key}"))
    base = ["run", "--model", "openai/fake-model", "--api-base", fake_server.base_url]
    base += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "no-skills")]
    argv = [*base, "--transport", transport, "--json", "x"]
    result = CliRunner().invoke(app, argv, env={"OPENAI_API_KEY": key})
    assert (key in result.stdout, key in result.stderr) == (False, False)


def test_run_json_redacts_what_the_journal_would(fake_server, tmp_path: Path) -> None:
    """A token read from a file and repeated by the model (split across deltas) never prints."""
    token = "AKIA" + "ABCDEFGHIJKLMNOP"
    (tmp_path / "conf.py").write_text(f"aws = '{token}'\n")
    read = ServerReply(tool_calls=[("read_file", json.dumps({"file_path": "conf.py"}))])
    fake_server.add(read, ServerReply(text=f"The key is {token} here.", chunk_size=3))
    result = run(fake_server, tmp_path, "--transport", "openai", "--json", "x")
    texts = [
        json.loads(line)["data"].get("delta", "")
        for line in result.stdout.splitlines()
        if '"assistant_text_delta"' in line
    ]
    assert (token in result.stdout, "".join(texts)) == (False, "The key is [redacted] here.")


def test_run_json_lines_parse(fake_server, tmp_path: Path, transport: str) -> None:
    """--json prints one parseable event per line with stable fields."""
    fake_server.add(ServerReply(text="hi"))
    result = run(fake_server, tmp_path, "--transport", transport, "--json", "x")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert (
        {tuple(sorted(e)) for e in events},
        events[0]["kind"],
        [e["kind"] for e in events[-2:]],
    ) == ({("data", "kind", "session_id", "timestamp")}, "session_start", ["session_end", "result"])


def test_run_json_ends_with_a_result_record(fake_server, tmp_path: Path) -> None:
    """The last --json line says how the run ended, what it changed and where it is kept."""
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt."))
    result = run(fake_server, tmp_path, "--json", "make a.txt")
    last = json.loads(result.stdout.splitlines()[-1])["data"]
    assert (last["stop_reason"], last["rounds"], last["files_changed"]) == (
        "completed",
        2,
        ["a.txt"],
    )


def test_run_says_where_unflushed_changes_are_kept(fake_server, tmp_path: Path) -> None:
    """Unflushed edits end with one stderr line naming the session and how to resume it."""
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt."))
    result = run(fake_server, tmp_path, "make a.txt")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("tiller: 1 change(s) not flushed, kept in session ")
    assert "tiller --resume " in last


def test_run_after_flush_says_nothing_about_unflushed_changes(fake_server, tmp_path: Path) -> None:
    """--flush leaves nothing in memory, so no resume hint."""
    fake_server.add(WRITE, ServerReply(text="ok"))
    result = run(fake_server, tmp_path, "--flush", "make a.txt")
    assert result.stderr == "tiller: wrote 1 file(s)\n"


def test_run_without_a_key_stops_before_sending(fake_server, tmp_path: Path) -> None:
    """No key for the provider: the TUI's message, exit 2, no request sent."""
    base = ["run", "--model", "openai/fake-model", "--root", str(tmp_path), "x"]
    result = CliRunner().invoke(app, base, env={"OPENAI_API_KEY": ""})
    assert (result.exit_code, fake_server.requests) == (2, [])
    assert result.stderr.startswith("tiller: No API key for openai/fake-model: set OPENAI_API_KEY")


def test_run_writes_the_diff_even_when_the_run_ends_on_an_auth_error(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """--diff is written on every exit: an edit before a rejected key is still in the patch."""
    fake_server.add(WRITE, ServerReply(status=401, error_message="bad key"))
    patch = tmp_path / "out.patch"
    result = run(
        fake_server, tmp_path, "--transport", transport, "--diff", str(patch), "make a.txt"
    )
    assert (result.exit_code, "+A" in patch.read_text()) == (EXIT_ERROR, True)


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_run_with_an_html_page_for_an_answer_fails(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """A 200 carrying a proxy's HTML page is a provider error and a non-zero exit."""
    fake_server.add(ServerReply(raw_body="<html><body>Bad gateway</body></html>"))
    result = run(fake_server, tmp_path, "--transport", transport, "x")
    assert (result.exit_code, result.stderr) == (
        EXIT_ERROR,
        "tiller: openai/fake-model failed: "
        "The provider answered with HTML, not JSON (a proxy error page?)\n",
    )


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_run_survives_a_file_name_that_is_not_utf8(
    fake_server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    """A non-UTF-8 file name in a tool result reaches the provider escaped; the run completes."""
    os.close(os.open(os.fsencode(tmp_path) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))
    fake_server.add(ServerReply(tool_calls=[("list_dir", "{}")]), ServerReply(text="done"))
    result = run(fake_server, tmp_path, "--transport", transport, "list")
    listing = json.dumps(fake_server.requests[1].body["messages"][-1])
    assert (result.exit_code, result.stdout, "caf\\\\xe9.txt" in listing) == (0, "done\n", True)


def test_run_diff_with_flush_still_holds_the_change(fake_server, tmp_path: Path) -> None:
    """--diff is written before --flush makes the change the new base."""
    fake_server.add(WRITE, ServerReply(text="ok"))
    patch = tmp_path / "out.patch"
    result = run(fake_server, tmp_path, "--diff", str(patch), "--flush", "make a.txt")
    assert (result.exit_code, "+A" in patch.read_text()) == (0, True)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "openai"),
        (["--transport", "litellm"], "litellm"),
        (["--transport", "openai"], "openai"),
    ],
)
def test_run_json_first_event_names_the_transport(
    fake_server: FakeOpenAIServer, tmp_path: Path, flags: list[str], expected: str
) -> None:
    """--json's session_start says which transport the run uses (auto: lean for openai/)."""
    fake_server.add(ServerReply(text="hi"))
    result = run(fake_server, tmp_path, *flags, "--json", "x")
    first = json.loads(result.output.splitlines()[0])
    assert (first["kind"], first["data"]["transport"]) == ("session_start", expected)


def test_headless_exit_leaves_nothing_unflushed(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The real entry point exits at once after a run; every line and file is complete."""
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt."))
    patch = tmp_path / "out.patch"
    argv = [sys.executable, "-c", "from tiller.cli import main; main()", "run", "--json"]
    argv += ["--model", "openai/fake-model", "--api-base", fake_server.base_url]
    argv += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none")]
    argv += ["--diff", str(patch), "make a.txt"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TILLER_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    kinds = [json.loads(line)["kind"] for line in done.stdout.splitlines()]
    assert (done.returncode, kinds[0], kinds[-2:], "+A" in patch.read_text()) == (
        0,
        "session_start",
        ["session_end", "result"],
        True,
    )


def test_run_on_the_native_anthropic_route(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    """`tiller run` with an `anthropic/` model speaks Messages: a tool round, then the answer."""
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt."))
    args = ["run", "--model", "anthropic/claude-sonnet-4-5", "--api-base", fake_server.root_url]
    args += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "--json", "go"]
    result = CliRunner().invoke(app, args, env={"ANTHROPIC_API_KEY": "sk-ant-test"})
    events = [json.loads(line) for line in result.stdout.splitlines()]
    paths = [request.path for request in fake_server.requests]
    assert (
        result.exit_code,
        events[0]["data"]["transport"],
        paths,
        events[-1]["data"]["files_changed"],
    ) == (
        0,
        "litellm",
        ["/v1/messages", "/v1/messages"],
        ["a.txt"],
    )


def test_collector_resumes_after_the_first_model_call() -> None:
    """The first USAGE of a run freezes what start-up left and turns the collector back on."""
    from tiller.cli import _collect_after_first_call
    from tiller.events import Event, EventKind

    on_event = _collect_after_first_call()
    gc.disable()
    try:
        on_event(Event(EventKind.ASSISTANT_TEXT_START, "s1"))
        before = gc.isenabled()
        on_event(Event(EventKind.USAGE, "s1"))
        assert (before, gc.isenabled(), gc.get_freeze_count() > 0) == (False, True, True)
    finally:
        gc.unfreeze()
        gc.enable()


NOT_FLUSHED = "tiller: --flush skipped: the run did not complete"


@pytest.mark.parametrize(
    ("second", "flags", "code"),
    [
        (WRITE, ["--max-turns", "1"], EXIT_TURN_LIMIT),
        (ServerReply(status=400, error_message="bad request"), [], EXIT_ERROR),
    ],
    ids=["turn-limit", "provider-error"],
)
def test_run_flush_writes_nothing_when_the_run_does_not_complete(
    fake_server: FakeOpenAIServer, tmp_path: Path, second: ServerReply, flags: list[str], code: int
) -> None:
    """--flush after a run that stopped part way leaves the disk alone and says so."""
    fake_server.add(WRITE, second)
    result = run(fake_server, tmp_path, *flags, "--flush", "make a.txt")
    assert (result.exit_code, (tmp_path / "a.txt").exists(), NOT_FLUSHED in result.stderr) == (
        code,
        False,
        True,
    )


def test_run_json_whose_reader_hangs_up_stops_and_never_flushes(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`tiller run --json --flush | head -1`: the run stops, writes nothing, exits 141."""
    gate = threading.Event()
    edit = json.dumps({"file_path": "a.txt", "content": "A\n"})
    fake_server.add(
        ServerReply(tool_calls=[("write_file", edit)], gate=gate), ServerReply(text="ok")
    )
    argv = [sys.executable, "-c", "from tiller.cli import main; main()", "run", "--json"]
    argv += ["--model", "openai/fake-model", "--api-base", fake_server.base_url]
    argv += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "--flush", "go"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TILLER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # the reader is gone, as `| head -1` leaves it
        gate.set()  # only now can the run go on (and, unfixed, finish and flush)
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (code, (tmp_path / "a.txt").exists(), "Traceback" in stderr) == (141, False, False)


@pytest.mark.parametrize("option", ["--diff", "--output-last-message"])
def test_run_with_an_output_file_it_cannot_write_stops_before_the_model(
    fake_server: FakeOpenAIServer, tmp_path: Path, option: str
) -> None:
    """An output file in a missing directory is a one-line usage error before any request."""
    target = tmp_path / "missing" / "out.txt"
    fake_server.add(WRITE, ServerReply(text="ok"))
    result = run(fake_server, tmp_path, option, str(target), "make a.txt")
    assert (result.exit_code, result.stderr, fake_server.requests) == (
        2,
        f"tiller: cannot write {option} {target}: no directory {target.parent}\n",
        [],
    )


def test_run_stopped_with_sigterm_flushes_nothing_and_says_where_the_work_is(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """SIGTERM (`timeout`, a CI cancel) stops the run like Ctrl+C: no flush, the session named."""
    gate = threading.Event()
    fake_server.add(WRITE, ServerReply(text="ok", gate=gate))
    argv = [sys.executable, "-c", "from tiller.cli import main; main()", "run", "--flush"]
    argv += ["--model", "openai/fake-model", "--api-base", fake_server.base_url]
    argv += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "go"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TILLER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert fake_server.held(timeout=60)
        proc.terminate()
        gate.set()
        _, err = proc.communicate(timeout=60)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = err.decode().splitlines()
    assert (proc.returncode, (tmp_path / "a.txt").exists(), lines[0]) == (
        143,
        False,
        "tiller: terminated",
    )
    assert lines[-1].startswith("tiller: 1 change(s) not flushed, kept in session ")


def test_run_whose_stdout_is_closed_before_the_answer_says_so_and_never_flushes(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The answer cannot be delivered: one stderr line, exit 141, nothing flushed."""
    fake_server.add(WRITE, ServerReply(text="ok"))
    argv = [sys.executable, "-c", "from tiller.cli import main; main()", "run", "--flush"]
    argv += ["--model", "openai/fake-model", "--api-base", fake_server.base_url]
    argv += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "go"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "TILLER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    proc.stdout.close()  # nobody will read the answer
    _, err = proc.communicate(timeout=120)
    lines = err.decode().splitlines()
    assert (proc.returncode, (tmp_path / "a.txt").exists(), lines[0]) == (
        141,
        False,
        "tiller: standard output was closed; the run stopped",
    )


def test_run_flush_conflict_names_the_files_in_the_cli_s_terms(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """A file edited on disk during the run: not flushed, said without library advice (force=)."""
    (tmp_path / "a.txt").write_text("old\n")
    gate = threading.Event()
    fake_server.add(WRITE, ServerReply(text="Wrote a.txt.", gate=gate))
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(run(fake_server, tmp_path, "--flush", "x"))
    )
    worker.start()
    try:
        assert fake_server.held(timeout=30)
        (tmp_path / "a.txt").write_text("theirs\n")
    finally:
        gate.set()
        worker.join(timeout=60)
    [result] = results
    assert (result.exit_code, result.stderr.splitlines()[0], (tmp_path / "a.txt").read_text()) == (
        EXIT_ERROR,
        "tiller: not flushed: a.txt changed on disk since Tiller read it; nothing was written",
        "theirs\n",
    )


def test_run_on_a_root_that_is_not_a_directory_is_one_line(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """--root naming nothing: a usage error in one line, no traceback, no request."""
    missing = tmp_path / "missing"
    result = run(fake_server, missing, "x")
    assert (result.exit_code, result.stderr, fake_server.requests) == (
        2,
        f"tiller: --root {missing} is not a directory\n",
        [],
    )


def test_run_whose_journal_cannot_be_created_stops_before_the_model(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """A data dir that cannot hold journals: one line naming it, exit 2, no request."""
    (tmp_path / "file").write_text("")
    data = tmp_path / "file" / "data"
    base = ["run", "--model", "openai/fake-model", "--api-base", fake_server.base_url]
    base += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none"), "x"]
    env = {"OPENAI_API_KEY": "sk-test", "TILLER_DATA_DIR": str(data)}
    # Without a data dir the flush lock falls back to the temp dir: this test's to remove.
    fallback = Path(tempfile.gettempdir()) / f"tiller-locks-{os.getuid()}"
    existed = fallback.exists()
    try:
        result = CliRunner().invoke(app, base, env=env)
    finally:
        if not existed:
            shutil.rmtree(fallback, ignore_errors=True)
    assert (result.exit_code, result.stderr, fake_server.requests) == (
        2,
        f"tiller: Cannot keep this session's journal in {data / 'sessions'}: Not a directory; "
        "set TILLER_DATA_DIR to a directory Tiller can write\n",
        [],
    )
