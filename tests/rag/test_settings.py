"""Settings: environment, YAML, precedence, documentation and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import SECTION_OF, SECTIONS, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_environment_variables_use_the_adaptrag_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTRAG_EMBEDDING_MODEL", "intfloat/e5-small-v2")
    monkeypatch.setenv("ADAPTRAG_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("ADAPTRAG_QUERY_PREFIX", "query: ")
    settings = load_settings()
    assert settings.embedding.embedding_model == "intfloat/e5-small-v2"
    assert (
        settings.store.qdrant_url == "http://qdrant:6333"
        and settings.embedding.query_prefix == "query: "
    )


def test_yaml_file_is_read_and_environment_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("collection: filings\nchunk_tokens: 128\n")
    monkeypatch.setenv("ADAPTRAG_CHUNK_TOKENS", "96")
    settings = load_settings(config)
    assert (settings.store.collection, settings.ingest.chunk_tokens) == ("filings", 96)
    monkeypatch.setenv("ADAPTRAG_CONFIG", str(config))
    assert load_settings().store.collection == "filings"
    assert load_settings(collection="other").store.collection == "other"  # explicit beats all


def test_default_data_dir_is_the_users_data_dir_not_the_repo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ADAPTRAG_DATA_DIR")
    data_dir = Settings().data_dir
    assert data_dir.name == "adaptrag" and REPO not in data_dir.parents


def test_every_setting_is_documented() -> None:
    for name in SECTION_OF:
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
    assert "s3cret" not in repr(settings) and settings.store.qdrant_api_key is not None
    assert settings.store.qdrant_api_key.get_secret_value() == "s3cret"


def test_every_setting_has_its_section_documented() -> None:
    # The settings reference is generated from the sections (tests/test_readme.py builds it).
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
    names = [name for _, section in SECTIONS for name in section.model_fields]
    assert len(names) == len(set(names))  # no name in two sections: each is also flat
    assert names == list(SECTION_OF) == list(Settings().flat())  # in the sections' order
    assert list(Settings.model_fields) == [key for key, _ in SECTIONS]
    for key, section in SECTIONS:
        assert isinstance(getattr(Settings(), key), section) and section.__doc__, key


def test_every_setting_reads_from_its_variable_and_its_yaml_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each documented name, set to a value its type takes that is not its default.
    import json

    values = {name: example_value(name) for name in SECTION_OF}
    for name, value in values.items():
        monkeypatch.setenv(f"ADAPTRAG_{name.upper()}", value)
    from_env = load_settings().flat()
    for name in values:
        monkeypatch.delenv(f"ADAPTRAG_{name.upper()}")
        # The section's own name for it: ADAPTRAG_STORE__QDRANT_URL.
        monkeypatch.setenv(f"ADAPTRAG_{SECTION_OF[name].upper()}__{name.upper()}", values[name])
    from_nested_env = load_settings().flat()
    for name in values:
        monkeypatch.delenv(f"ADAPTRAG_{SECTION_OF[name].upper()}__{name.upper()}")
    config = tmp_path / "all.yaml"
    config.write_text("".join(f"{name}: {json.dumps(value)}\n" for name, value in values.items()))
    from_yaml = load_settings(config).flat()
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        yaml.safe_dump(
            {key: {n: v for n, v in values.items() if SECTION_OF[n] == key} for key, _ in SECTIONS}
        )
    )
    from_nested_yaml = load_settings(nested).flat()
    defaults = Settings().flat()
    for name in SECTION_OF:
        read = from_env[name]
        assert read == from_yaml[name] == from_nested_env[name] == from_nested_yaml[name], name
        assert read != defaults[name], name


def test_a_section_object_sets_only_what_it_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from adaptrag.rag.settings.sections import StoreSettings

    monkeypatch.setenv("ADAPTRAG_QDRANT_URL", ":memory:")
    settings = Settings(store=StoreSettings(collection="given"))
    assert (settings.store.collection, settings.store.qdrant_url) == ("given", ":memory:")
    config = tmp_path / "c.yaml"
    config.write_text("store:\nretrieval:\n  top_k: 4\n")  # an empty section is no error
    assert load_settings(config).retrieval.top_k == 4
    proxies = Settings(trusted_proxies="10.0.0.1/8, 127.0.0.1").server.trusted_proxies
    assert proxies == "10.0.0.0/8,127.0.0.1/32"  # the strict form uvicorn matches


def test_flat_and_sectioned_arguments_name_the_same_setting() -> None:
    flat = Settings(qdrant_url=":memory:", top_k=7, tracing="console")
    by_section = Settings(
        store={"qdrant_url": ":memory:"}, retrieval={"top_k": 7}, tracing={"tracing": "console"}
    )
    assert flat == by_section
    assert flat.store.qdrant_url == ":memory:" and flat.tracing.tracing == "console"
    assert flat.replaced(top_k=9).retrieval.top_k == 9 and flat.retrieval.top_k == 7
    assert flat.replaced(store={"collection": "other"}).store.collection == "other"
    assert flat.model_copy(update={"top_k": 3}).retrieval.top_k == 3  # 0.2's way still works
    with pytest.raises(ConfigError, match="invalid setting top_k"):
        load_settings(top_k=0)
    with pytest.raises(ConfigError, match="unknown setting 'qdrant_uri'"):
        load_settings(qdrant_uri="x")


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
    field = dict(SECTIONS)[SECTION_OF[name]].model_fields[name]
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
