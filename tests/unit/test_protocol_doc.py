"""docs/protocol.md stays true: what it lists is exactly what the server serves and sends.

"What the server can send" is read from the code, not from a list kept here: the routes
of the app's OpenAPI schema, the client frame types the parser takes, every
``{"type": ...}`` frame the server's modules build, the event classes' wire names, the
`ErrorCode` literal every error goes through and the `CloseCode` literal `close` takes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

import goldpath.server as server_package
from goldpath.events import EventData
from goldpath.server import Settings, create_app
from goldpath.server._errors import ERROR_CODES
from goldpath.server._frames import _TYPES as CLIENT_FRAME_TYPES
from goldpath.server._handshake import CLOSE_CODES

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SERVER_DIR = Path(server_package.__file__).parent
OTHER_PROTOCOLS = ("agui", "ag_ui")
"""Server modules that speak another protocol (AG-UI's own event types, docs/ag-ui.md)."""

_JSON_SCHEMA_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
_ROW = re.compile(r"^\| `([^`]+)` \|", re.M)
_ITEM = re.compile(r"^- `([^`]+)`(?: \(([^)]*)\))?", re.M)


def _section(title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match is not None, f"docs/protocol.md has no section {title!r}"
    return match.group(1)


def _listed(title: str) -> set[str]:
    return set(_ROW.findall(_section(title)))


def _not_served(kind: str) -> set[str]:
    return {name for name, note in _ITEM.findall(_section("Not served yet")) if kind in note}


def _not_served_routes() -> set[str]:
    return {_route(name) for name, _ in _ITEM.findall(_section("Not served yet")) if " /" in name}


def _route(text: str) -> str:
    """``GET /threads/{thread_id}`` as ``GET /threads/{}``: parameter names may differ."""
    return re.sub(r"\{[^}]*\}", "{}", text)


def _sent_frame_types() -> set[str]:
    """Every ``{"type": "<name>", ...}`` dict the server's modules build (not ASGI's)."""
    found = set()
    for module in sorted(SERVER_DIR.rglob("*.py")):
        if any(part in module.name for part in OTHER_PROTOCOLS):
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "type"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and "." not in value.value  # an ASGI message, "http.response.body"
                        and value.value not in _JSON_SCHEMA_TYPES  # OpenAPI, {"type": "string"}
                    ):
                        found.add(value.value)
    return found


def _event_types() -> set[str]:
    return {kind.type for kind in get_args(EventData)}


def test_the_http_routes_are_exactly_the_served_ones(tmp_path: Path) -> None:
    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    served = {_route(f"{method.upper()} {path}") for path, ops in paths.items() for method in ops}
    listed = {_route(row) for row in _listed("Routes")}
    assert not listed - served, "docs/protocol.md lists routes the server does not serve"
    assert not served - listed, "the server serves routes docs/protocol.md does not list"
    assert not _not_served_routes() & served, (
        "served now: move it out of 'Not served yet' in docs/protocol.md, into 'Routes'"
    )


def test_the_client_frames_are_exactly_the_ones_the_server_reads() -> None:
    assert _listed("Client frames") == set(CLIENT_FRAME_TYPES)
    assert not _not_served("client frame") & set(CLIENT_FRAME_TYPES)


def test_the_server_frames_are_exactly_the_ones_the_server_builds() -> None:
    sent = _sent_frame_types()
    assert sent, "no frame found in the server's modules: the scan is broken"
    assert _listed("Server frames") == sent


def test_the_event_types_are_exactly_the_event_classes() -> None:
    assert _listed("Event types") == _event_types()
    assert not _not_served("event") & _event_types()


def test_the_error_codes_are_exactly_the_ones_errors_go_through() -> None:
    assert _listed("Error codes") == set(ERROR_CODES)


def test_the_close_codes_are_exactly_the_ones_close_takes() -> None:
    codes = {str(code) for code in CLOSE_CODES}
    assert _listed("Close codes") == codes
    assert not _not_served("close code") & codes


def test_no_doc_points_outside_the_repository() -> None:
    root = DOC.parents[1]
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for outside in ("shared folder", "../shared", "PROTOCOL.md", "DESIGN.md"):
            assert outside not in text, f"{doc.name} points at {outside}, outside the repository"
