"""Helpers shared by the adapter tests: QA rows, settings, and adapters with random weights."""

from __future__ import annotations

import json
from pathlib import Path

from adaptrag.rag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample" / "legal"
ROWS = [
    (
        "l1",
        "How much notice is needed to terminate the Northwind lease?",
        ["ninety (90) days' written notice", "ninety days"],
        "northwind-lease.md",
    ),
    (
        "l2",
        "What is the annual base rent of the Northwind lease?",
        ["EUR 96,000"],
        "northwind-lease.md",
    ),
    (
        "l3",
        "How long do the NDA confidentiality obligations survive?",
        ["four (4) years", "four years"],
        "orbit-nda.txt",
    ),
    (
        "l4",
        "Which law governs the Orbit NDA?",
        ["the laws of the Canton of Zurich"],
        "orbit-nda.txt",
    ),
    (
        "l5",
        "How large is the security deposit of the Northwind lease?",
        ["three months' rent"],
        "northwind-lease.md",
    ),
]


def write_qa(path: Path, extra: list[dict] | None = None) -> Path:
    """The legal QA rows (plus `extra`) as a JSONL file."""
    rows = [
        {"id": i, "domain": "legal", "question": q, "answers": a, "doc_id": d}
        for i, q, a, d in ROWS
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, *(extra or [])]))
    return path


def legal_settings(data_dir: Path, models_dir: Path) -> Settings:
    """Settings over `data_dir` with short answers (tests time generation)."""
    return Settings(data_dir=data_dir, model_cache_dir=models_dir, max_new_tokens=12)


def random_adapter(models_dir: Path, folder: Path, seed: int) -> Path:
    """A PEFT LoRA adapter with random (non-zero) weights for the default base model, so it
    visibly changes answers; written with save_pretrained like any adapter."""
    import torch
    from peft import LoraConfig, get_peft_model

    from adaptrag.rag.generators.local import LocalGenerator

    base = LocalGenerator(models_dir=models_dir).hf_model
    torch.manual_seed(seed)
    config = LoraConfig(
        r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    model.save_pretrained(str(folder))
    return folder
