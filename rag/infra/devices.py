"""Where models run: `auto` picks CUDA when torch sees a GPU."""

from __future__ import annotations


def resolve_device(device: str) -> str:
    """`auto` means CUDA when torch sees a GPU, else CPU; anything else is used as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
