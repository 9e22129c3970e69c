"""What a caller of the HTTP API sees of the server's files: never its filesystem.

One rule for every remote surface (`/v1/ask`, `/v1/retrieve`, the OpenAI endpoint's
`adaptrag` field, MCP tools, ingest job reports, documents, error messages): a document's
`source` is its path relative to the folder it was ingested from (`source_root`), and that
folder is shown as its path under `ADAPTRAG_INGEST_ROOT` (`legal`), as `upload` for an
uploaded file, or else by its own name only (a folder the operator ingested with the CLI).
The data dir is `<data_dir>`. The Python API and the CLI, run by the owner of the files,
keep full paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Any

from adaptrag.rag.errors import AdaptragError
from adaptrag.rag.settings import Settings

UPLOAD_ROOT = "upload"


class PublicPaths:
    """Rewrites paths of the server's filesystem into what a caller may see (see the module)."""

    def __init__(self, settings: Settings, stored_roots: Callable[[], Iterable[str]]) -> None:
        self.data_dir = settings.data_dir.resolve()
        self.uploads = self.data_dir / "uploads"
        self.ingest_root = (
            settings.server.ingest_root.resolve() if settings.server.ingest_root else None
        )
        # The folders as configured too, where that spelling differs (a symlink).
        self._fixed = {
            str(settings.data_dir / "uploads"): UPLOAD_ROOT,
            str(self.uploads): UPLOAD_ROOT,
            str(settings.data_dir): "<data_dir>",
            str(self.data_dir): "<data_dir>",
        }
        if settings.server.ingest_root is not None and self.ingest_root is not None:
            self._fixed |= {str(settings.server.ingest_root): ".", str(self.ingest_root): "."}
        self._stored_roots = stored_roots  # the `source_root`s of the stored documents

    def root(self, root: str) -> str:
        """How the folder a document was ingested from is shown."""
        folder = PurePath(root)
        if folder.is_relative_to(self.uploads):
            return UPLOAD_ROOT
        if self.ingest_root is not None and folder.is_relative_to(self.ingest_root):
            return folder.relative_to(self.ingest_root).as_posix() or "."
        return folder.name

    @staticmethod
    def file(path: str, root: str) -> str:
        """A document's path relative to its root (its name when it is not under it)."""
        file = PurePath(path)
        if root and file.is_relative_to(root):
            return file.relative_to(root).as_posix()
        return file.name

    def metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """A stored payload with its `source` and `source_root` shown (see the module)."""
        shown = dict(metadata)
        root = str(metadata.get("source_root") or "")
        if "source" in shown:
            shown["source"] = self.file(str(shown["source"]), root)
        if "source_root" in shown:
            shown["source_root"] = self.root(root) if root else ""
        return shown

    def source(self, source: dict[str, Any]) -> dict[str, Any]:
        """A source's JSON form (`Source.to_dict`) with its paths shown."""
        return {**source, "metadata": self.metadata(source.get("metadata") or {})}

    def answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        """An answer's JSON form (`Answer.to_dict`) with its sources' paths shown."""
        return {
            **answer,
            "sources": [self.source(s) for s in answer.get("sources", [])],
            "dropped": [self.source(s) for s in answer.get("dropped", [])],
        }

    def value(self, value: Any) -> Any:
        """Any JSON value (a job report, a message) with every folder of the server that
        appears in it replaced: the stored documents' roots, the ingest root, the data dir."""
        text = json.dumps(value, ensure_ascii=False)
        for folder, shown in self._replacements():
            escaped = json.dumps(folder, ensure_ascii=False)[1:-1]  # as it appears in JSON
            text = text.replace(escaped + "/", f"{shown}/" if shown else "")
            text = text.replace(escaped, shown or ".")
        return json.loads(text)

    def text(self, message: str) -> str:
        """A message with the server's folders replaced (see `value`)."""
        shown: str = self.value(message)
        return shown

    def _replacements(self) -> list[tuple[str, str]]:
        try:
            roots = {root: self.root(root) for root in self._stored_roots() if root}
        except AdaptragError:  # a store that cannot answer now: the fixed folders still apply
            roots = {}
        pairs = {**roots, **self._fixed}
        return sorted(pairs.items(), key=lambda pair: -len(pair[0]))  # longest first
