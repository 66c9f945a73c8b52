#!/usr/bin/env bash
# Run the OCI distribution-spec conformance suite against a registry over plain HTTP.
#
# Usage:
#   scripts/conformance.sh REGISTRY_ADDR [RESULTS_DIR]
#     REGISTRY_ADDR  host:port of the registry under test, e.g. 127.0.0.1:5000
#     RESULTS_DIR    where results go (default /tmp/conformance-results); it receives
#                    junit.xml, results.yaml, report.html (written by the suite) plus
#                    stdout.log / stderr.log (the suite's console output) and failures.txt.
#   Any OCI_* variable set in the environment overrides the defaults set below
#   (e.g. OCI_FILTER_TEST="OCI Conformance Test/sha256 blobs" OCI_LOG=info).
#
# Exit status: 0 = no failed tests, 1 = at least one failed test, 2 = could not run.
# The last line printed is "conformance: N passed, N failed, N skipped".
#
# The suite itself (opencontainers/distribution-spec, folder conformance/, a Go program) is
# not part of this repository: build it from its public source with a Go toolchain, and point
# CONFORMANCE_BIN at the binary.
#
# Sparse content (OCI_DATA_SPARSE: manifests whose blobs or child manifests were never pushed)
# is off: Soute refuses such manifests on purpose (DESIGN.md: a manifest is accepted only if
# everything it references is in the repository). Every other switch is on.
set -euo pipefail

REGISTRY="${1:-}"
RESULTS_DIR="${2:-/tmp/conformance-results}"
if [[ -z "$REGISTRY" || "$REGISTRY" == "-h" || "$REGISTRY" == "--help" ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

CONFORMANCE_BIN="${CONFORMANCE_BIN:-/work/conformance/conformance.bin}"
MSG_MAX="${CONFORMANCE_MSG_MAX:-600}"   # truncate each printed failure message to this many chars

die() { echo "conformance.sh: error: $*" >&2; exit 2; }

[[ -x "$CONFORMANCE_BIN" ]] || die "no conformance binary at $CONFORMANCE_BIN (set CONFORMANCE_BIN)"

# --- configuration: every test category on, plain HTTP ------------------------------------
# Every OCI_API_* / OCI_DATA_* switch defaults to true here, including the ones the suite
# itself leaves off for OCI_VERSION=1.1 (OCI_API_BLOBS_UPLOAD_CANCEL, OCI_API_BLOBS_DIGEST_HEADER,
# OCI_API_MANIFESTS_DIGEST_HEADER, OCI_API_MANIFESTS_TAG_PARAM), but not OCI_DATA_SPARSE.
export OCI_DATA_SPARSE="${OCI_DATA_SPARSE:-false}"
# CONFORMANCE_DEFAULTS=1 skips forcing them, i.e. uses the suite's own 1.1 defaults
# (that is the configuration behind the "2.8.2 scores 703 passed / 99 failed of 848" figure).
export OCI_REGISTRY="$REGISTRY"
export OCI_TLS="${OCI_TLS:-disabled}"
export OCI_RESULTS_DIR="$RESULTS_DIR"
export OCI_VERSION="${OCI_VERSION:-1.1}"
export OCI_LOG="${OCI_LOG:-error}"
export OCI_REPO1="${OCI_REPO1:-conformance/repo1}"
export OCI_REPO2="${OCI_REPO2:-conformance/repo2}"
for v in \
  API_PING API_PULL API_PUSH \
  API_BLOBS_ATOMIC API_BLOBS_DELETE API_BLOBS_DIGEST_HEADER API_BLOBS_MOUNT_ANONYMOUS API_BLOBS_UPLOAD_CANCEL \
  API_MANIFESTS_ATOMIC API_MANIFESTS_DELETE API_MANIFESTS_DIGEST_HEADER API_MANIFESTS_TAG_PARAM \
  API_TAGS_ATOMIC API_TAGS_DELETE API_TAGS_LIST API_REFERRER \
  DATA_IMAGE DATA_INDEX DATA_INDEX_LIST DATA_ARTIFACT DATA_SUBJECT DATA_SUBJECT_MISSING \
  DATA_ARTIFACT_LIST DATA_SUBJECT_LIST DATA_DATA_FIELD DATA_NONDISTRIBUTABLE DATA_CUSTOM_FIELDS \
  DATA_NO_LAYERS DATA_EMPTY_BLOB DATA_SHA512; do
  [[ "${CONFORMANCE_DEFAULTS:-0}" == 1 ]] && break
  name="OCI_$v"
  export "$name=${!name:-true}"
done
# never pick up a stray ./oci-conformance.yaml from the caller's cwd
export OCI_CONFIGURATION="${OCI_CONFIGURATION:-/dev/null}"

# preflight: fail clearly (exit 2) when nothing answers at the address
python3 - "$REGISTRY" "$OCI_TLS" <<'PY' || die "registry at $REGISTRY is not reachable (GET /v2/ failed)"
import sys, urllib.request, urllib.error
scheme = "http" if sys.argv[2] == "disabled" else "https"
try:
    urllib.request.urlopen(f"{scheme}://{sys.argv[1]}/v2/", timeout=10)
except urllib.error.HTTPError:
    pass  # any HTTP answer (401, 404, ...) means something is listening
except Exception as e:
    print(f"conformance.sh: {e}", file=sys.stderr); sys.exit(1)
PY

mkdir -p "$RESULTS_DIR"
RESULTS_DIR="$(cd "$RESULTS_DIR" && pwd)"
export OCI_RESULTS_DIR="$RESULTS_DIR"
rm -f "$RESULTS_DIR/junit.xml" "$RESULTS_DIR/results.yaml" "$RESULTS_DIR/report.html"
echo "conformance.sh: running $CONFORMANCE_BIN against http://$REGISTRY (results in $RESULTS_DIR)" >&2
set +e
(cd "$RESULTS_DIR" && "$CONFORMANCE_BIN" >"$RESULTS_DIR/stdout.log" 2>"$RESULTS_DIR/stderr.log")
rc=$?
set -e
[[ -s "$RESULTS_DIR/junit.xml" ]] || { cat "$RESULTS_DIR/stderr.log" >&2; die "suite exited $rc without writing junit.xml"; }

python3 - "$RESULTS_DIR" "$MSG_MAX" <<'PY'
import sys, os, collections
import xml.etree.ElementTree as ET
resdir, msgmax = sys.argv[1], int(sys.argv[2])
root = ET.parse(os.path.join(resdir, "junit.xml")).getroot()
# The suite's own totals (same numbers as its "OCI Conformance Result" block in stdout.log):
# one count per check, a leaf test can hold several checks (e.g. delete + atomic re-check).
a = lambda k: int(root.get(k, "0") or 0)
s_fail = a("failures") + a("errors")
s_skip = a("skipped") + a("disabled")
s_pass = a("tests") - s_fail - s_skip
# Leaf test cases in junit.xml, by status.
leaf = collections.Counter()
failed = []
for tc in root.iter("testcase"):
    st = tc.get("status", "")
    if st in ("passed", "skipped"):
        leaf[st] += 1
    else:  # failure, or error (= the suite itself broke); both count as failed
        leaf["failed"] += 1
        failed.append((tc.get("name", "?").removeprefix("OCI Conformance Test/"), st,
                       (tc.findtext("system-out") or "").strip()))
with open(os.path.join(resdir, "failures.txt"), "w") as fh:
    for name, st, msg in failed:
        fh.write(f"FAIL [{st}] {name}\n{msg}\n\n")
if failed:
    print(f"Failed tests ({len(failed)} leaf tests):")
    for name, st, msg in failed:
        one = " | ".join(l.strip() for l in msg.splitlines() if l.strip())
        if len(one) > msgmax:
            one = one[:msgmax] + "..."
        print(f"FAIL {name}\n    {one}")
print(f"leaf tests in junit.xml: {leaf['passed']} passed, {leaf['failed']} failed, "
      f"{leaf['skipped']} skipped (of {sum(leaf.values())})")
print(f"details: {resdir}/failures.txt (full messages), {resdir}/report.html (requests/responses)")
# last line: the suite's own counts, in the "N passed, N failed, N skipped" form
print(f"conformance: {s_pass} passed, {s_fail} failed, {s_skip} skipped")
sys.exit(1 if s_fail or failed else 0)
PY
