"""Server CPU per chat, goldpath only: ``bench/server_load.py``'s load, one number per round.

Each round starts a fresh server (``server_load.Server``), registers ``--users`` users, runs
one warm-up chat each, then ``--chats`` chats each (all users at once, as server_load does)
and prints the server process's CPU time over the chats done. To compare two trees, run it
with each on ``PYTHONPATH`` (the server subprocess inherits it), alternating rounds, and
compare the medians: on a shared machine single rounds vary by ±15%.

    PYTHONPATH=src python bench/chat_cpu.py --users 100 --chats 10 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import server_load as load


async def round_(users: int, chats: int) -> float:
    with tempfile.TemporaryDirectory(prefix="goldpath-cpu-") as tmp:
        server = load.Server("goldpath", Path(tmp))
        try:
            await server.started()
            tokens = await load.make_users(server.url, users)
            await load.run_level(server, list(tokens), 1, load.goldpath_user)  # warm-up
            level = await load.run_level(server, list(tokens), chats, load.goldpath_user)
            if level.errors:
                raise SystemExit(f"errors: {sorted(set(level.errors))[:3]}")
            return level.server_cpu / len(level.done) * 1000
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load.raise_fd_limit()
    results = [asyncio.run(round_(args.users, args.chats)) for _ in range(args.rounds)]
    rounds = ", ".join(f"{r:.2f}" for r in results)
    print(f"server CPU per chat: {rounds} ms; median {statistics.median(results):.2f} ms")


if __name__ == "__main__":
    main()
