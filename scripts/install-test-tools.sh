#!/usr/bin/env bash
# Install the real clients that tests/realclients drives, from Debian 12's own packages:
#   skopeo      push/pull between OCI layouts, docker-archive tars and a registry
#   docker.io   the Docker engine (dockerd) and CLI; pulls in containerd, runc, tini, iptables
#   containerd  containerd and its `ctr` client
#   podman      podman; pulls in conmon, crun, golang-github-containers-common (policy.json...)
#   docker-registry  the reference registry (distribution 2.8): `soute push` to a registry
#               without Soute's upload extension (tests/push)
# The tests run all of them as root with private state directories, the vfs storage driver and
# the native snapshotter, so nothing else (uidmap, fuse-overlayfs, slirp4netns...) is needed.
#
# Idempotent: when every package is already installed it only checks and exits (well under a
# second). Otherwise it needs root and the Debian archive: `apt-get update` once, then
# `apt-get install -y --no-install-recommends`. Exits non-zero, saying why, when it cannot.
set -euo pipefail

PACKAGES=(skopeo docker.io containerd podman docker-registry)
# One program of each package that the tests run: an installed package must really provide it.
PROGRAMS=(skopeo dockerd docker containerd ctr podman runc docker-registry)

say() { printf 'install-test-tools: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

installed() {
    # dpkg's view: "install ok installed" (not merely known, half-configured or removed).
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

have_program() {
    PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        command -v "$1" >/dev/null 2>&1
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script needs Debian 12 (bookworm)"

missing=()
for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing package(s) ${missing[*]}; run as root (e.g. sudo $0)"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot install ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Don't let package scripts start system-wide daemons where no init system runs them
    # (containers, chroots): policy-rc.d exit 101 means "action forbidden". Removed afterwards
    # unless one was already there.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ] && [ ! -d /run/systemd/system ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
    fi
    cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
    trap cleanup EXIT
    apt-get update -q || die "apt-get update failed (is the Debian archive reachable?)"
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install ${missing[*]} failed"
    for package in "${missing[@]}"; do
        installed "$package" || die "$package is still not installed after apt-get install"
    done
fi

for program in "${PROGRAMS[@]}"; do
    have_program "$program" || die "$program not found although its package is installed"
done
say "ok: ${PACKAGES[*]} installed"
