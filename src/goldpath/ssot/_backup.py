"""Backups that make `migrate --write` reversible byte for byte.

Each run writes `<UTC timestamp>/` under the backup directory (by default
`.goldpath-migrate/` at the PATH root, which belongs in `.gitignore`): `files/<relative
path>` holds the original bytes and `manifest.json` lists every file with the SHA-256 of
its bytes before and after and its status ("written" or "rolled_back").
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from goldpath.ssot._errors import UsageError

BACKUP_DIR = ".goldpath-migrate"
MANIFEST = "manifest.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Backup:
    """The backup of one `migrate --write` run, kept in step with what was written."""

    def __init__(self, root: Path, base: Path | None = None) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.root = root
        self.in_tree = base is None
        self.dir = (base if base is not None else root / BACKUP_DIR) / stamp
        self.files: dict[str, dict[str, str]] = {}

    def write(self, rel: str, before: bytes, after: bytes) -> None:
        """Save `before`, then replace the file with `after`; the manifest is updated first."""
        saved = self.dir / "files" / rel
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(before)
        self.files[rel] = {
            "sha256_before": _sha(before),
            "sha256_after": _sha(after),
            "status": "written",
        }
        self._save_manifest()
        (self.root / rel).write_bytes(after)

    def restore(self, rels: list[str]) -> None:
        """Put back the original bytes of these files (a failed batch)."""
        for rel in rels:
            (self.root / rel).write_bytes((self.dir / "files" / rel).read_bytes())
            self.files[rel]["status"] = "rolled_back"
        self._save_manifest()

    def _save_manifest(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = {"created": self.dir.name, "root": str(self.root), "files": self.files}
        (self.dir / MANIFEST).write_text(json.dumps(manifest, indent=2), "utf-8")


def rollback_last(root: Path, base: Path | None = None) -> list[str]:
    """Restore every file the last run wrote, exactly; returns their relative paths."""
    base = base if base is not None else root / BACKUP_DIR
    runs = sorted(p for p in base.glob("*") if (p / MANIFEST).is_file())
    if not runs:
        raise UsageError(
            f"{base}: no migrate backup to roll back; nothing was written "
            "(pass the same --backup-dir as the --write run)"
        )
    run = runs[-1]
    manifest: dict[str, Any] = json.loads((run / MANIFEST).read_text("utf-8"))
    if manifest.get("rolled_back"):
        raise UsageError(f"{run}: the last run was already rolled back")
    restored = []
    for rel, entry in manifest["files"].items():
        if entry["status"] == "written":
            (root / rel).write_bytes((run / "files" / rel).read_bytes())
            entry["status"] = "rolled_back"
            restored.append(rel)
    manifest["rolled_back"] = True
    (run / MANIFEST).write_text(json.dumps(manifest, indent=2), "utf-8")
    return restored
