"""What a caller of the HTTP API sees of the server's files: never its filesystem.

One rule for every remote surface (`/v1/ask`, `/v1/retrieve`, the stream, the OpenAI
endpoint's `adaptrag` field, MCP tools, ingest job reports, documents, adapters,
collections, error messages): a document's `source` is its path relative to the folder it
was ingested from (`source_root`), and that folder is shown as its path under
`ADAPTRAG_INGEST_ROOT` (`legal`), as `upload` for an uploaded file, or else by its own name
only (a folder the operator ingested with the CLI). The data dir is `<data_dir>`; a model
configured as a local folder is shown by the folder's name. The Python API and the CLI, run
by the owner of the files, keep full paths.
"""

from __future__ import annotations

import re
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
        root = settings.server.ingest_root
        self.ingest_root = root.resolve() if root else None
        self._stored_roots = stored_roots  # the `source_root`s of the stored documents
        # The folders as configured and resolved (they differ under a symlink).
        fixed = {
            settings.data_dir / "uploads": UPLOAD_ROOT,
            self.uploads: UPLOAD_ROOT,
            settings.data_dir: "<data_dir>",
            self.data_dir: "<data_dir>",
        }
        if root is not None and self.ingest_root is not None:
            fixed |= {root: ".", self.ingest_root: "."}
        self._fixed = {str(folder): shown for folder, shown in fixed.items()}

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
        """A document's path relative to its root (its name when it is not under it, or when
        it is the root: a file ingested on its own)."""
        file = PurePath(path)
        if root and file.is_relative_to(root) and file != PurePath(root):
            return file.relative_to(root).as_posix()
        return file.name

    @staticmethod
    def model(model_id: str) -> str:
        """A model id, or the folder name of a model configured as a local folder."""
        return PurePath(model_id).name if PurePath(model_id).is_absolute() else model_id

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
        """An answer's JSON form (`Answer.to_dict`) with its sources' paths and its model
        shown."""
        return {
            **answer,
            "model": self.model(str(answer.get("model", ""))),
            "sources": [self.source(s) for s in answer.get("sources", [])],
            "dropped": [self.source(s) for s in answer.get("dropped", [])],
        }

    def value(self, value: Any) -> Any:
        """Any JSON value (a job report, an adapter's record) with every folder of the server
        in its strings replaced: the stored documents' roots, the ingest root, the data dir.
        It reads the store's roots: call it on a worker thread."""
        try:
            folders = {root: self.root(root) for root in self._stored_roots() if root}
        except AdaptragError:  # a store that cannot answer now: the fixed folders still apply
            folders = {}
        return _rewrite(value, _replacer({**folders, **self._fixed}))

    def text(self, message: str) -> str:
        """An error message with the server's fixed folders (data dir, ingest root)
        replaced; it never reads the store, so it is safe where the store has failed."""
        shown: str = _rewrite(message, _replacer(self._fixed))
        return shown


def _replacer(folders: dict[str, str]) -> Callable[[str], str]:
    """A function replacing each folder (absolute, not `/`) where it stands as a whole path
    or its start (`/srv/in` in `/srv/in/a.md`, not in `/srv/inbox` or `/mnt/srv/in`)."""
    usable = {f.rstrip("/"): s for f, s in folders.items() if f.startswith("/") and f != "/"}
    if not usable:
        return lambda text: text
    names = "|".join(re.escape(f) for f in sorted(usable, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.~/-])({names})(/|(?![\w.~-]))")

    def shown(match: re.Match[str]) -> str:
        folder = usable[match.group(1)]
        if match.group(2) == "/":
            return "" if folder in ("", ".") else f"{folder}/"
        return folder or "."

    return lambda text: pattern.sub(shown, text)


def _rewrite(value: Any, replace: Callable[[str], str]) -> Any:
    """`value` with `replace` applied to every string in it (keys left alone)."""
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, dict):
        return {key: _rewrite(item, replace) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rewrite(item, replace) for item in value]
    return value
