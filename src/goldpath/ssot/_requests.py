"""Does an expression read data the client sent? Used to flag contexts built from it.

An expression reads client data when it contains:

- a subscript, `.get(...)` or attribute read on a name the server uses for client input:
  payload, data, body, frame, message, msg, params, query, form, json_body, args;
- a read of request data on a request object (request, req, websocket, ws):
  `.json()`, `.query_params`, `.path_params`, `.headers`, `.cookies`, `.args`, `.form`,
  `.GET`, `.POST`, `.body`, `.values` — e.g. `request.json()["user_id"]`.

`request.user`, `request.state`, `request.auth` and `request.session` are filled by the
server (authentication middleware, signed session), so reads through them are trusted.
Taint is not followed through assignments: `uid = payload["user_id"]` then `user_id=uid`
is not caught.
"""

from __future__ import annotations

import ast

CLIENT_NAMES = frozenset(
    {"payload", "data", "body", "frame", "message", "msg", "params", "query", "form",
     "json_body", "args"}
)  # fmt: skip
REQUEST_NAMES = frozenset({"request", "req", "websocket", "ws"})
REQUEST_DATA = frozenset(
    {"json", "get_json", "query_params", "path_params", "headers", "cookies", "args", "form",
     "GET", "POST", "body", "values", "query"}
)  # fmt: skip


def reads_client_data(expr: ast.expr) -> bool:
    """True when `expr` reads what the client sent (see the module docstring)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Subscript | ast.Attribute) and _from_client(node.value):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _from_client(node.func.value)
        ):
            return True
    return False


def _from_client(node: ast.expr) -> bool:
    """Whether `node` is (or is derived by attribute/call/subscript from) client input."""
    chain: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call | ast.Await):
            node = node.func if isinstance(node, ast.Call) else node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            break
    if not isinstance(node, ast.Name):
        return False
    chain.reverse()
    if node.id in CLIENT_NAMES:
        return True
    return node.id in REQUEST_NAMES and bool(chain) and chain[0] in REQUEST_DATA
