"""The Dockerfile and docker-compose.yml, checked without a Docker engine: the compose file
against the Compose specification's JSON schema, then the wiring (pinned images,
healthchecks, env, volumes, profiles), and every ADAPTRAG_* variable against Settings."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adaptrag.adapters.options import TrainOptions
from adaptrag.rag.settings import SECTION_OF, Settings

ROOT = Path(__file__).resolve().parents[1]
# The Compose specification's JSON schema, as shipped in the docker-compose 1.29.2 wheel on
# PyPI (compose/config/compose_spec.json, Apache-2.0), kept in the repo so the test runs
# offline and writes nothing outside its tmp dirs.
SCHEMA = ROOT / "tests" / "helpers" / "compose_spec.json"


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_env_names() -> set[str]:
    return {f"ADAPTRAG_{name.upper()}" for name in SECTION_OF}


def test_the_compose_file_follows_the_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    validator = jsonschema.Draft201909Validator(compose_schema)
    assert [e.message for e in validator.iter_errors(compose)] == []
    broken = dict(compose, services={"api": {"image": "x", "ports": {"bad": 1}}})
    assert list(validator.iter_errors(broken))  # the schema does reject mistakes


def test_images_are_pinned_and_services_are_healthchecked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), name
        if service.get("restart") != "no":  # long-running services report their health
            assert service["healthcheck"]["test"], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in compose["volumes"], (name, volume)
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:v")


def test_the_api_waits_for_a_healthy_qdrant_and_points_at_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for api, qdrant in (("api", "qdrant"), ("api-cluster", "qdrant-node1")):
        service = services[api]
        assert service["depends_on"][qdrant]["condition"] == "service_healthy"
        assert service["environment"]["ADAPTRAG_QDRANT_URL"] == f"http://{qdrant}:6333"
        assert service["command"][:3] == ["serve", "--host", "0.0.0.0"]
        assert service["environment"]["ADAPTRAG_API_KEYS"] == "${ADAPTRAG_API_KEYS:-}"
        assert service["environment"]["ADAPTRAG_TRUSTED_PROXIES"] == "${ADAPTRAG_TRUSTED_PROXIES:-}"
        assert "adaptrag_data:/var/lib/adaptrag" in service["volumes"]
    assert services["api"]["environment"]["ADAPTRAG_INGEST_ROOT"] == "/data"
    assert "./data:/data:ro" in services["api"]["volumes"]


def test_the_ingest_job_and_the_cluster_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ingest = services["ingest"]
    assert ingest["profiles"] == ["ingest"] and ingest["restart"] == "no"
    assert "./data:/data:ro" in ingest["volumes"]
    assert 'adaptrag ingest "$$dir" --domain "$$(basename "$$dir")"' in ingest["command"][0]
    nodes = [
        n
        for n, s in services.items()
        if s["image"].startswith("qdrant/") and "cluster" in s.get("profiles", [])
    ]
    assert nodes == ["qdrant-node1", "qdrant-node2", "qdrant-node3"]
    for name in nodes:
        node = services[name]
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert f"http://{name}:6335" in node["command"]
    for name in nodes[1:]:
        assert services[name]["command"][1:3] == ["--bootstrap", "http://qdrant-node1:6335"]
    env = services["api-cluster"]["environment"]
    assert int(env["ADAPTRAG_QDRANT_SHARDS"]) >= 3 and int(env["ADAPTRAG_QDRANT_REPLICAS"]) >= 2
    assert services["api-cluster"]["profiles"] == ["cluster"]


def test_the_gpu_profile_serves_the_adapters_on_vllm_and_the_api_answers_through_it(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    vllm, api = services["vllm"], services["api-gpu"]
    assert vllm["profiles"] == ["gpu"] and api["profiles"] == ["gpu"]
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", vllm["image"])
    args = vllm["command"]
    base = Settings().local_model.generator_model  # the base the adapters are trained on by default
    assert args[0] == base and api["environment"]["ADAPTRAG_OPENAI_MODEL"] == base
    assert "--enable-lora" in args and int(args[args.index("--max-loras") + 1]) >= 1
    assert int(args[args.index("--max-lora-rank") + 1]) >= TrainOptions("d", Path()).r
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    port = args[args.index("--port") + 1]
    assert "/health" in " ".join(vllm["healthcheck"]["test"])
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    # The API loads adapters by their registry path: vLLM must read that path, read-only.
    env = api["environment"]
    assert "adaptrag_data:/var/lib/adaptrag:ro" in vllm["volumes"]
    assert "adaptrag_data:/var/lib/adaptrag" in api["volumes"]
    data_dir = re.search(r"ADAPTRAG_DATA_DIR=(\S+)", (ROOT / "Dockerfile").read_text())
    assert data_dir and env["ADAPTRAG_OPENAI_ADAPTERS_DIR"] == f"{data_dir[1]}/adapters"
    assert env["ADAPTRAG_OPENAI_BASE_URL"] == f"http://vllm:{port}/v1"
    assert api["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert api["depends_on"]["qdrant"]["condition"] == "service_healthy"
    published = {p.split(":")[1] for s in services.values() for p in s.get("ports", [])}
    assert len(published) == sum(len(s.get("ports", [])) for s in services.values())


def test_every_adaptrag_variable_is_a_setting(compose: dict[str, Any]) -> None:
    known = settings_env_names()
    used = set(re.findall(r"ADAPTRAG_[A-Z_]+", (ROOT / "docker-compose.yml").read_text()))
    used |= set(re.findall(r"ADAPTRAG_[A-Z_]+", (ROOT / "Dockerfile").read_text()))
    assert used and used <= known, used - known


def test_the_dockerfile_builds_a_cpu_non_root_image_with_a_healthcheck() -> None:
    # tests/test_image.py builds and runs it with a real engine; this reads its shape.
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split()[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert instructions.count("FROM") == 1 and "HEALTHCHECK" in instructions
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "EXPOSE 8000" in text and "/healthz" in text
    assert "adaptrag models install" in text and "cached_default_model" in text
    # The whole project is copied (no folder can be left out again); .dockerignore trims it.
    assert re.findall(r"^COPY (\S+) ", text, re.M) == ["."]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", ".git", ".venv"} <= set(ignored)
    assert not {"adaptrag", "rag", "ingest", "adapters", "eval"} & set(ignored)


def run_ingest_script(compose: dict[str, Any], data: Path, tmp_path: Path) -> tuple[int, str, str]:
    """The ingest service's shell script, run with `sh` over `data` and a recording stub
    `adaptrag` on PATH (the loop and its messages are what is tested, not ingestion)."""
    script = compose["services"]["ingest"]["command"][0]
    script = script.replace("$$", "$").replace("in /data/*/", f"in {data}/*/")
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    stub = stub_dir / "adaptrag"
    stub.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    stub.chmod(0o755)
    env = {"PATH": f"{stub_dir}:/usr/bin:/bin"}
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
    return result.returncode, result.stderr, calls.read_text() if calls.exists() else ""


def test_the_ingest_job_ingests_each_domain_folder_and_explains_an_empty_data_folder(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, stderr, calls = run_ingest_script(compose, empty, tmp_path / "one")
    assert code == 2 and calls == ""
    assert stderr.startswith("error: ./data holds no domain folders") and "./data/legal/" in stderr
    data = tmp_path / "data"
    for domain in ("finance", "legal"):
        (data / domain).mkdir(parents=True)
    (data / "README.txt").write_text("not a domain")
    code, stderr, calls = run_ingest_script(compose, data, tmp_path / "two")
    assert code == 0, stderr
    assert calls.splitlines() == [
        f"ingest {data}/finance/ --domain finance --sync",
        f"ingest {data}/legal/ --domain legal --sync",
    ]
