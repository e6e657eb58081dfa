"""The `ssl_verify` option on every route: a CA it names is trusted, nothing else changes.

An HTTPS local server with a certificate from a CA made for the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
ROUTES = [
    pytest.param(LiteLLMClient, CLAUDE, id="litellm-anthropic"),
    pytest.param(LiteLLMClient, "openrouter/fake/model", id="litellm-handler"),
    pytest.param(OpenAIHTTPClient, "openai/fake-model", id="openai"),
]


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(subject: str, key: Any, issuer: str, signer: Any, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A test CA's certificate, and a server certificate (127.0.0.1) and key it signed."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("Tiller test CA", ca_key, "Tiller test CA", ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, "Tiller test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
def https_server(tls_files: tuple[Path, Path, Path]) -> Iterator[FakeOpenAIServer]:
    """The local server over HTTPS, with the test CA's certificate."""
    _, certificate, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    with FakeOpenAIServer(default=ServerReply(text="ok"), tls=context) as server:
        yield server


def complete(
    server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str, **options: Any
) -> ModelResponse:
    base = server.root_url if model == CLAUDE else server.base_url
    call = request(server, model=model, api_base=base, **options)
    client = make(max_retries=0)
    return client.complete(call, on_text=lambda text: None, cancel=threading.Event())


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_ca_named_by_ssl_verify_is_trusted(
    https_server: FakeOpenAIServer,
    tls_files: tuple[Path, Path, Path],
    make: Callable[..., ModelClient],
    model: str,
) -> None:
    """With `ssl_verify` naming the CA's file, the endpoint's certificate is accepted."""
    response = complete(https_server, make, model, ssl_verify=str(tls_files[0]))
    assert response.text == "ok"


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_an_unknown_ca_is_refused_without_the_option(
    https_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str
) -> None:
    """Without `ssl_verify`, a certificate from an unknown CA fails the call, once, saying why
    and what to set."""
    base = https_server.root_url if model == CLAUDE else https_server.base_url
    call = request(https_server, model=model, api_base=base)
    retries: list[str] = []
    with pytest.raises(ProviderError) as caught:
        make(max_retries=2, backoff_base=0.0).complete(
            call, on_text=lambda text: None, cancel=threading.Event(), on_retry=retries.append
        )
    said = str(caught.value)
    assert ("could not be verified" in said, "set ssl_verify" in said, retries) == (
        True,
        True,
        [],
    )


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_ssl_verify_false_turns_checking_off(
    https_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str
) -> None:
    """`ssl_verify = false` accepts any certificate."""
    assert complete(https_server, make, model, ssl_verify=False).text == "ok"


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_an_unreadable_ca_path_is_a_clear_error(
    https_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str, tmp_path: Path
) -> None:
    """A CA path holding no certificate is named in a one-line error; nothing is sent."""
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    with pytest.raises(ProviderError) as caught:
        complete(https_server, make, model, ssl_verify=str(tmp_path / "empty.pem"))
    assert ("empty.pem" in str(caught.value), len(https_server.requests)) == (True, 0)


def test_ssl_verify_is_not_sent_to_the_endpoint(
    https_server: FakeOpenAIServer, tls_files: tuple[Path, Path, Path]
) -> None:
    """The lean client keeps `ssl_verify` for itself: the request body does not carry it."""
    complete(https_server, OpenAIHTTPClient, "openai/fake-model", ssl_verify=str(tls_files[0]))
    assert "ssl_verify" not in https_server.requests[0].body


def test_ssl_verify_on_litellms_sdk_route_is_a_clear_error(
    https_server: FakeOpenAIServer, tls_files: tuple[Path, Path, Path]
) -> None:
    """litellm's OpenAI SDK route cannot take a per-call CA: it says so, and sends nothing."""
    with pytest.raises(ProviderError) as caught:
        complete(https_server, LiteLLMClient, "openai/fake-model", ssl_verify=str(tls_files[0]))
    said = str(caught.value)
    assert ("transport auto or openai" in said, len(https_server.requests)) == (True, 0)
