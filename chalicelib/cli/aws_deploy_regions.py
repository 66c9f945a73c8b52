"""`soute aws deploy --regions A,B --primary A`: a stack per region, linked.

Order (every step creates what is missing and reuses what is there, so a rerun, or a rerun with
one more region, is the way to add a region):
1. the primary's stack (the table, with its stream; the secret);
2. the table's replicas and the secret's replicas in every other region;
3. the other regions' stacks (their bucket, functions, API; the primary's table and the local
   secret replica as parameters);
4. a second pass over every stack whose peers' buckets or roles it did not know yet (policies on
   the other buckets, the replication role, the readers of the secret);
5. per region: the bucket's replication rules to every other bucket, its notification to
   blob_copies, the API's custom domain, the 5XX alarm;
6. Route 53: a health check per region on that alarm, and a latency alias A record per region.

Why the table stays an AWS::DynamoDB::Table: changing a resource's type to
AWS::DynamoDB::GlobalTable makes CloudFormation replace it (a new, empty table; the old one kept
only by DeletionPolicy Retain), and importing it instead needs the stack to drop it and import
it by hand. A deployment made with one region must upgrade in place, with its data; so the
replicas are added by UpdateTable ReplicaUpdates (one region per call, as DynamoDB requires),
after the stack has turned the table's stream on. The same holds for the secret: its replicas
come from ReplicateSecretToRegions, which CloudFormation does not see as a change.

Why the health check is a CloudWatch alarm on the API's 5XXError: an alias record's
EvaluateTargetHealth fails only when API Gateway itself is down in the region, not when the
registry answers errors; an HTTPS health check cannot reach a regional custom domain's target
(it would send the target's name, not the domain's, as SNI) and the execute-api endpoint is off.
The record still evaluates the target's health too, for the region-wide outage.

Moving the primary is refused: the table (with every image's metadata) belongs to the primary's
stack, and DynamoDB cannot move a table's home; a new primary would mean a new, empty table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..server.backends import format_region_buckets
from .aws_errors import DeployError

REGION_NAME = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
REPLICATED_PREFIX = "blobs/"  # deploy/merge_template.py REPLICATED_PREFIX
ALARM_PERIOD_SECONDS, ALARM_PERIODS, ALARM_ERROR_RATE = 60, 3, 0.25
WAIT_SECONDS, WAIT_ROUNDS = 5.0, 180


@dataclass(frozen=True)
class Plan:
    regions: tuple[str, ...]  # the primary first
    primary: str
    replication_time_control: bool

    @property
    def replicas(self) -> tuple[str, ...]:
        return self.regions[1:]


def plan(regions: str, primary: str | None, rtc: bool) -> Plan:
    """The regions, checked: a list without repeats that holds the primary."""
    import re

    listed = [region.strip() for region in regions.split(",") if region.strip()]
    if not listed:
        raise DeployError("--regions: name at least one region, e.g. us-east-1,eu-west-1")
    for region in listed:
        if not re.match(REGION_NAME, region):
            raise DeployError(f"--regions: {region} is not a region name (e.g. eu-west-1)")
    repeated = sorted({region for region in listed if listed.count(region) > 1})
    if repeated:
        raise DeployError(f"--regions names {', '.join(repeated)} more than once")
    if primary is None:
        raise DeployError("--regions needs --primary: the region whose table every region writes")
    if primary not in listed:
        raise DeployError(f"--primary {primary} is not one of --regions {','.join(listed)}")
    return Plan((primary, *[r for r in listed if r != primary]), primary, rtc)


def check_existing(plan_: Plan, stacks: dict[str, Any]) -> None:
    """Refuse to move the primary, or to drop a region, given the stacks that exist already
    (region -> aws_stack.Stack)."""
    for region, stack in stacks.items():
        if stack is None:
            continue
        was = stack.parameters.get("PrimaryRegion", "") or region  # one region: its own
        if was != plan_.primary:
            raise DeployError(
                f"the stack in {region} has {was} as its primary: the table, with every image's"
                f" metadata, belongs to {was}'s stack and a table cannot move its home region;"
                f" rerun with --primary {was}"
            )
        peers = stack.parameters.get("PeerBuckets", "")
        known = {pair.partition("=")[0] for pair in peers.split(",") if pair}
        dropped = sorted(known - set(plan_.regions))
        if dropped:
            raise DeployError(
                f"the stack in {region} also serves {', '.join(dropped)}: deploy does not remove"
                f" a region; rerun with --regions {','.join((*plan_.regions, *dropped))}"
            )


def certificates(arns: list[str]) -> dict[str, str]:
    """--certificate-arn, each in its region (the ARN's fourth field)."""
    found: dict[str, str] = {}
    for arn in arns:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "acm":
            raise DeployError(f"--certificate-arn {arn} is not an ACM certificate ARN")
        if parts[3] in found:
            raise DeployError(f"--certificate-arn: two certificates in {parts[3]}")
        found[parts[3]] = arn
    return found


def stack_parameters(
    plan_: Plan, region: str, buckets: dict[str, str], roles: dict[str, str], primary: Any
) -> dict[str, str]:
    """The region parameters of `region`'s stack, from what the other stacks said so far
    (buckets and API handler roles by region; `primary`: the primary's stack, or None)."""
    peers = {other: name for other, name in buckets.items() if other != region}
    values = {
        "PrimaryRegion": plan_.primary,
        "PeerBuckets": format_region_buckets(tuple(peers.items())),  # as SOUTE_S3_BUCKETS
        "PeerBucketArns": ",".join(f"arn:aws:s3:::{name}" for name in peers.values()),
        "PrimaryTableName": "",
        "ReplicaSecretArn": "",
        "PeerHandlerRoleArns": "",
    }
    if region == plan_.primary:
        values["PeerHandlerRoleArns"] = ",".join(
            arn for other, arn in roles.items() if other != region
        )
    else:
        values["PrimaryTableName"] = primary.outputs["RegistryTableName"]
        values["ReplicaSecretArn"] = in_region(primary.outputs["TokenSigningSecretArn"], region)
    return values


def single_region_parameters() -> dict[str, str]:
    """The same parameters for a one-region stack: all empty."""
    names = ("PrimaryRegion", "PeerBuckets", "PeerBucketArns", "PrimaryTableName")
    return {name: "" for name in (*names, "ReplicaSecretArn", "PeerHandlerRoleArns")}


def in_region(arn: str, region: str) -> str:
    """A replica's ARN: the primary's with the region changed (Secrets Manager's rule)."""
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def _wait(what: str, done: Callable[[], bool]) -> None:
    for _ in range(WAIT_ROUNDS):
        if done():
            return
        time.sleep(WAIT_SECONDS)
    raise DeployError(f"{what} is still not ready after {WAIT_ROUNDS * WAIT_SECONDS:.0f} s: rerun")


def ensure_table_replicas(
    dynamodb: Any, table: str, regions: tuple[str, ...], say: Callable[[str], None]
) -> list[str]:
    """The global table's replica in each of `regions` (version 2019.11.21), one at a time;
    the regions whose replica the endpoint lists."""
    listed_regions = []
    for region in regions:
        described = dynamodb.describe_table(TableName=table)["Table"]
        listed = {r["RegionName"]: r for r in described.get("Replicas", [])}
        if region in listed:
            say(f"table {table}: replica in {region} reused ({listed[region]['ReplicaStatus']})")
            listed_regions.append(region)
            continue
        _wait(
            f"table {table}",
            lambda: dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE",
        )
        dynamodb.update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": region}}])
        replicas = dynamodb.describe_table(TableName=table)["Table"].get("Replicas", [])
        if not any(r["RegionName"] == region for r in replicas):
            # moto accepts the call and lists no replica (nor creates one).
            say(f"table {table}: replica in {region} requested; the endpoint does not list it")
            continue

        def active(region: str = region) -> bool:
            found = dynamodb.describe_table(TableName=table)["Table"].get("Replicas", [])
            return any(
                r["RegionName"] == region and r.get("ReplicaStatus") == "ACTIVE" for r in found
            )

        _wait(f"the replica of {table} in {region}", active)
        say(f"table {table}: replica in {region} created")
        listed_regions.append(region)
    return listed_regions


def protect_replica(dynamodb: Any, table: str) -> None:
    """A replica's own settings, as the primary's: deletion protection and PITR."""
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=True)
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def ensure_secret_replicas(
    secrets: Any, arn: str, regions: tuple[str, ...], say: Callable[[str], None]
) -> None:
    """The signing secret replicated to each of `regions`: a token signed in one region
    verifies in every other (same value, same key)."""
    described = secrets.describe_secret(SecretId=arn)
    have = {status["Region"] for status in described.get("ReplicationStatus", [])}
    missing = [region for region in regions if region not in have]
    for region in regions:
        if region in have:
            say(f"secret: replica in {region} reused")
    if missing:
        secrets.replicate_secret_to_regions(
            SecretId=arn, AddReplicaRegions=[{"Region": region} for region in missing]
        )
        for region in missing:
            say(f"secret: replica in {region} created")


def replication_rules(buckets: dict[str, str], region: str, role: str, rtc: bool) -> dict[str, Any]:
    """The bucket's replication configuration: one rule per other region's bucket, finished
    blobs only (an upload in progress stays in its bucket), no delete markers (a delete
    removes the blob from every bucket itself)."""
    rules = []
    for priority, (other, name) in enumerate(sorted(buckets.items())):
        if other == region:
            continue
        destination: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{name}"}
        if rtc:  # 15 is the only value S3 takes; the metrics come with it
            destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
            destination["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
        rules.append(
            {
                "ID": f"soute-to-{other}",
                "Priority": priority,
                "Status": "Enabled",
                "Filter": {"Prefix": REPLICATED_PREFIX},
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": destination,
            }
        )
    return {"Role": role, "Rules": rules}


def ensure_replication(s3: Any, bucket: str, configuration: dict[str, Any]) -> bool:
    """Write the bucket's replication rules unless they are already these; True if written."""
    try:
        current = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    except s3.exceptions.ClientError as error:
        if "ReplicationConfigurationNotFound" not in str(error):
            raise
        current = None
    if current == configuration:
        return False
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=configuration)
    return True


def ensure_notification(s3: Any, bucket: str, function_arn: str) -> bool:
    """Every object created under blobs/ (replicas included) invokes blob_copies."""
    wanted = [
        {
            "Id": "soute-blob-copies",
            "LambdaFunctionArn": function_arn,
            "Events": ["s3:ObjectCreated:*"],
            # (S3 takes either case and answers "Prefix"; moto takes only lower case.)
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": REPLICATED_PREFIX}]}},
        }
    ]

    def same(found: list[dict[str, Any]]) -> bool:
        for rule in (
            r for c in found for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        ):
            rule["Name"] = rule["Name"].lower()
        return found == wanted

    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    if same(current.get("LambdaFunctionConfigurations", [])):
        return False
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": wanted}
    )
    return True


def alarm_name(stack: str) -> str:
    return f"{stack}-api-5xx"


def ensure_alarm(cloudwatch: Any, stack: str, api_name: str, stage: str) -> str:
    """The region's API in alarm: over a quarter of its requests answered 5XX for 3 minutes
    (no requests: not in alarm). PutMetricAlarm replaces an alarm of the same name."""
    name = alarm_name(stack)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription="Soute: the regional API answers 5XX (Route 53 health check)",
        Namespace="AWS/ApiGateway",
        MetricName="5XXError",
        Dimensions=[{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage}],
        Statistic="Average",  # 5XXError is 0 or 1 per request: the average is the error rate
        Period=ALARM_PERIOD_SECONDS,
        EvaluationPeriods=ALARM_PERIODS,
        Threshold=ALARM_ERROR_RATE,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    return name


def ensure_health_check(route53: Any, region: str, alarm: str) -> tuple[str, bool]:
    """A Route 53 health check on the region's alarm: (its id, created). Found again by its
    caller reference, which names the alarm and region."""
    reference = f"soute-{region}-{alarm}"[:64]
    for page in route53.get_paginator("list_health_checks").paginate():
        for check in page["HealthChecks"]:
            if check["CallerReference"] == reference:
                return str(check["Id"]), False
    answer = route53.create_health_check(
        CallerReference=reference,
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": region, "Name": alarm},
            "InsufficientDataHealthStatus": "LastKnownStatus",
        },
    )
    return str(answer["HealthCheck"]["Id"]), True


def hosted_zone(route53: Any, host: str, given: str | None) -> str:
    """The public hosted zone the host's records go in: --hosted-zone-id, else the zone whose
    name is the longest suffix of the host."""
    if given:
        return given.rsplit("/", 1)[-1]
    best: tuple[int, str] | None = None
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            name = zone["Name"].rstrip(".")
            private = zone.get("Config", {}).get("PrivateZone", False)
            covers = host == name or host.endswith("." + name)
            if not private and covers and (best is None or len(name) > best[0]):
                best = (len(name), zone["Id"].rsplit("/", 1)[-1])
    if best is None:
        raise DeployError(
            f"no Route 53 hosted zone holds {host}: latency routing needs one; create it or"
            " give --hosted-zone-id"
        )
    return best[1]


def latency_record(host: str, region: str, target: str, zone: str, check: str) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": host,
            "Type": "A",
            "SetIdentifier": f"soute-{region}",
            "Region": region,
            "HealthCheckId": check,
            "AliasTarget": {"HostedZoneId": zone, "DNSName": target, "EvaluateTargetHealth": True},
        },
    }


def ensure_records(route53: Any, zone: str, changes: list[dict[str, Any]]) -> None:
    """UPSERT the latency records (a rerun writes the same records)."""
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Comment": "soute aws deploy --regions", "Changes": changes},
    )
