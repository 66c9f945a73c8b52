"""`soute policy set|get|rm|preview`: retention policies in ECR's lifecycle-policy JSON on a
repository or a namespace (chalicelib/lifecycle/retention.py), on either backend, like `soute
immutable`. `soute gc` applies them (its first phase); `preview` prints exactly what the next
run expires, without deleting anything.

An invalid policy is refused whole, with one line naming the rule (its rulePriority) and the
field, and nothing is stored. Mind ECR's trap: several entries in one tagPrefixList or
tagPatternList are ANDed (an image needs a tag matching each); write one rule per prefix for OR.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..auth.identity_ports import IdentityStore
from ..lifecycle import retention
from ..lifecycle.retention_run import Decision
from ..oci.names import namespace_of
from .admin import AdminError
from .admin_policies import _scope, remove_setting
from .admin_storage import open_policies, open_retention


def policy_set(store: IdentityStore, args: argparse.Namespace) -> None:
    scope = _scope(args.name)
    text = _read(args.file)
    policy = retention.parse(text)  # PolicyInvalid: one line, nothing stored
    open_policies(args).put(scope, retention.KIND, text)
    where = "namespace or repository" if "/" not in scope else "repository"
    print(f"{scope} ({where}): retention policy set, {len(policy.rules)} rules:")
    for rule in policy.rules:
        print(f"  rule {rule.priority}: {rule.describe()}")


def _read(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.read()
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise AdminError(f"cannot read the policy from {name}: {error}") from None


def policy_get(store: IdentityStore, args: argparse.Namespace) -> None:
    scope = _scope(args.name)
    policies = open_policies(args)
    document = policies.get(scope, retention.KIND)
    if document is not None:
        print(json.dumps(json.loads(document), indent=2))
        return
    namespace = namespace_of(scope)
    inherited = policies.get(namespace, retention.KIND) if namespace != scope else None
    if inherited is None:
        raise AdminError(f"{scope} has no retention policy (`soute policy set {scope} FILE`)")
    print(f"# {scope} has none of its own; its namespace {namespace}'s applies:")
    print(json.dumps(json.loads(inherited), indent=2))


def policy_rm(store: IdentityStore, args: argparse.Namespace) -> None:
    remove_setting(args, _scope(args.name), retention.KIND, "retention policy")


def policy_preview(store: IdentityStore, args: argparse.Namespace) -> None:
    within = _scope(args.name) if args.name else None
    expired = kept = 0
    for decision in open_retention(args).preview(within):
        print(describe(decision, dry_run=True))
        kept += bool(decision.kept)
        expired += not decision.kept
    print(f"the next run expires {expired} images; {kept} more are kept (preview: nothing deleted)")


def describe(decision: Decision, dry_run: bool) -> str:
    """One line: what, its tags, pushed and pulled times, the rule, and why kept if so."""
    image = decision.image
    tags = ",".join(image.tags) or "-"
    pulled = _when(image.pulled_at) if image.pulled_at is not None else "never"
    facts = f"tags {tags} pushed {_when(image.pushed_at)} pulled {pulled} rule {decision.rule}"
    subject = f"{decision.repository}@{image.digest}"
    if decision.kept:
        return f"kept {subject} {facts}: {decision.kept}"
    return f"{'would expire' if dry_run else 'expired'} {subject} {facts}"


def _when(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
