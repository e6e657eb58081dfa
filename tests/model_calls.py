"""One model call against the local server, for the tests of each `ModelClient`."""

from __future__ import annotations

import threading
from typing import Any

from tiller.model import ModelClient, ModelRequest, ModelResponse
from tiller.testing import FakeOpenAIServer


def request(
    server: FakeOpenAIServer, model: str = "openai/fake-model", **options: Any
) -> ModelRequest:
    """A one-message request to `server`; `tools` and other options as given."""
    return ModelRequest(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        tools=options.pop("tools", []),
        options={"api_base": server.base_url, "api_key": "sk-test", **options},
    )


def complete_with(
    client: ModelClient,
    server: FakeOpenAIServer,
    *,
    cancel: threading.Event | None = None,
    texts: list[str] | None = None,
    retries: list[str] | None = None,
    **options: Any,
) -> ModelResponse:
    """`client.complete` on `request(server, **options)`, collecting texts and retries."""
    return client.complete(
        request(server, **options),
        on_text=(texts if texts is not None else []).append,
        cancel=cancel or threading.Event(),
        on_retry=(retries if retries is not None else []).append,
    )
