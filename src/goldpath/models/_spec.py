"""How a model is named in settings and by agents: ``offline``, ``openai`` or
``openai:<model name>``."""

from __future__ import annotations

from goldpath.errors import ConfigurationError

__all__ = ["MODEL_NAMES", "split_model_name"]

MODEL_NAMES = "offline, openai or openai:<model name>"
"""What a model may be called, for messages."""


def split_model_name(name: str) -> tuple[str, str | None]:
    """``(provider, model name)``: ``("offline", None)``, ``("openai", None)`` (the model of
    ``GOLDPATH_OPENAI_MODEL``) or ``("openai", "gpt-4o")``; `ConfigurationError` otherwise."""
    provider, colon, model = name.partition(":")
    if (provider == "offline" and not colon) or (
        provider == "openai" and bool(colon) == bool(model)
    ):
        return provider, model or None
    raise ConfigurationError(f"{name!r} is not a model goldpath knows; use {MODEL_NAMES}")
