"""Ingest jobs over HTTP: uploads, paths under the root, progress and report, refusals."""

from __future__ import annotations

import time
from typing import Any

import httpx
from helpers.server import ADMIN, FINANCE, LEGAL_INGEST, Served


def wait_for(client: httpx.Client, status_url: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(status_url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job['status']} after {timeout_s} s")


def test_an_upload_is_ingested_by_a_job_with_progress_and_report(served: Served) -> None:
    memo = b"# Board memo\n\nThe Zephyr escrow account releases funds on 3 March 2027.\n"
    with served.client(LEGAL_INGEST) as client:
        started = client.post(
            "/v1/ingest", data={"domain": "legal"}, files=[("files", ("zephyr.md", memo))]
        )
        assert started.status_code == 202, started.text
        job = wait_for(client, started.json()["status_url"])
        assert job["status"] == "done", job
        assert job["report"]["added"] == 1 and job["report"]["chunks_total"] >= 1
        assert job["progress"]["parse"] == {"done": 1, "total": 1}
        assert job["progress"]["store"]["done"] == job["report"]["chunks_embedded"]
        sources = client.post(
            "/v1/retrieve", json={"question": "When does the Zephyr escrow release funds?"}
        ).json()["sources"]
        assert sources[0]["doc_id"] == "zephyr.md"
    with served.client(FINANCE) as other:  # a job is visible to the key that started it only
        assert other.get(started.json()["status_url"]).status_code == 404


def test_paths_under_the_root_are_ingested_and_traversal_is_refused(served: Served) -> None:
    (served.ingest_root / "finance" / "fx.txt").write_text(
        "The treasury hedges 80 percent of forecast USD exposure with forwards.\n"
    )
    with served.client(ADMIN) as client:
        started = client.post("/v1/ingest", json={"paths": ["finance"], "domain": "finance"})
        assert started.status_code == 202, started.text
        job = wait_for(client, started.json()["status_url"])
        assert job["status"] == "done" and job["report"]["added"] == 1
        for path in ("../data", "/etc", "finance/../../data"):
            refused = client.post("/v1/ingest", json={"paths": [path], "domain": "finance"})
            assert refused.status_code == 403, path
            assert "outside the ingest root" in refused.json()["error"]
        missing = client.post("/v1/ingest", json={"paths": ["nothing"], "domain": "finance"})
        assert missing.status_code == 404


def test_ingest_rights_domains_size_and_media_type(served: Served) -> None:
    with served.client(FINANCE) as reader:
        refused = reader.post("/v1/ingest", json={"paths": ["finance"], "domain": "finance"})
        assert refused.status_code == 403 and "may not ingest" in refused.json()["error"]
    with served.client(LEGAL_INGEST) as legal:
        other_domain = legal.post(
            "/v1/ingest", data={"domain": "finance"}, files=[("files", ("a.md", b"# A\n\nx\n"))]
        )
        assert other_domain.status_code == 403
        too_big = legal.post(
            "/v1/ingest",
            data={"domain": "legal"},
            files=[("files", ("big.txt", b"word " * 20_000))],  # 100 kB > 0.05 MB
        )
        assert too_big.status_code == 413 and "ADAPTRAG_MAX_UPLOAD_MB" in too_big.json()["error"]
        hidden = legal.post(
            "/v1/ingest", data={"domain": "legal"}, files=[("files", (".env", b"SECRET=1"))]
        )
        assert hidden.status_code == 422
        plain = legal.post("/v1/ingest", content=b"hello", headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        bad_json = legal.post("/v1/ingest", json={"paths": [], "domain": "legal"})
        assert bad_json.status_code == 422 and "paths" in bad_json.json()["error"]


def test_uploads_keep_same_named_files_of_different_folders_apart(served: Served) -> None:
    with served.client(LEGAL_INGEST) as client:
        started = client.post(
            "/v1/ingest",
            data={"domain": "legal"},
            files=[
                ("files", ("dupA/pact.md", b"# Pact\n\nThe Orrin pact ends in 2031.\n")),
                ("files", ("dupB/pact.md", b"# Pact\n\nThe Velt pact ends in 2033.\n")),
            ],
        )
        assert started.status_code == 202, started.text
        job = wait_for(client, started.json()["status_url"])
        assert job["status"] == "done" and job["report"]["added"] == 2, job
        found = client.post("/v1/retrieve", json={"question": "When does the pact end?"})
        ids = {s["doc_id"] for s in found.json()["sources"]}
        assert {"dupA/pact.md", "dupB/pact.md"} <= ids
        again = client.post(
            "/v1/ingest",
            data={"domain": "legal", "id_prefix": "second"},
            files=[("files", ("dupA/pact.md", b"# Pact\n\nAnother pact ends in 2040.\n"))],
        )
        job = wait_for(client, again.json()["status_url"])
        assert job["report"]["added"] == 1 and job["report"]["replaced"] == []
        for name in ("../x.md", "a/../../x.md", "/etc/x.md", ".env", "a/.git/x"):
            bad = client.post(
                "/v1/ingest", data={"domain": "legal"}, files=[("files", (name, b"# x\n\ny\n"))]
            )
            assert bad.status_code == 422, name
