"""Every place a key's domain rule applies, each with a test that fails without it.

A `finance` key reads finance only: retrieval, answers, the collection catalog. Ingest
jobs belong to the key that started them. (Adapters: `test_concurrency.py`, which needs
registered adapters.) Each test was checked by deleting the rule it guards.
"""

from __future__ import annotations

import time

from helpers.server import ADMIN, FINANCE, LEGAL_INGEST, Served

QUESTION = "What are the terms?"


def test_a_domain_key_retrieves_and_answers_from_its_domain_only(served: Served) -> None:
    with served.client(FINANCE) as finance, served.client(ADMIN) as admin:
        everything = admin.post("/v1/retrieve", json={"question": QUESTION, "top_k": 20}).json()
        assert {s["metadata"]["domain"] for s in everything["sources"]} == {"legal", "finance"}

        mine = finance.post("/v1/retrieve", json={"question": QUESTION, "top_k": 20}).json()
        assert mine["sources"] and {s["metadata"]["domain"] for s in mine["sources"]} == {"finance"}
        answer = finance.post("/v1/ask", json={"question": QUESTION, "top_k": 20}).json()
        assert {s["metadata"]["domain"] for s in answer["sources"]} == {"finance"}

        for body in (
            {"question": QUESTION, "domain": "legal"},
            {"question": QUESTION, "filters": {"domain": "legal"}},
            {"question": QUESTION, "filters": {"domain": ["finance", "legal"]}},
            {"question": QUESTION, "filters": {"domain": {"ne": "finance"}}},
            {"question": QUESTION, "filters": {"domain": {"exists": True}}},
            {"question": QUESTION, "filters": {"domain": {"in": ["legal"]}}},
        ):
            refused = finance.post("/v1/retrieve", json=body)
            assert refused.status_code == 403, body
        by_operator = {"question": QUESTION, "filters": {"domain": {"eq": "finance"}}}
        mine = finance.post("/v1/retrieve", json=by_operator).json()["sources"]
        assert mine and {s["metadata"]["domain"] for s in mine} == {"finance"}


def test_the_catalog_shows_a_key_only_its_domains(served: Served) -> None:
    with served.client(FINANCE) as finance, served.client(ADMIN) as admin:
        name = served.settings.store.collection
        (everything,) = [c for c in admin.get("/v1/collections").json() if c["name"] == name]
        (mine,) = [c for c in finance.get("/v1/collections").json() if c["name"] == name]
    assert set(everything["domains"]) == {"legal", "finance"}
    assert set(mine["domains"]) == {"finance"}
    assert 0 < mine["chunks"] < everything["chunks"]


def test_an_ingest_job_is_visible_to_the_key_that_started_it_only(served: Served) -> None:
    with served.client(LEGAL_INGEST) as legal, served.client(ADMIN) as admin:
        started = legal.post(
            "/v1/ingest",
            data={"domain": "legal"},
            files=[("files", ("scope-note.md", b"# Scope\n\nA note of the legal team.\n"))],
        )
        assert started.status_code == 202, started.text
        url = started.json()["status_url"]
        deadline = time.monotonic() + 60
        while legal.get(url).json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.05)
        assert legal.get(url).status_code == 200
        other = admin.get(url)  # even a key of every domain: not its job
        assert other.status_code == 404 and other.json()["error"].startswith("no ingest job")
