"""What callers see of the server's files (`adaptrag.server.paths.PublicPaths`): folders
replaced only where they stand as whole paths, values never corrupted."""

from __future__ import annotations

from pathlib import Path

from adaptrag.rag.errors import StoreError
from adaptrag.rag.settings import Settings
from adaptrag.server.paths import PublicPaths


def _paths(tmp_path: Path, roots: list[str] | None = None) -> PublicPaths:
    settings = Settings(data_dir=tmp_path / "data", ingest_root=tmp_path / "in")
    return PublicPaths(settings, lambda: roots or [])


def test_folders_are_replaced_as_whole_paths_only(tmp_path: Path) -> None:
    other = "/srv/contracts/legal"
    paths = _paths(tmp_path, [other, str(tmp_path / "data" / "uploads" / "job-1")])
    data, inbox = tmp_path / "data", tmp_path / "inbox"
    report = {
        "failed": [{"reason": f"doc_id 'a.md' already holds {other}/a.md in domain 'legal'"}],
        "paths": [
            f"{tmp_path / 'in'}/legal/b.md",  # under the ingest root
            f"{inbox}/c.md",  # a folder that only starts like the ingest root
            f"/mnt{other}/d.md",  # the stored root inside another path
            f"{data / 'uploads' / 'job-1'}/e.md",  # another job's upload
            f"{data}/adapters/legal/v1",
        ],
        "title": 'Q1 "draft"',
        "count": 3,
    }
    shown = paths.value(report)
    assert (
        shown["failed"][0]["reason"] == "doc_id 'a.md' already holds legal/a.md in domain 'legal'"
    )
    assert shown["paths"] == [
        "legal/b.md",
        f"{inbox}/c.md",
        f"/mnt{other}/d.md",
        "upload/e.md",
        "<data_dir>/adapters/legal/v1",
    ]
    assert (shown["title"], shown["count"]) == ('Q1 "draft"', 3)


def test_error_text_never_reads_the_store_and_a_failing_store_leaves_the_fixed_folders(
    tmp_path: Path,
) -> None:
    def broken() -> list[str]:
        raise StoreError("the store is down")

    settings = Settings(data_dir=tmp_path / "data")
    paths = PublicPaths(settings, broken)
    message = f"cannot open {tmp_path / 'data'}/qdrant/c: the store is down"
    assert paths.text(message) == "cannot open <data_dir>/qdrant/c: the store is down"
    assert paths.value({"m": message}) == {
        "m": "cannot open <data_dir>/qdrant/c: the store is down"
    }


def test_sources_show_their_file_within_their_root(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    root = str(tmp_path / "in" / "legal")
    alone = str(tmp_path / "in" / "legal" / "lease.pdf")  # a file ingested on its own
    assert paths.metadata({"source": f"{root}/dupA/a.md", "source_root": root}) == {
        "source": "dupA/a.md",
        "source_root": "legal",
    }
    assert paths.metadata({"source": alone, "source_root": alone}) == {
        "source": "lease.pdf",
        "source_root": "legal/lease.pdf",
    }
    assert paths.metadata({"source": "/elsewhere/x.md", "source_root": "/elsewhere"}) == {
        "source": "x.md",
        "source_root": "elsewhere",
    }
    assert paths.model("/models/my-llm") == "my-llm"
    assert (
        paths.model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
