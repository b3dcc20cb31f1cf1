"""The edges of the server: forwarded addresses, the access log, security headers."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import stat
from pathlib import Path

import httpx
import pytest

from goldpath.server._app import STATIC_DIR
from tests.e2e.conftest import Server, make_settings, running

pytestmark = pytest.mark.e2e


async def _fail_logins(client: httpx.AsyncClient, forwarded_for: str, count: int) -> list[int]:
    statuses = []
    for i in range(count):
        answer = await client.post(
            "/auth/login",
            json={"username": f"nobody{i}", "password": "wrong-password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        statuses.append(answer.status_code)
    return statuses


async def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(
    tmp_path: Path,
) -> None:
    with running(make_settings(tmp_path, login_failures_per_address=2)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert await _fail_logins(client, "198.51.100.1", 2) == [401, 401]
            # Another forwarded address is the same client: its address is locked.
            assert await _fail_logins(client, "198.51.100.2", 1) == [429]


async def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "trusted", login_failures_per_address=2, trusted_proxies=["127.0.0.1"]
    )
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert await _fail_logins(client, "198.51.100.1", 3) == [401, 401, 429]
            assert await _fail_logins(client, "198.51.100.2", 1) == [401]


async def test_the_access_log_has_no_query_string_and_quotes_what_clients_chose(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, trusted_proxies=["127.0.0.1"])
    with (
        caplog.at_level(logging.INFO, logger="goldpath.server.access"),
        running(settings) as srv,
    ):
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            forged = '203.0.113.9" 200 client="10.0.0.1'
            answer = await client.get(
                "/health%0A2026-12-04T00:00:00 INFO forged line?token=secret-token",
                headers={"X-Forwarded-For": forged},
            )
            assert answer.status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "goldpath.server.access"]
    assert len(lines) == 1
    line = lines[0]
    assert "secret-token" not in line
    assert "\n" not in line
    assert line.startswith('"GET" "/health\\n2026-12-04T00:00:00 INFO forged line" 404 ')
    assert line.endswith('client="203.0.113.9\\" 200 client=\\"10.0.0.1"')


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", html, re.S | re.I)


def _assert_hardened(response: httpx.Response) -> str:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    return policy


async def test_the_page_and_its_files_carry_the_security_headers(server: Server) -> None:
    assert _inline_scripts((STATIC_DIR / "index.html").read_text()) == []
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for path in ("/", "/static/app.js", "/static/style.css", "/health", "/nowhere"):
            policy = _assert_hardened(await client.get(path))
            script_src = re.search(r"script-src ([^;]*)", policy)
            assert script_src is not None
            assert script_src.group(1) == "'self'", policy
            assert "unsafe-inline" not in policy


async def test_the_docs_pages_allow_exactly_their_own_inline_scripts(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for path in ("/docs", "/redoc"):
            page = await client.get(path)
            assert page.status_code == 200
            policy = _assert_hardened(page)
            script_src = re.search(r"script-src ([^;]*)", policy)
            assert script_src is not None
            hashes = {
                "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                for s in _inline_scripts(page.text)
            }
            assert set(script_src.group(1).split()) == {"'self'", *hashes}
            assert "'unsafe-inline'" not in script_src.group(1)


async def test_the_data_dir_and_the_sqlite_file_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    old = os.umask(0o022)  # the usual umask, which would leave them readable by all
    try:
        with running(make_settings(data_dir)) as srv:
            async with httpx.AsyncClient(base_url=srv.base_url) as client:
                assert (await client.get("/health")).status_code == 200
    finally:
        os.umask(old)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for path in data_dir.iterdir():  # the database (and its journal files), the secret key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
