"""`make demo`: ingest the sample documents with the embedded defaults, then answer questions.

Runs offline with no key: the default embedding model and local generator come from
installed packages and the store is Qdrant Edge under the data dir (ADAPTRAG_DATA_DIR, else
the user's data dir). With ANTHROPIC_API_KEY set, questions are also answered by Claude.
A second run finds every document unchanged and embeds nothing.
"""

from __future__ import annotations

from pathlib import Path

from ingest import ingest_paths
from rag import Pipeline
from rag.embedder import SentenceTransformerEmbedder
from rag.router import claude_configured
from rag.settings import load_settings

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
    backends = ["local", "claude"] if claude_configured() else ["local"]
    with Pipeline(settings, embedder=embedder) as qa:
        print("\nhybrid retrieval (dense + BM25, fused by Qdrant's RRF), then an answer:")
        for domain, question in QUESTIONS:
            print(f"\n[{domain}] {question}")
            for backend in backends:
                answer = qa.ask(question, domain=domain, backend=backend, max_new_tokens=64)
                print(f"  {backend} ({answer.model}): {answer.text}")
                t = answer.timings
                print(
                    f"    {t['total_ms']:.0f} ms: embed {t['embed_ms']:.0f}, search "
                    f"{t['search_ms']:.1f}, generate {t['generate_ms']:.0f}"
                )
            for n, source in enumerate(answer.sources, start=1):
                print(f"    [{n}] {source.doc_id} ({source.score:.3f})")


if __name__ == "__main__":
    main()
