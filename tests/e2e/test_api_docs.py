"""``/docs`` and ``/redoc`` in a real browser with no way out: every asset comes from
goldpath itself, the security policy lets the pages run, and they show the API."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def _offline(page: Page, server: Server) -> tuple[list[str], list[str]]:
    """Refuse every request that leaves the server; return what was refused and the
    console's errors (a blocked script or style shows there)."""
    outside: list[str] = []
    errors: list[str] = []

    def route(request_route: Route) -> None:
        url = request_route.request.url
        if url.startswith((server.base_url, "data:", "blob:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.route("**/*", route)
    page.on("console", console)
    return outside, errors


def test_swagger_ui_renders_the_api_offline(server: Server, page: Page) -> None:
    outside, errors = _offline(page, server)
    page.goto(f"{server.base_url}/docs")
    operation = page.locator(".opblock-summary-path", has_text=re.compile(r"^/auth/logout$"))
    expect(operation).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/threads/{thread_id}").first
    ).to_be_visible()
    assert outside == []
    assert errors == []


def test_redoc_renders_the_api_offline(server: Server, page: Page) -> None:
    outside, errors = _offline(page, server)
    page.goto(f"{server.base_url}/redoc")
    expect(page.get_by_role("heading", name=re.compile("goldpath")).first).to_be_visible()
    expect(page.get_by_text("Revoke the token this request carries").first).to_be_attached()
    assert outside == []
    # ReDoc's bundle shows its maker's logo from cdn.redoc.ly; the page's policy refuses it
    # before any request is made (so `outside` stays empty), and nothing else is refused.
    logo = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
    assert [error for error in errors if not error.startswith(logo)] == []
