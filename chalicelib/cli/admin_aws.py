"""`soute aws map|unmap|mappings`: which IAM identities may log in with `soute login --aws`, and
as members of which team. Nothing about the identities themselves is stored."""

from __future__ import annotations

import argparse

from ..auth.aws_login import pattern_problem
from ..auth.identity_ports import IdentityStore
from ..auth.model import AwsMapping
from .admin import AdminError


def _mapping(args: argparse.Namespace) -> AwsMapping:
    org, slash, team = args.team.partition("/")
    if not (org and slash and team):
        raise AdminError("--team is ORG/TEAM, e.g. acme/ci")
    return AwsMapping(args.pattern, org, team)


def aws_map(store: IdentityStore, args: argparse.Namespace) -> None:
    if problem := pattern_problem(args.pattern):
        raise AdminError(problem)
    mapping = _mapping(args)
    store.add_aws_mapping(mapping)
    print(f"{mapping.pattern}: logs in as a member of {mapping.org}/{mapping.team}")


def aws_unmap(store: IdentityStore, args: argparse.Namespace) -> None:
    mapping = _mapping(args)
    store.remove_aws_mapping(mapping)
    print(f"{mapping.pattern}: no longer maps to {mapping.org}/{mapping.team}")


def aws_mappings(store: IdentityStore, args: argparse.Namespace) -> None:
    roles = {(team.org, team.name): team.role for team in store.teams()}
    for mapping in store.aws_mappings():
        role = roles.get((mapping.org, mapping.team), "?")
        print(f"{mapping.pattern} {mapping.org}/{mapping.team} ({role})")
