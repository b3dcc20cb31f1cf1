"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), offline: their assets come from the
``fastapi_offline`` package (a dependency of the ``server`` extra) and are served by
goldpath itself under ``/docs-assets/``, so the pages work on a machine without internet.

Each page holds one inline script (FastAPI's HTML); `_headers` gives these paths a policy
that allows exactly that script by its hash (docs/server.md, "API documentation").
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "DOCS_PATHS", "serve_docs"]

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
DOCS_PATHS = (DOCS_URL, REDOC_URL)
ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def serve_docs(app: FastAPI) -> None:
    """Add the two documentation pages and their assets to ``app`` (made with
    ``docs_url=None, redoc_url=None``, so FastAPI's CDN pages are not there)."""
    title = f"{app.title} API"
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
