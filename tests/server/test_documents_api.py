"""The documents of a domain over HTTP: list, read back and delete, within the key's rights."""

from __future__ import annotations

from helpers.server import ADMIN, FINANCE, LEGAL_INGEST, Served


def test_a_key_lists_and_reads_its_domains_documents_only(served: Served) -> None:
    with served.client(FINANCE) as finance:
        listed = finance.get("/v1/documents", params={"domain": "finance"})
        assert listed.status_code == 200, listed.text
        assert {d["doc_id"] for d in listed.json()} == {"q3-report.md", "treasury-policy.html"}
        assert all("/" not in d["source"] for d in listed.json())  # no server folders
        report = finance.get("/v1/documents/q3-report.md", params={"domain": "finance"}).json()
        assert report["chunks"] == len(report["chunk_texts"]) and report["complete"] is True
        assert finance.get("/v1/documents", params={"domain": "legal"}).status_code == 403
        other = finance.get("/v1/documents/orbit-nda.txt", params={"domain": "legal"})
        assert other.status_code == 403
        assert finance.get("/v1/documents").status_code == 422  # the domain is required


def test_deleting_needs_the_ingest_right_and_removes_the_document_at_once(
    served: Served,
) -> None:
    path = "/v1/documents/orbit-nda.txt"
    with served.client(FINANCE) as finance, served.client(LEGAL_INGEST) as legal:
        assert finance.delete(path, params={"domain": "legal"}).status_code == 403
        assert (
            finance.delete("/v1/documents/q3-report.md", params={"domain": "finance"}).status_code
            == 403
        )
        deleted = legal.delete(path, params={"domain": "legal"})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["deleted"] == "orbit-nda.txt" and deleted.json()["chunks"] >= 1
        gone = legal.get(path, params={"domain": "legal"})
        assert gone.status_code == 404 and "no document 'orbit-nda.txt'" in gone.json()["error"]
        assert legal.delete(path, params={"domain": "legal"}).status_code == 404
        hits = legal.post("/v1/retrieve", json={"question": "confidentiality", "top_k": 20})
        assert all(s["doc_id"] != "orbit-nda.txt" for s in hits.json()["sources"])
    with served.client(ADMIN) as admin:
        left = admin.get("/v1/documents", params={"domain": "legal"}).json()
        assert [d["doc_id"] for d in left] == ["northwind-lease.md"]
