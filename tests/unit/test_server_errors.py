"""The one mapping from exceptions to the protocol's status and code."""

from __future__ import annotations

from typing import cast

import pytest

from goldpath import InMemoryStreamHub, InvalidContextError, UserExecutionContext
from goldpath.cluster import InProcessCluster, SlidingWindow
from goldpath.errors import UnknownAgentError
from goldpath.factory import ExecutionEngineFactory
from goldpath.models import OfflineModel
from goldpath.server._errors import classify
from goldpath.server._recorder import EventRecorder
from goldpath.server._runs import RunService
from goldpath.store import RunLease, Store

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("thread_id", ["null", "undefined", "None", " ", ""])
def test_an_id_no_object_can_have_is_not_found(thread_id: str) -> None:
    with pytest.raises(InvalidContextError) as raised:
        UserExecutionContext(
            user_id="usr_1", thread_id=thread_id, run_id="run_1", request_id="req_1"
        )
    problem = classify(raised.value)
    assert (problem.status, problem.code) == (404, "not_found")
    assert "UserExecutionContext" not in problem.message


async def test_the_run_service_refuses_an_empty_agent_name() -> None:
    factory = ExecutionEngineFactory(streams=InMemoryStreamHub(), model=OfflineModel())
    store = cast(Store, object())
    cluster = InProcessCluster()
    runs = RunService(
        store,
        factory,
        EventRecorder(store),
        cluster=cluster,
        lease=RunLease(cluster.node_id, 10.0),
        max_message_chars=100,
        messages=SlidingWindow(10, 60.0),
    )
    with pytest.raises(UnknownAgentError):
        await runs.start("usr_1", "hello", thread_id=None, agent="")
