"""What the packaging tests share: the distributions built from this checkout, the wheels
they install from, and commands run the way a user runs them (from outside the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # the CPU wheel, as `make install` takes it
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, the assertion shows its output."""
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited {done.returncode}\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def build_distributions(out: Path) -> tuple[Path, Path]:
    """`python -m build` of the checkout: (wheel, sdist); the wheel is built from the sdist."""
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out.parent)
    (wheel,) = out.glob("adaptrag-*.whl")
    (sdist,) = out.glob("adaptrag-*.tar.gz")
    return wheel, sdist


def download_wheels(
    into: Path, *requirements: str | Path, python_version: str, no_deps: bool = False
) -> None:
    """The wheels for `requirements` on that Python, from wherever this machine's pip takes
    them (a release may need a newer patch level than another machine's Python has)."""
    pip: list[str | Path] = [sys.executable, "-m", "pip", "download", "-q", "--dest", into]
    pip += ["--python-version", python_version, "--only-binary=:all:"]
    run([*pip, *(["--no-deps"] if no_deps else []), *requirements], cwd=into)


@contextmanager
def served_folder(folder: Path, port: int = 0) -> Iterator[str]:
    """`folder` over HTTP on 127.0.0.1 (a pip find-links page); its URL. `port` (when free)
    keeps the URL the same from run to run."""
    handler = partial(_QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:  # taken: any port will do
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
