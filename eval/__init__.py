"""Batch evaluation of answer quality: `from eval import run_eval, compare_runs`.

`eval.runner` answers a QA file through the real pipeline into a resumable run folder,
`eval.metrics` holds every metric with its formula, `eval.judge` the optional Claude judge,
`eval.report` the report files and `eval.compare` side-by-side comparisons and gates.
Import names from it (`from eval import ...`), never `import eval`, which the built-in shadows.
"""

from eval.compare import check_gates, compare_runs
from eval.runner import run_eval

__all__ = ["check_gates", "compare_runs", "run_eval"]
