"""Asking the person before a tool runs something: decisions, policies, allow-lists.

A tool that needs consent asks its session (`Session.request_approval`), which
emits `APPROVAL_REQUESTED` carrying a `concurrent.futures.Future`; a front end
resolves the future with an `Approval` (a bool or a decision name also does).
Headless runs cannot ask, so their policy allows everything (`--yes`) or only
what the built-in read-only list and the allow-list name. Which commands those
are is decided on the parsed command (`tiller.command_safety`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tiller.command_safety import Verdict

# `tiller.command_safety` (a shell grammar on tree-sitter) is imported by the first
# review: sessions without the shell tool never pay for it.

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


VISIBLE_NOTE = (
    "it holds characters that do not show (control or format characters), "
    "written here as \\x.. or \\u.... escapes"
)
"""Said with a request whose command `terminal_text.inert` had to change."""


def allowed_by_list(command: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether the allow-list `patterns` alone lets `command` run unasked.

    Decided on the parsed command (see `tiller.command_safety.review`): every
    simple command must match an entry word for word, and nothing in it may
    redirect, substitute, or run code through options.
    """
    from tiller.command_safety import review

    return review(command, tuple(patterns), builtin=False).allowed


@dataclass
class ApprovalPolicy:
    """What a session may run without asking.

    Attributes:
        mode: `ask`, `allow` or `deny` (see `ApprovalMode`).
        allow: command patterns that never ask (config `shell.allow`).
        session_allowed: exact commands the person allowed for this session.
        builtin: also run the built-in read-only commands (`ls`, `git status`, ...)
            unasked (`tiller.command_safety.BUILTIN_ALLOW`).
    """

    mode: ApprovalMode = "ask"
    allow: tuple[str, ...] = ()
    session_allowed: set[str] = field(default_factory=set)
    builtin: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def review(self, command: str) -> Verdict:
        """Whether `command` may run without asking anyone, and if not, why."""
        from tiller.command_safety import Verdict, review

        if self.mode == "allow":
            return Verdict(True)
        with self._lock:
            if command in self.session_allowed:
                return Verdict(True)
        return review(command, self.allow, builtin=self.builtin)

    def preapproved(self, command: str) -> bool:
        """Whether `command` may run without asking anyone."""
        return self.review(command).allowed

    def remember(self, command: str) -> None:
        """Allow `command` for the rest of the session."""
        with self._lock:
            self.session_allowed.add(command)
