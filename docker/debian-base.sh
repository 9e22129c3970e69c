#!/usr/bin/env bash
# Builds a Python base image from Debian's packages alone (debootstrap of bookworm, imported
# with `docker import`), for machines that can reach Debian's mirror but no image registry.
# The Dockerfile takes it through BASE_IMAGE; users keep the official Python image.
#
#   docker/debian-base.sh [TAG]          # default tag: adaptrag-base:bookworm
#   docker build --build-arg BASE_IMAGE=adaptrag-base:bookworm -t adaptrag:local .
set -euo pipefail
tag="${1:-adaptrag-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag exists"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "needs debootstrap: apt-get install debootstrap" >&2; exit 2; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
# python3-venv: the Dockerfile installs into a venv (Debian's own Python refuses system pip
# installs, PEP 668); python-is-python3 for `python`; ca-certificates for HTTPS indexes.
debootstrap --variant=minbase \
    --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
chmod 755 "$root"  # mktemp made it 0700: it becomes the image's /, which every user walks
tar -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$tag" >/dev/null
echo "$tag built"
