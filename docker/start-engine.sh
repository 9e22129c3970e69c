#!/usr/bin/env bash
# Starts Debian's Docker engine where none runs (CI machines, as root): storage on vfs, no
# iptables and no bridge, so containers run with --network host or none. Installs
# docker.io, docker-compose (its `config` check) and debootstrap when they are missing.
set -euo pipefail
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null \
    || ! command -v docker-compose >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose debootstrap >/dev/null
fi
if docker info >/dev/null 2>&1; then
    exit 0
fi
log="${TMPDIR:-/tmp}/adaptrag-dockerd.log"
nohup dockerd --storage-driver vfs --iptables=false --bridge=none >"$log" 2>&1 &
for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
done
echo "dockerd did not start; see $log" >&2
exit 1
