"""Byte-exact edits: carry libcst's changes over to the original text, and nothing else.

libcst renders a module from its tree, and for a few forms that rendering is not the text it
read (libcst 1.9 writes `except KeyError :` as `except KeyError:`, and drops a last lone
`\\r`). So the migrated text is never libcst's rendering of the whole file. Instead:

- `generated` is libcst's rendering of the unchanged tree, `changed` its rendering after the
  codemods: the difference between the two is exactly what the codemods did;
- that difference is taken as edits (spans of `generated` and their new text), and each
  edit is placed on the original text through the parts where the original and `generated`
  agree. Every other character of the original is kept as it was.

An edit that would fall on text the rendering does not reproduce cannot be placed exactly;
`splice` then returns None and the caller reports the file instead of guessing.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from difflib import SequenceMatcher
from itertools import accumulate

# (start in a, start in b, length) of a run of characters that a and b share.
Match = tuple[int, int, int]


def splice(original: str, generated: str, changed: str) -> str | None:
    """`original` with the edits that turn `generated` into `changed`; None if one can't land.

    When libcst's rendering differs from the original, the spliced text must also parse to
    the same program as `changed`, or None is returned.
    """
    if generated == original:
        return changed
    if generated == changed:
        return original
    spliced = _place(original, generated, changed)
    if spliced is None or not _same_program(spliced, changed):
        return None
    return spliced


def _same_program(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except (SyntaxError, ValueError):
        return False


def _place(original: str, generated: str, changed: str) -> str | None:
    agree = _matches(generated, original)
    starts = [g for g, _, _ in agree]
    out: list[str] = []
    done = 0
    for start, end, text in _edits(generated, changed):
        index = bisect_right(starts, start) - 1
        if index < 0:
            return None
        g, t, size = agree[index]
        if end > g + size:
            return None
        out.append(original[done : t + start - g])
        out.append(text)
        done = t + end - g
    out.append(original[done:])
    return "".join(out)


def _edits(a: str, b: str) -> list[tuple[int, int, str]]:
    """The spans of `a` to replace, in order, and their text in `b`."""
    edits = []
    a_end = b_end = 0
    for a_start, b_start, size in [*_matches(a, b), (len(a), len(b), 0)]:
        if a_start > a_end or b_start > b_end:
            edits.append((a_end, a_start, b[b_end:b_start]))
        a_end, b_end = a_start + size, b_start + size
    return edits


def _matches(a: str, b: str) -> list[Match]:
    """Shared runs of `a` and `b`, in order: whole equal lines first, then within changed lines."""
    a_lines = a.splitlines(keepends=True)
    b_lines = b.splitlines(keepends=True)
    a_at = [0, *accumulate(map(len, a_lines))]
    b_at = [0, *accumulate(map(len, b_lines))]
    found: list[Match] = []
    opcodes = SequenceMatcher(None, a_lines, b_lines, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            found.append((a_at[i1], b_at[j1], a_at[i2] - a_at[i1]))
        elif tag == "replace":
            inner = SequenceMatcher(
                None, a[a_at[i1] : a_at[i2]], b[b_at[j1] : b_at[j2]], autojunk=False
            )
            found.extend(
                (a_at[i1] + m.a, b_at[j1] + m.b, m.size)
                for m in inner.get_matching_blocks()
                if m.size
            )
    return _joined(found)


def _joined(matches: list[Match]) -> list[Match]:
    """Runs that continue one another in both texts, as one run."""
    joined: list[Match] = []
    for a, b, size in matches:
        if joined and joined[-1][0] + joined[-1][2] == a and joined[-1][1] + joined[-1][2] == b:
            joined[-1] = (joined[-1][0], joined[-1][1], joined[-1][2] + size)
        else:
            joined.append((a, b, size))
    return joined
