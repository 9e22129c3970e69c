"""`make demo`: ingest the sample documents with the embedded defaults and show what was stored.

Runs offline with no key: the default embedding model comes from an installed package and
the store is Qdrant Edge under the data dir (ADAPTRAG_DATA_DIR, else the user's data dir).
A second run finds every document unchanged and embeds nothing.
"""

from __future__ import annotations

from pathlib import Path

from ingest import ingest_paths
from rag.embedder import SentenceTransformerEmbedder
from rag.settings import load_settings
from rag.sparse import SparseEncoder
from rag.stores import SearchRequest, Where, connection, open_store

SAMPLES = Path(__file__).parent / "sample"
QUESTIONS = [
    ("legal", "How much notice is needed to end the Northwind lease?"),
    ("finance", "What share of forecast currency purchases is hedged?"),
    ("medical", "When should antibiotics be given for suspected sepsis?"),
]


def main() -> None:
    settings = load_settings(collection="demo")
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    print(f"data dir: {settings.data_dir}  collection: {settings.collection}")
    for domain_dir in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        report = ingest_paths(
            [domain_dir], domain_dir.name, settings=settings, embedder=embedder, sync=True
        )
        print(
            f"ingested {domain_dir.name:<8} added={report.added} updated={report.updated} "
            f"unchanged={report.unchanged} chunks_embedded={report.chunks_embedded} "
            f"({report.seconds:.1f} s)"
        )
    store = open_store(settings.collection, **connection(settings))
    sparse = SparseEncoder()
    try:
        print(f"\nstored chunks per domain: {store.facet('domain')}")
        print("\nhybrid retrieval (dense + BM25, fused by Qdrant's RRF), top source per question:")
        for domain, question in QUESTIONS:
            hits = store.search(
                SearchRequest(
                    dense=embedder.embed_query(question),
                    sparse=sparse.encode_query(question),
                    where=Where(equals={"domain": domain}),
                    limit=1,
                )
            )
            top = hits[0]
            print(f"\n[{domain}] {question}\n  -> {top.doc_id}: {top.text[:160].strip()}...")
    finally:
        store.close()


if __name__ == "__main__":
    main()
