"""AG-UI across two servers on one Redis: a run streamed by one resumes on the other."""

from __future__ import annotations

import httpx
import pytest

from tests.agui import check_run
from tests.e2e.conftest import FRAME_TIMEOUT, Server, new_user
from tests.e2e.test_agui import run_input
from tests.e2e.test_agui_resume import first_events, resume, same
from tests.e2e.test_server_redis import servers  # noqa: F401 - the two servers, as a fixture

pytestmark = pytest.mark.e2e


async def test_a_run_streamed_by_one_server_resumes_on_the_other(
    servers: tuple[Server, Server],  # noqa: F811
) -> None:
    a, b = servers
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=FRAME_TIMEOUT) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=FRAME_TIMEOUT) as on_b,
    ):
        user = await new_user(on_a, "tworesume")
        seen = await first_events(on_a, user, run_input("slow 6", "t", "across"), 9)
        rest = await resume(on_b, user, "across", seen[-1].id)
        check_run(seen + rest)
        same(seen + rest, await resume(on_b, user, "across"))
        same(seen + rest, await resume(on_a, user, "across"))
        answer = "".join(e.data["delta"] for e in rest if e.type == "TEXT_MESSAGE_CONTENT")
        assert answer.endswith("5 ")
