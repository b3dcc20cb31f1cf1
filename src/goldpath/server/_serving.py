"""How uvicorn serves the app: the options `goldpath serve` (and the tests) give it."""

from __future__ import annotations

from typing import Any

from goldpath.server._settings import Settings

__all__ = ["uvicorn_options"]


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` (besides the app, host and port).

    Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from
    ``GOLDPATH_TRUSTED_PROXIES``; with none (the default) they are ignored, so the client
    address the limits count is the socket's peer. uvicorn's access log is off: the app
    writes its own (`AccessLogMiddleware`), without query strings.
    """
    trusted = settings.trusted_proxies
    return {
        "ws_max_size": settings.max_frame_bytes,
        # Frames are small JSON; compressing each cost a browser's connection ~15% more
        # server CPU per chat and ~40 KiB of RSS (bench/server_load.py), for little saved.
        "ws_per_message_deflate": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
        "access_log": False,
        "log_level": settings.log_level,
    }
