"""Batch evaluation of answer quality.

Built so far: the metrics (`eval.metrics`), each a function of one row with its formula in
its docstring. The runner, reports and comparisons are the rest of the evaluation issue.
Import it as `from eval import metrics` (never `import eval`, which shadows the built-in).
"""
