"""Settings: one documented object read from `ADAPTRAG_*` environment variables and YAML.

`Settings` is the sections of `rag.settings.sections` together (store, embedding, ingest,
retrieval, generation, local model, adapters, Claude, inference server, HTTP server,
tracing), each its own documented model. Entry points (CLI, server, eval runner) read
settings; library code takes explicit arguments. Every field documents its meaning,
default and effect once; the CLI and the docs' settings reference draw on that text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self, cast

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
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
    "SECTION_OF",
    "Settings",
    "load_settings",
    "parse_indexed_fields",
]

CONFIG_FILE_ENV = "ADAPTRAG_CONFIG"
ENV_PREFIX = "ADAPTRAG_"
# The YAML file of the load_settings() call under way; wins over ADAPTRAG_CONFIG.
_config_file: ContextVar[str | None] = ContextVar("adaptrag_config_file", default=None)


# Every field's flat name (its 0.2 variable and YAML key) -> its section.
SECTION_OF: dict[str, str] = {
    name: key for key, section in SECTIONS for name in section.model_fields
}
SECTION_NAMES = frozenset(key for key, _ in SECTIONS)


def nested(data: Mapping[str, Any]) -> dict[str, Any]:
    """Settings given flat (`qdrant_url`, the 0.2 form) or by section (`store:
    {qdrant_url}`), as sections; a key of neither kind is left for validation to refuse."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTION_NAMES and (value is None or isinstance(value, Mapping | BaseModel)):
            # A section object says what it was given (the rest stays with the other
            # sources); an empty YAML section (`store:`) is None.
            given = (
                value.model_dump(exclude_unset=True)
                if isinstance(value, BaseModel)
                else dict(value or {})
            )
            out[key] = {**out.get(key, {}), **given}
        elif key in SECTION_OF:  # `tracing: otlp` is the field; `tracing: {..}` the section
            out.setdefault(SECTION_OF[key], {})[key] = value
        else:
            out[key] = value
    return out


class _Nested(PydanticBaseSettingsSource):
    """A source's values as sections, so sources of either form merge field by field."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` reads the inner source whole."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return nested(self.inner())


class _Environment(PydanticBaseSettingsSource):
    """`ADAPTRAG_<NAME>` (flat, as in 0.2) and `ADAPTRAG_<SECTION>__<NAME>` variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` reads the environment whole."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for variable, value in os.environ.items():
            if not variable.upper().startswith(ENV_PREFIX):
                continue
            name = variable[len(ENV_PREFIX) :].lower()
            section, _, field = name.partition("__")
            if field and section in SECTION_NAMES:
                sections.setdefault(section, {})[field] = value
            elif name in SECTION_OF:  # other ADAPTRAG_ variables (ADAPTRAG_CONFIG) are not fields
                flat[name] = value
        return nested({**flat, **sections})  # a section's own variable wins over the flat one


def _section(model: type[BaseModel]) -> Any:
    """A section field of `Settings`: built from its defaults, documented by its model."""
    return Field(default_factory=model, description=model.__doc__)


class Settings(BaseSettings):
    """Every setting of adaptrag, with its default and effect, one section per concern.

    `settings.store.qdrant_url`, `settings.local_model.generator_model`... Each field keeps
    its flat name from 0.2 as well: `ADAPTRAG_QDRANT_URL`, the YAML key `qdrant_url` and
    `Settings(qdrant_url=...)` set it, as do `ADAPTRAG_STORE__QDRANT_URL` and `store:
    {qdrant_url: ...}`. Precedence: explicit arguments, then `ADAPTRAG_*` environment
    variables, then the YAML file named by `ADAPTRAG_CONFIG` (or passed as `config_file`),
    then the defaults.
    """

    model_config = SettingsConfigDict(extra="forbid", validate_default=True, frozen=True)

    store: StoreSettings = _section(StoreSettings)
    embedding: EmbeddingSettings = _section(EmbeddingSettings)
    ingest: IngestSettings = _section(IngestSettings)
    retrieval: RetrievalSettings = _section(RetrievalSettings)
    generation: GenerationSettings = _section(GenerationSettings)
    local_model: LocalModelSettings = _section(LocalModelSettings)
    adapters: AdapterSettings = _section(AdapterSettings)
    claude: ClaudeSettings = _section(ClaudeSettings)
    openai: OpenAISettings = _section(OpenAISettings)
    server: ServerSettings = _section(ServerSettings)
    tracing: TracingSettings = _section(TracingSettings)

    def __init__(self, **values: Any) -> None:
        """Settings from `values` (flat names or sections), the environment and the YAML."""
        super().__init__(**values)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        """Flat names (`Settings.model_validate({"qdrant_url": ...})`) go to their section."""
        return nested(data) if isinstance(data, Mapping) else data

    @property
    def data_dir(self) -> Path:
        """Where the embedded store, adapters, jobs and models live (`store.data_dir`)."""
        return self.store.data_dir

    @property
    def models_dir(self) -> Path:
        """Where converted models are cached."""
        return self.local_model.model_cache_dir or self.store.data_dir / "models"

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name (`adaptrag config`, the 0.2 form)."""
        return {name: getattr(getattr(self, key), name) for name, key in SECTION_OF.items()}

    def replaced(self, **values: Any) -> Settings:
        """These settings with `values` (flat names or sections) changed, validated."""
        current = {key: getattr(self, key).model_dump() for key, _ in SECTIONS}
        changes = nested(values)
        merged = {key: {**current.get(key, {}), **changes.pop(key, {})} for key in current}
        return Settings.model_validate({**merged, **changes})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; `update` may use flat names, and is validated (see `replaced`)."""
        if update:
            return cast(Self, self.replaced(**update))
        return super().model_copy(deep=deep)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Sources, by priority: arguments, environment, the YAML config file."""
        sources: list[PydanticBaseSettingsSource] = [
            _Nested(settings_cls, init_settings),
            _Environment(settings_cls),
        ]
        config_file = _config_file.get() or os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=config_file)
            sources.append(_Nested(settings_cls, yaml_source))
        return tuple(sources)

    @classmethod
    def field_help(cls, name: str) -> str:
        """The documentation of one setting (by its flat name), for the CLI and the docs."""
        section = dict(SECTIONS)[SECTION_OF[name]]
        return section.model_fields[name].description or ""


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
    loc = [str(part) for part in error["loc"]]
    if len(loc) == 2 and loc[0] in SECTION_NAMES and loc[1] in SECTION_OF:
        loc = loc[1:]  # a section's field: named by its flat name, as its variable is
    name = ".".join(loc) or "settings"
    env_name = f"ADAPTRAG_{name.upper()}"
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown setting {name!r}; `adaptrag config` or the settings reference lists them"
    return f"invalid setting {name} ({env_name}={given!r}): {error['msg']}"
