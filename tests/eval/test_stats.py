"""The intervals every promotion and comparison rests on (`eval.stats`)."""

from __future__ import annotations

import random

import pytest

from adaptrag.eval.stats import bootstrap_ci, paired_bootstrap_ci, promotion


def percentile_ci(values: list[float], seed: int = 0, samples: int = 1000) -> tuple[float, float]:
    """The percentile bootstrap adaptrag used before BCa: the baseline BCa must agree with."""
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(samples))
    return means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


def rows(seed: int, n: int, shift: float) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    base = [rng.random() for _ in range(n)]
    return base, [min(1.0, max(0.0, b + rng.gauss(shift, 0.25))) for b in base]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [30, 200])
def test_bca_agrees_with_the_percentile_interval_where_both_are_valid(seed: int, n: int) -> None:
    base, tuned = rows(seed, n, shift=0.05)
    differences = [b - a for a, b in zip(base, tuned, strict=True)]
    low, high = paired_bootstrap_ci(base, tuned)
    old_low, old_high = percentile_ci(differences)
    width = old_high - old_low
    # The same interval up to the skew correction and resampling noise: ends within a
    # quarter of the width (at 30 rows the width is ~0.18).
    assert abs(low - old_low) < 0.25 * width and abs(high - old_high) < 0.25 * width
    mean = sum(differences) / n
    assert low < mean < high


def test_bca_corrects_the_skew_of_a_rare_win() -> None:
    # One row in 30 right: a skewed sample whose BCa interval leans towards the long tail.
    values = [1.0] + [0.0] * 29
    low, high = bootstrap_ci(values)
    _, old_high = percentile_ci(values)
    assert low >= 0.0 and high > old_high - 1e-9


def test_degenerate_samples_give_their_value_without_a_warning() -> None:
    assert bootstrap_ci([]) == (0.0, 0.0)
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    assert bootstrap_ci([0.25] * 30) == (0.25, 0.25)


def test_the_same_rows_give_the_same_interval() -> None:
    base, tuned = rows(3, 30, shift=0.1)
    assert paired_bootstrap_ci(base, tuned) == paired_bootstrap_ci(base, tuned)
    assert paired_bootstrap_ci(base, tuned, seed=1) != paired_bootstrap_ci(base, tuned)


def test_the_promotion_rule_promotes_only_a_sure_gain() -> None:
    base, better = rows(1, 60, shift=0.2)
    sure = promotion(base, better)
    assert sure.promoted and sure.ci95[0] > 0 and sure.difference > 0.1
    noise = promotion(*rows(1, 60, shift=0.0))
    assert not noise.promoted and noise.ci95[0] <= 0 <= noise.ci95[1]
    assert not promotion([0.0], [1.0]).promoted  # one row proves nothing
    worse = promotion(better, base)
    assert not worse.promoted and worse.difference < 0


def test_the_rule_tells_undecided_from_rejected_and_says_how_many_rows_would_decide() -> None:
    from adaptrag.eval.stats import promotion

    # A small gain with noise: better on 5 rows, worse on 3, the same on 8.
    base = [0.0] * 16
    gain = [1.0] * 5 + [-1.0] * 3 + [0.0] * 8
    small = promotion(base, gain)
    assert (small.verdict, small.promoted) == ("undecided", False)
    assert small.rows_needed is not None and small.rows_needed > 16
    # The same pattern on as many rows as it asked for is sure.
    times = -(-small.rows_needed // 16)
    assert promotion(base * times, gain * times).verdict == "promoted"
    # No gain measured: rejected, and no number of rows is promised.
    worse = promotion(gain, base)
    assert (worse.verdict, worse.rows_needed) == ("rejected", None)
    assert worse.detectable == small.detectable > 0  # the same spread, the same power
