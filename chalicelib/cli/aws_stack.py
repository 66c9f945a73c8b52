"""Create, update and delete the CloudFormation stack, showing its events as they happen.

A first deploy creates the stack; a rerun updates it in place (the bucket, table and secret are
the same resources, so the data stays; the bucket and table are also DeletionPolicy Retain).
"No updates are to be performed" is a success. A stack left in ROLLBACK_COMPLETE by a failed
first deploy cannot be updated: the message says to destroy it first. A failure is reported
with the first failed resource's reason, which is the cause; later events are its fallout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .aws_errors import DeployError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]  # roles; the SAM transform
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Stack:
    stack_id: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]


def describe(cfn: Any, name: str) -> Stack | None:
    """The stack `name` (or id), None if there is none."""
    try:
        [found] = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise
    if found["StackStatus"] == "DELETE_COMPLETE":
        return None
    return Stack(
        found["StackId"],
        found["StackStatus"],
        {item["OutputKey"]: item["OutputValue"] for item in found.get("Outputs", [])},
        {
            item["ParameterKey"]: item.get("ParameterValue", "")
            for item in found.get("Parameters", [])
        },
    )


def _parameter_list(
    template: dict[str, Any], given: dict[str, str], previous: Stack | None
) -> list[dict[str, Any]]:
    """Given values; on an update, the previous value of every other parameter the stack has
    (an override given once stays until changed)."""
    unknown = set(given) - set(template.get("Parameters", {}))
    if unknown:
        raise DeployError(f"the template has no parameter {', '.join(sorted(unknown))}")
    listed = [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()]
    for key in template.get("Parameters", {}):
        if key not in given and previous and key in previous.parameters:
            listed.append({"ParameterKey": key, "UsePreviousValue": True})
    return listed


def deploy(
    cfn: Any,
    name: str,
    template_url: str,
    template: dict[str, Any],
    parameters: dict[str, str],
    show: Callable[[dict[str, Any]], None],
) -> Stack:
    """Create or update the stack from `template_url`; wait until it is done."""
    previous = describe(cfn, name)
    arguments = {
        "StackName": name,
        "TemplateURL": template_url,
        "Parameters": _parameter_list(template, parameters, previous),
        "Capabilities": CAPABILITIES,
    }
    if previous is None:
        stack_id = cfn.create_stack(**arguments, Tags=[{"Key": "soute", "Value": name}])["StackId"]
        return wait(cfn, stack_id, set(), show)
    _check_updatable(name, previous.status)
    seen = {event["EventId"] for event in _events(cfn, previous.stack_id)}
    try:
        cfn.update_stack(**arguments)
    except cfn.exceptions.ClientError as error:
        if "No updates are to be performed" in error.response["Error"].get("Message", ""):
            return previous
        raise
    return wait(cfn, previous.stack_id, seen, show)


def _check_updatable(name: str, status: str) -> None:
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(
            f"stack {name} is {status}: wait until it ends (aws cloudformation describe-stacks"
            f" --stack-name {name}), then rerun"
        )
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
        raise DeployError(
            f"stack {name} is {status} after a failed first deploy and cannot be updated:"
            f" run `soute aws destroy --stack-name {name}`, then deploy again"
        )


def delete(cfn: Any, stack: Stack, show: Callable[[dict[str, Any]], None]) -> None:
    seen = {event["EventId"] for event in _events(cfn, stack.stack_id)}
    cfn.delete_stack(StackName=stack.stack_id)
    wait(cfn, stack.stack_id, seen, show)


def _events(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    """The stack's latest events, oldest first."""
    return list(reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]))


def wait(cfn: Any, stack_id: str, seen: set[str], show: Callable[[dict[str, Any]], None]) -> Stack:
    """Show each new event until the stack is no longer in progress; fail with the reason of
    the first resource that failed."""
    failures: list[dict[str, Any]] = []
    while True:
        for event in _events(cfn, stack_id):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            show(event)
            if event["ResourceStatus"].endswith("_FAILED"):
                failures.append(event)
        [found] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
        status = found["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(POLL_SECONDS)
    if status not in DONE:
        raise DeployError(_failure(status, failures, found.get("StackStatusReason")))
    stack = describe(cfn, stack_id)
    return stack or Stack(stack_id, status, {}, {})


def _failure(status: str, failures: list[dict[str, Any]], reason: str | None) -> str:
    if failures:
        first = failures[0]
        cause = f"{first['LogicalResourceId']} ({first['ResourceType']}):"
        cause += f" {first.get('ResourceStatusReason', 'no reason given')}"
    else:
        cause = reason or "no reason given"
    return f"the stack ended {status}: {cause}; fix that and rerun"
