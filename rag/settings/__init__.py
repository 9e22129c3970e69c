"""Settings: one documented object read from `ADAPTRAG_*` environment variables and YAML.

`Settings` is the sections of `rag.settings.sections` together (store, embedding, ingest,
retrieval, generation, local model, adapters, Claude, inference server, HTTP server,
tracing), each its own documented model. Entry points (CLI, server, eval runner) read
settings; library code takes explicit arguments. Every field documents its meaning,
default and effect once; the CLI and the docs' settings reference draw on that text.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings.sections import (
    DEFAULT_CLAUDE_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_GENERATOR_MODEL,
    FIELD_TYPES,
    SECTIONS,
    AdapterSettings,
    ClaudeSettings,
    EmbeddingSettings,
    GenerationSettings,
    IngestSettings,
    LocalModelSettings,
    OpenAISettings,
    RetrievalSettings,
    ServerSettings,
    StoreSettings,
    TracingSettings,
    parse_indexed_fields,
)

__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_CLAUDE_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_GENERATOR_MODEL",
    "FIELD_TYPES",
    "SECTIONS",
    "Settings",
    "load_settings",
    "parse_indexed_fields",
]

CONFIG_FILE_ENV = "ADAPTRAG_CONFIG"
# The YAML file of the load_settings() call under way; wins over ADAPTRAG_CONFIG.
_config_file: ContextVar[str | None] = ContextVar("adaptrag_config_file", default=None)


# Bases in reverse: pydantic lists the fields of the last base first, so `Settings`'s fields
# come in `SECTIONS` order.
class Settings(
    TracingSettings,
    ServerSettings,
    OpenAISettings,
    ClaudeSettings,
    AdapterSettings,
    LocalModelSettings,
    GenerationSettings,
    RetrievalSettings,
    IngestSettings,
    EmbeddingSettings,
    StoreSettings,
    BaseSettings,
):
    """Every setting of adaptrag, with its default and effect: the sections together.

    Precedence: explicit arguments, then `ADAPTRAG_*` environment variables, then the YAML
    file named by `ADAPTRAG_CONFIG` (or passed as `config_file`), then the defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix="ADAPTRAG_", extra="forbid", validate_default=True, frozen=True
    )

    @property
    def models_dir(self) -> Path:
        """Where converted models are cached."""
        return self.model_cache_dir or self.data_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Sources, by priority: arguments, environment, .env, the YAML config file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @classmethod
    def field_help(cls, name: str) -> str:
        """The documentation of one setting, for the CLI and the settings reference."""
        description = cls.model_fields[name].description
        return description or ""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and an optional YAML file, as one-line errors.

    `config_file` wins over `ADAPTRAG_CONFIG`; `overrides` (None values ignored) win over both.
    """
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; fix the path or unset it")
    elif (env_file := os.environ.get(CONFIG_FILE_ENV)) and not Path(env_file).is_file():
        raise ConfigError(
            f"{CONFIG_FILE_ENV}={env_file} does not exist; fix the path or unset the variable"
        )
    explicit = {key: value for key, value in overrides.items() if value is not None}
    token = _config_file.set(str(config_file) if config_file is not None else None)
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from exc
    except (ValueError, OSError, yaml.YAMLError) as exc:
        where = config_file or os.environ.get(CONFIG_FILE_ENV)
        first_line = str(exc).splitlines()[0]
        raise ConfigError(
            f"could not read settings from {where}: {first_line}; fix the YAML"
        ) from exc
    finally:
        _config_file.reset(token)


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    env_name = f"ADAPTRAG_{name.upper()}"
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown setting {name!r}; `adaptrag config` or the settings reference lists them"
    return f"invalid setting {name} ({env_name}={given!r}): {error['msg']}"
