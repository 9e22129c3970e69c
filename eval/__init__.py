"""Batch evaluation of answer quality: datasets, metrics, runner, reports.

Not built yet (see the evaluation issue). Import as `from eval import ...`, never
`import eval`, which would shadow the built-in.
"""
