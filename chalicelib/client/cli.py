"""The `soute push` command line (its parser and its run), which `soute` and the `docker-soute`
Docker CLI plugin (cli/docker_plugin.py) both offer."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from contextlib import nullcontext
from pathlib import Path

from .errors import EXIT_FAILED, PushError, UsageError
from .references import Destination, base_url, parse_destination
from .sources.compress import COMPRESSIONS, GZIP  # no compression library loaded until used

DESCRIPTION = """\
Push an image to a registry. Blobs the destination has are skipped, blobs another repository
has are mounted, the others are uploaded: through Soute's direct upload extension (parts sent
in parallel straight to storage, resumable) when the registry has it, else the v2 API.

SOURCE is one of:
  IMAGE or docker-daemon:IMAGE   an image in the Docker engine (DOCKER_HOST or
                                 /var/run/docker.sock), as `docker save` exports it
  docker-archive:PATH[:NAME]     a `docker save` tar
  oci:DIR[:TAG]                  an OCI image layout; an index is pushed whole
  docker://HOST/REPO[:TAG|@DIGEST]  an image in another registry
DEST is HOST[:PORT]/REPOSITORY[:TAG] (tag `latest` by default); loopback hosts (localhost,
127.0.0.0/8, ::1) are reached over plain HTTP, others over HTTPS; --tls and --insecure force one.
"""

EPILOG = """\
Docker's layers (docker-daemon:, docker-archive:) are uncompressed tars: they are compressed
before the push, on every core: --compression gzip (the default: every client reads it), zstd
(smaller, in an OCI manifest; podman, containerd and newer docker engines read it, docker 20.10
does not) or none (as they are: the digest is the diff_id). The output depends only on the
layer, so the same layer pushed from two machines is the same blob (mounts and dedup work) and
an interrupted push resumes. oci: and docker:// images are pushed as they are.

Credentials are docker's, from `docker login` or `soute login`: ~/.docker/config.json (or
$DOCKER_CONFIG) `auths` (a password or an identity token), `credsStore` and `credHelpers`.
An interrupted push resumes when the same command runs again; upload ids are
kept in $XDG_CACHE_HOME/soute/uploads.json (default ~/.cache/soute/).

On success the digest of the pushed manifest is printed on standard output.

exit status:
  0  pushed
  1  the push failed (or was interrupted: run it again to resume)
  2  bad usage, or a source that cannot be read
  3  authentication or authorisation refused
  4  the registry (or the source registry) could not be reached
"""


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `soute push` (and of `docker soute push`)."""
    parser.add_argument("source", metavar="SOURCE", help="the image to push (see above)")
    parser.add_argument("dest", metavar="DEST", help="HOST[:PORT]/REPOSITORY[:TAG]")
    parser.add_argument("--parallel", type=int, default=4, help="parts sent at once (default 4)")
    parser.add_argument(
        "--mount-from",
        action="append",
        default=[],
        metavar="REPO",
        help="a repository of the destination registry to mount blobs from (repeatable)",
    )
    parser.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        help="how Docker's layers are compressed (default gzip; see below)",
    )
    parser.add_argument("--compress", action="store_true", help=argparse.SUPPRESS)  # deprecated
    parser.add_argument("--insecure", action="store_true", help="plain HTTP to any host")
    parser.add_argument("--tls", action="store_true", help="HTTPS even to a loopback DEST")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument(
        "--no-direct", action="store_true", help="use the v2 API even if the extension exists"
    )


def add_push_parser(commands: argparse._SubParsersAction) -> None:
    """Register `push` as a subcommand of `soute`."""
    push = commands.add_parser(
        "push",
        help="push an image from Docker, a tar, an OCI layout or a registry",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_push_arguments(push)
    push.set_defaults(run=run_push)


def _push(args: argparse.Namespace, dest: Destination, spool: Path) -> str:
    # Imported here: `soute serve` should not load requests and rich.
    from .progress import Bars, Silent, wants_bars
    from .push import Pusher, PushOptions, mount_sources
    from .resume_state import ResumeState
    from .session import RegistrySession
    from .sources.select import open_source

    if args.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    base_url(dest.host, args.insecure, args.tls)  # --insecure with --tls: refused before reading
    image = open_source(
        args.source,
        compression=_compression(args),
        insecure=args.insecure,
        spool=spool,
        dest_host=dest.host,
    )
    try:
        options = PushOptions(args.parallel, tuple(args.mount_from), direct=not args.no_direct)
        scopes = [f"repository:{dest.repository}:pull,push"]
        scopes += [f"repository:{s}:pull" for s in mount_sources(options, image)]
        pool = args.parallel * 2 + 2
        session = RegistrySession(dest.host, args.insecure, scopes, pool, tls=args.tls)
        session.ping()
        bars = wants_bars(args.quiet)
        with Bars() if bars else nullcontext(Silent()) as tracker:
            return Pusher(session, dest, options, ResumeState(), tracker).push(image)
    finally:
        image.close()


def _compression(args: argparse.Namespace) -> str | None:
    """--compression, or gzip for the deprecated --compress (gzip is the default now)."""
    if not args.compress:
        return str(args.compression) if args.compression else None
    if args.compression not in (None, GZIP):
        raise UsageError("--compress means --compression gzip: drop it, keep --compression")
    print("soute push: --compress is deprecated: gzip is the default", file=sys.stderr)
    return GZIP


def run_push(args: argparse.Namespace) -> int:
    """Run `soute push`; returns the exit status."""
    spool = Path(tempfile.mkdtemp(prefix="soute-push-"))
    try:
        dest = parse_destination(args.dest)
        print(_push(args, dest, spool))
        return 0
    except PushError as exc:
        return _stop(f"soute push: {exc}", exc.exit_code, spool)
    except KeyboardInterrupt:
        return _stop(
            "soute push: interrupted; run the same command again to resume", EXIT_FAILED, spool
        )
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _stop(message: str, code: int, spool: Path) -> int:
    """Say why; exit at once if uploads of other blobs are still running (they would hold the
    interpreter until they end); what they finished is resumable."""
    print(message, file=sys.stderr)
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        shutil.rmtree(spool, ignore_errors=True)
        os._exit(code)
    return code
