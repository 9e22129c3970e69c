"""Bootstrap confidence intervals: one way to say how sure a measured difference is.

Used by evaluation reports and comparisons, the embedding tuner's promotion rule and the
benchmarks, so every "A beats B" in adaptrag is decided the same way.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

BOOTSTRAP_SAMPLES = 1000


def bootstrap_ci(values: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean (1,000 resamples, seeded)."""
    if len(values) < 2:
        mean = values[0] if values else 0.0
        return mean, mean
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(BOOTSTRAP_SAMPLES))
    return means[int(0.025 * BOOTSTRAP_SAMPLES)], means[int(0.975 * BOOTSTRAP_SAMPLES) - 1]


def paired_bootstrap_ci(
    first: Sequence[float], second: Sequence[float], *, seed: int = 0
) -> tuple[float, float]:
    """95% interval of the mean of `second - first`, row by row (the same rows in both)."""
    return bootstrap_ci([b - a for a, b in zip(first, second, strict=True)], seed=seed)
