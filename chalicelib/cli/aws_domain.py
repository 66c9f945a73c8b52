"""The API's custom domain: docker needs `/v2/` at the root of the host, and the registry's
relative Location headers would miss the stage prefix of the execute-api URL.

The API is REGIONAL, so its domain is too, and its ACM certificate must be in the API's region
(an EDGE domain would need one in us-east-1). Without --certificate-arn an ISSUED certificate
that covers the host (by name or a one-label wildcard) is looked up; with none, the message
gives the command that requests one. The base path mapping is the empty one: the whole host is
the stage. Both are created or brought up to date, so a rerun changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aws_errors import DeployError

KEY_TYPES = [
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]


@dataclass(frozen=True)
class Domain:
    name: str
    target: str  # the regional domain name a DNS record points at
    hosted_zone: str  # for a Route 53 alias record
    created: bool  # new: it has no base path mapping yet


def _request_hint(host: str, region: str) -> str:
    return (
        f"request one in {region} and validate it by DNS: aws acm request-certificate --region"
        f" {region} --domain-name {host} --validation-method DNS (then add the CNAME record that"
        f" `aws acm describe-certificate` shows), and rerun"
    )


def _covers(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.count(".") >= 2 and host.split(".", 1)[1] == pattern[2:]
    return pattern == host


def find_certificate(acm: Any, host: str, region: str) -> str:
    """The ARN of an ISSUED certificate in `region` that covers `host`."""
    # Without Includes, ListCertificates returns RSA 2048 certificates only.
    pages = acm.get_paginator("list_certificates").paginate(
        CertificateStatuses=["ISSUED"], Includes={"keyTypes": KEY_TYPES}
    )
    for page in pages:
        for summary in page["CertificateSummaryList"]:
            names = [summary.get("DomainName", "")]
            names += summary.get("SubjectAlternativeNameSummaries", [])
            if any(_covers(name, host) for name in names):
                return str(summary["CertificateArn"])
    raise DeployError(
        f"no issued ACM certificate in {region} covers {host}: " + _request_hint(host, region)
    )


def check_certificate(acm: Any, arn: str, host: str, region: str) -> str:
    """`arn`, once it is known to be an issued certificate in `region`."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "acm":
        raise DeployError(f"--certificate-arn {arn} is not an ACM certificate ARN")
    if parts[3] != region:
        raise DeployError(
            f"the certificate is in {parts[3]}, but a REGIONAL API needs its certificate in"
            f" {region}: " + _request_hint(host, region)
        )
    certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    names = [certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])]
    if not any(_covers(name, host) for name in names):
        raise DeployError(
            f"certificate {arn} is for {', '.join(dict.fromkeys(filter(None, names)))},"
            f" not {host}: " + _request_hint(host, region)
        )
    status = certificate["Status"]
    if status != "ISSUED":
        raise DeployError(
            f"certificate {arn} is {status}: finish its DNS validation (aws acm"
            f" describe-certificate --region {region} --certificate-arn {arn}), then rerun"
        )
    return arn


def ensure_domain(apigw: Any, host: str, certificate: str) -> Domain:
    """The REGIONAL custom domain `host` with `certificate`, created or updated."""
    created = False
    try:
        found = apigw.get_domain_name(domainName=host)
    except apigw.exceptions.NotFoundException:
        created = True
        found = apigw.create_domain_name(
            domainName=host,
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
            securityPolicy="TLS_1_2",
        )
    else:
        if "REGIONAL" not in found.get("endpointConfiguration", {}).get("types", ["REGIONAL"]):
            raise DeployError(
                f"custom domain {host} exists and is not REGIONAL: delete it (aws apigateway"
                f" delete-domain-name --domain-name {host}) and rerun"
            )
        if found.get("regionalCertificateArn") != certificate:
            operation = {"op": "replace", "path": "/regionalCertificateArn", "value": certificate}
            found = apigw.update_domain_name(domainName=host, patchOperations=[operation])
    target, zone = found.get("regionalDomainName", ""), found.get("regionalHostedZoneId", "")
    return Domain(host, target, zone, created)


def ensure_mapping(apigw: Any, domain: Domain, api_id: str, stage: str) -> None:
    """The empty base path of the domain maps to `stage` of `api_id`."""
    host = domain.name
    if domain.created:  # (and moto answers 500 to listing the mappings of a new domain)
        _create_mapping(apigw, host, api_id, stage)
        return
    mappings = apigw.get_base_path_mappings(domainName=host).get("items", [])
    root = [item for item in mappings if item.get("basePath", "(none)") in ("(none)", "")]
    if not root:
        _create_mapping(apigw, host, api_id, stage)
        return
    if (root[0].get("restApiId"), root[0].get("stage")) != (api_id, stage):
        apigw.update_base_path_mapping(
            domainName=host,
            basePath="(none)",
            patchOperations=[
                {"op": "replace", "path": "/restapiId", "value": api_id},
                {"op": "replace", "path": "/stage", "value": stage},
            ],
        )


def _create_mapping(apigw: Any, host: str, api_id: str, stage: str) -> None:
    try:
        apigw.create_base_path_mapping(domainName=host, restApiId=api_id, stage=stage)
    except apigw.exceptions.BadRequestException as error:
        message = error.response["Error"].get("Message", "")
        raise DeployError(
            f"mapping {host} to stage {stage} of REST API {api_id} failed ({message}): check"
            f" the stack created the stage (aws apigateway get-stages --rest-api-id {api_id})"
        ) from error
