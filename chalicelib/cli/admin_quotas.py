"""`soute quota set|get|rm|list`: a namespace's quota in bytes of distinct blobs
(chalicelib/lifecycle/quotas.py says what counts), on either backend, like `soute immutable`.

A running registry reads the quota with each manifest PUT, so a change counts from the next
push. `set` first brings the images the namespace already holds into its count (DynamoDB counts
a namespace only while it has a quota; SQLite counts every namespace), so the use it prints, and the
next push's check, include them.
"""

from __future__ import annotations

import argparse

from ..auth.identity_ports import IdentityStore
from ..lifecycle import quotas
from ..oci.errors import OCIError
from ..oci.names import check_name, namespace_of
from ..oci.sizes import human_size
from .admin import AdminError
from .admin_policies import remove_setting
from .admin_storage import open_lifecycle, open_policies


def _namespace(name: str) -> str:
    try:
        check_name(name)
    except OCIError as error:
        raise AdminError(f"{error.message} (a quota is set on a namespace, e.g. acme)") from None
    if "/" in name:
        raise AdminError(f"quotas are per namespace: {name} is in namespace {namespace_of(name)}")
    return name


def quota_set(store: IdentityStore, args: argparse.Namespace) -> None:
    namespace = _namespace(args.name)
    limit = quotas.limit_of(args.size)
    lifecycle = open_lifecycle(args)
    counted = lifecycle.count_namespace(namespace)
    open_policies(args).put(namespace, quotas.KIND, quotas.document(limit))
    counted += lifecycle.count_namespace(namespace)  # pushed while the quota was being set
    print(f"{namespace}: quota {_describe(limit, lifecycle.namespace_use(namespace))}")
    if counted:
        print(f"  ({counted} images stored before the quota were counted)")


def quota_get(store: IdentityStore, args: argparse.Namespace) -> None:
    namespace = _namespace(args.name)
    document = open_policies(args).get(namespace, quotas.KIND)
    lifecycle = open_lifecycle(args)
    if document is None:
        print(f"{namespace}: no quota (`soute du {namespace}` shows what it stores)")
        return
    limit, used = quotas.parse(document), lifecycle.namespace_use(namespace)
    print(f"{namespace}: quota {_describe(limit, used)}")


def quota_rm(store: IdentityStore, args: argparse.Namespace) -> None:
    remove_setting(args, _namespace(args.name), quotas.KIND, "quota", "soute quota list")


def quota_list(store: IdentityStore, args: argparse.Namespace) -> None:
    lifecycle = open_lifecycle(args)
    for namespace, document in open_policies(args).entries(quotas.KIND):
        try:
            described = _describe(quotas.parse(document), lifecycle.namespace_use(namespace))
        except quotas.QuotaInvalid as problem:
            described = f"invalid setting ({problem}): not enforced"
        print(f"{namespace}: quota {described}")


def _describe(limit: int, used: int) -> str:
    share = f"{100 * used / limit:.0f}%"
    return f"{human_size(limit)} ({limit} bytes), used {human_size(used)} ({used} bytes, {share})"
