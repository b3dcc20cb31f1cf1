"""What `check` reports: one `Finding` per place to fix, and the tree's compliance score.

Score: each finding weighs `WEIGHTS[rule]` (half that in tests); with P the total weight and
N the files scanned, score = max(0, 100 - 100 * P / N), floored to one decimal. A tree
without findings scores exactly 100.0, and any finding keeps the score at 99.9 or below, so
`--fail-under 100` means "no findings at all".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

WEIGHTS = {
    "client_user_id": 5.0,
    "engine_outside_factory": 3.0,
    "duplicate_role": 3.0,
    "module_state": 2.0,
    "legacy_call": 2.0,
    "deprecated_import": 1.0,
    "legacy_keyword": 1.0,
    "parse_error": 1.0,
}
TEST_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class Finding:
    """One place to fix: which rule, where, why, and what to write instead."""

    rule: str
    path: str
    line: int
    col: int
    message: str
    replacement: str
    in_tests: bool

    def as_json(self) -> dict[str, Any]:
        """The stable `--json` shape of a finding."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Result of `check_tree`: the findings, sorted by path and line, and the score."""

    files_scanned: int
    findings: tuple[Finding, ...]

    @property
    def score(self) -> float:
        """Compliance score out of 100 (formula in this module's docstring)."""
        return score(self.findings, self.files_scanned)

    def as_json(self) -> dict[str, Any]:
        """The stable `--json` document: score, files_scanned, findings."""
        return {
            "score": self.score,
            "files_scanned": self.files_scanned,
            "findings": [f.as_json() for f in self.findings],
        }


def score(findings: Sequence[Finding], files_scanned: int) -> float:
    """100 for a clean tree; less by the weighted findings per file, floored at 0."""
    if not findings:
        return 100.0
    penalty = sum(WEIGHTS.get(f.rule, 1.0) * (TEST_FACTOR if f.in_tests else 1.0) for f in findings)
    raw = 100.0 - 100.0 * penalty / max(files_scanned, 1)
    return max(0.0, min(99.9, math.floor(raw * 10) / 10))
