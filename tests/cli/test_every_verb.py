"""Every verb of `soute` (and of `docker-soute` and `docker-credential-soute`), run as a user
runs it, with wrong input: it must exit non-zero with one line that says what to do, never a
traceback.

The verbs are found by walking the argument parsers, so a new verb is tried without anyone
listing it here. Each gets the wrong inputs its options allow: missing arguments, bad names,
a --data-dir that is missing or under a regular file, a table that does not exist (on moto),
no AWS region, an unreachable endpoint or host, a port in use, a missing certificate file.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.cli.docker_plugin import plugin_parser
from chalicelib.cli.main import build_parser
from tests.support.images import build_image

BIN = Path(sys.executable).parent
BAD = "127.0.0.1:1/Bad Name!"  # no valid name, reference or pattern, and an unreachable host
GOOD = "acme"
UNREACHABLE = "http://127.0.0.1:1"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # `soute serve`'s log lines
# Verbs for which a data directory or AWS resources that do not exist yet are right, not wrong.
CREATES_DATA_DIR = {("serve",)}
CREATES_AWS = {("aws", "init")}


@dataclass(frozen=True)
class Case:
    program: str
    argv: tuple[str, ...]
    why: str
    stdin: str = "password1\n"  # piped, as a script would, without --password-stdin
    env_drop: tuple[str, ...] = ()


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every verb of `parser`: (its words, its parser)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
        return
    for name, child in groups[0].choices.items():
        yield from leaves(child, (*path, name))


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _filled(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """The verb's positionals and required options, each given `value` (or its first choice)."""
    argv: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not (
            action.required or not action.option_strings
        ):
            continue
        given = str(next(iter(action.choices))) if action.choices else value
        if action.option_strings:
            argv += [action.option_strings[0], given]
        elif action.nargs != "?":
            argv.append(given)
    groups = getattr(parser, "_mutually_exclusive_groups", [])
    for group in groups:
        if group.required:
            argv += [group._group_actions[0].option_strings[0], value]
    return argv


def cases_of(
    program: str, words: tuple[str, ...], parser: argparse.ArgumentParser, places: dict[str, str]
) -> list[Case]:
    """The wrong inputs this verb's options allow."""
    options = _options(parser)
    has = options.__contains__
    required = [a for a in parser._actions if a.required or not a.option_strings]
    required = [a for a in required if a.nargs != "?" and a.dest != "help"]
    cases: list[Case] = []

    def case(why: str, *extra: str, env_drop: tuple[str, ...] = ()) -> None:
        cases.append(Case(program, (*words, *extra), why, env_drop=env_drop))

    if required:
        case("missing arguments")
        case("bad values", *_filled(parser, BAD))
    good = _filled(parser, GOOD)
    if has("--data-dir"):
        case("--data-dir under a regular file", *good, "--data-dir", places["under_file"])
        if words not in CREATES_DATA_DIR and parser.get_default("creates_data_dir") is not True:
            case("--data-dir missing", *good, "--data-dir", places["missing"])
    aws = ["--backend", "aws"] if has("--backend") else []
    if has("--s3-bucket") and "--s3-bucket" not in good:
        aws += ["--s3-bucket", "missing-bucket"]
    if has("--dynamodb-table") and "--dynamodb-table" not in good:
        aws += ["--dynamodb-table", "missing-table"]
    if has("--endpoint-url") and words not in CREATES_AWS:
        moto = ["--endpoint-url", places["moto"], "--region", "us-east-1"]
        case("a table that does not exist", *good, *aws, *moto)
    if has("--endpoint-url") and has("--s3-bucket"):  # the admin verbs share one client path
        case(
            "an unreachable endpoint",
            *good,
            *aws,
            "--endpoint-url",
            UNREACHABLE,
            "--region",
            "us-east-1",
        )
    if has("--region"):
        case("no region", *good, *aws, env_drop=("AWS_DEFAULT_REGION", "AWS_REGION"))
    if has("--lambda"):
        moto = ["--endpoint-url", places["moto"], "--region", "us-east-1"]
        case("--lambda on a table that does not exist", *good, "--lambda", *aws[2:], *moto)
    if has("--port"):
        case("a port in use", *good, "--port", places["busy_port"])
    if has("--tls-cert"):
        case(
            "a missing certificate",
            *good,
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        )
    if words[-1:] == ("push",):
        case("an unreachable registry", f"oci:{places['layout']}:latest", "127.0.0.1:1/acme/app:1")
    if words[-1:] == ("login",):
        case("an unreachable registry", "127.0.0.1:1", "-u", GOOD, "--password-stdin")
    return cases


def helper_cases() -> list[Case]:
    """docker-credential-soute speaks docker's helper protocol, not argparse."""
    helper = "docker-credential-soute"
    return [
        Case(helper, (), "no action"),
        Case(helper, ("bogus",), "an unknown action"),
        Case(helper, ("get",), "an empty server URL", stdin=""),
        Case(helper, ("get",), "a host it does not serve", stdin="127.0.0.1:1\n"),
    ]


def every_case(places: dict[str, str]) -> list[Case]:
    cases = []
    for program, parser in (("soute", build_parser()), ("docker-soute", plugin_parser())):
        for words, leaf in leaves(parser):
            found = cases_of(program, words, leaf, places)
            assert found, f"{program} {' '.join(words)}: no wrong input to try it with"
            cases += found
    return cases + helper_cases()


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: int
    out: str
    err: str


def run(case: Case, home: Path) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k not in case.env_drop}
    env.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"), XDG_CACHE_HOME=str(home))
    env.update(AWS_CONFIG_FILE=str(home / "none"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"))
    result = subprocess.run(
        [str(BIN / case.program), *case.argv],
        input=case.stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
        env=env,
    )
    return Outcome(case, result.returncode, result.stdout, result.stderr)


def problems(outcome: Outcome) -> list[str]:
    """What is wrong with how this verb failed (nothing, if it failed well)."""
    found = []
    text = outcome.out + outcome.err
    if "Traceback" in text:
        found.append("a traceback")
    if outcome.status == 0:
        found.append("exit status 0")
    # The credential helper answers on stdout, as docker's side of its protocol reads it.
    stream = outcome.out if outcome.case.program == "docker-credential-soute" else outcome.err
    lines = [line for line in stream.splitlines() if line.strip() and not LOG_LINE.match(line)]
    usage_error = bool(lines) and ": error: " in lines[-1]  # argparse: usage, then one line
    if not lines:
        found.append("no message")
    elif not usage_error and len(lines) != 1:
        found.append(f"{len(lines)} lines of message, not one")
    return found


@pytest.fixture
def places(tmp_path: Path, moto_endpoint: str) -> Iterator[dict[str, str]]:
    (tmp_path / "a-file").write_text("not a directory")
    build_image(tmp_path / "layout", [1024])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield {
            "under_file": str(tmp_path / "a-file" / "data"),
            "missing": str(tmp_path / "no-such-dir"),
            "moto": moto_endpoint,
            "busy_port": str(busy.getsockname()[1]),
            "layout": str(tmp_path / "layout"),
        }


def test_every_verb_fails_in_one_line(places: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cases = every_case(places)
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda case: run(case, home), cases))
    failures = [
        f"{o.case.program} {' '.join(o.case.argv)} ({o.case.why}): {', '.join(p)}\n"
        f"  status {o.status}\n  stdout: {o.out[-600:]}\n  stderr: {o.err[-1500:]}"
        for o in outcomes
        if (p := problems(o))
    ]
    assert not failures, f"{len(failures)} of {len(outcomes)} runs failed badly:\n" + "\n".join(
        failures
    )
    assert not (Path(places["missing"])).exists(), "a verb created the missing --data-dir"


def test_the_walk_finds_every_verb() -> None:
    """The walk reaches nested verbs and the plugin's, so a new verb cannot be missed."""
    words = {w for w, _ in leaves(build_parser())}
    assert {("serve",), ("push",), ("user", "add"), ("org", "remove"), ("aws", "init")} <= words
    assert {w for w, _ in leaves(plugin_parser())} == {("push",)}
