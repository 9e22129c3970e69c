"""Ingest jobs over HTTP: uploads or paths under the ingest root, bound to the key's rights.

Every path is resolved (links followed) and must land in a folder the key may ingest from;
upload names may keep their folders but never climb out; reports show relative paths.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from adaptrag.rag.types import is_domain_name, name_problem
from adaptrag.server.auth import Access, Forbidden
from adaptrag.server.dependencies import Caller, Server, ServerDep
from adaptrag.server.errors import ApiError
from adaptrag.server.jobs import Job, uploads_dir
from adaptrag.server.responses import IngestAccepted, JobOut
from adaptrag.server.schemas import IngestPathsRequest

router = APIRouter()
MAX_NAME_BYTES = 255  # a file name's limit on every common filesystem
MAX_PATH_BYTES = 1024  # a whole upload name, folders included (the uploads folder adds more)

_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["domain", "files"],
    "properties": {
        "domain": {"type": "string"},
        "id_prefix": {"type": "string"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/v1/ingest",
    status_code=202,
    summary="Start an ingest job: uploaded files (multipart) or paths under the root (JSON)",
    response_model=IngestAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": IngestPathsRequest.model_json_schema()},
                "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            },
        }
    },
)
async def ingest(request: Request, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """Start an ingest job from uploaded files or paths under the ingest root (202)."""
    caller.check_ingest_right()  # before the body is read: a read-only key uploads nothing
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        job = await _upload_job(request, caller, server)
    elif kind == "application/json":
        job = await _paths_job(request, caller, server)
    else:
        raise ApiError(
            415,
            "send files as multipart/form-data (fields: domain, files) or paths as "
            'application/json ({"paths": [...], "domain": ...})',
            "unsupported_media_type",
        )
    return {"job": job.id, "status_url": f"/v1/ingest/{job.id}"}


@router.get(
    "/v1/ingest/{job_id}",
    summary="An ingest job's status, progress and report",
    response_model=JobOut,
)
async def ingest_status(job_id: str, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """An ingest job's status, progress and report (only to the key that started it)."""
    return await job_out(server, _own_job(job_id, caller, server))


@router.delete(
    "/v1/ingest/{job_id}",
    status_code=202,
    summary="Cancel an ingest job (queued: never runs; running: stops after its current file)",
    response_model=JobOut,
)
async def cancel_ingest(job_id: str, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """Cancel an ingest job of this key: 202 with the job, `cancelled` or `cancelling`
    (poll it until `cancelled`); 409 when it has already ended."""
    job = _own_job(job_id, caller, server)
    if job.finished_at is not None:
        raise ApiError(409, f"ingest job {job_id!r} already ended ({job.status})", "conflict")
    server.jobs.cancel(job)
    return await job_out(server, job)


@router.post(
    "/v1/ingest/{job_id}/resume",
    status_code=202,
    summary="Run an interrupted ingest job again (the server stopped during it)",
    response_model=JobOut,
)
async def resume_ingest(job_id: str, caller: Caller, server: ServerDep) -> dict[str, Any]:
    """Queue an `interrupted` job of this key again: 202 with the job; what it stored is
    kept and only the rest is embedded. 409 when it is not interrupted."""
    job = _own_job(job_id, caller, server)
    if not server.jobs.resume(job):
        raise ApiError(409, f"ingest job {job_id!r} is {job.status}, not interrupted", "conflict")
    return await job_out(server, job)


async def job_out(server: Server, job: Job) -> dict[str, Any]:
    """A job as a caller sees it: its report's paths relative (`PublicPaths`), even those of
    documents of other roots it names (a clash with a stored document)."""
    shown: dict[str, Any] = await server.blocking(server.paths.value, job.to_dict())
    return shown


def _own_job(job_id: str, caller: Access, server: Server) -> Job:
    """The job `job_id` if the caller's key started it (else a 404, as for no job)."""
    job = server.jobs.get(job_id)
    if job is None or (server.keyring.enabled and job.owner != caller.name):
        raise ApiError(404, f"no ingest job {job_id!r}", "not_found")
    return job


async def _paths_job(request: Request, caller: Access, server: Server) -> Job:
    try:
        body = IngestPathsRequest.model_validate_json(await request.body())
    except ValidationError as error:
        problems = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        raise RequestValidationError(problems) from None
    check_ingest_domain(body.domain, caller)
    folders = caller.ingest_folders(body.domain)
    root = server.settings.server.ingest_root
    paths = [under_root(root, path, folders) for path in body.paths]
    return server.jobs.submit(
        paths,
        body.domain,
        sync=body.sync,
        owner=caller.name,
        shown_root=root,
        id_prefix=id_prefix(body.id_prefix),
    )


async def _upload_job(request: Request, caller: Access, server: Server) -> Job:
    settings = server.settings
    limit = int(settings.server.max_upload_mb * 1024 * 1024)
    too_large = ApiError(
        413,
        f"the upload is larger than {settings.server.max_upload_mb:g} MB (ADAPTRAG_MAX_UPLOAD_MB)",
        "too_large",
    )
    # A declared or streamed body past the limit (plus form overhead) was stopped by the
    # Guard; this counts the files themselves.
    form = await request.form()
    try:
        domain, prefix = form.get("domain"), form.get("id_prefix") or ""
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not isinstance(prefix, str):
            raise ApiError(422, "'id_prefix' is a text field, not a file")
        if not isinstance(domain, str) or not domain or not files:
            raise ApiError(422, "a multipart upload needs a 'domain' field and 'files' parts")
        check_ingest_domain(domain, caller)
        prefix = id_prefix(prefix)
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=uploads_dir(settings)))
        try:
            await _save_uploads(files, folder, limit, too_large)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    finally:
        await form.close()
    return server.jobs.submit(
        [folder],
        domain,
        sync=False,
        owner=caller.name,
        cleanup=folder,
        shown_root=folder,
        id_prefix=prefix,
    )


async def _save_uploads(
    files: list[UploadFile], folder: Path, limit: int, too_large: ApiError
) -> None:
    names = upload_names([upload.filename or "" for upload in files])
    total = 0
    for upload, name in zip(files, names, strict=True):
        # A file name may keep its folders (`dupA/lease.md`): they are part of its id.
        target = folder / name
        if not target.resolve().is_relative_to(folder.resolve()):  # upload_name's backstop
            raise ApiError(422, f"bad upload file name {name[:80]!r}: it leads out of the upload")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise too_large
                out.write(chunk)


def check_ingest_domain(domain: str, caller: Access) -> None:
    """Refuse an invalid domain name (422) or one the key may not ingest into (403)."""
    if not is_domain_name(domain):
        raise ApiError(
            422,
            f"invalid domain {domain[:80]!r}; use letters, digits, '_', '.' or '-' "
            "(e.g. legal), 64 characters at most",
        )
    caller.check_ingest(domain)


def upload_names(filenames: list[str]) -> list[str]:
    """The relative paths uploads are stored (and identified) under, in order; refused
    (422, naming the file) when one is hostile (`upload_name`), two are the same, or one is
    both a file and a folder of another (`x.md` and `x.md/y.md`)."""
    names = [upload_name(filename) for filename in filenames]
    files = set()
    for name in names:
        if name in files:
            raise ApiError(422, f"two uploaded files are both named {name!r}")
        files.add(name)
    folders = {str(parent) for name in names for parent in PurePosixPath(name).parents}
    if clash := sorted(files & folders):
        raise ApiError(
            422,
            f"the upload {clash[0]!r} is a file, and a folder of another uploaded file; "
            "rename one of them",
        )
    return names


def upload_name(filename: str) -> str:
    """The relative path an upload is stored (and identified) under; hostile names refused."""
    posix = filename.replace("\\", "/")  # a Windows client's folders
    if problem := _upload_problem(posix):
        raise ApiError(
            422,
            f"bad upload file name {filename[:80]!r}: it {problem}; give a relative name "
            f"of plain characters, each part {MAX_NAME_BYTES} bytes at most",
        )
    return "/".join(PurePosixPath(posix).parts)


def _upload_problem(posix: str) -> str | None:
    """Why an upload's name (with `/` between folders) may not be stored (None: it may)."""
    parts = PurePosixPath(posix).parts
    if not parts:
        return "is empty"
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix):
        return "is absolute"
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return "climbs out with '..' or holds a hidden ('.') part"
    if problem := name_problem(posix):
        return problem
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return f"has a part longer than {MAX_NAME_BYTES} bytes"
    if len(posix.encode()) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    return None


def id_prefix(prefix: str) -> str:
    """A caller's document id prefix, refused when it holds control characters or `..`."""
    cleaned = prefix.strip("/")
    if name_problem(cleaned) or ".." in PurePosixPath(cleaned).parts:
        raise ApiError(422, f"bad id_prefix {prefix[:80]!r}; use a plain name such as 'dupA'")
    return cleaned


def under_root(root: Path | None, path: str, folders: tuple[str, ...]) -> Path:
    """`path` resolved (links followed) inside the key's folders of the ingest root.

    Anything that resolves elsewhere (`..`, an absolute path, a link) is refused, and so is a
    folder of the root the key has no right to; messages name only what the caller sent.
    """
    if root is None:
        raise ApiError(
            400,
            "ingesting server paths needs ADAPTRAG_INGEST_ROOT on the server; upload the files "
            "as multipart/form-data instead",
        )
    if not path or name_problem(path):
        raise ApiError(
            422, f"path {path[:80]!r} is empty or holds a control or bidirectional character"
        )
    base = root.resolve()
    target = Path(os.path.realpath(base / path))
    if not target.is_relative_to(base):
        raise Forbidden(f"path {path!r} is outside the ingest root; give paths relative to it")
    allowed = [base / folder for folder in folders]  # not resolved: a link is no way out
    if not any(target.is_relative_to(folder) for folder in allowed):
        shown = ", ".join(f"{folder}/" if folder else "./" for folder in folders)
        raise Forbidden(f"this key may ingest only from {shown} under the ingest root")
    if not target.exists():
        raise ApiError(404, f"path {path!r} does not exist under the ingest root", "not_found")
    return target
