"""goldpath.ssot._splice: libcst's edits land on the original text, or not at all."""

from __future__ import annotations

import pytest

from goldpath.ssot._splice import splice

pytestmark = pytest.mark.unit


def test_same_rendering_gives_the_changed_text() -> None:
    assert splice("a = 1\n", "a = 1\n", "b = 1\n") == "b = 1\n"


def test_no_change_gives_the_original() -> None:
    assert splice("a  = 1\n", "a = 1\n", "a = 1\n") == "a  = 1\n"


def test_edits_land_around_text_the_rendering_normalised() -> None:
    original = "try:\n    x = old\nexcept KeyError :\n    y = old\n"
    generated = "try:\n    x = old\nexcept KeyError:\n    y = old\n"
    changed = "try:\n    x = new\nexcept KeyError:\n    y = new\n"
    assert splice(original, generated, changed) == (
        "try:\n    x = new\nexcept KeyError :\n    y = new\n"
    )


def test_an_edit_over_normalised_text_is_refused() -> None:
    original = "x = 1\nif y :\n    z\n"
    generated = "x = 1\nif y:\n    z\n"
    assert splice(original, generated, "x = 1\n") is None


def test_a_splice_that_would_mean_something_else_is_refused() -> None:
    # a rendering that lost a statement: the edit lands, but the program would differ
    assert splice("x = 1\nz = 3\n", "x = 1\n", "x = 2\n") is None
    assert splice("x = 1\nz = 3\n", "x = 1\nz = 3", "x = 2\nz = 3") == "x = 2\nz = 3\n"
