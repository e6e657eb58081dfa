"""Journals keep secrets out of text and never store an altered file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller.events import EventKind
from tiller.journal import Journal, journal_path, load_journal, restore_session
from tiller.redaction import _TOKEN_FORMAT_LIST as TOKEN_FORMATS
from tiller.redaction import REDACTED, Redactor
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step, call

QUOTED = 'sk-"quoted\\back-0123456789'  # a secret JSON must escape
KEY = "sk-test-journal-secret-0123456789"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    return root


def strings(value: Any) -> Iterator[str]:
    """Every string (keys too) inside decoded JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def journal_strings(session_id: str) -> list[str]:
    lines = journal_path(session_id).read_text().splitlines()
    return [s for line in lines for s in strings(json.loads(line))]


def test_secret_with_quote_and_backslash_is_redacted(project: Path) -> None:
    """A secret holding `"` and `\\` is redacted from prompts, answers and tool arguments."""
    steps: list[Step | str] = [
        call("edit_file", file_path="nope.txt", old_string=QUOTED, new_string="x"),
        f"I saw {QUOTED}",
    ]
    session = Session(ScriptedModel(steps), root=project, api_key=QUOTED)
    Journal.attach(session)
    session.send(f"here is my key {QUOTED}")
    found = [s for s in journal_strings(session.id) if "0123456789" in s]
    assert found == []


def test_file_holding_a_secret_is_not_journaled(project: Path) -> None:
    """A file whose content holds a known secret is recorded as withheld, not as content."""
    session = Session(ScriptedModel(), root=project, api_key=KEY)
    Journal.attach(session)
    session.workspace.edit(".env", "OPENAI", "DEBUG=1\nOPENAI")
    data = load_journal(session.id)
    assert (data.files, data.withheld) == ({}, {".env": "holds a credential"})
    assert KEY not in journal_path(session.id).read_text()


def test_resume_drops_the_withheld_change_and_warns(project: Path) -> None:
    """Resuming leaves a withheld file as it is on disk and names it in a WARNING event."""
    session = Session(ScriptedModel(), root=project, api_key=KEY)
    Journal.attach(session)
    session.workspace.edit(".env", "OPENAI", "DEBUG=1\nOPENAI")
    session.workspace.write("ok.txt", "fine\n")
    session.close()
    told: list[str] = []
    restored = restore_session(session.id, client=ScriptedModel(), on_warning=told.append)
    assert restored.files() == {"ok.txt": "fine\n"}
    assert restored.workspace.read(".env") == f"OPENAI_API_KEY={KEY}\n"
    assert [m.split(":")[0] for m in told] == [".env"]
    warnings = [e for e in load_journal(session.id).events if e["kind"] == "warning"]
    assert [w["data"]["message"] for w in warnings] == told


def test_known_token_format_is_withheld_without_being_configured(project: Path) -> None:
    """A well-known key format in a file withholds it even when no option names it."""
    session = Session(ScriptedModel(), root=project)
    Journal.attach(session)
    session.workspace.write("aws.cfg", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    assert load_journal(session.id).withheld == {"aws.cfg": "holds a credential"}


@pytest.mark.parametrize(
    ("api_base", "journaled"),
    [
        ("http://user:secret@127.0.0.1:9/v1", f"http://{REDACTED}@127.0.0.1:9/v1"),
        ("https://tok3n-abc@host.example/v1", f"https://{REDACTED}@host.example/v1"),
        ("http://h:1/v1?key=s3cr3t-value&x=1", f"http://h:1/v1?key={REDACTED}&x=1"),
        (
            "http://h:1/v1?api-version=2&access_token=zz9",
            f"http://h:1/v1?api-version=2&access_token={REDACTED}",
        ),
    ],
)
def test_api_base_credentials_are_redacted(project: Path, api_base: str, journaled: str) -> None:
    """URL userinfo and secret query values in `api_base` are journaled redacted."""
    session = Session(ScriptedModel(["hi"]), root=project, api_base=api_base)
    Journal.attach(session)
    session.send(f"I use {api_base}")
    data = load_journal(session.id)
    assert (data.header["options"]["api_base"], data.first_prompt) == (
        journaled,
        f"I use {journaled}",
    )


def test_resume_leaves_out_a_redacted_option_and_warns(project: Path) -> None:
    """A redacted `api_base` is not restored as a broken URL; the warning says to pass it again."""
    session = Session(ScriptedModel(), root=project, api_base="http://u:pw@127.0.0.1:9/v1")
    Journal.attach(session)
    told: list[str] = []
    restored = restore_session(session.id, client=ScriptedModel(), on_warning=told.append)
    assert "api_base" not in restored.llm_options
    assert told == ["option api_base held a credential that is not journaled; pass it again"]


def test_an_override_wins_over_a_redacted_option(project: Path) -> None:
    """Passing `api_base` again on resume uses it, with no warning."""
    session = Session(ScriptedModel(), root=project, api_base="http://u:pw@127.0.0.1:9/v1")
    Journal.attach(session)
    told: list[str] = []
    url = "http://u:pw@127.0.0.1:9/v1"
    restored = restore_session(
        session.id, client=ScriptedModel(), on_warning=told.append, api_base=url
    )
    assert (restored.llm_options["api_base"], told) == (url, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {QUOTED} end", f"key {REDACTED} end"),
        (json.dumps({"k": QUOTED}), json.dumps({"k": REDACTED})),
        (
            "https://a:b@x.y/z and https://x.y/?sig=abc",
            f"https://{REDACTED}@x.y/z and https://x.y/?sig={REDACTED}",
        ),
        ("-----BEGIN RSA PRIVATE KEY-----", REDACTED),
        ("plain text, https://example.com/?q=key", "plain text, https://example.com/?q=key"),
    ],
)
def test_redactor_text(text: str, expected: str) -> None:
    """Known values in any spelling, URL credentials and key formats go; plain text stays."""
    assert Redactor([QUOTED]).redact(text) == expected


def test_non_json_event_data_is_redacted_too(project: Path) -> None:
    """An event carrying an object (an exception) is journaled as its redacted text."""
    session = Session(ScriptedModel(), root=project, api_key=KEY)
    Journal.attach(session)
    session.emit(EventKind.ERROR, error=RuntimeError(f"rejected key {KEY}"))
    [event] = [e for e in load_journal(session.id).events if e["kind"] == "error"]
    assert event["data"]["error"] == f"rejected key {REDACTED}"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="0123456789\"\\'/:@?&=%é\n\t\u2028", min_size=8, max_size=24))
def test_no_secret_survives_in_any_journaled_string(secret: str) -> None:
    """Whatever characters a key holds, no journaled string contains it."""
    steps: list[Step | str] = [
        Step(text=f"text {secret}", tool_calls=[("read_file", {"file_path": secret})]),
        f"done {secret}",
    ]
    session = Session(ScriptedModel(steps), files={}, api_key=secret)
    Journal.attach(session, fsync=False)
    session.send(f"key {secret}")
    assert [s for s in journal_strings(session.id) if secret in s] == []


def test_file_named_by_a_secret_is_journaled_without_the_name(project: Path) -> None:
    """A file whose name holds a key leaves only a redacted, withheld record."""
    session = Session(ScriptedModel(), root=project, api_key=KEY)
    Journal.attach(session)
    session.workspace.write(f"keys/{KEY}.txt", "nothing secret\n")
    data = load_journal(session.id)
    assert (data.files, data.withheld) == ({}, {f"keys/{REDACTED}.txt": "holds a credential"})
    assert KEY not in journal_path(session.id).read_text()


@pytest.mark.parametrize("pattern", [pattern for _, pattern in TOKEN_FORMATS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_token_the_formats_match_is_redacted(pattern: str, data: st.DataObject) -> None:
    """Any text a known token format matches is redacted (the literal pre-check skips none)."""
    token = data.draw(st.from_regex(pattern.replace(r"\b", ""), fullmatch=True))
    assert Redactor().redact(f"say {token} now") == f"say {REDACTED} now"
