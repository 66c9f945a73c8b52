"""The `soute ls`, `tags`, `inspect` and `rm` command lines. Only argparse at import time:
requests and rich load when a verb runs, so `soute serve` starts without them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..errors import EXIT_FAILED, EXIT_USAGE, PushError

EPILOG = """\
Any OCI registry: loopback hosts (127.0.0.0/8, localhost) are reached over plain HTTP, others
over HTTPS unless --insecure. Credentials are docker's (~/.docker/config.json or
$DOCKER_CONFIG: `docker login HOST` or `soute login HOST`).

exit status:
  0  done
  1  failed (the registry refused the operation, or answered something unexpected)
  2  bad usage (a malformed name or reference)
  3  authentication or authorisation refused
  4  the registry could not be reached
  5  not found (no such repository, tag or manifest)
"""

Run = Callable[[argparse.Namespace], Any]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    parser.add_argument("--insecure", action="store_true", help="plain HTTP to any host")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _page_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--page-size",
        type=int,
        metavar="N",
        help="ask the registry for N entries per request (default: the registry's choice)",
    )


def _verb(
    commands: argparse._SubParsersAction, name: str, help_text: str, run: Run
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=lambda args: _guarded(name, run, args))
    return parser


def add_image_parsers(commands: argparse._SubParsersAction) -> None:
    """Register `ls`, `tags`, `inspect` and `rm` as subcommands of `soute`."""
    ls = _verb(commands, "ls", "list the repositories of a registry (or of one namespace)", _ls)
    ls.add_argument("target", metavar="HOST[/NAMESPACE]")
    tags = _verb(commands, "tags", "list the tags of a repository", _tags)
    tags.add_argument("target", metavar="HOST/REPOSITORY")
    for parser in (ls, tags):
        _page_size(parser)
        _common(parser)
    inspect = _verb(
        commands,
        "inspect",
        "show a manifest: platforms, layers and sizes, config, annotations, referrers",
        _inspect,
    )
    inspect.add_argument("target", metavar="HOST/REPOSITORY[:TAG|@DIGEST]")
    _common(inspect)
    rm = _verb(commands, "rm", "delete a tag, or a manifest by digest (with --referrers)", _rm)
    rm.add_argument("target", metavar="HOST/REPOSITORY:TAG|HOST/REPOSITORY@DIGEST")
    rm.add_argument(
        "--referrers",
        action="store_true",
        help="with a digest: first delete the manifests that refer to it (signatures, SBOMs)",
    )
    _common(rm)


def _guarded(name: str, run: Run, args: argparse.Namespace) -> int:
    try:
        run(args)
        return 0
    except PushError as error:
        print(f"soute {name}: {error}", file=sys.stderr)
        return error.exit_code
    except ValueError as error:  # requests' InvalidURL and urllib3's LocationParseError
        if type(error).__module__.split(".")[0] not in ("requests", "urllib3"):
            raise
        print(f"soute {name}: {error}; check the host name", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"soute {name}: interrupted", file=sys.stderr)
        return EXIT_FAILED


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _list_options(args: argparse.Namespace) -> Any:
    from ..errors import UsageError
    from .listing import ListOptions
    from .progress import shows_progress

    if args.page_size is not None and args.page_size < 1:
        raise UsageError("--page-size must be at least 1")
    return ListOptions(args.page_size, shows_progress(args.quiet or args.json))


def _ls(args: argparse.Namespace) -> None:
    from .api import open_session
    from .listing import repositories
    from .targets import parse_registry

    host, namespace = parse_registry(args.target)
    options = _list_options(args)
    session = open_session(host, args.insecure, ["registry:catalog:*"])
    found = repositories(session, namespace, options)
    if args.json:
        _print_json({"registry": host, "namespace": namespace, "repositories": found})
    else:
        for name in found:
            print(name)


def _tags(args: argparse.Namespace) -> None:
    from .api import open_session
    from .listing import tags
    from .targets import parse_repository

    repository = parse_repository(args.target)
    options = _list_options(args)
    session = open_session(repository.host, args.insecure, [f"repository:{repository.name}:pull"])
    found = tags(session, repository.name, options)
    if args.json:
        _print_json({"repository": str(repository), "tags": found})
    else:
        for tag in found:
            print(tag)


def _inspect(args: argparse.Namespace) -> None:
    from .api import open_session
    from .inspect import inspect
    from .progress import shows_progress
    from .render import Output
    from .show import show_inspection
    from .targets import parse_reference

    ref = parse_reference(args.target)
    scopes = [f"repository:{ref.repository.name}:pull"]
    session = open_session(ref.repository.host, args.insecure, scopes)
    result = inspect(session, ref, shows_progress(args.quiet or args.json))
    if args.json:
        _print_json(result)
    else:
        show_inspection(Output(), result)


def _rm(args: argparse.Namespace) -> None:
    from .api import open_session
    from .remove import Deletion, remove
    from .targets import parse_reference

    ref = parse_reference(args.target, default_tag=None)
    scopes = [f"repository:{ref.repository.name}:pull,delete"]
    session = open_session(ref.repository.host, args.insecure, scopes)
    deleted: list[Deletion] = []

    def report(deletion: Deletion) -> None:
        deleted.append(deletion)
        if not args.json:
            print(_said(deletion))

    try:
        left = remove(session, ref, args.referrers, report)
    finally:
        if args.json:
            _print_json({"deleted": [d.to_json() for d in deleted]})
    for referrer in left:
        print(
            f"soute rm: its referrer {referrer} remains (`soute rm {referrer}` deletes it;"
            " next time `--referrers` deletes referrers with their subject)",
            file=sys.stderr,
        )


def _said(deletion: Any) -> str:
    if deletion.kind == "tag":
        repo = deletion.reference.rsplit(":", 1)[0]
        return (
            f"deleted tag {deletion.reference} (it pointed at {deletion.digest}, which stays:"
            f" `soute rm {repo}@{deletion.digest}` deletes it)"
        )
    if deletion.kind == "manifest":
        return f"deleted manifest {deletion.reference} and every tag that pointed at it"
    kind = f" ({deletion.artifact_type})" if deletion.artifact_type else ""
    return f"deleted {deletion.kind} {deletion.reference}{kind}"
