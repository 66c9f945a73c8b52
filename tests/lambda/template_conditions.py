"""Evaluate a template's region conditions, as CloudFormation does for one stack: the
`Fn::If`s on them take a branch, `AWS::NoValue` drops its key or list item, and resources and
outputs whose condition is false go. Other conditions (the domain, a WAF) stay as written."""

from __future__ import annotations

from typing import Any

NO_VALUE = {"Ref": "AWS::NoValue"}
_DROP = object()

# The conditions in each kind of stack (deploy/merge_template.py).
SINGLE_REGION = {
    "IsMultiRegion": False,
    "CreatesTable": True,
    "HasPeerBuckets": False,
    "HasPeerHandlerRoles": False,
}
PRIMARY = {
    "IsMultiRegion": True,
    "CreatesTable": True,
    "HasPeerBuckets": True,
    "HasPeerHandlerRoles": True,
}
REPLICA = {
    "IsMultiRegion": True,
    "CreatesTable": False,
    "HasPeerBuckets": True,
    "HasPeerHandlerRoles": False,
}


def _resolve(node: Any, conditions: dict[str, bool]) -> Any:
    if isinstance(node, dict):
        if node == NO_VALUE:
            return _DROP
        if "Fn::If" in node and len(node) == 1:
            name, then, otherwise = node["Fn::If"]
            if name not in conditions:
                return node  # (its AWS::NoValue is CloudFormation's to drop)
            return _resolve(then if conditions[name] else otherwise, conditions)
        resolved = {key: _resolve(value, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _DROP}
    if isinstance(node, list):
        items = [_resolve(value, conditions) for value in node]
        return [item for item in items if item is not _DROP]
    return node


def resolve(template: dict[str, Any], conditions: dict[str, bool]) -> dict[str, Any]:
    """The template (or its Resources) as one stack with these conditions sees it."""
    resolved: dict[str, Any] = _resolve(template, conditions)
    for section in ("Resources", "Outputs"):
        if section in resolved:
            resolved[section] = {
                name: item
                for name, item in resolved[section].items()
                if conditions.get(item.get("Condition", ""), True)
            }
    return resolved
