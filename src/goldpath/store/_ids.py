"""Opaque ids: a short prefix that names the kind, then 32 random hex digits."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    """Make an id such as ``thr_9f0c…``; the prefix makes logs readable, nothing parses it."""
    return f"{prefix}_{uuid.uuid4().hex}"
