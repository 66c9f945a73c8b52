"""`soute immutable set|get|rm|list`: tag immutability on a repository or a namespace
(chalicelib/lifecycle/immutability.py), on either backend, like the other admin verbs: the
data directory's metadata file, or the registry's DynamoDB table (`--backend aws`).

A running registry reads the setting on every tag push and delete, so a change counts from the
next request, with no restart.
"""

from __future__ import annotations

import argparse

from ..auth.identity_ports import IdentityStore
from ..lifecycle import immutability
from ..oci.errors import OCIError
from ..oci.names import check_name, namespace_of
from .admin import AdminError
from .admin_storage import open_policies


def _scope(name: str) -> str:
    try:
        return check_name(name)
    except OCIError as error:
        raise AdminError(f"{error.message} (a scope is a repository or a namespace)") from None


def immutable_set(store: IdentityStore, args: argparse.Namespace) -> None:
    scope = _scope(args.name)
    rule = immutability.rule(not args.off, args.exclude or [])
    open_policies(args).put(scope, immutability.KIND, rule.document())
    where = "namespace or repository" if "/" not in scope else "repository"
    print(f"{scope} ({where}): tags {rule.describe()}")


def immutable_get(store: IdentityStore, args: argparse.Namespace) -> None:
    scope = _scope(args.name)
    policies = open_policies(args)
    document = policies.get(scope, immutability.KIND)
    own = immutability.parse(document).describe() if document is not None else "no setting"
    print(f"{scope}: {own}")
    namespace = namespace_of(scope)
    if document is None and namespace != scope:
        applied, rule = immutability.effective_rule(policies, scope)
        source = f"namespace {applied}" if applied else "no setting: mutable"
        print(f"{scope}: tags {rule.describe()} ({source})")


def immutable_rm(store: IdentityStore, args: argparse.Namespace) -> None:
    scope = _scope(args.name)
    remove_setting(args, scope, immutability.KIND, "immutability setting", "soute immutable list")


def remove_setting(
    args: argparse.Namespace, scope: str, kind: str, what: str, listing: str | None = None
) -> None:
    """Remove the scope's setting of `kind` (the `rm` of immutable, policy and quota), or say
    it has none and the command that lists those there are."""
    if not open_policies(args).remove(scope, kind):
        raise AdminError(f"{scope} has no {what}" + (f" (`{listing}`)" if listing else ""))
    print(f"{scope}: {what} removed")


def immutable_list(store: IdentityStore, args: argparse.Namespace) -> None:
    for scope, document in open_policies(args).entries(immutability.KIND):
        try:
            described = immutability.parse(document).describe()
        except immutability.RuleInvalid as problem:
            described = f"invalid setting ({problem}): every tag kept"
        print(f"{scope}: {described}")
