"""The PolicyStore contract (chalicelib/storage/policy_ports.py) on every adapter: SQLite, one
DynamoDB table, and that table as a region other than the primary sees it (the settings decide
writes, so they are read from the primary's table: a setting written is read back at once)."""

from __future__ import annotations

import json

from chalicelib.storage.policy_ports import PolicyStore

DOCUMENT = json.dumps({"immutable": True, "exclusions": ["dev-*"]})


def test_a_setting_is_read_back_by_scope_and_kind(policies: PolicyStore) -> None:
    assert policies.get("acme", "immutability") is None
    policies.put("acme", "immutability", DOCUMENT)
    assert policies.get("acme", "immutability") == DOCUMENT
    # Another kind, another scope, and a repository of the namespace are other settings.
    assert policies.get("acme", "retention") is None
    assert policies.get("acme/app", "immutability") is None
    assert policies.get("acm", "immutability") is None


def test_put_replaces_the_document(policies: PolicyStore) -> None:
    policies.put("acme/app", "immutability", DOCUMENT)
    policies.put("acme/app", "immutability", '{"immutable": false}')
    assert policies.get("acme/app", "immutability") == '{"immutable": false}'
    assert policies.entries("immutability") == [("acme/app", '{"immutable": false}')]


def test_remove_says_whether_there_was_a_setting(policies: PolicyStore) -> None:
    policies.put("acme", "immutability", DOCUMENT)
    policies.put("acme", "retention", "{}")
    assert policies.remove("acme", "immutability")
    assert policies.get("acme", "immutability") is None
    assert policies.entries("immutability") == []
    assert not policies.remove("acme", "immutability")
    assert policies.get("acme", "retention") == "{}"  # the other kind stays


def test_entries_list_one_kind_by_scope(policies: PolicyStore) -> None:
    for scope in ("zeta", "acme/app", "acme", "beta/one/two"):
        policies.put(scope, "immutability", json.dumps({"scope": scope}))
    policies.put("other", "retention", "{}")
    assert policies.entries("immutability") == [
        (scope, json.dumps({"scope": scope}))
        for scope in ("acme", "acme/app", "beta/one/two", "zeta")
    ]
    assert policies.entries("retention") == [("other", "{}")]
    assert policies.entries("quota") == []


def test_settings_are_every_kind_set_on_the_scope_at_once(policies: PolicyStore) -> None:
    assert policies.settings("acme") == {}
    policies.put("acme", "immutability", DOCUMENT)
    policies.put("acme", "quota", '{"bytes": 1000}')
    policies.put("acme/app", "retention", "{}")  # another scope
    policies.put("acm", "quota", '{"bytes": 5}')  # a scope that starts the same
    assert policies.settings("acme") == {"immutability": DOCUMENT, "quota": '{"bytes": 1000}'}
    policies.remove("acme", "quota")
    assert policies.settings("acme") == {"immutability": DOCUMENT}
