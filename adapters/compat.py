"""Quieting what our dependencies say to each other, not to the user."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_DEPRECATED = "`is_gradient_checkpointing` is deprecated"


@contextmanager
def quiet_peft() -> Iterator[None]:
    """Around a PEFT call: peft calls a transformers method that transformers deprecated
    (`is_gradient_checkpointing`), a FutureWarning a user can do nothing about."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning
        )
        yield
