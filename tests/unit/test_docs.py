"""The code the docs show runs: every ```python block of README.md and docs/*.md."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# docs/models.md's examples need a local OpenAI-compatible server: they run in
# tests/integration/test_models_openai.py, beside it. docs/your-agents.md shows excerpts of
# examples/helpdesk, which tests/e2e/test_example.py serves and chats with.
TESTED_ELSEWHERE = {"models.md", "your-agents.md"}
DOCS = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in TESTED_ELSEWHERE),
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for number, code in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8")), 1):
            found.append((f"{doc.relative_to(ROOT)}#{number}", code))
    return found


def test_the_readme_shows_an_example() -> None:
    assert any(name.startswith("README.md") for name, _ in _examples())


@pytest.mark.parametrize(("name", "code"), _examples(), ids=[n for n, _ in _examples()])
def test_example_runs(
    name: str, code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")
    capsys.readouterr()
