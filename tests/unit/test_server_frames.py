"""Client frames are checked at the edge; every bad one says what is wrong, with its ref."""

from __future__ import annotations

import pytest

from goldpath.server._frames import ChatFrame, FrameError, PingFrame, ResumeFrame, parse_frame

pytestmark = pytest.mark.unit


def test_valid_frames() -> None:
    assert parse_frame('{"type":"ping","extra":1}') == PingFrame(type="ping")
    chat = parse_frame('{"type":"chat","message":"hi","client_msg_id":"c"}')
    assert chat == ChatFrame(type="chat", message="hi", client_msg_id="c")
    resume = parse_frame('{"type":"resume","epoch":"e","offset":3}')
    assert resume == ResumeFrame(type="resume", epoch="e", offset=3)


@pytest.mark.parametrize(
    ("text", "words", "ref"),
    [
        ("{", "not valid JSON", None),
        ("[]", "JSON object", None),
        ('{"type":"nope","client_msg_id":"r"}', "unknown frame type", "r"),
        ('{"type":"chat","client_msg_id":"r"}', "message", "r"),
        ('{"type":"chat","message":""}', "message", None),
        ('{"type":"resume","epoch":"e","offset":true}', "offset", None),
        ('{"type":"resume","epoch":"e","offset":1.5}', "offset", None),
        ('{"type":"cancel","run_id":1,"client_msg_id":5}', "run_id", None),
    ],
)
def test_bad_frames(text: str, words: str, ref: str | None) -> None:
    with pytest.raises(FrameError, match=words) as refused:
        parse_frame(text)
    assert refused.value.ref == ref


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        '{"type":"chat","message":' + "[" * 5000 + "]" * 5000 + "}",
        '{"type":' + "[" * 900 + "]" * 900 + "}",
    ],
)
def test_deep_nesting_is_a_bad_frame(text: str) -> None:
    with pytest.raises(FrameError):
        parse_frame(text)


@pytest.mark.parametrize("bad", ["\\udfff", "a\\u0000b"])
@pytest.mark.parametrize(
    "template",
    [
        '{"type":"auth","token":"%s"}',
        '{"type":"chat","message":"%s"}',
        '{"type":"chat","message":"hi","thread_id":"%s"}',
        '{"type":"chat","message":"hi","agent":"%s"}',
        '{"type":"chat","message":"hi","client_msg_id":"%s"}',
        '{"type":"cancel","run_id":"%s","client_msg_id":"%s"}',
        '{"type":"resume","epoch":"%s","offset":0}',
        '{"type":"%s","client_msg_id":"%s"}',
    ],
)
def test_nul_and_lone_surrogates_are_bad_frames(template: str, bad: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(template.replace("%s", bad))
    assert refused.value.ref is None  # a ref that is not text is never echoed
    str(refused.value).encode("utf-8")  # the message itself can be sent
