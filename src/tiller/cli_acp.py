"""Sessions for `tiller acp`: each root's settings (its project config), the flags winning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiller.acp_agent import SessionFactory, SessionLoader
from tiller.cli_options import FRONT_END_MAX_TURNS
from tiller.journal import restore_session
from tiller.session import Session
from tiller.settings import load_settings


def session_builders(flags: dict[str, Any]) -> tuple[SessionFactory, SessionLoader]:
    """New and restored sessions with the settings of their root, flags winning."""

    def options(root: Path) -> dict[str, Any]:
        settings = load_settings(root, flags=flags)
        return {
            "model": settings.model,
            "max_turns": settings.max_turns or FRONT_END_MAX_TURNS,
            "profile": settings.profile,
            "skills_dirs": settings.skills_dirs,
            "config": settings.config,
            **settings.llm_options(),
        }

    def new(root: Path) -> Session:
        return Session(root=root.resolve(), **options(root))

    def load(session_id: str, root: Path) -> Session:
        given = {k: v for k, v in options(root).items() if v is not None}
        if flags.get("model") is None:
            given.pop("model", None)  # keep the journal's model unless one was chosen
        return restore_session(session_id, **given)

    return new, load
