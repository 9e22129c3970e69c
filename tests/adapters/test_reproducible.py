"""Training is reproducible: the same data, options and seed give the same weights and gate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.adapters import write_qa
from safetensors.torch import load_file

from adaptrag.adapters import TrainOptions, train_adapter
from adaptrag.rag.settings import Settings


@pytest.mark.slow
def test_training_twice_gives_the_same_weights_and_the_same_gate(
    indexed_legal: Settings, tmp_path: Path
) -> None:
    data = write_qa(tmp_path / "legal.jsonl")
    options = TrainOptions(
        domain="legal", data=data, max_steps=3, eval_every=3, batch_size=2, eval_split=0.4
    )
    threads = torch.get_num_threads()
    first = train_adapter(options, settings=indexed_legal, show_progress=False)
    torch.manual_seed(1234)  # whatever state the process is in, the run seeds its own
    second = train_adapter(options, settings=indexed_legal, show_progress=False)
    assert (first.adapter.ref, second.adapter.ref) == ("legal/v1", "legal/v2")
    weights = [
        load_file(str(r.adapter.path / "adapter_model.safetensors")) for r in (first, second)
    ]
    assert weights[0].keys() == weights[1].keys() and weights[0]
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name
    assert first.adapter.training["eval_losses"] == second.adapter.training["eval_losses"]
    assert first.adapter.scores == second.adapter.scores
    assert first.promoted == second.promoted
    assert torch.get_num_threads() == threads  # the run's fixed thread count was given back
