"""Per-domain LoRA adapters: retrieval-aware training, a registry, runtime switching.

from adaptrag.adapters import TrainOptions, train_adapter, list_adapters
result = train_adapter(TrainOptions(domain="legal", data=Path("qa.jsonl")), settings=settings)
result.adapter.ref, result.promoted, result.adapter.scores   # held-out EM/F1, adapter vs base

Answers use a domain's active adapter through `rag.Pipeline` (see `rag.answering.router`).
Note: PyPI's AdapterHub package is also called `adapters`; it cannot share an environment
with adaptrag.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptrag.adapters.registry import AdapterInfo, AdapterRegistry, base_fingerprint
from adaptrag.adapters.runtime import AdapterRuntime
from adaptrag.rag.errors import ConfigError, StoreError
from adaptrag.rag.retrieval.collection_info import domain_snapshot
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import store_for

if TYPE_CHECKING:
    from adaptrag.adapters.options import TrainOptions
    from adaptrag.adapters.training import TrainResult, train_adapter

# Training needs torch; listing, registering and routing adapters do not. `import adapters`
# stays light (the server's /v1/adapters, the CLI), and training loads on first use.
_TRAINING = frozenset({"TrainResult", "train_adapter"})


def __getattr__(name: str) -> Any:
    if name == "TrainOptions":
        from adaptrag.adapters.options import TrainOptions

        return TrainOptions
    if name in _TRAINING:
        from adaptrag.adapters import training

        return getattr(training, name)
    raise AttributeError(f"module 'adapters' has no attribute {name!r}")


__all__ = [
    "AdapterInfo",
    "AdapterRegistry",
    "AdapterRuntime",
    "TrainOptions",
    "TrainResult",
    "add_adapter",
    "describe_adapters",
    "train_adapter",
]


def describe_adapters(settings: Settings) -> list[dict[str, Any]]:
    """Every adapter version with `active` and `stale` (trained on an older snapshot of its
    domain's documents; None when its collection cannot be read)."""
    registry = AdapterRegistry(settings.data_dir)
    active = set(registry.active_refs().values())
    snapshots: dict[tuple[str, str], str | None] = {}
    described = []
    for info in registry.list():
        collection = str(info.collection.get("name", settings.store.collection))
        key = (collection, info.domain)
        if key not in snapshots:
            snapshots[key] = _snapshot(settings, collection, info.domain)
        current = snapshots[key]
        trained_on = info.collection.get("snapshot")
        stale = None if current is None or trained_on is None else current != trained_on
        described.append({**info.to_dict(), "active": info.ref in active, "stale": stale})
    return described


def _snapshot(settings: Settings, collection: str, domain: str) -> str | None:
    store = store_for(settings, collection)
    try:
        return domain_snapshot(store, domain) if store.spec() is not None else None
    except StoreError:  # busy or unreachable: staleness unknown rather than a failed listing
        return None
    finally:
        store.close()


def add_adapter(
    path: Path,
    domain: str,
    *,
    settings: Settings,
    name: str | None = None,
    base_model: str | None = None,
) -> AdapterInfo:
    """Register an existing PEFT LoRA adapter for `domain`, after loading it onto its base.

    The base model (`base_model`, else the configured generator) is fingerprinted; an
    adapter whose shapes do not fit it is refused here rather than at the first question.
    """
    from peft import PeftModel

    if not (path / "adapter_config.json").is_file():
        raise ConfigError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    model_id = base_model or settings.local_model.generator_model
    from adaptrag.rag.generators.local import LocalGenerator  # torch only when a model is loaded

    base = LocalGenerator(model_id, models_dir=settings.models_dir, device="cpu")
    try:
        PeftModel.from_pretrained(base.hf_model, str(path))
    except Exception as exc:  # peft raises RuntimeError/ValueError/KeyError on a misfit
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"the adapter at {path} does not fit base model {model_id!r} ({first[:200]}); "
            "pass --base-model with the model it was trained on"
        ) from exc
    info = AdapterInfo(
        name=name or domain,
        version=0,
        domain=domain,
        base_model=model_id,
        base_fingerprint=base_fingerprint(base.hf_model.config.to_dict(), base.tokenizer),
        data={"source": str(path)},
    )
    return AdapterRegistry(settings.data_dir).register(path, info)
