"""The path of an HTTP ask to the store: few hops, each a step of its own (issue 14)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from helpers.server import Served

ROOT = Path(__file__).resolve().parents[2]
OURS = ("adaptrag", "rag", "adapters", "eval", "ingest")


def test_an_ask_reaches_the_store_in_four_frames_of_ours(served: Served) -> None:
    store = served.pipeline.retriever.store
    stacks: list[list[str]] = []
    original = store.search

    def search(request: Any) -> Any:
        frames = traceback.extract_stack()[:-1]
        stacks.append(
            [
                f"{Path(f.filename).resolve().relative_to(ROOT).as_posix()}:{f.name}"
                for f in frames
                if Path(f.filename).resolve().is_relative_to(ROOT)
                and Path(f.filename).resolve().relative_to(ROOT).parts[0] in OURS
            ]
        )
        return original(request)

    store.search = search  # type: ignore[method-assign]
    try:
        with served.client() as client:
            answer = client.post("/v1/ask", json={"question": "notice period?", "domain": "legal"})
    finally:
        del store.search
    assert answer.status_code == 200, answer.text
    # The worker thread's stack when the store is called: the route's one function, the
    # pipeline's two stages, the retriever. (The route handler and `Server.blocking` run on
    # the event loop, so they are not on this stack.) Before the redesign: 6.
    assert stacks == [
        [
            "adaptrag/server/routes/answers.py:answer_one",
            "rag/answering/pipeline.py:answer",
            "rag/answering/pipeline.py:_prepare",
            "rag/retrieval/retriever.py:search_many",
        ]
    ]
