"""Settings: environment, YAML, precedence, documentation and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_environment_variables_use_the_adaptrag_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTRAG_EMBEDDING_MODEL", "intfloat/e5-small-v2")
    monkeypatch.setenv("ADAPTRAG_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("ADAPTRAG_QUERY_PREFIX", "query: ")
    settings = load_settings()
    assert settings.embedding_model == "intfloat/e5-small-v2"
    assert settings.qdrant_url == "http://qdrant:6333" and settings.query_prefix == "query: "


def test_yaml_file_is_read_and_environment_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("collection: filings\nchunk_tokens: 128\n")
    monkeypatch.setenv("ADAPTRAG_CHUNK_TOKENS", "96")
    settings = load_settings(config)
    assert (settings.collection, settings.chunk_tokens) == ("filings", 96)
    monkeypatch.setenv("ADAPTRAG_CONFIG", str(config))
    assert load_settings().collection == "filings"
    assert load_settings(collection="other").collection == "other"  # explicit beats all


def test_default_data_dir_is_the_users_data_dir_not_the_repo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ADAPTRAG_DATA_DIR")
    data_dir = Settings().data_dir
    assert data_dir.name == "adaptrag" and REPO not in data_dir.parents


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert len(Settings.field_help(name)) > 20, name


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("chunk_tokens: many\n", "invalid setting chunk_tokens"),
        ("colection: x\n", "unknown setting 'colection'"),
        ("collection: 'bad name!'\n", "invalid setting collection"),
        ("collection: [unclosed\n", "could not read settings"),
    ],
)
def test_bad_settings_are_one_line_config_errors(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(config)
    assert "\n" not in str(error.value)


def test_a_missing_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")
    monkeypatch.setenv("ADAPTRAG_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="ADAPTRAG_CONFIG="):
        load_settings()


def test_api_keys_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTRAG_QDRANT_API_KEY", "s3cret")
    settings = load_settings()
    assert "s3cret" not in repr(settings) and settings.qdrant_api_key is not None
    assert settings.qdrant_api_key.get_secret_value() == "s3cret"


def test_every_setting_has_its_section_documented() -> None:
    # The settings reference is generated from the sections (tests/test_readme.py builds it).
    from adaptrag.rag.settings import SECTIONS

    assert all(len(" ".join((model.__doc__ or "").split())) > 20 for _, model in SECTIONS)


def test_indexed_fields_are_name_type_pairs() -> None:
    from adaptrag.rag.settings import parse_indexed_fields

    assert parse_indexed_fields("year:integer, signed:datetime") == {
        "year": "integer",
        "signed": "datetime",
    }
    assert parse_indexed_fields("") == {}
    with pytest.raises(ConfigError, match="indexed field 'year:int' is not name:type"):
        load_settings(indexed_fields="year:int")


def test_the_sections_are_disjoint_and_make_up_the_settings() -> None:
    from adaptrag.rag.settings import SECTIONS

    names = [name for _, section in SECTIONS for name in section.model_fields]
    assert len(names) == len(set(names))  # no name in two sections
    assert names == list(Settings.model_fields)  # all of them, in the sections' order
    for key, section in SECTIONS:
        assert issubclass(Settings, section) and section.__doc__, key


def test_every_setting_reads_from_its_variable_and_its_yaml_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each documented name, set to a value its type takes that is not its default.
    import json

    values = {name: example_value(name) for name in Settings.model_fields}
    for name, value in values.items():
        monkeypatch.setenv(f"ADAPTRAG_{name.upper()}", value)
    from_env = load_settings()
    for name in values:
        monkeypatch.delenv(f"ADAPTRAG_{name.upper()}")
    config = tmp_path / "all.yaml"
    config.write_text("".join(f"{name}: {json.dumps(value)}\n" for name, value in values.items()))
    from_yaml = load_settings(config)
    defaults = Settings()
    for name in Settings.model_fields:
        read = getattr(from_env, name)
        assert read == getattr(from_yaml, name), name
        assert read != getattr(defaults, name), name


SPECIAL = {
    "collection": "other",
    "qdrant_read_consistency": "majority",
    "sparse_stemmer": "german",
    "indexed_fields": "year:integer",
    "trusted_proxies": "10.0.0.0/8",
    "backend": "claude",
}


def example_value(name: str) -> str:
    """A value of setting `name`, as its variable would hold it, other than the default."""
    import typing

    if name in SPECIAL:
        return SPECIAL[name]
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    kind = field.annotation
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is typing.Literal:
        return str(next(a for a in args if a != default))
    base = args[0] if args else kind
    if base is bool:
        return "false" if default else "true"
    if base in (int, float):
        bounds = {type(m).__name__: m for m in field.metadata}
        step = 1 if base is int else 0.5
        high = getattr(bounds.get("Le"), "le", None)
        value = (default or 0) + step
        if high is not None and value > high:
            value = (default or 0) - step
        return str(value)
    if base is Path:
        return "/tmp/adaptrag-example"
    return "example"
