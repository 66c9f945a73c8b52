"""`soute aws regions …`: the verbs about the regions of a multi-region deployment. Each verb
adds itself to the group here."""

from __future__ import annotations

import argparse

from .aws_regions_check import add_check_parser


def add_regions_parsers(aws: argparse._SubParsersAction) -> None:
    regions = aws.add_parser("regions", help="the regions of a multi-region deployment")
    verbs = regions.add_subparsers(dest="regions", required=True)
    add_check_parser(verbs)
