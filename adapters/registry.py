"""The adapter registry: versions of LoRA adapters under the data dir, and one active per domain.

Layout: `<data_dir>/adapters/<name>/v<N>/` holds PEFT's files (`adapter_config.json`,
`adapter_model.safetensors`) and `adaptrag.json` (our metadata); `<data_dir>/adapters/
active.json` maps each domain to its active `name/vN`. A version folder is written under a
temporary name and renamed into place, so a half-written adapter is never listed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adaptrag.rag.errors import ConfigError

METADATA_FILE = "adaptrag.json"
ACTIVE_FILE = "active.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_REF = re.compile(r"^(?P<name>[^/@]+)(?:[/@]v?(?P<version>\d+))?$")


def base_fingerprint(config: dict[str, Any], tokenizer: Any) -> str:
    """What makes an adapter fit a base model: architecture, sizes, vocabulary, chat template."""
    keys = (
        "model_type",
        "architectures",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
    )
    identity = {
        "config": {k: config.get(k) for k in keys},
        "vocab": hashlib.sha256(
            json.dumps(sorted(tokenizer.get_vocab().items())).encode()
        ).hexdigest(),
        "chat_template": hashlib.sha256(str(tokenizer.chat_template or "").encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class AdapterInfo:
    """One registered adapter version and how it was made."""

    name: str
    version: int
    domain: str
    base_model: str
    base_fingerprint: str
    lora: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    raft: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    collection: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    path: Path = Path()

    @property
    def ref(self) -> str:
        """`name/vN`, how commands and answers name this version."""
        return f"{self.name}/v{self.version}"

    def beats_base(self) -> bool:
        """Whether it passed the gate (`adapters.gate`: the interval of its held-out F1 gain
        over the base model lies above 0). Metadata from before the gate had an interval
        keeps its old rule: a higher mean F1."""
        gate = self.scores.get("gate")
        if gate is not None:
            return bool(gate.get("passed"))
        adapter, base = self.scores.get("adapter", {}), self.scores.get("base", {})
        return float(adapter.get("f1", -1.0)) > float(base.get("f1", 0.0))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the metadata file, plus `ref`)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["ref"] = self.ref
        return data


_Stamp = tuple[tuple[str, int, int, int], ...]


def _stamp(paths: list[Path]) -> _Stamp:
    """What changes when any of these files is written, replaced or removed."""
    stamp = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        stamp.append((str(path), stat.st_mtime_ns, stat.st_ino, stat.st_size))
    return tuple(stamp)


class AdapterRegistry:
    """Adapters under `<data_dir>/adapters`; safe for threads of one process.

    Metadata is read once and cached; the cache is checked against the files' stat (path,
    mtime, inode, size) on every lookup, so an adapter trained, scored, activated or deleted by
    another process is seen on the next request without re-reading every file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "adapters"
        self._lock = threading.Lock()
        self._listed: tuple[_Stamp, list[AdapterInfo]] = ((), [])
        self._active_cache: tuple[_Stamp, dict[str, str]] = ((), {})
        self.reads = 0  # metadata files parsed (what the cache saves)

    def list(self) -> list[AdapterInfo]:
        """Every version of every adapter, by name then version."""
        if not self.root.is_dir():
            return []
        stamp = _stamp(sorted(self.root.glob(f"*/v*/{METADATA_FILE}")))
        cached_stamp, cached = self._listed
        if stamp and stamp == cached_stamp:
            return [replace(info) for info in cached]
        known = dict(zip(cached_stamp, cached, strict=True))
        entries, found = [], []
        for entry in stamp:  # re-read only the files that changed
            info = known.get(entry)
            if info is None:
                try:
                    info = self._read(Path(entry[0]).parent)
                except FileNotFoundError:  # deleted between the stat and the read
                    continue
            entries.append(entry)
            found.append(info)
        self._listed = (tuple(entries), found)
        return sorted((replace(info) for info in found), key=lambda a: (a.name, a.version))

    def _read(self, folder: Path) -> AdapterInfo:
        self.reads += 1
        data = json.loads((folder / METADATA_FILE).read_text())
        data.pop("ref", None)
        known = {k: v for k, v in data.items() if k in AdapterInfo.__dataclass_fields__}
        known["path"] = folder
        return AdapterInfo(**known)

    def get(self, ref: str) -> AdapterInfo:
        """`name` (its newest version), `name/vN` or `name@N`; unknown is a one-line error."""
        match = _REF.match(ref.strip())
        versions = [a for a in self.list() if match and a.name == match.group("name")]
        if match and match.group("version"):
            versions = [a for a in versions if a.version == int(match.group("version"))]
        if not versions:
            known = ", ".join(sorted({a.ref for a in self.list()})) or "none yet"
            raise ConfigError(
                f"no adapter {ref!r} (registered: {known}); train one with `adaptrag adapters "
                "train` or register one with `adaptrag adapters add`"
            )
        return versions[-1]

    def next_version(self, name: str) -> int:
        """The version number a new adapter called `name` gets."""
        existing = [int(p.name[1:]) for p in (self.root / name).glob("v*") if p.name[1:].isdigit()]
        return max(existing, default=0) + 1

    def register(self, peft_dir: Path, info: AdapterInfo) -> AdapterInfo:
        """Copy a PEFT adapter folder in as a new version of `info.name`, with its metadata."""
        if not _NAME.match(info.name) or info.name == "base":
            raise ConfigError(
                f"adapter name {info.name!r} must be letters, digits, '-' or '_' (64 at most), "
                "and not 'base'"
            )
        if not (peft_dir / "adapter_config.json").is_file():
            raise ConfigError(
                f"{peft_dir} is not a PEFT adapter folder (no adapter_config.json); give the "
                "folder that save_pretrained wrote"
            )
        with self._lock:
            info.version = self.next_version(info.name)
            target = self.root / info.name / f"v{info.version}"
            staging = target.with_name(f".{target.name}.tmp")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(peft_dir, staging)
            info.path = target
            (staging / METADATA_FILE).write_text(json.dumps(info.to_dict(), indent=2))
            staging.rename(target)
        return info

    def update_scores(self, info: AdapterInfo, scores: dict[str, Any]) -> None:
        """Record evaluation scores in an adapter's metadata."""
        info.scores = scores
        tmp = info.path / f"{METADATA_FILE}.tmp"
        tmp.write_text(json.dumps(info.to_dict(), indent=2))
        tmp.replace(info.path / METADATA_FILE)

    def delete(self, ref: str) -> AdapterInfo:
        """Remove one version (or, for a bare name, its newest); it stops being active."""
        info = self.get(ref)
        with self._lock:
            active = self._active()
            self._write_active({d: r for d, r in active.items() if r != info.ref})
            shutil.rmtree(info.path)
            if not any((self.root / info.name).iterdir()):
                (self.root / info.name).rmdir()
        return info

    def activate(self, ref: str) -> AdapterInfo:
        """Make this version the active adapter of its domain."""
        info = self.get(ref)
        with self._lock:
            active = self._active()
            active[info.domain] = info.ref
            self._write_active(active)
        return info

    def active(self, domain: str) -> AdapterInfo | None:
        """The active adapter of `domain`, if any."""
        ref = self._active().get(domain)
        if ref is None:
            return None
        try:
            return self.get(ref)
        except ConfigError:  # deleted by hand: no active adapter rather than a crash
            return None

    def active_refs(self) -> dict[str, str]:
        """Domain to active `name/vN`."""
        return self._active()

    def _active(self) -> dict[str, str]:
        path = self.root / ACTIVE_FILE
        stamp = _stamp([path])
        if not stamp:
            return {}
        cached_stamp, cached = self._active_cache
        if stamp == cached_stamp:
            return dict(cached)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        active = {str(k): str(v) for k, v in data.items()}
        self._active_cache = (stamp, active)
        return dict(active)

    def _write_active(self, active: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{ACTIVE_FILE}.tmp"
        tmp.write_text(json.dumps(active, indent=2, sort_keys=True))
        tmp.replace(self.root / ACTIVE_FILE)
