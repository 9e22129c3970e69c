"""Where credentials come from, in one place.

Anthropic's key is the SDK's own variable (`ANTHROPIC_API_KEY`, or `ANTHROPIC_AUTH_TOKEN`),
read when a Claude client is built, so a key exported after start-up counts. The others are
settings, held as `SecretStr` so they never print: `qdrant_api_key`, `openai_api_key`,
`api_keys` / `api_keys_file` (the HTTP server's keys).
"""

from __future__ import annotations

import os

ANTHROPIC_KEY_ENVS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def claude_configured() -> bool:
    """Whether the environment holds Anthropic credentials the SDK will use."""
    return any(os.environ.get(name) for name in ANTHROPIC_KEY_ENVS)
