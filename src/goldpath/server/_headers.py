"""Security headers on every HTTP response: a Content-Security-Policy with no inline script,
no MIME sniffing, no framing, no referrer.

The web page keeps all of its JavaScript in ``/static/app.js`` and its styles in
``/static/style.css``, so its policy allows scripts and styles from the server itself only.
The API documentation pages (Swagger UI, ReDoc) carry an inline script: they get their own
policy, which allows exactly the inline scripts they hold, by hash, instead of weakening
the page's.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PAGE_POLICY", "SecurityHeadersMiddleware", "docs_policy"]

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""The policy of the page, the static files and every API answer."""

_COMMON = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def docs_policy(html: bytes) -> str:
    """The policy of a documentation page: its own inline scripts (by SHA-256) and scripts
    from the server; ReDoc's run-time styles and search worker; nothing from elsewhere."""
    scripts = ["'self'"] + [
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return (
        f"default-src 'none'; script-src {' '.join(scripts)}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response; the ``docs_paths`` get `docs_policy`."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(MutableHeaders(scope=message), PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A documentation page is small HTML: held whole, to hash its inline scripts."""
        start: Message | None = None
        body = bytearray()

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            _add(MutableHeaders(scope=start), docs_policy(bytes(body)))
            await send(start)
            await send({**message, "body": bytes(body)})  # the last body message, whole

        await self.app(scope, receive, held)


def _add(headers: MutableHeaders, policy: str) -> None:
    for name, value in _COMMON:
        headers[name] = value
    headers["content-security-policy"] = policy
