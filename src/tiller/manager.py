"""`SessionManager`: many sessions at once, each with its own worker thread."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tiller.session import Reply, Session


class UnknownSession(KeyError):
    """No session has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown session"


class SessionManager:
    """Run many sessions concurrently; calls to one session stay in order.

    Each session gets a single-thread worker, so `submit`s to the same session
    queue behind each other while different sessions run at once. A session
    that fails only fails its own futures.

    Args:
        **defaults: keyword arguments applied to every `start` (overridable).
    """

    def __init__(self, **defaults: Any) -> None:
        self._defaults = defaults
        self._sessions: dict[str, Session] = {}
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def start(self, id: str, **opts: Any) -> Session:
        """Create a session called `id`.

        Raises:
            ValueError: a session with this id already exists.
        """
        with self._lock:
            if id in self._sessions:
                raise ValueError(
                    f"Session {id!r} already exists; pick another id or stop it first."
                )
            session = Session(**{**self._defaults, **opts}, session_id=id)
            self._sessions[id] = session
            self._workers[id] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tiller-{id}")
            return session

    def get(self, id: str) -> Session:
        """The session called `id`.

        Raises:
            UnknownSession: (a KeyError) no such session.
        """
        with self._lock:
            session = self._sessions.get(id)
        if session is None:
            known = ", ".join(sorted(self._sessions)) or "none"
            raise UnknownSession(f"No session {id!r} (known: {known}).")
        return session

    def submit(self, id: str, text: str) -> Future[Reply]:
        """Queue `text` for session `id` on its worker; returns the future reply."""
        session = self.get(id)
        with self._lock:
            worker = self._workers[id]
        return worker.submit(session.send, text)

    def send(self, id: str, text: str) -> Reply:
        """Send `text` to session `id` and wait for the reply."""
        return self.submit(id, text).result()

    def stop(self, id: str) -> None:
        """Abort session `id`'s run, close it and forget it."""
        session = self.get(id)
        with self._lock:
            self._sessions.pop(id, None)
            worker = self._workers.pop(id)
        session.abort()
        worker.shutdown(wait=True, cancel_futures=True)

    def ids(self) -> list[str]:
        """The ids of the live sessions, in start order."""
        with self._lock:
            return list(self._sessions)

    def close_all(self) -> None:
        """Stop every session."""
        for id_ in self.ids():
            self.stop(id_)

    def __enter__(self) -> SessionManager:
        return self

    def __exit__(self, *_: object) -> None:
        self.close_all()
