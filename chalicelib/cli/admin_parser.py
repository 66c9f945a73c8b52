"""The argument parsers of the admin verbs (chalicelib/cli/admin.py)."""

from __future__ import annotations

import argparse

from . import admin, admin_aws, admin_policies, admin_quotas, admin_retention
from .admin import ROLES, AdminAction, run_admin
from .admin_leftovers import KEEP, PURGE
from .admin_storage import add_storage_arguments


def _verb(
    group: argparse._SubParsersAction, name: str, help_text: str, action: AdminAction
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text)
    add_storage_arguments(parser)
    parser.set_defaults(run=run_admin(action))
    return parser


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin, not a prompt"
    )


def _leftover_options(parser: argparse.ArgumentParser) -> None:
    """How to take a name whose former holder left things behind (cli/admin_leftovers.py)."""
    parser.add_argument(
        PURGE,
        action="store_true",
        help="revoke the tokens and clear the public marks a former holder of the name left",
    )
    parser.add_argument(
        KEEP,
        action="store_true",
        help="give the repositories a former holder of the name left to the new holder",
    )


def add_user_parser(commands: argparse._SubParsersAction) -> None:
    verbs = commands.add_parser("user", help="users (each owns the namespace of their name)")
    group = verbs.add_subparsers(dest="verb", required=True)
    add = _verb(group, "add", "add a user (asks for the password)", admin.user_add)
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may do anything anywhere")
    add.set_defaults(creates_data_dir=True)  # the first user of a new registry
    _password_option(add)
    _leftover_options(add)
    _verb(group, "list", "list users and their teams", admin.user_list)
    remove = _verb(
        group,
        "remove",
        "remove a user; revoke their tokens and their namespace's robots",
        admin.user_remove,
    )
    remove.add_argument("name")
    unlock = _verb(
        group, "unlock", "forget a user's recent failed logins (lift a lock)", admin.user_unlock
    )
    unlock.add_argument("name")
    password = _verb(group, "password", "change a user's password", admin.user_password)
    password.add_argument("name")
    _password_option(password)


def add_org_parsers(commands: argparse._SubParsersAction) -> None:
    org = commands.add_parser("org", help="organisations (each owns the namespace of its name)")
    orgs = org.add_subparsers(dest="verb", required=True)
    org_add = _verb(orgs, "add", "add one", admin.org_add)
    org_add.add_argument("name")
    org_add.set_defaults(creates_data_dir=True)
    _leftover_options(org_add)
    _verb(orgs, "list", "list organisations and their teams", admin.org_list)
    org_remove = _verb(
        orgs, "remove", "remove one: its teams, and revoke its namespace's robots", admin.org_remove
    )
    org_remove.add_argument("name")
    team = commands.add_parser("team", help="teams of an organisation, with a role")
    group = team.add_subparsers(dest="verb", required=True)
    add = _verb(group, "add", "add a team, or change its role", admin.team_add)
    add.add_argument("org")
    add.add_argument("team")
    add.add_argument(
        "--role",
        choices=ROLES,
        required=True,
        help="reader: pull; maintainer and owner: pull, push, delete",
    )
    for name, help_text, action in (
        ("remove", "remove a team", admin.team_remove),
        ("join", "add a user to a team", admin.team_join),
        ("leave", "take a user out of a team", admin.team_leave),
    ):
        verb = _verb(group, name, help_text, action)
        verb.add_argument("org")
        verb.add_argument("team")
        if name != "remove":
            verb.add_argument("user")
    listing = _verb(group, "list", "list teams and members", admin.team_list)
    listing.add_argument("org", nargs="?")
    public = _verb(
        commands,
        "public",
        "mark a namespace or repository public (anonymous pull)",
        admin.public_set,
    )
    public.add_argument("name", help="a namespace (acme) or a repository (acme/app)")
    public.add_argument("--off", action="store_true", help="make it private again")


def add_token_parser(commands: argparse._SubParsersAction) -> None:
    tokens = commands.add_parser("token", help="robot accounts and personal access tokens")
    group = tokens.add_subparsers(dest="verb", required=True)
    create = _verb(group, "create", "create one; its secret is shown once", admin.token_create)
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--robot", metavar="NAMESPACE", help="a robot account of this namespace")
    owner.add_argument("--user", help="a personal access token of this user")
    create.add_argument("--name", help="the robot's name (it logs in as NAMESPACE+NAME)")
    create.add_argument(
        "--namespace",
        action="append",
        help="a namespace it may act in (repeat; default: its owner's; a robot acts only in its"
        " own)",
    )
    create.add_argument("--actions", default="pull", help="comma-separated: pull,push,delete")
    create.add_argument("--expires-days", type=int, help="days until it expires (default never)")
    listing = _verb(group, "list", "list tokens (never their secrets)", admin.token_list)
    listing.add_argument("--owner", help="only this user's or namespace's")
    revoke = _verb(group, "revoke", "revoke a token at once", admin.token_revoke)
    revoke.add_argument("id")


def add_audit_parser(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser(
        "audit", help="logins, pushes, deletes and permission changes, newest first"
    )
    add_storage_arguments(audit)
    audit.add_argument("--limit", type=int, default=100, help="how many events (default 100)")
    audit.add_argument("--actor", help="only this user's, robot's or OS user's events")
    audit.set_defaults(run=admin.audit_show)


def add_aws_login_parsers(aws: argparse._SubParsersAction) -> None:
    """`soute aws map|unmap|mappings`, beside `soute aws init` (`aws` is its subparsers)."""
    for name, help_text, action in (
        (
            "map",
            "let IAM identities matching PATTERN log in as members of a team",
            admin_aws.aws_map,
        ),
        ("unmap", "remove one mapping", admin_aws.aws_unmap),
    ):
        verb = _verb(aws, name, help_text, action)
        verb.add_argument(
            "pattern",
            help="an IAM ARN pattern (fnmatch, case-sensitive, account written out), e.g."
            " 'arn:aws:iam::123456789012:role/ci-*'; an assumed-role session matches its role",
        )
        verb.add_argument("--team", required=True, help="ORG/TEAM: the team they act as")
        verb.set_defaults(verb=name)
    listing = _verb(
        aws, "mappings", "list the ARN patterns and their teams", admin_aws.aws_mappings
    )
    listing.set_defaults(verb="list")  # run_admin audits every verb but listings


def add_immutable_parser(commands: argparse._SubParsersAction) -> None:
    immutable = commands.add_parser(
        "immutable", help="tags that cannot be moved or deleted, per repository or namespace"
    )
    group = immutable.add_subparsers(dest="verb", required=True)
    scope_help = "a namespace (acme: all its repositories) or a repository (acme/app), which wins"
    put = _verb(
        group, "set", "set (replace) the scope's immutability", admin_policies.immutable_set
    )
    put.add_argument("name", metavar="SCOPE", help=scope_help)
    put.add_argument(
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="tags this does not apply to: ECR wildcards, * any run of characters (repeat, at"
        " most 5), e.g. 'dev-*'",
    )
    put.add_argument(
        "--off",
        action="store_true",
        help="mutable (overrides the namespace's setting; with --exclude: only those immutable)",
    )
    get = _verb(
        group, "get", "show a scope's setting and what applies", admin_policies.immutable_get
    )
    get.add_argument("name", metavar="SCOPE", help=scope_help)
    get.set_defaults(verb="list")  # a read: run_admin audits every verb but listings
    remove = _verb(group, "rm", "remove a scope's setting", admin_policies.immutable_rm)
    remove.add_argument("name", metavar="SCOPE", help=scope_help)
    _verb(group, "list", "list every scope's setting", admin_policies.immutable_list)


def add_quota_parser(commands: argparse._SubParsersAction) -> None:
    quota = commands.add_parser(
        "quota",
        help="a namespace's quota: bytes of the distinct blobs its images reference",
        description="A namespace's quota counts each blob (layer, config) its images reference"
        " once, however many tags, images or repositories share it; a manifest push that would"
        " pass it is refused (409 DENIED). Deleting images gives their blobs back to the quota"
        " at once.",
    )
    group = quota.add_subparsers(dest="verb", required=True)
    name_help = "a namespace (acme): its repositories acme/... count together"
    put = _verb(group, "set", "set (replace) the namespace's quota", admin_quotas.quota_set)
    put.add_argument("name", metavar="NAMESPACE", help=name_help)
    put.add_argument("size", metavar="SIZE", help="e.g. 500MB, 10GB, 2GiB, or bytes")
    get = _verb(group, "get", "show the quota and what the namespace uses", admin_quotas.quota_get)
    get.add_argument("name", metavar="NAMESPACE", help=name_help)
    get.set_defaults(verb="list")  # a read: run_admin audits every verb but listings
    remove = _verb(group, "rm", "remove the namespace's quota", admin_quotas.quota_rm)
    remove.add_argument("name", metavar="NAMESPACE", help=name_help)
    _verb(group, "list", "list every quota and its use", admin_quotas.quota_list)


POLICY_HELP = """A retention policy is ECR's lifecycle-policy JSON: {"rules": [{"rulePriority": 1,
"selection": {"tagStatus": "tagged", "tagPrefixList": ["pr-"], "countType":
"imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]}. countType is
imageCountMoreThan, sinceImagePushed or sinceImagePulled (with "countUnit": "days"). Several
entries in ONE tagPrefixList or tagPatternList are ANDed: ["prod", "release"] selects images
tagged both prod* and release*; for either, write two rules. `soute gc` applies the policies;
immutable tags and manifests an index lists are never expired."""


def add_policy_parser(commands: argparse._SubParsersAction) -> None:
    policy = commands.add_parser(
        "policy",
        help="retention policies (ECR lifecycle-policy JSON), per repository or namespace",
        description=POLICY_HELP,
    )
    group = policy.add_subparsers(dest="verb", required=True)
    scope_help = "a namespace (acme: all its repositories) or a repository (acme/app), which wins"
    put = _verb(group, "set", "set (replace) the scope's policy", admin_retention.policy_set)
    put.description = POLICY_HELP
    put.add_argument("name", metavar="SCOPE", help=scope_help)
    put.add_argument("file", metavar="FILE", help="the policy's JSON file, or - for stdin")
    get = _verb(group, "get", "print the policy that applies", admin_retention.policy_get)
    get.add_argument("name", metavar="SCOPE", help=scope_help)
    get.set_defaults(verb="list")  # a read: run_admin audits every verb but listings
    remove = _verb(group, "rm", "remove a scope's policy", admin_retention.policy_rm)
    remove.add_argument("name", metavar="SCOPE", help=scope_help)
    preview = _verb(
        group,
        "preview",
        "print every image the next `soute gc` expires (and those a rule would, but kept)",
        admin_retention.policy_preview,
    )
    preview.add_argument(
        "name", metavar="SCOPE", nargs="?", help="only this repository or namespace"
    )
    preview.set_defaults(verb="list")


def add_admin_parsers(commands: argparse._SubParsersAction) -> None:
    add_audit_parser(commands)
    add_user_parser(commands)
    add_org_parsers(commands)
    add_token_parser(commands)
    add_immutable_parser(commands)
    add_policy_parser(commands)
    add_quota_parser(commands)
