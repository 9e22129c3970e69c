"""Routing: which backend answers a question, and why (the reason goes into the answer).

Policy for `backend="auto"`: Claude when an Anthropic key is configured and the
`prefer_claude` setting is on; the local model otherwise. The adapters runtime extends this
with per-domain adapters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rag.errors import ConfigError

BACKENDS = ("auto", "local", "claude")


@dataclass(frozen=True)
class Route:
    """The backend chosen and the reason, as shown in `Answer.route`."""

    backend: str
    reason: str


def claude_configured() -> bool:
    """Whether the environment holds Anthropic credentials the SDK will use."""
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def choose_backend(requested: str, *, prefer_claude: bool) -> Route:
    """The backend for a request: as asked, or by the documented policy for `auto`."""
    if requested not in BACKENDS:
        raise ConfigError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if requested != "auto":
        return Route(requested, "requested")
    if not claude_configured():
        return Route("local", "auto: no ANTHROPIC_API_KEY, so the local model")
    if not prefer_claude:
        return Route("local", "auto: prefer_claude is off, so the local model")
    return Route("claude", "auto: ANTHROPIC_API_KEY is set and prefer_claude is on")
