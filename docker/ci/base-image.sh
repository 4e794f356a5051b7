#!/usr/bin/env bash
# CI's stand-in for the official images (no registry reachable): a Debian bookworm root made by
# debootstrap from the apt mirror this machine already uses, imported as localhost/helpdesk-ci/debian:bookworm.
# The root tarball is cached in $HELPDESK_CI_CACHE (default /var/cache/helpdesk-ci) and made only when missing.
set -euo pipefail
IMAGE=${BASE_IMAGE:-localhost/helpdesk-ci/debian:bookworm}
CACHE=${HELPDESK_CI_CACHE:-/var/cache/helpdesk-ci}
TARBALL="$CACHE/debian-bookworm-minbase.tar"

if podman image exists "$IMAGE"; then exit 0; fi
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  # The mirror from /etc/apt/sources.list.d (deb822 or one-line format); deb.debian.org otherwise.
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list 2>/dev/null | grep -E '/debian/?( |$)' | grep -v security \
             | head -1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE/debootstrap.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi
podman import --quiet "$TARBALL" "$IMAGE" >/dev/null
echo "imported $IMAGE"
