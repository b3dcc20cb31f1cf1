"""Resuming from the store: a run whose events the user's stream no longer holds.

The server keeps only the newest event of each stream in memory, so a run's events can
only come back from the store, where the server wrote them while the run went on.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.agui import check_run
from tests.e2e.conftest import FRAME_TIMEOUT, Server, make_settings, new_user, running
from tests.e2e.test_agui import ag_ui, run_input
from tests.e2e.test_agui_resume import first_events, resume, same

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def forgetful(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(
        tmp_path_factory.mktemp("forgetful"), history_events=1, history_seconds=0.001
    )
    with running(settings) as srv:
        yield srv


async def test_a_run_the_stream_forgot_resumes_from_the_store(forgetful: Server) -> None:
    async with httpx.AsyncClient(base_url=forgetful.base_url, timeout=FRAME_TIMEOUT) as http:
        user = await new_user(http, "stored")
        live = await ag_ui(http, user, run_input("What is 17 * 23?", "t", "kept"))
        await ag_ui(http, user, run_input("What is 2 + 2?", "t", "after"))  # pushes it out
        same(await resume(http, user, "kept"), live)
        for n, event in enumerate(live[:-1], 1):
            rest = await resume(http, user, "kept", event.id)
            same(rest, live[n:])
            check_run(rest, first=n + 1)


async def test_a_run_in_flight_the_stream_forgot_resumes_from_the_store(
    forgetful: Server,
) -> None:
    """Mid-run, the stream holds one event: the server writes what it recorded of the run
    so far, and the resume reads it from the store, then goes on live."""
    async with httpx.AsyncClient(base_url=forgetful.base_url, timeout=FRAME_TIMEOUT) as http:
        user = await new_user(http, "forgot")
        seen = await first_events(http, user, run_input("slow 5", "t", "young"), 8)
        rest = await resume(http, user, "young", seen[-1].id)
        check_run(rest, first=9)
        check_run(seen + rest)
        same(seen + rest, await resume(http, user, "young"))
        answer = "".join(e.data["delta"] for e in seen + rest if e.type == "TEXT_MESSAGE_CONTENT")
        assert answer == "0 1 2 3 4 "
