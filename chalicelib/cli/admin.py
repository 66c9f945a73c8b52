"""`soute user|org|team|public|token|immutable ...`: the admin verbs, on the embedded backend's data
directory (the identities file next to the registry's metadata) or the aws backend's table.

Secrets never appear on the command line: passwords are prompted for or read from stdin, and a
new token's secret is printed once, to stdout, and never stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable

from ..auth.access_tokens import PAT, ROBOT, TokenRequestInvalid, create_access_token
from ..auth.audit import AuditEvent
from ..auth.authenticator import robot_name
from ..auth.identity_ports import IdentityStore, NameTaken, UnknownName
from ..auth.model import ROLE_ACTIONS, Team, User
from ..auth.names import NameInvalid, check_account_name
from ..auth.passwords import hash_password
from ..auth.throttle_ports import CounterUnavailable
from ..lifecycle.immutability import RuleInvalid
from ..lifecycle.quotas import QuotaInvalid
from ..lifecycle.retention import PolicyInvalid
from .admin_leftovers import LeftoversRemain, check_name, describe, find_leftovers, purge
from .admin_storage import StorageMissing, open_identities, open_metadata, open_throttle

MIN_PASSWORD = 8
AdminAction = Callable[[IdentityStore, argparse.Namespace], None]


class AdminError(Exception):
    """A request the store refused; the message says why."""


def open_store(data_dir: str) -> IdentityStore:
    """The embedded data directory's identities."""
    return open_identities(argparse.Namespace(data_dir=data_dir))[0]


def read_password(from_stdin: bool, confirm: bool = True, minimum: int = MIN_PASSWORD) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        # getpass would read the terminal, or the pipe with a warning and then ask "Again:".
        raise AdminError("the password is piped in: add --password-stdin (or run in a terminal)")
    else:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Again: ") != password:
            raise AdminError("the passwords differ")
    if len(password) < minimum:
        raise AdminError(f"a password needs at least {minimum} characters")
    return password


# -- users ---------------------------------------------------------------------------------------
def user_add(store: IdentityStore, args: argparse.Namespace) -> None:
    check_account_name(args.name)
    _need_free(store, args.name)
    leftovers = check_name(store, args, args.name)  # before the password is typed in vain
    password = read_password(args.password_stdin)
    purge(store, args.name, leftovers)
    store.add_user(User(args.name, hash_password(password), admin=args.admin))
    print(f"user {args.name} added{' (admin)' if args.admin else ''}; namespace {args.name}/")


def _need_free(store: IdentityStore, name: str) -> None:
    # Before any purge: a live holder's tokens and marks are theirs, not leftovers.
    if store.user(name) is not None or store.is_org(name):
        raise NameTaken(f"the name {name!r} is taken by a user or organisation")


def user_list(store: IdentityStore, args: argparse.Namespace) -> None:
    for user in store.users():
        teams = ", ".join(f"{t.org}/{t.name} ({t.role})" for t in store.teams_of(user.name))
        print(f"{user.name}{' admin' if user.admin else ''}{'  ' + teams if teams else ''}")


def user_remove(store: IdentityStore, args: argparse.Namespace) -> None:
    store.remove_user(args.name)
    print(
        f"user {args.name} removed; their personal tokens and their namespace's robots are revoked"
    )
    _report_leftovers(args, store, args.name, "user")


def user_unlock(store: IdentityStore, args: argparse.Namespace) -> None:
    if store.user(args.name) is None:
        raise UnknownName(f"no user {args.name!r}")
    forgotten = open_throttle(args).unlock(args.name)
    print(f"user {args.name} unlocked; {forgotten} recent failed logins forgotten")


def user_password(store: IdentityStore, args: argparse.Namespace) -> None:
    store.set_password(args.name, hash_password(read_password(args.password_stdin)))
    print(f"password of {args.name} changed")


# -- organisations, teams, public marks ------------------------------------------------------------
def org_add(store: IdentityStore, args: argparse.Namespace) -> None:
    check_account_name(args.name, "organisation")
    _need_free(store, args.name)
    purge(store, args.name, check_name(store, args, args.name))
    store.add_org(args.name)
    print(f"organisation {args.name} added; namespace {args.name}/")


def org_list(store: IdentityStore, args: argparse.Namespace) -> None:
    for org in store.orgs():
        teams = ", ".join(f"{t.name} ({t.role})" for t in store.teams(org))
        print(f"{org}{'  ' + teams if teams else ''}")


def org_remove(store: IdentityStore, args: argparse.Namespace) -> None:
    store.remove_org(args.name)
    print(f"organisation {args.name} removed; its teams are gone and its robots revoked")
    _report_leftovers(args, store, args.name, "org")


def _report_leftovers(args: argparse.Namespace, store: IdentityStore, name: str, kind: str) -> None:
    remains = describe(find_leftovers(store, open_metadata(args), name))
    if remains:
        print(
            f"{name}/ still holds {'; '.join(remains)}: `soute {kind} add {name}` will"
            " refuse the name until they are dealt with"
        )


def team_add(store: IdentityStore, args: argparse.Namespace) -> None:
    check_account_name(args.team, "team")
    store.put_team(Team(args.org, args.team, args.role))
    print(f"team {args.org}/{args.team}: {args.role}")


def team_remove(store: IdentityStore, args: argparse.Namespace) -> None:
    store.remove_team(args.org, args.team)
    print(f"team {args.org}/{args.team} removed")


def team_join(store: IdentityStore, args: argparse.Namespace) -> None:
    store.add_member(args.org, args.team, args.user)
    print(f"{args.user} is in {args.org}/{args.team}")


def team_leave(store: IdentityStore, args: argparse.Namespace) -> None:
    if not any(t.org == args.org and t.name == args.team for t in store.teams_of(args.user)):
        raise UnknownName(f"{args.user} is not in a team {args.org}/{args.team}")
    store.remove_member(args.org, args.team, args.user)
    print(f"{args.user} left {args.org}/{args.team}")


def team_list(store: IdentityStore, args: argparse.Namespace) -> None:
    for team in store.teams(args.org):
        members = ", ".join(sorted(team.members)) or "-"
        print(f"{team.org}/{team.name} {team.role}: {members}")


def public_set(store: IdentityStore, args: argparse.Namespace) -> None:
    namespace = args.name.split("/", 1)[0]
    if not args.off and store.user(namespace) is None and not store.is_org(namespace):
        raise AdminError(
            f"no user or organisation owns {namespace}/: add it first (`soute org add"
            f" {namespace}` or `soute user add {namespace}`)"
        )
    store.set_public(args.name, not args.off)
    print(f"{args.name}: {'private' if args.off else 'public (anonymous pull)'}")


# -- tokens --------------------------------------------------------------------------------------
def token_create(store: IdentityStore, args: argparse.Namespace) -> None:
    kind, owner = (ROBOT, args.robot) if args.robot else (PAT, args.user)
    if kind == ROBOT and not store.is_org(owner) and store.user(owner) is None:
        raise AdminError(f"no namespace {owner!r}: add the user or organisation first")
    if kind == PAT and store.user(owner) is None:
        raise AdminError(f"no user {owner!r}")
    namespaces = args.namespace or [owner]
    expires = args.expires_days * 86400 if args.expires_days else None
    actions = [a for a in args.actions.split(",") if a]
    token, secret = create_access_token(kind, owner, namespaces, actions, expires, args.name or "")
    store.add_token(token)
    login = robot_name(token) if kind == ROBOT else owner
    print(f"token {token.id} created; log in as {login} with this secret (shown once):")
    print(secret)


def token_list(store: IdentityStore, args: argparse.Namespace) -> None:
    now = time.time()
    for token in store.tokens(args.owner):
        state = "active" if token.usable(now) else ("revoked" if token.revoked else "expired")
        expiry = (
            time.strftime("%Y-%m-%d", time.gmtime(token.expires_at)) if token.expires_at else "-"
        )
        login = robot_name(token) if token.kind == ROBOT else token.owner
        print(
            f"{token.id} {token.kind} {login} {','.join(sorted(token.namespaces))} "
            f"{','.join(sorted(token.actions))} expires {expiry} {state}"
        )


def token_revoke(store: IdentityStore, args: argparse.Namespace) -> None:
    store.revoke_token(args.id)
    print(f"token {args.id} revoked")


def run_admin(action: AdminAction) -> Callable[[argparse.Namespace], int]:
    """Wrap an admin verb: open the store, turn refusals into one line on stderr and status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            store, audit = open_identities(args)
            action(store, args)
        except (
            AdminError,
            NameInvalid,
            NameTaken,
            UnknownName,
            TokenRequestInvalid,
            StorageMissing,
            LeftoversRemain,
            RuleInvalid,
            PolicyInvalid,
            QuotaInvalid,
        ) as error:
            print(f"soute {args.command}: {error}", file=sys.stderr)
            return 1
        except CounterUnavailable as error:
            print(
                f"soute {args.command}: the failed-login counts did not answer: {error}",
                file=sys.stderr,
            )
            return 1
        if getattr(args, "verb", None) != "list":
            audit.record(admin_event(args))
        return 0

    return run


def admin_event(args: argparse.Namespace) -> AuditEvent:
    """A permission change made with the CLI: the OS user, the verb, and what it named."""
    verb = " ".join(part for part in (args.command, getattr(args, "verb", None)) if part)
    named = (
        "robot",
        "user",
        "org",
        "team",
        "name",
        "id",
        "role",
        "actions",
        "pattern",
        "exclude",
        "size",
    )
    target = " ".join(f"{key}={getattr(args, key)}" for key in named if getattr(args, key, None))
    for flag in ("off", "purge_leftovers", "keep_repositories"):
        if getattr(args, flag, False):
            target += " " + flag.replace("_", "-")
    return AuditEvent(getpass.getuser(), verb, target, "cli")


def audit_show(args: argparse.Namespace) -> int:
    try:
        audit = open_identities(args)[1]
    except StorageMissing as error:
        print(f"soute audit: {error}", file=sys.stderr)
        return 1
    for event in audit.events(args.limit, args.actor):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.at))
        print(f"{when} {event.actor} {event.action} {event.target or '-'} {event.source or '-'}")
    return 0


ROLES = tuple(ROLE_ACTIONS)
