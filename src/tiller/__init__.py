"""Tiller: a coding agent that edits an in-memory workspace."""

from __future__ import annotations

__version__ = "0.1.0"
