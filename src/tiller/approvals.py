"""Asking the person before a tool runs something: decisions, policies, allow-lists.

A tool that needs consent asks its session (`Session.request_approval`), which
emits `APPROVAL_REQUESTED` carrying a `concurrent.futures.Future`; a front end
resolves the future with an `Approval` (a bool or a decision name also does).
Headless runs cannot ask, so their policy allows everything (`--yes`) or only
what an allow-list names.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

ApprovalMode = Literal["ask", "allow", "deny"]
"""`ask` the person; `allow` everything (`--yes`); `deny` what the allow-list does not name."""

APPROVAL_MODES: tuple[str, ...] = ("ask", "allow", "deny")


class Decision(StrEnum):
    """The person's answer to one request."""

    ALLOW = "allow"
    ALLOW_SESSION = "allow_session"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Approval:
    """A decision, with the reason a denial gives the model.

    Attributes:
        decision: allow once, allow this command for the session, or deny.
        reason: why it was denied (sent back to the model), or empty.
    """

    decision: Decision
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is not Decision.DENY

    @classmethod
    def of(cls, answer: object) -> Approval:
        """Read whatever a front end resolved the future with.

        `True` allows once, `False` or None denies, a `Decision` or its name is
        taken as is, and an `Approval` passes through.
        """
        if isinstance(answer, Approval):
            return answer
        if isinstance(answer, bool) or answer is None:
            return cls(Decision.ALLOW if answer else Decision.DENY)
        try:
            return cls(Decision(str(answer)))
        except ValueError:
            return cls(Decision.DENY, f"Unrecognised approval answer: {answer!r}")


# A command is only auto-allowed when every piece of it is; substitutions hide
# what would really run, so they always ask.
_SPLIT = re.compile(r"\s*(?:&&|\|\||[;|&\n])\s*")
_SUBSTITUTION = re.compile(r"`|\$\(|<\(|>\(")


def allowed_by_list(command: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether an allow-list names `command`.

    A pattern with `*`, `?` or `[` is matched with shell-style wildcards;
    otherwise it matches the command itself or the command followed by
    arguments (`pytest` allows `pytest -q tests/`). A compound command
    (`a && b`, `a; b`, `a | b`) is allowed only when each part is.
    """
    if not patterns or _SUBSTITUTION.search(command):
        return False
    parts = [part.strip() for part in _SPLIT.split(command.strip()) if part.strip()]
    return bool(parts) and all(_matches(part, patterns) for part in parts)


def _matches(part: str, patterns: tuple[str, ...] | list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        if any(ch in pattern for ch in "*?["):
            if fnmatch.fnmatchcase(part, pattern):
                return True
        elif part == pattern or part.startswith(pattern + " "):
            return True
    return False


@dataclass
class ApprovalPolicy:
    """What a session may run without asking.

    Attributes:
        mode: `ask`, `allow` or `deny` (see `ApprovalMode`).
        allow: command patterns that never ask (config `shell.allow`).
        session_allowed: exact commands the person allowed for this session.
    """

    mode: ApprovalMode = "ask"
    allow: tuple[str, ...] = ()
    session_allowed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def preapproved(self, command: str) -> bool:
        """Whether `command` may run without asking anyone."""
        if self.mode == "allow":
            return True
        with self._lock:
            if command in self.session_allowed:
                return True
        return allowed_by_list(command, self.allow)

    def remember(self, command: str) -> None:
        """Allow `command` for the rest of the session."""
        with self._lock:
            self.session_allowed.add(command)
