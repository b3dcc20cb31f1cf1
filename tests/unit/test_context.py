"""context.py: UserExecutionContext is an immutable, validated value."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

import pytest

from goldpath.context import UserExecutionContext, new_id
from goldpath.errors import InvalidContextError

pytestmark = pytest.mark.unit

IDS = ("user_id", "thread_id", "run_id", "request_id")


def _kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "user_id": "u1",
        "thread_id": "t1",
        "run_id": "r1",
        "request_id": "q1",
    }
    values.update(overrides)
    return values


def test_fields_are_kept() -> None:
    ctx = UserExecutionContext(**_kwargs(agent_context={"a": 1}, audit_metadata={"ip": "x"}))
    assert (ctx.user_id, ctx.thread_id, ctx.run_id, ctx.request_id) == ("u1", "t1", "r1", "q1")
    assert dict(ctx.agent_context) == {"a": 1}
    assert dict(ctx.audit_metadata) == {"ip": "x"}
    assert ctx.created_at.tzinfo is UTC


@pytest.mark.parametrize("name", [*IDS, "agent_context", "created_at"])
def test_frozen(name: str) -> None:
    ctx = UserExecutionContext(**_kwargs())
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(ctx, name, "other")


@pytest.mark.parametrize("name", ["agent_context", "audit_metadata"])
def test_mappings_are_read_only(name: str) -> None:
    ctx = UserExecutionContext(**_kwargs(**{name: {"k": "v"}}))
    mapping: Any = getattr(ctx, name)
    with pytest.raises(TypeError):
        mapping["k"] = "changed"
    with pytest.raises(TypeError):
        mapping["new"] = 1
    with pytest.raises(TypeError):
        del mapping["k"]
    assert dict(mapping) == {"k": "v"}


@pytest.mark.parametrize("name", ["agent_context", "audit_metadata"])
def test_empty_mappings_are_read_only_too(name: str) -> None:
    mapping: Any = getattr(UserExecutionContext(**_kwargs()), name)
    with pytest.raises(TypeError):
        mapping["k"] = 1


@pytest.mark.parametrize("name", ["agent_context", "audit_metadata"])
def test_mappings_are_copied(name: str) -> None:
    source: dict[str, Any] = {"k": "v"}
    ctx = UserExecutionContext(**_kwargs(**{name: source}))
    source["k"] = "changed"
    source["new"] = 1
    assert dict(getattr(ctx, name)) == {"k": "v"}


def test_no_untyped_metadata_bag() -> None:
    ctx = UserExecutionContext(**_kwargs())
    assert not hasattr(ctx, "metadata")
    assert "metadata" not in {f.name for f in dataclasses.fields(ctx)}
    with pytest.raises(TypeError):
        UserExecutionContext(**_kwargs(metadata={"a": 1}))


BAD_IDS: list[object] = [
    "",
    " ",
    "\t\n",
    "None",
    "none",
    "NONE",
    "null",
    "Null",
    "NULL",
    "undefined",
    "Undefined",
    "UNDEFINED",
    " null ",
    None,
    1,
    0,
    b"u1",
    ["u1"],
]


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_rejects_bad_ids_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(InvalidContextError) as caught:
        UserExecutionContext(**_kwargs(**{name: value}))
    assert caught.value.field == name
    assert name in str(caught.value)


@pytest.mark.parametrize("value", ["u", "0", "user-none", "nullable", "Ü"])
def test_accepts_real_ids(value: str) -> None:
    assert UserExecutionContext(**_kwargs(user_id=value)).user_id == value


def test_create_makes_fresh_ids() -> None:
    first = UserExecutionContext.create("u1", "t1")
    second = UserExecutionContext.create("u1", "t1")
    assert first.run_id != second.run_id
    assert first.request_id != second.request_id
    assert first.run_id.startswith("run_")
    assert first.request_id.startswith("req_")
    assert (first.user_id, first.thread_id) == ("u1", "t1")


def test_create_keeps_given_ids_and_mappings() -> None:
    ctx = UserExecutionContext.create(
        "u1", "t1", run_id="r9", request_id="q9", agent_context={"a": 1}, audit_metadata={"b": 2}
    )
    assert (ctx.run_id, ctx.request_id) == ("r9", "q9")
    assert dict(ctx.agent_context) == {"a": 1}
    assert dict(ctx.audit_metadata) == {"b": 2}


@pytest.mark.parametrize("value", ["null", " ", "undefined"])
def test_create_validates_too(value: str) -> None:
    with pytest.raises(InvalidContextError):
        UserExecutionContext.create(value, "t1")
    with pytest.raises(InvalidContextError):
        UserExecutionContext.create("u1", value)


def test_child_keeps_the_user_and_records_the_parent() -> None:
    parent = UserExecutionContext(
        **_kwargs(agent_context={"a": 1, "b": 2}, audit_metadata={"ip": "x"})
    )
    child = parent.child(agent_context={"b": 3, "c": 4}, audit_metadata={"via": "tool"})
    assert (child.user_id, child.thread_id, child.request_id) == ("u1", "t1", "q1")
    assert child.run_id not in (parent.run_id, "")
    assert dict(child.agent_context) == {"a": 1, "b": 3, "c": 4}
    assert dict(child.audit_metadata) == {"ip": "x", "via": "tool", "parent_run_id": "r1"}
    assert dict(parent.agent_context) == {"a": 1, "b": 2}
    assert dict(parent.audit_metadata) == {"ip": "x"}


def test_child_with_defaults_and_a_given_run_id() -> None:
    parent = UserExecutionContext(**_kwargs(agent_context={"a": 1}))
    assert parent.child().run_id != parent.child().run_id
    child = parent.child(run_id="r2")
    assert child.run_id == "r2"
    assert dict(child.agent_context) == {"a": 1}
    assert dict(child.audit_metadata) == {"parent_run_id": "r1"}
    with pytest.raises(InvalidContextError):
        parent.child(run_id="undefined")


def test_log_fields() -> None:
    ctx = UserExecutionContext(**_kwargs())
    assert ctx.log_fields() == {"user_id": "u1", "run_id": "r1", "request_id": "q1"}


def test_new_id_is_prefixed_and_unique() -> None:
    ids = {new_id("run") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("run_") and len(i) > len("run_") + 16 for i in ids)
