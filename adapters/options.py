"""The options of a training run (no torch here: the CLI reads the defaults from them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

# Measured by `bench_adapters.py --sweep` (docs/guides/adapters.md): all four attention projections
# beat q/v alone on every demo domain at the same cost.
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class TrainOptions:
    """Everything `adaptrag adapters train` takes; defaults suit SmolLM2-135M on a CPU."""

    domain: str
    data: Path
    name: str | None = None
    base_model: str | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    lr: float = 3e-4
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = DEFAULT_TARGETS
    eval_split: float = 0.1
    distractors: int = 3
    oracle_p: float = 0.8
    seed: int = 0
    batch_size: int = 4
    max_seq_tokens: int = 768
    eval_every: int = 20
    patience: int = 3
    gate_rows: int | None = None
    threads: int | None = None
    force: bool = False
    resume: bool = False

    def run_id(self, data_hash: str) -> str:
        """Identifies a run for resuming: same options and data, same run."""
        skip = ("force", "resume", "threads")
        identity = {k: v for k, v in asdict(self).items() if k not in skip}
        identity["data"] = data_hash
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
        return f"{self.name or self.domain}-{digest.hexdigest()[:10]}"
