"""Disconnect, come back, and get every missed event exactly once, or be told to resync."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Server, assert_gapless, new_user, open_ws

pytestmark = pytest.mark.e2e


async def test_disconnect_mid_run_and_resume_exactly_once(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "resume")
    first, ready = await open_ws(server, user)
    epoch, start = ready["stream"]["epoch"], ready["stream"]["offset"]
    async with first.connection:
        accepted = await first.chat("slow 20")
        run_id = accepted["run_id"]
        seen = await first.until(lambda f: f.get("type") == "message_delta")
    # The first tab is gone; the run goes on without it.
    last = seen[-1]["offset"]
    second, _ = await open_ws(server, user)
    async with second.connection:
        await second.send({"type": "resume", "epoch": epoch, "offset": last})
        resumed = await second.recv()
        assert resumed["type"] == "resumed"
        assert resumed["epoch"] == epoch
        assert resumed["offset"] >= last
        rest = await second.run_to_end(run_id)
    replayed = rest[: resumed["replayed"]]
    assert [f["offset"] for f in replayed] == list(range(last + 1, resumed["offset"] + 1))
    everything = seen + rest
    assert_gapless(everything, start)
    assert all(f["run_id"] == run_id for f in everything)
    assert [f["type"] for f in everything].count("agent_started") == 1
    assert everything[-1]["type"] == "agent_completed"
    assert everything[-1]["data"]["status"] == "ok"
    deltas = [f["data"]["delta"] for f in everything if f["type"] == "message_delta"]
    assert deltas == [f"{i} " for i in range(20)]
    run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "ok"


async def test_resume_from_the_start_replays_history(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "replay")
    client, ready = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("What is 3 * 3?")
        frames = await client.run_to_end(accepted["run_id"])
    again, ready_again = await open_ws(server, user)
    async with again.connection:
        assert ready_again["stream"]["offset"] == frames[-1]["offset"]
        await again.send({"type": "resume", "epoch": ready["stream"]["epoch"], "offset": 0})
        resumed = await again.recv()
        assert resumed == {
            "type": "resumed",
            "epoch": ready["stream"]["epoch"],
            "offset": frames[-1]["offset"],
            "replayed": len(frames),
        }
        replay = [await again.recv() for _ in frames]
        assert replay == frames
        await again.send({"type": "ping"})
        assert await again.recv() == {"type": "pong"}


async def test_resume_at_the_newest_offset_then_live(
    server: Server, http: httpx.AsyncClient
) -> None:
    user = await new_user(http, "uptodate")
    client, ready = await open_ws(server, user)
    async with client.connection:
        await client.send({"type": "resume", **ready["stream"]})
        assert await client.recv() == {"type": "resumed", **ready["stream"], "replayed": 0}
        accepted = await client.chat("What is 5 - 2?")
        frames = await client.run_to_end(accepted["run_id"])
        assert_gapless(frames, ready["stream"]["offset"])
        await client.send({"type": "resume", **ready["stream"]})
        late = await client.recv()
        assert late["type"] == "error"
        assert late["code"] == "bad_request"


async def test_wrong_epoch_and_offset_ahead_resync(server: Server, http: httpx.AsyncClient) -> None:
    user, other = await new_user(http, "resync"), await new_user(http, "resync_other")
    client, ready = await open_ws(server, user)
    async with client.connection:
        accepted = await client.chat("What is 8 / 2?")
        frames = await client.run_to_end(accepted["run_id"])
    newest = frames[-1]["offset"]
    epoch = ready["stream"]["epoch"]
    theirs, their_ready = await open_ws(server, other)
    async with theirs.connection:
        # Another user's position means nothing here: no event of theirs comes back.
        await theirs.send({"type": "resume", "epoch": epoch, "offset": 0})
        answer = await theirs.recv()
        assert answer == {
            "type": "resync",
            "reason": "epoch_changed",
            "epoch": their_ready["stream"]["epoch"],
            "offset": 0,
        }
        await theirs.send({"type": "ping"})
        assert await theirs.recv() == {"type": "pong"}
    cases = [
        ("not-the-epoch", 1, "epoch_changed"),
        (epoch, 5, "offset_ahead"),
        (epoch, -1, "offset_invalid"),
    ]
    for sent_epoch, ahead, reason in cases:  # ahead > 0: past the newest
        offset = newest + ahead if ahead > 0 else ahead
        again, _ = await open_ws(server, user)
        async with again.connection:
            await again.send({"type": "resume", "epoch": sent_epoch, "offset": offset})
            answer = await again.recv()
            assert answer == {
                "type": "resync",
                "reason": reason,
                "epoch": epoch,
                "offset": newest,
            }
            live = await again.chat("What is 1 + 1?")
            after = await again.run_to_end(live["run_id"])
            assert_gapless(after, newest)
            newest = after[-1]["offset"]
