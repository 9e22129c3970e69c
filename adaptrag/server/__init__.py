"""The HTTP server: `adaptrag serve` runs `create_app` under uvicorn.

Only the CLI's `serve` imports this package; apps use `Pipeline` directly.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings
from adaptrag.server.app import create_app
from adaptrag.server.auth import Keyring
from adaptrag.server.protocol import uvicorn_config

__all__ = ["create_app", "serve"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, keyring: Keyring, insecure: bool) -> None:
    """Refuse to expose a server without keys beyond loopback, unless told `--insecure`."""
    if not keyring.enabled and not is_loopback(host) and not insecure:
        raise ConfigError(
            f"no API keys are configured, so the server binds to loopback only, not {host}; "
            "set ADAPTRAG_API_KEYS (or ADAPTRAG_API_KEYS_FILE), or pass --insecure"
        )


def serve(settings: Settings, *, host: str, port: int, insecure: bool = False) -> None:
    """Run the API server until interrupted (structured JSON logs on stderr)."""
    import uvicorn

    keyring = Keyring.from_settings(settings)
    check_binding(host, keyring, insecure)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("adaptrag", "uvicorn.error"):  # adaptrag.*: every package of ours
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.INFO)
        log.propagate = False
    app = create_app(settings, keys=keyring)
    uvicorn.Server(uvicorn_config(app, host=host, port=port, settings=settings)).run()
