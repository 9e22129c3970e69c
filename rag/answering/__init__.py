"""Answering from the chunks: the typed query, the pipeline and its parts, routing to a
backend and an adapter, citations, evidence, grounding, and completions without retrieval.

The group the others serve: it may import retrieval, the stores and the generators; none of
them imports it. Users import `Pipeline`, `AsyncPipeline` and `Query` from `adaptrag`.
"""
