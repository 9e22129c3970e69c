"""Batch evaluation of answer quality: `from adaptrag.eval import run_eval, compare_runs`.

`runner` answers a QA file through the real pipeline into a resumable run folder,
`metrics` holds every metric with its formula, `judge` the optional Claude judge,
`report` the report files and `compare` side-by-side comparisons and gates.
"""

from adaptrag.eval.compare import check_gates, compare_runs
from adaptrag.eval.runner import run_eval

__all__ = ["check_gates", "compare_runs", "run_eval"]
