"""schemathesis over ``/openapi.json``: every operation, valid and invalid inputs, against a
running server. No answer is a 5xx, and every answer matches the documented schema (status,
content type, body). A fixed seed runs in every build, plus a few random examples."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Server, User, make_settings, new_user, running

pytestmark = pytest.mark.e2e

FIXED_SEED = 20261204
EXAMPLES = {"fixed": 12, "random": 3}
"""Examples per operation and generation mode: a fixed seed, then a few random ones."""
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose rate limits stay out of the fuzzer's way (a 429 is documented, but it
    would hide what lies behind it)."""
    settings = make_settings(
        tmp_path_factory.mktemp("fuzz"),
        messages_per_minute=100_000,
        threads_per_minute=100_000,
        registrations_per_address=100_000,
        login_failures_per_address=100_000,
        login_failures_per_account=100_000,
        login_slowdown_seconds=0,
    )
    with running(settings) as srv:
        yield srv


@pytest.fixture
def user(server: Server) -> User:
    """A fresh user for each run: the run's last operation logs its token out."""

    async def make() -> User:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            return await new_user(http, "fuzz")

    return asyncio.run(make())


def _operations(server: Server) -> list[Any]:
    """Every operation, logging out last (it revokes the token the others use)."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the description itself is valid
        operations.append(result.ok())
    return sorted(operations, key=lambda op: op.label == "POST /auth/logout")


@pytest.mark.parametrize("run", sorted(EXAMPLES))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(
    server: Server, user: User, mode: GenerationMode, run: str
) -> None:
    operations = _operations(server)
    assert len(operations) >= 10, [op.label for op in operations]
    if mode is GenerationMode.NEGATIVE:
        operations = [op for op in operations if _takes_invalid_input(op.definition.raw)]
        assert operations
    for operation in operations:
        strategy = operation.as_strategy(
            generation_mode=mode, headers={"Authorization": f"Bearer {user.token}"}
        )

        @settings(
            max_examples=EXAMPLES[run],
            deadline=None,
            database=None,
            derandomize=run == "fixed",
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def answers(case: Any) -> None:
            response = case.call(base_url=server.base_url, timeout=10)
            case.validate_response(response, checks=CHECKS)

        if run == "fixed":
            answers = seed(FIXED_SEED)(answers)
        answers()


def _takes_invalid_input(definition: dict[str, Any]) -> bool:
    """Whether an operation has an input that can be invalid: a body, or a parameter that
    is not just any string (an operation without one has no invalid input to send)."""
    return "requestBody" in definition or not all(
        _any_string(parameter.get("schema", {})) for parameter in definition.get("parameters", ())
    )


def _any_string(schema: dict[str, Any]) -> bool:
    kept = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
    return kept in ({"type": "string"}, {"anyOf": [{"type": "string"}, {"type": "null"}]})
