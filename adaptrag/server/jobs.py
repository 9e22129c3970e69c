"""Ingest jobs of the HTTP server: one worker thread, jobs run in order, progress readable.

A job ingests files (uploaded into a folder under `<data_dir>/uploads`, or paths under the
configured ingest root) into one domain with the server's own embedder and store, so an
embedded store is never opened by a second process. Uploaded files are deleted when their
job ends, and whatever a killed server left there is deleted when the next one starts.
A job's report and error show paths relative to its root, never the server's own layout.
A job can be cancelled: a queued one never runs; a running one stops as `ingest_paths`
does when its `cancel` event is set (what it embedded is stored, nothing is deleted).

Jobs are recorded in `<data_dir>/jobs/<id>.json` (on every change of status, and of
progress at most every 2 s), so a server started again still answers for them: a job that
was queued or running when the server stopped is `interrupted`, keeps its uploaded files,
and can be resumed (`resume`): ingesting is idempotent, so what it stored is kept and the
rest is embedded.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adaptrag.rag.errors import AdaptragError, IngestCancelledError
from adaptrag.rag.retrieval.embedder import Embedder
from adaptrag.rag.settings import Settings
from adaptrag.rag.stores import VectorStore

logger = logging.getLogger(__name__)
MAX_KEPT_JOBS = 200
PROGRESS_SAVE_S = 2.0
UNFINISHED = ("queued", "running", "cancelling")


@dataclass
class Job:
    """One ingest job and what is known of it so far."""

    id: str
    domain: str
    paths: list[Path]
    sync: bool
    owner: str
    cleanup: Path | None = None
    shown_root: Path | None = None  # paths in the report are shown relative to it
    id_prefix: str = ""
    status: str = "queued"  # queued, running, cancelling, done, failed, cancelled, interrupted
    progress: dict[str, dict[str, int | None]] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    saved_at: float = field(default=0.0, repr=False)

    def record(self) -> dict[str, Any]:
        """Everything needed to answer for the job, or run it again, after a restart."""
        return {
            **self.to_dict(),
            "paths": [str(p) for p in self.paths],
            "sync": self.sync,
            "owner": self.owner,
            "cleanup": str(self.cleanup) if self.cleanup else None,
            "shown_root": str(self.shown_root) if self.shown_root else None,
            "id_prefix": self.id_prefix,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Job:
        """The job of a record `record` wrote."""
        cleanup, shown_root = data.get("cleanup"), data.get("shown_root")
        return cls(
            id=str(data["id"]),
            domain=str(data["domain"]),
            paths=[Path(p) for p in data["paths"]],
            sync=bool(data["sync"]),
            owner=str(data["owner"]),
            id_prefix=str(data.get("id_prefix", "")),
            status=str(data["status"]),
            progress=dict(data.get("progress") or {}),
            report=data.get("report"),
            error=data.get("error"),
            created_at=str(data["created_at"]),
            finished_at=data.get("finished_at"),
            cleanup=Path(cleanup) if cleanup else None,
            shown_root=Path(shown_root) if shown_root else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The job as the API returns it."""
        return {
            "id": self.id,
            "domain": self.domain,
            "status": self.status,
            "progress": self.progress,
            "report": self.report,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


class IngestJobQueue:
    """Runs ingest jobs one after another on a worker thread."""

    def __init__(
        self, settings: Settings, collection: str, embedder: Embedder, store: VectorStore
    ) -> None:
        self.settings = settings
        self.collection = collection
        self.embedder = embedder
        self.store = store
        self._records = jobs_dir(settings)
        self._jobs: dict[str, Job] = {job.id: job for job in self._restored()}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="adaptrag-ingest", daemon=True)
        self._worker.start()

    def submit(
        self,
        paths: list[Path],
        domain: str,
        *,
        sync: bool,
        owner: str,
        cleanup: Path | None = None,
        shown_root: Path | None = None,
        id_prefix: str = "",
    ) -> Job:
        """Queue a job; it runs after the jobs before it."""
        job = Job(uuid.uuid4().hex[:16], domain, paths, sync, owner, cleanup, shown_root, id_prefix)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished_at]
            for old in finished[: max(0, len(self._jobs) - MAX_KEPT_JOBS)]:
                del self._jobs[old.id]
                self._forget(old)
            self._save(job)
        self._queue.put(job)
        return job

    def resume(self, job: Job) -> bool:
        """Queue an interrupted job again (False: it is not interrupted). What it stored
        before is kept; its files are read again and only what is missing is embedded."""
        with self._lock:
            if job.status != "interrupted":
                return False
            job.status, job.error, job.finished_at = "queued", None, None
            job.progress, job.report, job.cancel = {}, None, threading.Event()
            self._save(job)
        self._queue.put(job)
        return True

    def _restored(self) -> list[Job]:
        """The recorded jobs, oldest first; those a stopped server left unfinished are
        marked interrupted."""
        jobs = []
        for path, record in job_records(self._records):
            try:
                job = Job.from_record(record)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("ingest job record %s is unreadable and ignored: %s", path, exc)
                continue
            if job.status in UNFINISHED:
                job.error = (
                    f"the server stopped while this job was {job.status}; resume it (POST "
                    f"/v1/ingest/{job.id}/resume): what it stored is kept, the rest is embedded"
                )
                job.status, job.finished_at = "interrupted", datetime.now(UTC).isoformat()
                self._save(job)
            jobs.append(job)
        return jobs[-MAX_KEPT_JOBS:]

    def _save(self, job: Job) -> None:
        """Record the job (atomically); a full disk or a read-only folder is logged, and
        the job goes on."""
        job.saved_at = time.monotonic()
        path = self._records / f"{job.id}.json"
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(job.record()))
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("could not record ingest job %s: %s", job.id, exc)

    def _forget(self, job: Job) -> None:
        (self._records / f"{job.id}.json").unlink(missing_ok=True)
        if job.cleanup is not None:
            shutil.rmtree(job.cleanup, ignore_errors=True)

    def get(self, job_id: str) -> Job | None:
        """A job by id (None if unknown or long finished)."""
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Cancel `job`: a queued one is marked cancelled now and skipped; a running one is
        `cancelling` until its stage threads stop (after the file being read), then
        `cancelled`. A finished job is left as it is."""
        with self._lock:
            if job.finished_at is not None:
                return
            job.cancel.set()
            if job.status == "queued":
                self._finish(job, "cancelled", "cancelled before it started; nothing was read")
            else:
                job.status = "cancelling"
                self._save(job)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking jobs; wait for the running one."""
        self._queue.put(None)
        self._worker.join(timeout_s)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                if job.cancel.is_set():
                    continue  # cancelled while it waited
                job.status = "running"
                self._save(job)
            self._run(job)

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        job.status, job.error = status, error
        job.finished_at = datetime.now(UTC).isoformat()
        if job.cleanup is not None:
            shutil.rmtree(job.cleanup, ignore_errors=True)
        self._save(job)
        logger.info("ingest job %s %s", job.id, job.status)

    def _run(self, job: Job) -> None:
        from adaptrag.ingest import ingest_paths, loader_options_for

        def on_progress(stage: str, done: int, total: int | None) -> None:
            job.progress[stage] = {"done": done, "total": total}
            if time.monotonic() - job.saved_at > PROGRESS_SAVE_S:
                with self._lock:
                    self._save(job)

        status, error = "failed", None
        try:
            report = ingest_paths(
                job.paths,
                job.domain,
                settings=self.settings,
                collection=self.collection,
                sync=job.sync,
                embedder=self.embedder,
                store=self.store,
                show_progress=False,
                on_progress=on_progress,
                cancel=job.cancel,
                loader_options=loader_options_for(self.settings, id_prefix=job.id_prefix),
            )
            job.report = _hide_roots(report.to_dict(), job)
            status = "done"
        except IngestCancelledError as cancelled:
            status, error = "cancelled", _hide_roots(str(cancelled), job)
        except AdaptragError as failure:
            error = _hide_roots(str(failure), job)
        except Exception:  # a job must never kill the worker thread
            logger.exception("ingest job %s failed", job.id)
            error = f"internal error in ingest job {job.id}; see the server log"
        finally:
            with self._lock:
                self._finish(job, status, error)


def _hide_roots(value: Any, job: Job) -> Any:
    """`value` (a report or message) with the server's absolute paths made relative."""
    if job.shown_root is None:
        return value
    prefix = json.dumps(str(job.shown_root.resolve()))[1:-1]  # as it appears inside JSON
    text = json.dumps(value).replace(prefix + "/", "").replace(prefix, ".")
    return json.loads(text)


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files wait for their job (created on demand)."""
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def job_records(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The job records in `folder`, oldest first; an unreadable one is logged and left out."""
    records = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            logger.warning("ingest job record %s is unreadable and ignored: %s", path, exc)
            continue
        records.append((path, record))
    return records


def jobs_dir(settings: Settings) -> Path:
    """Where ingest jobs are recorded (created on demand)."""
    folder = settings.data_dir / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_uploads(settings: Settings) -> None:
    """Delete what a killed server left in the uploads folder (at startup, before any job),
    but the files of jobs it left unfinished: they are kept for a resume."""
    folder = settings.data_dir / "uploads"
    if not folder.is_dir():
        return
    kept = {
        str(record.get("cleanup"))
        for _, record in job_records(settings.data_dir / "jobs")
        if record.get("status") in (*UNFINISHED, "interrupted")
    }
    for leftover in folder.iterdir():
        if str(leftover) not in kept:
            shutil.rmtree(leftover, ignore_errors=True)
