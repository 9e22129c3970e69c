"""Free disk space for the embedded store, checked before it opens and before each write.

Qdrant Edge keeps its files memory-mapped and sparse: when the disk fills under a write, a
page it touches cannot be backed and the process dies of SIGBUS, with no message. Opening
a shard needs room too: it may write up to one 32 MB write-ahead-log segment (measured on a
full 20 MB tmpfs: every `collections info` died so). So the store checks first and refuses
with a `DiskFullError` naming the folder, what is free and about what is needed, leaving
`OPEN_NEED_BYTES` for the next open; searches of a store already open need no space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from adaptrag.rag.errors import DiskFullError
from adaptrag.rag.stores.base import StoredChunk

MB = 1024 * 1024
# Up to one write-ahead-log segment written at open, and one more rolled during writes.
OPEN_NEED_BYTES = 64 * MB
# An allowance for what one stored chunk costs beyond its vectors and text (payload fields,
# ids, index entries); the write-ahead log holds each write once more until the segments
# have it. An estimate on the safe side: the margin is OPEN_NEED_BYTES either way.
CHUNK_OVERHEAD_BYTES = 2048
WAL_COPIES = 2


def free_bytes(path: Path) -> int:
    """Free bytes (for an unprivileged user) on the file system holding `path`."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stats = os.statvfs(existing)
    return stats.f_bavail * stats.f_frsize


def require_free(path: Path, need_bytes: int, doing: str) -> None:
    """Raise `DiskFullError` unless `need_bytes` are free on `path`'s file system."""
    free = free_bytes(path)
    if free >= need_bytes:
        return
    raise DiskFullError(
        f"no space left on {path}: {free / MB:,.0f} MB free, need about "
        f"{need_bytes / MB:,.0f} MB {doing}; free some space there or set ADAPTRAG_DATA_DIR "
        "to a larger disk (the data already stored is intact)"
    )


def write_need_bytes(chunks: Sequence[StoredChunk]) -> int:
    """About what storing `chunks` takes on disk, plus room to open the store afterwards."""
    per_chunk = (
        len(chunk.dense) * 4
        + len(chunk.sparse.indices) * 8
        + len(str(chunk.payload.get("text", ""))) * 2
        + CHUNK_OVERHEAD_BYTES
        for chunk in chunks
    )
    return sum(per_chunk) * WAL_COPIES + OPEN_NEED_BYTES
