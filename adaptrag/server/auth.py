"""API keys and what each may do: read some domains (or all), and ingest or not.

Keys come from `ADAPTRAG_API_KEYS` (`KEY`, `KEY:legal,finance`, `KEY:legal:ingest`,
`KEY:*:ingest`, separated by spaces or ';') and from `ADAPTRAG_API_KEYS_FILE` (YAML or JSON:
a list of `{key, domains, ingest}`). A key's domain rules become part of the store query
filter (`Access.scope`), so no chunk of another domain can reach its prompt or sources.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.settings import Settings
from adaptrag.rag.types import is_domain_name

_ENTRY = re.compile(r"[;\s]+")
MIN_KEY_CHARS = 16


class Forbidden(Exception):
    """The key may not do this (HTTP 403); the message says what it may do."""


@dataclass(frozen=True)
class Access:
    """What one caller may do. `domains` None: every domain."""

    name: str
    domains: frozenset[str] | None = None
    ingest: bool = False
    ingest_paths: tuple[str, ...] | None = None  # folders under the ingest root; None: default

    def check_domain(self, domain: str) -> None:
        """Refuse a domain outside the key's rules."""
        if self.domains is not None and domain not in self.domains:
            raise Forbidden(
                f"this key may not read or write domain {domain!r}; its domains: "
                f"{', '.join(sorted(self.domains))}"
            )

    def scope(
        self, domain: str | None, filters: Mapping[str, Any] | None
    ) -> tuple[str | None, dict[str, Any]]:
        """The request's domain and filters with the key's rules added to the filter."""
        scoped = dict(filters or {})
        asked = scoped.get("domain")
        if domain is not None:
            self.check_domain(domain)
        if isinstance(asked, Mapping) and self.domains is not None:
            # A limited key names its domains by value: "ne", "exists" or a range on
            # `domain` would reach past them.
            if set(asked) - {"eq", "in"}:
                raise Forbidden(
                    "this key filters domain by value only (a value, a list, eq or in); its "
                    f"domains: {', '.join(sorted(self.domains))}"
                )
            asked = [v for op in ("eq", "in") if op in asked for v in _listed(asked[op])]
        if asked is not None:
            for value in _listed(asked):
                self.check_domain(str(value))
        elif domain is None and self.domains is not None:
            scoped["domain"] = sorted(self.domains)
        return domain, scoped

    def may_read(self, domain: str) -> bool:
        """Whether the key may read `domain`."""
        return self.domains is None or domain in self.domains

    def check_ingest_right(self) -> None:
        """Refuse a key without the ingest right (before a byte of an upload is read)."""
        if not self.ingest:
            raise Forbidden("this key may not ingest; give it the ingest right (KEY:*:ingest)")

    def check_ingest(self, domain: str) -> None:
        """Refuse ingestion without the right, or into a domain outside the key's rules."""
        self.check_ingest_right()
        self.check_domain(domain)

    def ingest_folders(self, domain: str) -> tuple[str, ...]:
        """The folders (relative to the ingest root) this key may ingest from into `domain`.

        A key's own `paths` list when it has one; else the whole root for a key of every
        domain, and `<root>/<domain>` for a key limited to some domains, so a `legal` key
        cannot pour the finance folder into legal.
        """
        if self.ingest_paths is not None:
            return self.ingest_paths
        return ("",) if self.domains is None else (domain,)


OPEN_ACCESS = Access(name="anonymous", domains=None, ingest=True)


@dataclass(frozen=True)
class ApiKey:
    """One configured key and its rules."""

    key: str
    access: Access


def _key(
    secret: str,
    domains: Sequence[str] | None,
    ingest: bool,
    where: str,
    ingest_paths: Sequence[str] | None = None,
) -> ApiKey:
    if len(secret) < MIN_KEY_CHARS:
        raise ConfigError(
            f"an API key in {where} is shorter than {MIN_KEY_CHARS} characters; use a long "
            "random key (e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
        )
    # Logged and used to own ingest jobs: a digest, unique per key, revealing none of it.
    name = f"key-{hashlib.sha256(secret.encode()).hexdigest()[:12]}"
    if domains is not None:
        bad = [d for d in domains if not is_domain_name(d)]
        if bad or not domains:
            raise ConfigError(
                f"bad domain list {list(domains)!r} for key {name} in {where}; give domain "
                "names (letters, digits, '_', '.', '-') or '*' for every domain"
            )
    folders = None
    if ingest_paths is not None:
        folders = tuple(_folder(p, name, where) for p in ingest_paths)
    allowed = None if domains is None else frozenset(domains)
    return ApiKey(secret, Access(name=name, domains=allowed, ingest=ingest, ingest_paths=folders))


def _folder(path: str, name: str, where: str) -> str:
    parts = PurePosixPath(path).parts
    if not path or "\x00" in path or PurePosixPath(path).is_absolute() or ".." in parts:
        raise ConfigError(
            f"bad ingest path {path!r} for key {name} in {where}; give folders relative to "
            "ADAPTRAG_INGEST_ROOT, without '..'"
        )
    return PurePosixPath(path).as_posix()


def parse_keys(text: str, where: str = "ADAPTRAG_API_KEYS") -> list[ApiKey]:
    """Keys from the `KEY[:domains|*[:ingest]]` list form."""
    keys = []
    for entry in filter(None, _ENTRY.split(text.strip())):
        secret, _, rest = entry.partition(":")
        domains_part, _, right = rest.partition(":")
        if right not in ("", "ingest"):
            raise ConfigError(f"unknown right {right!r} in {where}; the only right is 'ingest'")
        if ":" in entry and not domains_part:  # `KEY:` or `KEY::ingest`: fail closed
            raise ConfigError(
                f"an entry of {where} has ':' but no domains; write KEY:* for every domain "
                "or KEY:legal,finance"
            )
        domains = None if domains_part in ("", "*") else domains_part.split(",")
        keys.append(_key(secret, domains, right == "ingest", where))
    return keys


def load_keys_file(path: Path) -> list[ApiKey]:
    """Keys from a YAML or JSON file: a list of {key, domains (list or '*'), ingest}."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the API keys file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:  # the parser's message quotes the line: it may hold a key
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"the API keys file {path} is not valid YAML/JSON{at}") from None
    entries = data.get("keys", data) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"the API keys file {path} must hold a list of {{key, domains, ingest}}")
    keys = []
    for n, entry in enumerate(entries, 1):
        # Messages name the entry and the field, never the entry's content (it holds a key).
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise ConfigError(f"entry {n} of {path} needs a 'key' string")
        unknown = sorted(set(entry) - {"key", "domains", "ingest", "paths"})
        if unknown:
            raise ConfigError(
                f"entry {n} of {path} has unknown fields {unknown}; the fields are key, "
                "domains, ingest, paths"
            )
        if "domains" not in entry:
            raise ConfigError(
                f"entry {n} of {path} has no 'domains'; give a list of names, or '*' for all"
            )
        domains = entry["domains"]
        if domains != "*" and not (
            isinstance(domains, list) and all(isinstance(d, str) for d in domains)
        ):
            raise ConfigError(f"entry {n} of {path}: 'domains' is a list of names or '*'")
        ingest = entry.get("ingest", False)
        if not isinstance(ingest, bool):
            raise ConfigError(
                f"entry {n} of {path}: 'ingest' must be true or false (unquoted), not {ingest!r}"
            )
        paths = entry.get("paths")
        if paths is not None and not (
            isinstance(paths, list) and all(isinstance(p, str) for p in paths)
        ):
            raise ConfigError(f"entry {n} of {path}: 'paths' is a list of folders")
        keys.append(
            _key(entry["key"], None if domains == "*" else domains, ingest, str(path), paths)
        )
    return keys


class Keyring:
    """The configured keys; `lookup` compares in constant time."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self.keys = list(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """Keys from ADAPTRAG_API_KEYS and ADAPTRAG_API_KEYS_FILE."""
        keys = (
            parse_keys(settings.server.api_keys.get_secret_value())
            if settings.server.api_keys
            else []
        )
        if settings.server.api_keys_file is not None:
            keys += load_keys_file(settings.server.api_keys_file)
        return cls(keys)

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (else every caller has open access)."""
        return bool(self.keys)

    def lookup(self, token: str) -> Access | None:
        """The access of a presented key; None when it matches no key."""
        found = None
        for key in self.keys:  # no early exit: timing does not reveal which key matched
            if hmac.compare_digest(key.key.encode(), token.encode()):
                found = key.access
        return found


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
