"""Keeping secrets out of text that leaves for logs and journals.

Redaction works on Python strings *before* any encoding, so a secret holding
`"` or `\\` is found whatever JSON later makes of it; the JSON-escaped and
URL-quoted spellings of each known secret are searched too, because tool-call
arguments are JSON text that may carry a secret already escaped.

Three kinds of secret are recognised:

- known values: secret-named options (`api_key`, ...) and secret-named
  environment variables, at least `MIN_SECRET_LENGTH` characters long;
- credentials inside URLs: the userinfo of `scheme://user:pass@host` and the
  value of a secret-named query parameter (`?key=...`, `&access_token=...`);
- a few token formats that are unmistakable (private key blocks, AWS, GitHub,
  Slack, Google, OpenAI and Anthropic keys).

Redaction applies to text only, never to the user's file content: a file that
holds a secret is reported by `Redactor.contains_secret` so a journal can leave
it out instead of storing an altered copy.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import re2

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8

_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "auth", "authorization"}
)
_SECRET_WORDS |= {"credential", "credentials", "headers", "cookie"}
# Query parameters also carry signatures (presigned URLs); option names never do.
_SECRET_QUERY_WORDS = _SECRET_WORDS | {"sig", "signature", "pwd", "pass"}

_URL_USERINFO_PATTERN = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@?#\"'<>]+)@"
_QUERY_PARAM_PATTERN = r"(?P<lead>[?&;](?P<name>[A-Za-z0-9_.\-]+)=)(?P<value>[^&#\s\"'<>]+)"
# Each format with the literal text every match of it holds. Nearly every string a
# journal writes holds none of them, and a substring test costs far less than a pass of
# RE2 through its Python wrapper (a third of the engine's own time per round).
_TOKEN_FORMAT_LIST = (
    (("-----BEGIN ",), r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    (("AKIA",), r"\bAKIA[0-9A-Z]{16}\b"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{40,}"),
    (("sk-",), r"\bsk-(?:ant|proj|or-v1)-[A-Za-z0-9_-]{20,}"),
    (("sk-",), r"\bsk-[A-Za-z0-9]{32,}\b"),
    (("xox",), r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    (("AIza",), r"\bAIza[0-9A-Za-z_-]{35}"),
)
_TOKEN_FORMATS_PATTERN = "|".join(pattern for _, pattern in _TOKEN_FORMAT_LIST)
_TOKEN_HINTS = tuple(sorted({hint for hints, _ in _TOKEN_FORMAT_LIST for hint in hints}))


def _may_hold_token(text: str) -> bool:
    """False only when no known token format can match `text` (none of their literals)."""
    return any(hint in text for hint in _TOKEN_HINTS)


class _Pattern:
    """One pattern run by RE2 (linear time, ~50x faster than `re` on a 1 MB file).

    RE2 works on UTF-8, which a string with a lone surrogate cannot be encoded
    to; such rare text is searched with `re` instead.
    """

    def __init__(self, pattern: str) -> None:
        self._fast = re2.compile(pattern)
        self._slow = re.compile(pattern)

    def search(self, text: str) -> bool:
        try:
            return self._fast.search(text) is not None
        except UnicodeEncodeError:
            return self._slow.search(text) is not None

    def sub(self, replace: Callable[[Any], str], text: str) -> str:
        try:
            return str(self._fast.sub(replace, text))
        except UnicodeEncodeError:
            return self._slow.sub(replace, text)

    def finditer(self, text: str) -> list[Any]:
        try:
            return list(self._fast.finditer(text))
        except UnicodeEncodeError:
            return list(self._slow.finditer(text))


_URL_USERINFO = _Pattern(_URL_USERINFO_PATTERN)
_QUERY_PARAM = _Pattern(_QUERY_PARAM_PATTERN)
_TOKEN_FORMATS = _Pattern(_TOKEN_FORMATS_PATTERN)


def _words(name: str) -> list[str]:
    return re.split(r"[^a-z0-9]+", name.lower())


def is_secret_name(name: str) -> bool:
    """Whether an option or variable name looks like it holds a secret (`api_key`, `X_TOKEN`)."""
    return any(word in _SECRET_WORDS for word in _words(name))


def safe_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Provider options without anything secret-looking, and only plain JSON values.

    Values are kept as given; text redaction (URL credentials) happens when they are written.
    """
    return {
        name: value
        for name, value in options.items()
        if not is_secret_name(name) and isinstance(value, str | int | float | bool | type(None))
    }


def url_secrets(text: str) -> list[str]:
    """The password and secret query values of a URL (empty for anything else)."""
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text.strip())
        found = [parts.password] if parts.password else []
    except ValueError:
        return []
    for match in _QUERY_PARAM.finditer(text):
        if _is_secret_query(match.group("name")):
            found.append(unquote(match.group("value")))
    return found


def secret_values(
    options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Secret values to redact: secret-named options and environment variables.

    Passwords and secret query values found in any URL-valued option count too.
    """
    environ = os.environ if environ is None else environ
    values: list[str] = []
    for name, value in (options or {}).items():
        if not isinstance(value, str):
            continue
        if is_secret_name(name):
            values.append(value)
        values += url_secrets(value)
    values += [value for name, value in environ.items() if is_secret_name(name)]
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _is_secret_query(name: str) -> bool:
    return any(word in _SECRET_QUERY_WORDS for word in _words(name))


def redact_urls(text: str) -> str:
    """`text` with URL userinfo and secret query values replaced by `[redacted]`."""
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_redact_query_value, text)
    return text


def _redact_query_value(match: Any) -> str:
    if _is_secret_query(match.group("name")):
        return str(match.group("lead")) + REDACTED
    return str(match.group(0))


def _spellings(value: str) -> set[str]:
    """The ways a secret can appear in text: raw, JSON-escaped (both flavours), URL-quoted."""
    return {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        quote(value, safe=""),
    }


class Redactor:
    """Replaces secrets in text with `[redacted]`; tells whether text holds one.

    Args:
        values: known secret values (see `secret_values`); short ones are ignored.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        spellings: set[str] = set()
        for value in values:
            if len(value) >= MIN_SECRET_LENGTH:
                spellings |= _spellings(value)
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(spellings, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every known value, URL credential and known token format replaced."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        text = redact_urls(text)
        if not _may_hold_token(text):
            return text
        return _TOKEN_FORMATS.sub(lambda _: REDACTED, text)

    def redact_data(self, data: Any) -> Any:
        """A copy of JSON-like `data` with every string (keys too) redacted.

        Values JSON cannot hold become their redacted `str()`, as the journal would write them.
        """
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {
                self.redact(k) if isinstance(k, str) else k: self.redact_data(v)
                for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return [self.redact_data(item) for item in data]
        if data is None or isinstance(data, bool | int | float):
            return data
        # Anything else would be written as its str() (an exception, a path): redact that.
        return self.redact(str(data))

    def contains_secret(self, text: str) -> bool:
        """Whether `text` (say, a file's content) holds a known secret or a known token format."""
        if any(value in text for value in self._values):
            return True
        return _may_hold_token(text) and _TOKEN_FORMATS.search(text)
