#!/usr/bin/env bash
# Install the real clients that tests/realclients drives, from Debian 12's own packages:
#   skopeo      push/pull between OCI layouts, docker-archive tars and a registry
#   docker.io   the Docker engine (dockerd) and CLI; pulls in containerd, runc, tini, iptables
#   containerd  containerd and its `ctr` client
#   podman      podman; pulls in conmon, crun, golang-github-containers-common (policy.json...)
#   docker-registry  the reference registry (distribution 2.8): `soute push` to a registry
#               without Soute's upload extension (tests/push)
#   pass        the password store (gpg) behind docker-credential-pass
# and docker-credential-pass, a real docker credential helper, from Debian's
# golang-docker-credential-helpers, unpacked into $HELPERS_DIR (see below) rather than
# installed: with a docker-credential-pass on PATH, every `docker login` whose config names no
# credsStore would store through pass, and fail until someone runs `pass init`. The tests put
# $HELPERS_DIR on PATH only for the docker and soute processes that use a credential store.
# The tests run all of them as root with private state directories, the vfs storage driver and
# the native snapshotter, so nothing else (uidmap, fuse-overlayfs, slirp4netns...) is needed.
#
# Idempotent: when every package is already installed it only checks and exits (well under a
# second). Otherwise it needs root and the Debian archive: `apt-get update` once, then
# `apt-get install -y --no-install-recommends`. Exits non-zero, saying why, when it cannot.
set -euo pipefail

PACKAGES=(skopeo docker.io containerd podman docker-registry pass)
# One program of each package that the tests run: an installed package must really provide it.
PROGRAMS=(skopeo dockerd docker containerd ctr podman runc docker-registry pass gpg)
HELPERS_DIR=/usr/local/lib/soute-test-tools/bin  # tests/support/credential_store.py reads it
HELPERS_PACKAGE=golang-docker-credential-helpers

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

if [ ! -x "$HELPERS_DIR/docker-credential-pass" ]; then
    [ "$(id -u)" -eq 0 ] || die "$HELPERS_DIR/docker-credential-pass missing; run as root"
    say "unpacking docker-credential-pass from $HELPERS_PACKAGE into $HELPERS_DIR"
    work=$(mktemp -d) && chmod 755 "$work"  # apt-get download runs as _apt
    (cd "$work" && apt-get download -q "$HELPERS_PACKAGE") ||
        die "apt-get download $HELPERS_PACKAGE failed (is the Debian archive reachable?)"
    dpkg-deb -x "$work"/"$HELPERS_PACKAGE"_*.deb "$work/root"
    mkdir -p "$HELPERS_DIR"
    install -m 755 "$work/root/usr/bin/docker-credential-pass" "$HELPERS_DIR/"
    rm -rf "$work"
fi
say "ok: ${PACKAGES[*]} installed, docker-credential-pass in $HELPERS_DIR"
