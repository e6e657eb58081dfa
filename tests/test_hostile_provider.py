"""A hostile or broken provider on every route: a clear error or the right answer, never a
crash, a leak or a hang.

Routes: litellm's native Anthropic client, litellm through the openai SDK, litellm's own
HTTP handler (`openrouter/`), and the lean `openai` transport.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from model_calls import request
from tiller.errors import ProviderError
from tiller.llm import LiteLLMClient
from tiller.model import ModelClient, ModelResponse
from tiller.openai_http import OpenAIHTTPClient
from tiller.testing import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]

CLAUDE = "anthropic/claude-sonnet-4-5"


def _litellm(**kwargs: Any) -> ModelClient:
    return LiteLLMClient(max_retries=0, **kwargs)


def _lean(**kwargs: Any) -> ModelClient:
    return OpenAIHTTPClient(max_retries=0, **kwargs)


ROUTES = [
    pytest.param(_litellm, CLAUDE, id="litellm-anthropic"),
    pytest.param(_litellm, "openai/fake-model", id="litellm-sdk"),
    pytest.param(_litellm, "openrouter/fake/model", id="litellm-handler"),
    pytest.param(_lean, "openai/fake-model", id="openai"),
]
# The routes that speak chat-completions (the native Anthropic one sends Messages events).
CHAT_ROUTES = ROUTES[1:]

Make = Callable[..., ModelClient]


def _path(model: str) -> str:
    return "/v1/messages" if model == CLAUDE else "/v1/chat/completions"


def complete(server: FakeOpenAIServer, client: ModelClient, model: str) -> ModelResponse:
    base = server.root_url if model == CLAUDE else server.base_url
    call = request(server, model=model, api_base=base)
    return client.complete(call, on_text=lambda text: None, cancel=threading.Event())


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_redirect_to_another_host_is_refused_and_takes_no_key_along(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A provider redirecting a call to another host gets neither the key nor the conversation."""
    with FakeOpenAIServer([ServerReply(text="stolen")]) as elsewhere:
        location = f"http://localhost:{elsewhere.port}{_path(model)}"
        fake_server.add(ServerReply(status=307, headers={"Location": location}))
        with pytest.raises(ProviderError) as caught:
            complete(fake_server, make(), model)
        assert (len(elsewhere.requests), "redirected" in str(caught.value)) == (0, True)
