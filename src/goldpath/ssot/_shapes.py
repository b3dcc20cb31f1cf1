"""Is this class a second engine, factory or emitter? Found by name and by shape.

Shape heuristics (a class matching its role's name patterns is reported without them):

- engine: an `async def` named run/execute/execute_agent/run_agent, a user attribute
  (user_id, context, user_context, ctx, execution_context, websocket, connection) and a way
  to send events (an emitting method, or an emitter/bridge/notifier/websocket_bridge attribute);
- factory: a method named create_for_user/create_engine/create_user_engine;
- emitter: an emitting method (emit, send_event, notify, send_to_user, publish_event,
  broadcast, or emit_*/notify_*) and a user attribute.

Attributes are class-level assignments, `self.<name> = ...` in any method, and `__init__`
parameters. The canonical classes themselves and classes that subclass a canonical class
(implementations of the role, e.g. a no-op Emitter) are not duplicates.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from fnmatch import translate
from functools import lru_cache

from goldpath.ssot._rules import Role, Rules

EMIT_METHODS = frozenset(
    {"emit", "send_event", "notify", "send_to_user", "publish_event", "broadcast"}
)
EMIT_PREFIXES = ("emit_", "notify_")
EMITTER_ATTRS = frozenset({"emitter", "bridge", "websocket_bridge", "notifier", "event_bridge"})
USER_ATTRS = frozenset(
    {"user_id", "context", "user_context", "ctx", "execution_context", "websocket", "connection"}
)
RUN_METHODS = frozenset({"run", "execute", "execute_agent", "run_agent"})
FACTORY_METHODS = frozenset({"create_for_user", "create_engine", "create_user_engine"})


def duplicate_role(node: ast.ClassDef, rules: Rules) -> tuple[Role, str] | None:
    """The role `node` duplicates and why ("name" or "shape"), or None."""
    canonical, name_patterns = _by_name(rules.roles)
    if node.name in canonical or _base_names(node) & canonical:
        return None
    for role, pattern in name_patterns:
        if pattern.match(node.name):
            return role, "name"
    shape = class_shape(node)
    for role in rules.roles:
        if shape and role.shape == shape:
            return role, "shape"
    return None


@lru_cache(maxsize=8)
def _by_name(
    roles: tuple[Role, ...],
) -> tuple[frozenset[str], tuple[tuple[Role, re.Pattern[str]], ...]]:
    """The canonical class names, and per role one regex for all its class patterns:
    `fnmatchcase`'s own translations joined, compiled once per rule set, not per class."""
    canonical = frozenset(role.canonical_name for role in roles)
    patterns = tuple(
        (role, re.compile("|".join(translate(p) for p in role.class_patterns) or "(?!)"))
        for role in roles
    )
    return canonical, patterns


def class_shape(node: ast.ClassDef) -> str:
    """ "engine", "factory", "emitter" or "" for a class, by the heuristics above."""
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {
        item.name: item
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    emitting = any(m in EMIT_METHODS or m.startswith(EMIT_PREFIXES) for m in methods)
    runs = any(isinstance(methods.get(m), ast.AsyncFunctionDef) for m in RUN_METHODS)
    if FACTORY_METHODS & methods.keys() and not runs:
        return "factory"
    if not (emitting or runs):
        return ""  # most classes stop here, before the costly attribute walk
    attrs = _attributes(node, methods.values())
    has_user = bool(attrs & USER_ATTRS)
    if runs and has_user and (emitting or attrs & EMITTER_ATTRS):
        return "engine"
    if FACTORY_METHODS & methods.keys():
        return "factory"
    return "emitter" if emitting and has_user else ""


def _attributes(
    node: ast.ClassDef, methods: Iterable[ast.FunctionDef | ast.AsyncFunctionDef]
) -> set[str]:
    """Class-level names, `self.<name>` assignments, and `__init__` parameters."""
    attrs: set[str] = set()
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            attrs.add(item.target.id)
        elif isinstance(item, ast.Assign):
            attrs.update(t.id for t in item.targets if isinstance(t, ast.Name))
    for method in methods:
        attrs.update(_self_attrs(method))
        if method.name == "__init__":
            attrs.update(a.arg for a in [*method.args.args, *method.args.kwonlyargs])
    return attrs


def _self_attrs(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    found = set()
    for sub in ast.walk(func):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.ctx, ast.Store)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "self"
        ):
            found.add(sub.attr)
    return found


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names
