"""Finding the chunks: embedding (dense and sparse), filters, fusion, reranking, the
collection's recorded build, and the words a follow-up question leaves out.

`Retriever.search(question) -> Retrieval` is the stage the pipeline calls
(`rag.retrieval.retriever`). Retrieval imports neither the answering group nor the
generators.
"""

from adaptrag.rag.retrieval.retriever import Fusion, Retrieval, Retriever, SearchOptions

__all__ = ["Fusion", "Retrieval", "Retriever", "SearchOptions"]
