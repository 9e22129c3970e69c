"""API key parsing, access rules and the loopback-only rule (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from adaptrag.cli import app
from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings
from adaptrag.server import check_binding, is_loopback
from adaptrag.server.auth import Access, Forbidden, Keyring, load_keys_file, parse_keys

K1, K2, K3 = "k1-0123456789abcdef", "k2-0123456789abcdef", "k3-0123456789abcdef"


def test_the_key_list_form() -> None:
    keys = parse_keys(f"{K1}  {K2}:legal,finance;{K3}:*:ingest")
    assert [k.access.domains for k in keys] == [None, frozenset({"legal", "finance"}), None]
    assert [k.access.ingest for k in keys] == [False, False, True]
    ring = Keyring(keys)
    # names (in logs, owning ingest jobs) differ per key even with a shared prefix
    twins = parse_keys("same-prefix-0000000001 same-prefix-0000000002")
    assert twins[0].access.name != twins[1].access.name
    assert all("same" not in k.access.name for k in twins)
    assert ring.lookup(K2) == keys[1].access and ring.lookup("k2-0123456789abcdeX") is None
    with pytest.raises(ConfigError, match="shorter than 16"):
        parse_keys("short")
    with pytest.raises(ConfigError, match="unknown right 'admin'"):
        parse_keys(f"{K1}:*:admin")
    with pytest.raises(ConfigError, match="bad domain list"):
        parse_keys(f"{K1}:legal,,x/y")


def test_the_keys_file_adds_to_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        f"- key: {K1}\n  domains: [medical]\n  ingest: true\n- key: {K2}\n  domains: '*'\n"
    )
    keys = load_keys_file(path)
    assert keys[0].access == Access(keys[0].access.name, frozenset({"medical"}), True)
    assert keys[1].access.domains is None and not keys[1].access.ingest
    settings = Settings(api_keys=SecretStr(K3), api_keys_file=path)
    assert len(Keyring.from_settings(settings).keys) == 3
    path.write_text("- {domains: [x]}\n")
    with pytest.raises(ConfigError, match="needs a 'key' string"):
        load_keys_file(path)
    with pytest.raises(ConfigError, match="cannot read the API keys file"):
        load_keys_file(tmp_path / "missing.yaml")


def test_scope_puts_the_rules_into_the_filter() -> None:
    finance = Access("f", frozenset({"finance", "treasury"}))
    assert finance.scope(None, None) == (None, {"domain": ["finance", "treasury"]})
    assert finance.scope("finance", {"title": "Q3"}) == ("finance", {"title": "Q3"})
    assert finance.scope(None, {"domain": "treasury"}) == (None, {"domain": "treasury"})
    for domain, filters in (("legal", None), (None, {"domain": ["finance", "legal"]})):
        with pytest.raises(Forbidden, match="may not read or write domain 'legal'"):
            finance.scope(domain, filters)
    assert Access("all").scope(None, None) == (None, {})
    with pytest.raises(Forbidden, match="may not ingest"):
        finance.check_ingest("finance")


def test_without_keys_the_server_stays_on_loopback() -> None:
    none, some = Keyring([]), Keyring(parse_keys(K1))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    check_binding("127.0.0.1", none, insecure=False)
    check_binding("0.0.0.0", some, insecure=False)
    check_binding("0.0.0.0", none, insecure=True)
    with pytest.raises(ConfigError, match="binds to loopback only"):
        check_binding("0.0.0.0", none, insecure=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "ADAPTRAG_API_KEYS" in result.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"{K1}:", "no domains"),
        (f"{K1}::ingest", "no domains"),
        (f"{K1}:legal,", "bad domain list"),
    ],
)
def test_a_key_list_entry_with_a_missing_part_is_refused_not_widened(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as refused:
        parse_keys(text)
    assert K1 not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"- key: {K1}\n  domains: [legal]\n  ingest: 'false'\n", "'ingest' must be true or false"),
        (f"- key: {K1}\n  ingest: true\n", "has no 'domains'"),
        (f"- key: {K1}\n  domains: [legal]\n  admin: true\n", "unknown fields"),
        (f"- key: {K1}\n  domains: [legal]\n  paths: [../etc]\n", "bad ingest path"),
        (f"- secret: {K1}\n  domains: [legal]\n", "needs a 'key' string"),
        (f"- key: {K1}\n  domains: [legal\n  : : ]\n", "not valid YAML/JSON"),
    ],
)
def test_a_malformed_keys_file_fails_closed_without_echoing_the_key(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words) as refused:
        load_keys_file(path)
    assert K1 not in str(refused.value) and "\n" not in str(refused.value)


def test_ingest_folders_bind_a_domain_key_to_its_own_folder(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"- key: {K1}\n  domains: [legal]\n  ingest: true\n  paths: [shared/legal]\n")
    explicit = load_keys_file(path)[0].access
    assert explicit.ingest_folders("legal") == ("shared/legal",)
    legal, every = parse_keys(f"{K2}:legal:ingest {K3}:*:ingest")
    assert legal.access.ingest_folders("legal") == ("legal",)
    assert every.access.ingest_folders("finance") == ("",)
