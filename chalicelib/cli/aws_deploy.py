"""`soute aws deploy` and `soute aws destroy`: the README's deployment as one command each.

deploy: package with Chalice → artifact bucket (created once per account and region) → code
and template uploaded → stack created or updated from the template's URL, its events shown →
the API's custom domain and empty base path mapping → the DNS record to create and the next
command. The certificate is checked first, so a missing one fails before anything is built.
Rerunning it upgrades the stack in place: same bucket, table and secret, so nothing is lost.

destroy: the stack; with --delete-data also what it retains (aws_data.py).
Every AWS client takes --endpoint-url, so the tests run both against moto.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import aws_data, aws_deploy_regions, aws_domain, aws_package, aws_stack
from .aws_errors import DeployError, region_or_fail
from .console import plain_console

HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class Aws:
    """The clients of one region (and endpoint)."""

    def __init__(self, region: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.region, self.endpoint_url = region, endpoint_url
        self._session = boto3.session.Session(region_name=region)
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path" if endpoint_url else "virtual"},
        )

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)


def _show(console: Any) -> Any:
    from rich.text import Text

    def show(event: dict[str, Any]) -> None:
        status = event["ResourceStatus"]
        style = "yellow"
        if "FAILED" in status or "ROLLBACK" in status:
            style = "red"
        elif status.endswith("_COMPLETE"):
            style = "green"
        line = Text(event["Timestamp"].strftime("%H:%M:%S") + " ")
        line.append(f"{status:<28}", style=style)
        line.append(f" {event['LogicalResourceId']:<32} {event['ResourceType']}")
        if reason := event.get("ResourceStatusReason"):
            line.append(f" {reason}")
        console.print(line)

    return show


def _parameters(pairs: list[str]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise DeployError(f"--parameter {pair}: write it KEY=VALUE")
        given[key] = value
    return given


def _host(args: argparse.Namespace) -> str:
    host = str(args.domain).lower().rstrip(".")
    if not HOST.match(host):
        raise DeployError(f"--domain {args.domain} is not a host name (e.g. registry.example.com)")
    return host


def _deploy(args: argparse.Namespace) -> int:
    if args.regions is not None:
        return _deploy_regions(args)
    if args.primary or args.hosted_zone_id or args.replication_time_control:
        raise DeployError(
            "--primary, --hosted-zone-id and --replication-time-control go with --regions"
        )
    if len(args.certificate_arn) > 1:
        raise DeployError("one --certificate-arn for one region (several go with --regions)")
    region = region_or_fail(args.region)
    host = _host(args)
    parameters = {"RegistryDomainName": host, **_parameters(args.parameter)}
    project = Path(args.project_dir) if args.project_dir else aws_package.default_project_dir()
    aws_package.check_project(project)
    aws, console = Aws(region, args.endpoint_url), plain_console()
    acm = aws.client("acm")
    if args.certificate_arn:
        [arn] = args.certificate_arn
        certificate = aws_domain.check_certificate(acm, arn, host, region)
    else:
        certificate = aws_domain.find_certificate(acm, host, region)
    console.print(f"certificate {certificate}")
    previous = aws_stack.describe(aws.client("cloudformation"), args.stack_name)
    if previous and previous.parameters.get("PrimaryRegion"):
        raise DeployError(
            f"stack {args.stack_name} in {region} is one region of several (primary"
            f" {previous.parameters['PrimaryRegion']}): deploy it with --regions and --primary"
        )
    stack = _deploy_stack(aws, console, args, _build(aws, console, project, args), parameters)
    try:
        api_id, table = stack.outputs["RestAPIId"], stack.outputs["RegistryTableName"]
    except KeyError as missing:
        raise DeployError(f"the stack has no output {missing}: was it made by Soute?") from None
    apigw = aws.client("apigateway")
    domain = aws_domain.ensure_domain(apigw, host, certificate)
    stage = aws_package.api_stage(project)
    aws_domain.ensure_mapping(apigw, domain, api_id, stage)
    console.print(f"custom domain {host}: empty base path → REST API {api_id}, stage {stage}")
    _next_steps(console, domain, table, region, args)
    return 0


@dataclass(frozen=True)
class Built:
    """The app packaged for one region: its template (the code in the artifact bucket)."""

    template: dict[str, Any]
    bucket: str
    account: str


def _build(aws: Aws, console: Any, project: Path, args: argparse.Namespace) -> Built:
    s3 = aws.client("s3")
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = args.artifact_bucket or aws_package.artifact_bucket_name(account, aws.region)
    with tempfile.TemporaryDirectory(prefix="soute-package-") as out:
        console.print(f"packaging stage {args.stage} with chalice ({project})")
        built = aws_package.package(project, args.stage, aws.region, Path(out) / "out")
        created = aws_package.ensure_artifact_bucket(s3, bucket, aws.region)
        console.print(f"artifact bucket {bucket}: {'created' if created else 'reused'}")
        key = aws_package.upload_code(s3, bucket, args.stack_name, built.code)
    return Built(aws_package.with_code(built.template, bucket, key), bucket, account)


def _deploy_stack(
    aws: Aws, console: Any, args: argparse.Namespace, built: Built, parameters: dict[str, str]
) -> aws_stack.Stack:
    template = built.template
    if "PrimaryRegion" in template.get("Parameters", {}):  # one region unless told otherwise
        parameters = {**aws_deploy_regions.single_region_parameters(), **parameters}
    if args.translate_sam:
        from .aws_sam_local import translate

        template = translate(template, parameters, aws.client("iam"), built.account, aws.region)
    s3 = aws.client("s3")
    url = aws_package.upload_template(s3, built.bucket, aws.region, args.stack_name, template)
    console.print(f"stack {args.stack_name}: deploying {url}")
    cfn = aws.client("cloudformation")
    stack = aws_stack.deploy(cfn, args.stack_name, url, template, parameters, _show(console))
    console.print(f"stack {args.stack_name}: {stack.status}")
    return stack


def _deploy_regions(args: argparse.Namespace) -> int:
    """Every region's stack, the replicas, the replication, the domains and the latency
    records (aws_deploy_regions.py gives the order and the choices)."""
    if args.region:
        raise DeployError("--region is for one region: with --regions, list them all there")
    if args.artifact_bucket:
        raise DeployError("--artifact-bucket names one region's: leave it out with --regions")
    plan = aws_deploy_regions.plan(args.regions, args.primary, args.replication_time_control)
    host = _host(args)
    given = _parameters(args.parameter)
    project = Path(args.project_dir) if args.project_dir else aws_package.default_project_dir()
    aws_package.check_project(project)
    console = plain_console()
    say = console.print
    aws = {region: Aws(region, args.endpoint_url) for region in plan.regions}
    # Everything that can refuse, before anything is built: certificates, zone, the stacks.
    named = aws_deploy_regions.certificates(args.certificate_arn)
    unknown = sorted(set(named) - set(plan.regions))
    if unknown:
        raise DeployError(f"--certificate-arn in {', '.join(unknown)}, not one of --regions")
    certificates = {}
    for region in plan.regions:
        acm = aws[region].client("acm")
        if region in named:
            certificates[region] = aws_domain.check_certificate(acm, named[region], host, region)
        else:
            certificates[region] = aws_domain.find_certificate(acm, host, region)
        say(f"{region}: certificate {certificates[region]}")
    route53 = aws[plan.primary].client("route53")
    zone = aws_deploy_regions.hosted_zone(route53, host, args.hosted_zone_id)
    existing = {
        region: aws_stack.describe(aws[region].client("cloudformation"), args.stack_name)
        for region in plan.regions
    }
    aws_deploy_regions.check_existing(plan, existing)
    buckets = {
        r: s.outputs["RegistryBucketName"]
        for r, s in existing.items()
        if s and "RegistryBucketName" in s.outputs
    }
    roles = {
        r: s.outputs["ApiHandlerRoleArn"]
        for r, s in existing.items()
        if s and "ApiHandlerRoleArn" in s.outputs
    }
    stacks: dict[str, aws_stack.Stack] = {}
    deployed: dict[str, dict[str, str]] = {}
    built: dict[str, Built] = {}

    def deploy(region: str) -> None:
        regional = aws_deploy_regions.stack_parameters(
            plan, region, buckets, roles, stacks.get(plan.primary)
        )
        parameters = {"RegistryDomainName": host, **regional, **given}
        say(
            f"\n{region}: stack {args.stack_name}"
            f" ({'primary' if region == plan.primary else 'replica'})"
        )
        if region not in built:  # a second pass deploys what the first one packaged
            built[region] = _build(aws[region], console, project, args)
        stack = _deploy_stack(aws[region], console, args, built[region], parameters)
        stacks[region], deployed[region] = stack, regional
        buckets[region] = stack.outputs["RegistryBucketName"]
        roles[region] = stack.outputs["ApiHandlerRoleArn"]

    # 1-3: the primary, its table's and secret's replicas, the other regions.
    deploy(plan.primary)
    primary = stacks[plan.primary]
    table = primary.outputs["RegistryTableName"]
    secret = primary.outputs["TokenSigningSecretArn"]
    replicated = aws_deploy_regions.ensure_table_replicas(
        aws[plan.primary].client("dynamodb"), table, plan.replicas, say
    )
    for region in replicated:
        aws_deploy_regions.protect_replica(aws[region].client("dynamodb"), table)
    aws_deploy_regions.ensure_secret_replicas(
        aws[plan.primary].client("secretsmanager"), secret, plan.replicas, say
    )
    for region in plan.replicas:
        deploy(region)
    # 4: a second pass where a stack did not know every other region's bucket and role yet.
    for region in plan.regions:
        wanted = aws_deploy_regions.stack_parameters(plan, region, buckets, roles, primary)
        if wanted != deployed[region]:
            say(f"\n{region}: second pass (the other regions' buckets and roles)")
            deploy(region)
    # 5: per region: replication, notification, domain and mapping, alarm.
    stage = aws_package.api_stage(project)
    changes = []
    for region in plan.regions:
        stack, clients = stacks[region], aws[region]
        s3 = clients.client("s3")
        if len(plan.regions) > 1:
            rules = aws_deploy_regions.replication_rules(
                buckets, region, stack.outputs["ReplicationRoleArn"], plan.replication_time_control
            )
            written = aws_deploy_regions.ensure_replication(s3, buckets[region], rules)
            targets = ", ".join(b for r, b in sorted(buckets.items()) if r != region)
            say(
                f"{region}: bucket {buckets[region]} replicates blobs/ to {targets}:"
                f" {'written' if written else 'reused'}"
            )
        if "BlobCopiesArn" in stack.outputs:
            written = aws_deploy_regions.ensure_notification(
                s3, buckets[region], stack.outputs["BlobCopiesArn"]
            )
            say(
                f"{region}: bucket notification → blob_copies: {'written' if written else 'reused'}"
            )
        else:
            say(f"{region}: the app has no blob_copies function: no bucket notification")
        apigw = clients.client("apigateway")
        api_id = stack.outputs["RestAPIId"]
        domain = aws_domain.ensure_domain(apigw, host, certificates[region])
        aws_domain.ensure_mapping(apigw, domain, api_id, stage)
        say(
            f"{region}: custom domain {host} ({domain.target}):"
            f" {'created' if domain.created else 'reused'}, empty base path → {api_id}/{stage}"
        )
        api_name = apigw.get_rest_api(restApiId=api_id)["name"]
        alarm = aws_deploy_regions.ensure_alarm(
            clients.client("cloudwatch"), args.stack_name, api_name, stage
        )
        check, created = aws_deploy_regions.ensure_health_check(route53, region, alarm)
        say(f"{region}: alarm {alarm}, health check {check}: {'created' if created else 'reused'}")
        changes.append(
            aws_deploy_regions.latency_record(
                host, region, domain.target, domain.hosted_zone, check
            )
        )
    # 6: one latency record per region.
    aws_deploy_regions.ensure_records(route53, zone, changes)
    say(f"\nRoute 53 zone {zone}: {host} A, latency alias per region ({', '.join(plan.regions)})")
    endpoint = f" --endpoint-url {args.endpoint_url}" if args.endpoint_url else ""
    say("\nThen add the first administrator (in the primary region) and log in:")
    say(
        f"  soute user add admin --admin --backend aws --dynamodb-table {table}"
        f" --region {plan.primary}{endpoint}"
    )
    say(f"  docker login {host}")
    say(f"To add a region later: rerun with it added to --regions {','.join(plan.regions)}")
    return 0


def _next_steps(
    console: Any, domain: aws_domain.Domain, table: str, region: str, args: argparse.Namespace
) -> None:
    console.print("\nCreate this DNS record (or a Route 53 alias A record to the same name, hosted")
    console.print(f"zone {domain.hosted_zone}):\n  {domain.name}. CNAME {domain.target}")
    endpoint = f" --endpoint-url {args.endpoint_url}" if args.endpoint_url else ""
    console.print("\nThen add the first administrator and log in:")
    console.print(
        f"  soute user add admin --admin --backend aws --dynamodb-table {table}"
        f" --region {region}{endpoint}"
    )
    console.print(f"  docker login {domain.name}")


def _destroy(args: argparse.Namespace) -> int:
    region = region_or_fail(args.region)
    aws, console = Aws(region, args.endpoint_url), plain_console()
    cfn = aws.client("cloudformation")
    stack = aws_stack.describe(cfn, args.stack_name)
    if stack is None:
        raise DeployError(
            f"no stack {args.stack_name} in {region}: check --stack-name and --region"
        )
    bucket = stack.outputs.get("RegistryBucketName")
    table = stack.outputs.get("RegistryTableName")
    secret = stack.outputs.get("TokenSigningSecretArn")
    if args.delete_data and not args.yes:
        _confirm(args.stack_name, f"the stack {args.stack_name}, bucket {bucket} and table {table}")
    aws_stack.delete(cfn, stack, _show(console))
    console.print(f"stack {args.stack_name}: deleted")
    if not args.delete_data:
        console.print(
            f"kept (retained, with every image and user): bucket {bucket}, table {table};"
            " rerun with --delete-data before deleting the stack to remove them too"
        )
        return 0
    for kind, name, remove in (
        ("bucket", bucket, lambda: aws_data.delete_bucket(aws.client("s3"), bucket)),
        ("table", table, lambda: aws_data.delete_table(aws.client("dynamodb"), table)),
        ("secret", secret, lambda: aws_data.delete_secret(aws.client("secretsmanager"), secret)),
    ):
        if name:
            console.print(f"{kind} {name}: {'deleted' if remove() else 'already gone'}")
    return 0


def _confirm(stack: str, what: str) -> None:
    if not sys.stdin.isatty():
        raise DeployError("--delete-data asks twice on a terminal: add --yes to confirm here")
    if not aws_data.confirmed(stack, what, input):
        raise DeployError("not confirmed: nothing deleted")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: AWS_DEFAULT_REGION or the profile's)"
    )
    parser.add_argument(
        "--stack-name", default="soute", help="CloudFormation stack (default soute)"
    )
    parser.add_argument("--endpoint-url", help="one endpoint for every AWS service (an emulator)")


def add_deploy_parsers(aws: argparse._SubParsersAction) -> None:
    deploy = aws.add_parser(
        "deploy", help="package, deploy or upgrade the stack, and give the API its domain"
    )
    deploy.add_argument("--domain", required=True, help="host name clients use")
    deploy.add_argument(
        "--certificate-arn",
        action="append",
        default=[],
        help="ACM certificate for --domain, in the same region (default: an issued one that"
        " covers the domain); with --regions, once per region that needs one named",
    )
    deploy.add_argument(
        "--regions",
        help="several regions, e.g. us-east-1,eu-west-1: a stack in each, a global table,"
        " replicated buckets and secret, Route 53 latency records (instead of --region)",
    )
    deploy.add_argument("--primary", help="with --regions: the region whose table all write to")
    deploy.add_argument(
        "--hosted-zone-id", help="with --regions: the Route 53 zone of --domain (default: found)"
    )
    deploy.add_argument(
        "--replication-time-control",
        action="store_true",
        help="with --regions: S3 Replication Time Control (15 minutes, billed per GB)",
    )
    deploy.add_argument("--stage", default="prod", help="Chalice stage (default prod)")
    _common(deploy)
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter, e.g. ApiHandlerReservedConcurrency=0 (kept on upgrades)",
    )
    deploy.add_argument("--artifact-bucket", help="default soute-artifacts-ACCOUNT-REGION")
    deploy.add_argument("--project-dir", help="the Soute checkout (default: this one)")
    deploy.add_argument(
        "--translate-sam",
        action="store_true",
        help="expand the SAM transform here (for an emulator without it, e.g. moto; never"
        " needed on AWS)",
    )
    deploy.set_defaults(run=_deploy)
    destroy = aws.add_parser("destroy", help="delete the stack (and its data with --delete-data)")
    _common(destroy)
    destroy.add_argument(
        "--delete-data",
        action="store_true",
        help="also delete the retained bucket (every version), table and secret",
    )
    destroy.add_argument("--yes", action="store_true", help="with --delete-data: do not ask")
    destroy.set_defaults(run=_destroy)
