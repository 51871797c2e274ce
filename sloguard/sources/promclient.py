"""How the Prometheus source connects: its TLS context and a URL safe to print.

Example::

    verify = tls_context("/etc/ssl/prometheus-ca.pem", ("client.pem", "client.key"))
    display_url(httpx.URL("https://u:pw@prom:9090/?x=1"))   # 'https://prom:9090'
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from sloguard.sources.base import QueryError

__all__ = ["Cert", "display_url", "tls_context"]

#: A client certificate: one PEM file, or (certificate, key).
Cert = str | tuple[str, str]


def display_url(url: httpx.URL) -> str:
    """``url`` without user info or query string, safe to print."""
    return str(url.copy_with(userinfo=b"", query=None, fragment=None)).rstrip("/")


def tls_context(verify: bool | str, cert: Cert | None) -> ssl.SSLContext | bool:
    """What httpx's ``verify=`` needs for a CA bundle path and/or client certificate."""
    if cert is None and isinstance(verify, bool):
        return verify
    try:
        if isinstance(verify, str):
            is_dir = Path(verify).is_dir()
            ctx = ssl.create_default_context(
                cafile=None if is_dir else verify, capath=verify if is_dir else None
            )
        else:
            ctx = httpx.create_ssl_context(verify=verify)
        if isinstance(cert, str):
            ctx.load_cert_chain(cert)
        elif cert is not None:
            ctx.load_cert_chain(*cert)
    except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; both named for clarity
        raise QueryError(f"cannot load the TLS files for Prometheus: {exc}") from exc
    return ctx
