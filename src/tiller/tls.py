"""The `ssl_verify` option (litellm's name for it): which certificates an HTTPS endpoint may show.

`true` (the default) verifies against the system's CA bundle; `false` turns
verification off (a test server with a self-signed certificate); a path names a CA
bundle file or a directory of certificates (a company's internal CA). Tiller applies
it to its own HTTP clients on every route, so the redirect guard and connection
reuse stay in place, and it is never sent to the endpoint as a request field.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
from typing import Any

from tiller.errors import ProviderError

VerifySetting = bool | str
"""True, False, or the path of a CA bundle file or directory."""

OPTION = "ssl_verify"

_lock = threading.Lock()
_contexts: dict[VerifySetting, ssl.SSLContext] = {}


def verify_setting(value: Any) -> VerifySetting:
    """The option's value as a setting: a bool, or a CA path (`"false"` and `"0"` mean off)."""
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", "on", ""):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    return os.path.abspath(os.path.expanduser(text))


def ssl_context(setting: VerifySetting) -> ssl.SSLContext | bool:
    """What httpx takes as `verify` for a setting (one context per setting, built once).

    Raises:
        ProviderError: the CA path cannot be read as certificates.
    """
    if setting is False:
        return False
    with _lock:
        context = _contexts.get(setting)
        if context is None:
            context = _contexts[setting] = _build(setting)
        return context


def _build(setting: VerifySetting) -> ssl.SSLContext:
    import httpx

    if setting is True:
        return httpx.create_ssl_context()
    assert isinstance(setting, str)
    try:
        if os.path.isdir(setting):
            return ssl.create_default_context(capath=setting)
        return ssl.create_default_context(cafile=setting)
    except (OSError, ssl.SSLError) as exc:
        raise ProviderError(
            f"ssl_verify names {setting}, which holds no readable CA certificates ({exc})"
        ) from None


_VERIFY_FAILED = re.compile(
    r"CERTIFICATE_VERIFY_FAILED\]?\s*(?:certificate verify failed:\s*)?([^(\n]*)"
)


def untrusted_certificate(error: BaseException) -> str | None:
    """The person's sentence for a call that failed because the endpoint's certificate could
    not be verified (retrying would not help); None for any other failure.

    Read from the message too: litellm re-raises such errors as its own, in words.
    """
    found = _VERIFY_FAILED.search(str(error))
    cause = error.__cause__ or error.__context__
    for _ in range(32):  # a chain can loop back on itself
        if found is not None or cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            found = _VERIFY_FAILED.search(f"CERTIFICATE_VERIFY_FAILED] {cause.verify_message}")
        cause = cause.__cause__ or cause.__context__
    if found is None:
        return None
    reason = found.group(1).strip().rstrip(".") or "certificate verify failed"
    return (
        f"the endpoint's TLS certificate could not be verified ({reason}); if your own CA "
        f"issued it, set {OPTION} to the CA's certificate file"
    )
