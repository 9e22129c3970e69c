"""Bootstrap intervals and the one promotion rule: how sure a measured difference is.

Every "A beats B" in adaptrag is decided here, the same way: the adapter gate
(`adapters.gate`), embedding tuning (`ingest.tune`), evaluation reports and comparisons,
and the benchmarks. Intervals are scipy's bias-corrected and accelerated (BCa) bootstrap,
paired row by row where two systems answered the same rows: at the gate's ~30 rows BCa
corrects the percentile interval's bias and skew. Seeded: the same rows give the same
interval on every run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95
Z_CONFIDENCE = 1.96  # two-sided 95%
Z_POWER = 0.8416  # 80% power: a true gain of `detectable` is shown sure 4 times in 5
RULE = "promoted when the paired 95% BCa bootstrap interval of the mean difference lies above 0"


def bootstrap_ci(values: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean (1,000 resamples, seeded); a single value or
    identical values: that value, both ends."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return 0.0, 0.0
    if data.size < 2 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    with warnings.catch_warnings():  # a near-degenerate sample: fall back below, not a warning
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (data,),
            np.mean,
            method="BCa",
            confidence_level=CONFIDENCE,
            n_resamples=BOOTSTRAP_SAMPLES,
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined: the percentile interval
        means = np.sort(result.bootstrap_distribution)
        low, high = np.quantile(means, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(low), float(high)


def paired_bootstrap_ci(
    first: Sequence[float], second: Sequence[float], *, seed: int = 0
) -> tuple[float, float]:
    """95% interval of the mean of `second - first`, row by row (the same rows in both)."""
    return bootstrap_ci([b - a for a, b in zip(first, second, strict=True)], seed=seed)


@dataclass(frozen=True)
class Promotion:
    """The rule's verdict on a candidate against what it would replace, on the same rows.

    `detectable` is the smallest mean gain these rows would show as sure (95% interval
    above 0) four times in five: the standard error of the paired differences times
    (1.96 + 0.84). `rows_needed` is, for a positive difference the interval cannot yet
    tell from 0, about how many rows would make that difference sure (the error shrinks as
    one over the square root of the rows); None otherwise.
    """

    difference: float  # mean of candidate - baseline, row by row
    ci95: tuple[float, float]
    promoted: bool
    rule: str = RULE
    detectable: float = 0.0
    rows_needed: int | None = None

    @property
    def verdict(self) -> str:
        """`promoted`; `undecided` (a gain the interval cannot yet tell from 0: more rows
        can decide); or `rejected` (no gain measured)."""
        if self.promoted:
            return "promoted"
        return "undecided" if self.rows_needed is not None else "rejected"


def promotion(
    baseline: Sequence[float], candidate: Sequence[float], *, seed: int = 0, min_rows: int = 2
) -> Promotion:
    """The promotion rule: the candidate wins when the paired 95% interval of its mean
    row-by-row difference over the baseline lies above 0 (and there are `min_rows` rows)."""
    low, high = paired_bootstrap_ci(baseline, candidate, seed=seed)
    rows = len(candidate)
    difference = (sum(candidate) - sum(baseline)) / max(rows, 1)
    promoted = rows >= min_rows and low > 0
    detectable = _detectable(baseline, candidate)
    rows_needed = None
    if not promoted and difference > 0 and high > 0 and detectable > 0:
        rows_needed = max(rows + 1, math.ceil(rows * (detectable / difference) ** 2))
    return Promotion(
        difference=round(difference, 4),
        ci95=(round(low, 4), round(high, 4)),
        promoted=promoted,
        detectable=round(detectable, 4),
        rows_needed=rows_needed,
    )


def _detectable(baseline: Sequence[float], candidate: Sequence[float]) -> float:
    """The smallest mean gain these paired rows would show as sure (see `Promotion`)."""
    differences = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if differences.size < 2:
        return 0.0
    error = float(np.std(differences, ddof=1)) / math.sqrt(differences.size)
    return (Z_CONFIDENCE + Z_POWER) * error
