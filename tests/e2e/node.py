"""One goldpath node as its own process, for the cluster tests: ``python -m tests.e2e.node``.

It is the app ``goldpath serve`` runs, with settings from the ``GOLDPATH_*`` environment,
and the test model of the e2e suite (``sleep``: a run that stays in flight; ``slow N``),
so runs can be in flight when a test kills, stops or cancels. With ``TEST_APPROVALS_LOG``
set, it also has `tests.e2e.approving`'s ``delete_note`` (each run logged to that file) and
answers ``delete ...`` messages with its scripted model. uvicorn serves it on
127.0.0.1, port 0, and the bound port is printed as ``port N`` once it listens.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from goldpath.models import Message
from goldpath.server import Settings, create_app
from tests.e2e.approving import DeletingModel, logged_tool
from tests.e2e.conftest import TestModel


class ApprovingModel(TestModel):
    """The test model, and `DeletingModel` for messages that start with ``delete``."""

    def __init__(self) -> None:
        super().__init__()
        self._deleting = DeletingModel()

    def stream(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Any:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        if question.startswith("delete "):
            return self._deleting.stream(messages, tools)
        return super().stream(messages, tools)


class AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.servers:
            print(f"port {self.servers[0].sockets[0].getsockname()[1]}", flush=True)


def main() -> None:
    settings = Settings()
    log = os.environ.get("TEST_APPROVALS_LOG")
    if log:
        app = create_app(settings, model=ApprovingModel(), tools=[logged_tool(Path(log))])
    else:
        app = create_app(settings, model=TestModel())
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws_per_message_deflate=False
    )
    AnnouncingServer(config).run()


if __name__ == "__main__":
    main()
