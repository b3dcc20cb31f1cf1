"""Which files a run looks at, whether they are tests, and how their bytes decode."""

from __future__ import annotations

import codecs
import io
import os
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePath

from goldpath.ssot._errors import UsageError
from goldpath.ssot._rules import Rules

SKIP_DIRS = frozenset(
    {".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".nox",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", ".goldpath-migrate"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One Python file of the tree: where it is, how to show it, and how to classify it.

    `logical` is the path below the scanned PATH (prefixed by PATH's own name), so the
    directories above the project (say, a checkout under `~/tools/`) never make a file
    look like a test or a tool module.
    """

    path: Path
    display: str
    logical: PurePath
    in_tests: bool


def root_of(path: Path) -> Path:
    """The directory a run works in: PATH itself, or a file's directory."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory; pass an existing PATH")
    return path if path.is_dir() else path.parent


def discover(path: Path, rules: Rules) -> list[SourceFile]:
    """Every .py file under `path` that the rules do not exclude, sorted for stable output."""
    root_of(path)
    files = [path] if path.is_file() else sorted(_walk(path))
    is_dir = path.is_dir()
    found = []
    for file in files:
        rel = file.relative_to(path).as_posix() if is_dir else file.name
        if _excluded(file, rel, rules):
            continue
        display = str(path / rel) if is_dir else str(path)
        logical = PurePath(path.name or ".") / rel if is_dir else PurePath(path.name)
        found.append(SourceFile(file, display, logical, is_test_path(logical)))
    return found


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def is_test_path(path: PurePath) -> bool:
    """Tests: under a `tests`/`test` dir, or named test_*.py, *_test.py or conftest.py."""
    name = path.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part in ("tests", "test") for part in path.parts[:-1])


def decode(data: bytes) -> tuple[str, str]:
    """Text of a source file and the codec that gives its bytes back; line endings are kept.

    The codec is the file's PEP 263 declaration (`# -*- coding: latin-1 -*-`) when it has
    one, "utf-8-sig" when it starts with a UTF-8 BOM, else "utf-8". Raises
    UnicodeDecodeError, or SyntaxError for an unknown declared encoding.
    """
    codec = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    if b"coding" in data[: _second_line_end(data)]:
        codec = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    return data.decode(codec), codec


def encode(text: str, codec: str) -> bytes:
    """Bytes for `text` in the codec `decode` returned (a BOM comes back with utf-8-sig)."""
    return text.encode(codec)


def _second_line_end(data: bytes) -> int:
    """Where the first two lines end: the only place a coding declaration may be."""
    first = data.find(b"\n")
    if first < 0:
        return len(data)
    second = data.find(b"\n", first + 1)
    return len(data) if second < 0 else second


def _walk(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                yield Path(directory, name)


def _excluded(file: Path, rel: str, rules: Rules) -> bool:
    candidates = [rel]
    if rules.exclude_base is not None:
        resolved = file.resolve()
        if resolved.is_relative_to(rules.exclude_base):
            candidates.append(resolved.relative_to(rules.exclude_base).as_posix())
    return any(fnmatchcase(c, pattern) for c in candidates for pattern in rules.exclude)
