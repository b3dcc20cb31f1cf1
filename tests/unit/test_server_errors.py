"""The one mapping from exceptions to the protocol's status and code."""

from __future__ import annotations

import pytest

from goldpath import InvalidContextError, UserExecutionContext
from goldpath.server._errors import classify

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
