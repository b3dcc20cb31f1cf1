"""One goldpath node as its own process, for the cluster tests: ``python -m tests.e2e.node``.

It is the app ``goldpath serve`` runs, with settings from the ``GOLDPATH_*`` environment,
and the test model of the e2e suite (``sleep``: a run that stays in flight; ``slow N``),
so runs can be in flight when a test kills, stops or cancels. uvicorn serves it on
127.0.0.1, port 0, and the bound port is printed as ``port N`` once it listens.
"""

from __future__ import annotations

import socket

import uvicorn

from goldpath.server import Settings, create_app
from tests.e2e.conftest import TestModel


class AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.servers:
            print(f"port {self.servers[0].sockets[0].getsockname()[1]}", flush=True)


def main() -> None:
    settings = Settings()
    app = create_app(settings, model=TestModel())
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws_per_message_deflate=False
    )
    AnnouncingServer(config).run()


if __name__ == "__main__":
    main()
