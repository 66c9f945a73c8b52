"""Expand the SAM transform on this machine, for emulators that lack it (`--translate-sam`).

CloudFormation expands `Transform: AWS::Serverless-2016-10-31` itself, so on AWS the template
goes as Chalice wrote it. moto (5.2) has no SAM transform: its parser fails on the template's
outputs (GetAtt of an AWS::Serverless::Function). aws-sam-translator, the library
CloudFormation's transform is built on, turns it into plain resources (AWS::Lambda::Function,
AWS::ApiGateway::RestApi, Deployment and Stage, AWS::Lambda::Permission) that moto can create.
It is a test dependency (requirements-dev.txt), never needed to deploy to AWS.
"""

from __future__ import annotations

from typing import Any

from .aws_errors import DeployError


def translate(
    template: dict[str, Any], parameters: dict[str, str], iam: Any, account: str, region: str
) -> dict[str, Any]:
    """The template with every AWS::Serverless resource expanded."""
    try:
        from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
        from samtranslator.translator.transform import transform
    except ImportError as error:
        raise DeployError("--translate-sam needs aws-sam-translator: pip install it") from error
    values = {"AWS::Region": region, "AWS::AccountId": account, **parameters}
    expanded: dict[str, Any] = transform(template, values, ManagedPolicyLoader(iam))
    for resource in expanded["Resources"].values():
        properties = resource.get("Properties", {})
        # API Gateway names an imported API after its definition's title; moto requires Name.
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Name" not in properties:
            properties["Name"] = properties.get("Body", {}).get("info", {}).get("title", "soute")
    return expanded
