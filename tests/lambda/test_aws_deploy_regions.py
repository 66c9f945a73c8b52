"""`soute aws deploy --regions`: the checks that refuse, the two-region templates (cfn-lint,
policies per kind of stack), and the deploy against a moto server as far as moto goes.

Where moto (5.2.5) stops, exactly:
- The primary's stack stops where the single-region one does (test_aws_deploy.py): moto's
  CloudFormation creates the bucket, table, roles and functions and fails on the API's
  AWS::ApiGateway::Deployment ("The REST API doesn't contain any methods"), so no replica
  stack is ever created by `soute aws deploy --regions` on moto:
  test_regions_deploy_on_moto_stops_at_the_primary_stack checks that, and that the refusals
  (certificates in every region, the hosted zone) all come before it.
- Every later step is run here on moto through the functions the deploy calls
  (test_the_links_on_moto), in two regions: UpdateTable ReplicaUpdates is accepted and ignored
  (no replica listed or created); ReplicateSecretToRegions creates the replica (moto lists it
  and GetSecretValue answers in the other region); PutBucketReplication is stored and read back
  but nothing is copied; the bucket notification is stored (moto does not invoke the function);
  PutMetricAlarm and the latency alias records are stored and listed; CreateHealthCheck of type
  CLOUDWATCH_METRIC is accepted but moto drops its AlarmIdentifier (ListHealthChecks shows none),
  so the deploy finds its checks again by caller reference; moto never evaluates a health check,
  nor answers DNS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli import aws_deploy_regions
from chalicelib.cli.aws_errors import DeployError
from chalicelib.cli.aws_package import with_code
from chalicelib.cli.aws_stack import Stack
from deploy import merge_template
from tests.support.moto import FAKE_CREDENTIALS

from . import test_aws_deploy as single
from .template_conditions import PRIMARY, REPLICA, resolve
from .test_aws_deploy import (
    ROOT,
    SOUTE_FILES,
    assert_one_line_failure,
    copy_project,
    import_certificate,
    soute,
)

BIN = Path(sys.executable).parent
TWO = ("us-east-1", "eu-west-1")


# -- the checks that refuse ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regions", "primary", "said"),
    [
        ("us-east-1,eu-west-1", "ap-south-1", "--primary ap-south-1 is not one of --regions"),
        ("us-east-1,eu-west-1,us-east-1", "us-east-1", "names us-east-1 more than once"),
        ("us-east-1,Europe", "us-east-1", "Europe is not a region name"),
        ("us-east-1,eu-west-1", None, "--regions needs --primary"),
        (" , ", "us-east-1", "name at least one region"),
    ],
)
def test_region_lists_that_are_refused(regions: str, primary: str | None, said: str) -> None:
    with pytest.raises(DeployError, match=said):
        aws_deploy_regions.plan(regions, primary, False)


def test_the_primary_comes_first() -> None:
    plan = aws_deploy_regions.plan("eu-west-1, us-east-1,ap-south-1", "us-east-1", True)
    assert plan.regions == ("us-east-1", "eu-west-1", "ap-south-1")
    assert plan.replicas == ("eu-west-1", "ap-south-1")


def _stack(**parameters: str) -> Stack:
    return Stack("id", "UPDATE_COMPLETE", {}, parameters)


def test_moving_the_primary_is_refused() -> None:
    plan = aws_deploy_regions.plan("us-east-1,eu-west-1", "eu-west-1", False)
    # A one-region deployment in us-east-1: its table is there.
    with pytest.raises(DeployError, match="belongs to us-east-1's stack.*--primary us-east-1"):
        aws_deploy_regions.check_existing(
            plan, {"us-east-1": _stack(PrimaryRegion=""), "eu-west-1": None}
        )
    with pytest.raises(DeployError, match="has us-east-1 as its primary"):
        aws_deploy_regions.check_existing(plan, {"eu-west-1": _stack(PrimaryRegion="us-east-1")})
    # Upgrading one region to two, the same primary: fine.
    same = aws_deploy_regions.plan("us-east-1,eu-west-1", "us-east-1", False)
    aws_deploy_regions.check_existing(
        same, {"us-east-1": _stack(PrimaryRegion=""), "eu-west-1": None}
    )


def test_dropping_a_region_is_refused() -> None:
    plan = aws_deploy_regions.plan("us-east-1", "us-east-1", False)
    stack = _stack(PrimaryRegion="us-east-1", PeerBuckets="eu-west-1=b")
    with pytest.raises(DeployError, match="also serves eu-west-1.*us-east-1,eu-west-1"):
        aws_deploy_regions.check_existing(plan, {"us-east-1": stack})


def test_certificates_are_one_per_region() -> None:
    one = "arn:aws:acm:eu-west-1:123456789012:certificate/a"
    assert aws_deploy_regions.certificates([one]) == {"eu-west-1": one}
    with pytest.raises(DeployError, match="two certificates in eu-west-1"):
        aws_deploy_regions.certificates([one, one + "b"])
    with pytest.raises(DeployError, match="not an ACM certificate ARN"):
        aws_deploy_regions.certificates(["arn:aws:iam::1:role/x"])


def test_each_stack_is_told_its_peers() -> None:
    plan = aws_deploy_regions.plan("us-east-1,eu-west-1,ap-south-1", "us-east-1", False)
    buckets = {"us-east-1": "a", "eu-west-1": "b", "ap-south-1": "c"}
    roles = {region: f"arn:aws:iam::1:role/{region}" for region in buckets}
    secret = "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf"
    primary = Stack(
        "p", "CREATE_COMPLETE", {"RegistryTableName": "t", "TokenSigningSecretArn": secret}, {}
    )
    first = aws_deploy_regions.stack_parameters(plan, "us-east-1", buckets, roles, None)
    assert first == {
        "PrimaryRegion": "us-east-1",
        "PeerBuckets": "eu-west-1=b,ap-south-1=c",
        "PeerBucketArns": "arn:aws:s3:::b,arn:aws:s3:::c",
        "PrimaryTableName": "",
        "ReplicaSecretArn": "",
        "PeerHandlerRoleArns": f"{roles['eu-west-1']},{roles['ap-south-1']}",
    }
    replica = aws_deploy_regions.stack_parameters(plan, "eu-west-1", buckets, roles, primary)
    assert replica["PeerBuckets"] == "us-east-1=a,ap-south-1=c"
    assert (replica["PrimaryTableName"], replica["PeerHandlerRoleArns"]) == ("t", "")
    assert replica["ReplicaSecretArn"] == "arn:aws:secretsmanager:eu-west-1:1:secret:s-AbCdEf"


def test_replication_rules() -> None:
    buckets = {"us-east-1": "a", "eu-west-1": "b", "ap-south-1": "c"}
    plain = aws_deploy_regions.replication_rules(buckets, "eu-west-1", "arn:role", False)
    assert plain["Role"] == "arn:role"
    assert [rule["Destination"] for rule in plain["Rules"]] == [
        {"Bucket": "arn:aws:s3:::c"},
        {"Bucket": "arn:aws:s3:::a"},
    ]
    for rule in plain["Rules"]:
        assert rule["Filter"] == {"Prefix": "blobs/"}  # finished blobs, not uploads/
        assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert len({rule["Priority"] for rule in plain["Rules"]}) == 2
    timed = aws_deploy_regions.replication_rules(buckets, "eu-west-1", "arn:role", True)
    destination = timed["Rules"][0]["Destination"]
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}


# -- the templates -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_region_package(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`chalice package` of a copy of the project with the merge template for its functions
    (the verifier, blob_copies and gc)."""
    project = copy_project(ROOT, SOUTE_FILES, tmp_path_factory.mktemp("regions-project"))
    functions = merge_template.app_functions()
    assert functions == {"verifier", "blob_copies", "gc"}
    merged = merge_template.merge_template(functions)
    (project / "deploy" / "resources.json").write_text(json.dumps(merged, indent=2))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(BIN / "chalice"), "package", "--stage", "prod"]
    command += ["--merge-template", "deploy/resources.json", str(project / "out")]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"path": project / "out" / "sam.json"}


def test_two_region_template_passes_cfn_lint(two_region_package: dict[str, Any]) -> None:
    path = two_region_package["path"]
    for region in TWO:
        result = subprocess.run(
            [str(BIN / "cfn-lint"), "--regions", region, "--", str(path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def _packaged(package: dict[str, Any], conditions: dict[str, bool]) -> dict[str, Any]:
    return resolve(json.loads(package["path"].read_text()), conditions)


def _policy(resources: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    [document] = [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]]
    return {statement["Sid"]: statement for statement in document["Statement"]}


PEER_OBJECTS = {
    "Fn::Split": [",", {"Fn::Join": ["", [{"Fn::Join": ["/*,", {"Ref": "PeerBucketArns"}]}, "/*"]]}]
}


def test_primary_stack(two_region_package: dict[str, Any]) -> None:
    template = _packaged(two_region_package, PRIMARY)
    resources = template["Resources"]
    assert {"RegistryTable", "TokenSigningSecret", "ReplicationRole"} <= set(resources)
    table = resources["RegistryTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"  # never replaced (aws_deploy_regions.py)
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    handler = _policy(resources, "ApiHandlerRole")
    assert handler["Metadata"]["Resource"] == {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    assert "LocalReplicaReads" not in handler
    assert handler["PeerBlobObjects"]["Resource"] == PEER_OBJECTS
    assert handler["PeerBlobBuckets"]["Resource"] == {"Ref": "PeerBucketArns"}
    # Every region's API handler may read the secret (its policy is copied to the replicas).
    [deny] = resources["TokenSigningSecretPolicy"]["Properties"]["ResourcePolicy"]["Statement"]
    readers = deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
    assert readers == {
        "Fn::Split": [",", {"Fn::Sub": "${ApiHandlerRole.Arn},${PeerHandlerRoleArns}"}]
    }
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["SOUTE_PRIMARY_REGION"] == {"Ref": "PrimaryRegion"}
    assert variables["SOUTE_AWS_REGION"] == {"Ref": "AWS::Region"}
    assert variables["SOUTE_S3_BUCKETS"] == {
        "Fn::Sub": "${AWS::Region}=${RegistryBucket},${PeerBuckets}"
    }


def test_replica_stack(two_region_package: dict[str, Any]) -> None:
    template = _packaged(two_region_package, REPLICA)
    resources = template["Resources"]
    assert not {"RegistryTable", "TokenSigningSecret", "TokenSigningSecretPolicy"} & set(resources)
    primary_table = {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${PrimaryRegion}:${AWS::AccountId}:table/"
        "${PrimaryTableName}"
    }
    local_table = {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
        "${PrimaryTableName}"
    }
    for role in ("ApiHandlerRole", "VerifierRole"):
        policy = _policy(resources, role)
        assert policy["Metadata"]["Resource"] == primary_table  # writes: the primary's
        reads = policy["LocalReplicaReads"]
        assert (reads["Resource"], reads["Action"]) == (
            local_table,
            ["dynamodb:GetItem", "dynamodb:Query"],
        )
    handler = _policy(resources, "ApiHandlerRole")
    assert handler["TokenSigningSecret"]["Resource"] == {"Ref": "ReplicaSecretArn"}
    copies = _policy(resources, "BlobCopiesRole")
    assert set(copies) == {"Metadata"}
    assert copies["Metadata"]["Resource"] == primary_table
    variables = resources["BlobCopies"]["Properties"]["Environment"]["Variables"]
    assert variables["SOUTE_DYNAMODB_TABLE"] == {"Ref": "PrimaryTableName"}
    permission = resources["BlobCopiesInvokedByBucket"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["RegistryBucket", "Arn"]}
    replication = _policy(resources, "ReplicationRole")
    assert replication["DestinationBlobs"]["Resource"] == {
        "Fn::Split": [
            ",",
            {
                "Fn::Join": [
                    "",
                    [{"Fn::Join": ["/blobs/*,", {"Ref": "PeerBucketArns"}]}, "/blobs/*"],
                ]
            },
        ]
    }
    assert set(template["Outputs"]) >= {"BlobCopiesArn", "ReplicationRoleArn", "ApiHandlerRoleArn"}
    # A scheduled job runs once, in the primary (docs/regions.md rule 7): no gc here at all.
    assert not [name for name in resources if name.startswith("Gc")]


GC_RESOURCES = {"Gc", "GcRole", "GcLogGroup", "GcLogs"}


def test_the_gc_and_its_schedule_are_the_primary_stacks(two_region_package: dict[str, Any]) -> None:
    """Its schedule, an event of the function, is in the primary's stack only; its role
    deletes a blob's copies from every region's bucket, and writes the primary's table."""
    resources = _packaged(two_region_package, PRIMARY)["Resources"]
    assert set(resources) >= GC_RESOURCES
    events = resources["Gc"]["Properties"]["Events"]
    assert [event["Type"] for event in events.values()] == ["Schedule"]
    policy = _policy(resources, "GcRole")
    assert set(policy) == {"CollectedObjects", "Metadata", "PeerBlobs", "PeerUploads"}
    assert policy["Metadata"]["Resource"] == {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    for sid, prefix in (("PeerBlobs", "blobs/"), ("PeerUploads", "uploads/")):
        assert policy[sid]["Action"] == ["s3:DeleteObject", "s3:AbortMultipartUpload"]
        assert policy[sid]["Resource"] == {
            "Fn::Split": [
                ",",
                {
                    "Fn::Join": [
                        "",
                        [{"Fn::Join": [f"/{prefix}*,", {"Ref": "PeerBucketArns"}]}, f"/{prefix}*"],
                    ]
                },
            ]
        }
    variables = resources["Gc"]["Properties"]["Environment"]["Variables"]
    assert variables["SOUTE_S3_BUCKETS"] == {
        "Fn::Sub": "${AWS::Region}=${RegistryBucket},${PeerBuckets}"
    }
    assert variables["SOUTE_PRIMARY_REGION"] == {"Ref": "PrimaryRegion"}


def test_sam_gives_the_schedule_the_functions_condition(
    two_region_package: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation's SAM transform makes the rule and the permission of the schedule: each
    with the function's condition, so a replica's stack has no rule either."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = with_code(json.loads(two_region_package["path"].read_text()), "bucket", "key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks boto3's
    values = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    expanded = transform(template, values, NoManagedPolicies())
    made = {
        resource["Type"]: resource.get("Condition")
        for name, resource in expanded["Resources"].items()
        if name.startswith("Gc")
    }
    assert made == {
        "AWS::Lambda::Function": "CreatesTable",
        "AWS::Events::Rule": "CreatesTable",
        "AWS::Lambda::Permission": "CreatesTable",
        "AWS::IAM::Role": "CreatesTable",
        "AWS::IAM::Policy": "CreatesTable",
        "AWS::Logs::LogGroup": "CreatesTable",
    }


# -- against moto ----------------------------------------------------------------------------


def client(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def soute_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(ROOT, SOUTE_FILES, tmp_path_factory.mktemp("soute-regions"))


def _regions_args(endpoint: str, host: str, stack: str, project: Path, *extra: str) -> list[str]:
    return [
        "deploy", "--regions", ",".join(TWO), "--primary", TWO[0], "--domain", host,
        "--endpoint-url", endpoint, "--stack-name", stack, "--project-dir", str(project),
        "--translate-sam", *extra,
    ]  # fmt: skip


def test_refusals_on_moto_come_before_anything_is_built(
    moto_endpoint: str, soute_project: Path
) -> None:
    host = f"r{uuid.uuid4().hex[:8]}.example.test"
    stack = f"soute-{uuid.uuid4().hex[:8]}"
    import_certificate(moto_endpoint, host)  # in us-east-1 only
    missing = soute(*_regions_args(moto_endpoint, host, stack, soute_project))
    assert_one_line_failure(missing, f"no issued ACM certificate in eu-west-1 covers {host}")
    assert "us-east-1: certificate arn:aws:acm:us-east-1:" in missing.stdout
    with_primary_elsewhere = soute(
        *_regions_args(moto_endpoint, host, stack, soute_project)[:4], "ap-south-1",
        *_regions_args(moto_endpoint, host, stack, soute_project)[5:],
    )  # fmt: skip
    assert_one_line_failure(with_primary_elsewhere, "--primary ap-south-1 is not one of")
    _import_in(moto_endpoint, host, "eu-west-1")
    no_zone = soute(*_regions_args(moto_endpoint, host, stack, soute_project))
    assert_one_line_failure(no_zone, f"no Route 53 hosted zone holds {host}")
    both = soute(*_regions_args(moto_endpoint, host, stack, soute_project), "--region", "x")
    assert_one_line_failure(both, "--region is for one region")
    buckets = client(moto_endpoint, "s3", "us-east-1").list_buckets()["Buckets"]
    assert not [b for b in buckets if stack in b["Name"]]


def _import_in(endpoint: str, host: str, region: str) -> None:
    """import_certificate in another region (test_aws_deploy.py's client reads REGION)."""
    saved, single.REGION = single.REGION, region
    try:
        import_certificate(endpoint, host)
    finally:
        single.REGION = saved


def test_regions_deploy_on_moto_stops_at_the_primary_stack(
    moto_endpoint: str, soute_project: Path
) -> None:
    host = f"r{uuid.uuid4().hex[:8]}.example.test"
    stack = f"soute-{uuid.uuid4().hex[:8]}"
    import_certificate(moto_endpoint, host)
    _import_in(moto_endpoint, host, "eu-west-1")
    zone = client(moto_endpoint, "route53", "us-east-1").create_hosted_zone(
        Name=host.split(".", 1)[1], CallerReference=uuid.uuid4().hex
    )["HostedZone"]["Id"]
    result = soute(*_regions_args(moto_endpoint, host, stack, soute_project))
    assert_one_line_failure(result, ": The REST API doesn't contain any methods")
    assert f"us-east-1: stack {stack} (primary)" in result.stdout
    assert "eu-west-1: stack" not in result.stdout  # the replica stacks come after
    [found] = client(moto_endpoint, "cloudformation", "us-east-1").describe_stacks(StackName=stack)[
        "Stacks"
    ]
    given = {p["ParameterKey"]: p.get("ParameterValue") for p in found["Parameters"]}
    assert given["PrimaryRegion"] == "us-east-1" and given["PeerBuckets"] == ""
    assert zone


def test_the_links_on_moto(moto_endpoint: str) -> None:
    """Steps 2, 5 and 6 of aws_deploy_regions.py on two regions of moto."""
    said: list[str] = []
    name = f"soute-{uuid.uuid4().hex[:8]}"
    east = {s: client(moto_endpoint, s, "us-east-1") for s in ("dynamodb", "secretsmanager", "s3")}
    west = {s: client(moto_endpoint, s, "eu-west-1") for s in ("secretsmanager", "s3")}
    east["dynamodb"].create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    aws_deploy_regions.ensure_table_replicas(east["dynamodb"], name, ("eu-west-1",), said.append)
    assert said == [f"table {name}: replica in eu-west-1 requested; the endpoint does not list it"]
    arn = east["secretsmanager"].create_secret(Name=name, SecretString="k")["ARN"]
    aws_deploy_regions.ensure_secret_replicas(
        east["secretsmanager"], arn, ("eu-west-1",), said.append
    )
    aws_deploy_regions.ensure_secret_replicas(
        east["secretsmanager"], arn, ("eu-west-1",), said.append
    )
    assert said[1:] == [
        "secret: replica in eu-west-1 created",
        "secret: replica in eu-west-1 reused",
    ]
    replica = aws_deploy_regions.in_region(arn, "eu-west-1")
    assert west["secretsmanager"].get_secret_value(SecretId=replica)["SecretString"] == "k"
    buckets = {"us-east-1": f"{name}-a", "eu-west-1": f"{name}-b"}
    for region, clients in (("us-east-1", east), ("eu-west-1", west)):
        arguments: dict[str, Any] = {"Bucket": buckets[region]}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        clients["s3"].create_bucket(**arguments)
        clients["s3"].put_bucket_versioning(
            Bucket=buckets[region], VersioningConfiguration={"Status": "Enabled"}
        )
    role = "arn:aws:iam::123456789012:role/replication"
    rules = aws_deploy_regions.replication_rules(buckets, "us-east-1", role, True)
    assert aws_deploy_regions.ensure_replication(east["s3"], buckets["us-east-1"], rules)
    stored = east["s3"].get_bucket_replication(Bucket=buckets["us-east-1"])
    assert stored["ReplicationConfiguration"]["Rules"][0]["Destination"]["Bucket"] == (
        f"arn:aws:s3:::{buckets['eu-west-1']}"
    )
    east["s3"].put_object(Bucket=buckets["us-east-1"], Key="blobs/x", Body=b"x")
    assert west["s3"].list_objects_v2(Bucket=buckets["eu-west-1"])["KeyCount"] == 0  # ignored
    function = "arn:aws:lambda:us-east-1:123456789012:function:soute-BlobCopies-x"
    assert aws_deploy_regions.ensure_notification(east["s3"], buckets["us-east-1"], function)
    assert not aws_deploy_regions.ensure_notification(east["s3"], buckets["us-east-1"], function)
    cloudwatch = client(moto_endpoint, "cloudwatch", "eu-west-1")
    alarm = aws_deploy_regions.ensure_alarm(cloudwatch, name, "soute", "api")
    [described] = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert (described["MetricName"], described["Namespace"]) == ("5XXError", "AWS/ApiGateway")
    route53 = client(moto_endpoint, "route53", "us-east-1")
    check, created = aws_deploy_regions.ensure_health_check(route53, "eu-west-1", alarm)
    again, created_again = aws_deploy_regions.ensure_health_check(route53, "eu-west-1", alarm)
    assert created and not created_again and again == check
    host = f"registry.{name}.test"
    zone = route53.create_hosted_zone(Name=f"{name}.test", CallerReference=uuid.uuid4().hex)
    zone_id = aws_deploy_regions.hosted_zone(route53, host, None)
    assert zone["HostedZone"]["Id"].endswith(zone_id)
    records = [
        aws_deploy_regions.latency_record(
            host, region, f"d-{region}.execute-api", "Z2OJLYMUO9EFXC", check
        )
        for region in buckets
    ]
    aws_deploy_regions.ensure_records(route53, zone_id, records)
    aws_deploy_regions.ensure_records(route53, zone_id, records)  # UPSERT: the same two
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    latency = [r for r in listed if r["Name"].rstrip(".") == host]
    assert sorted(r["Region"] for r in latency) == sorted(buckets)
    assert all(r["HealthCheckId"] == check and r["Type"] == "A" for r in latency)


def test_single_region_deploy_passes_empty_region_parameters() -> None:
    assert set(aws_deploy_regions.single_region_parameters()) == set(
        merge_template.region_parameters()
    )
    assert not any(aws_deploy_regions.single_region_parameters().values())


@pytest.fixture(scope="module")
def regional_fixture_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/lambda/deploy_project with the region parameters and outputs of Soute's template
    (moto cannot create Soute's own, see above): the table only in the primary's stack, and
    role ARNs as outputs (the fixture has no roles; the ARNs only travel between stacks)."""
    source = Path(__file__).parent / "deploy_project"
    names = ["app.py", "requirements.txt", "deploy", ".chalice"]
    project = copy_project(source, names, tmp_path_factory.mktemp("regional-fixture"))
    path = project / "deploy" / "resources.json"
    template = json.loads(path.read_text())
    template["Parameters"] |= {
        name: {"Type": "String", "Default": ""} for name in merge_template.region_parameters()
    }
    template["Conditions"] = {"CreatesTable": merge_template.conditions()["CreatesTable"]}
    template["Resources"]["RegistryTable"]["Condition"] = "CreatesTable"
    role = "arn:aws:iam::${AWS::AccountId}:role/${AWS::StackName}-${AWS::Region}"
    template["Outputs"] |= {
        "RegistryTableName": {"Value": merge_template.table_name()},
        "TokenSigningSecretArn": {
            "Value": {
                "Fn::If": [
                    "CreatesTable",
                    {"Ref": "TokenSigningSecretArn"},
                    {"Ref": "ReplicaSecretArn"},
                ]
            }
        },
        "ApiHandlerRoleArn": {"Value": {"Fn::Sub": f"{role}-handler"}},
        "ReplicationRoleArn": {"Value": {"Fn::Sub": f"{role}-replication"}},
    }
    path.write_text(json.dumps(template))
    return project


def test_regions_deploy_links_the_stacks_on_moto(
    moto_endpoint: str, regional_fixture_project: Path
) -> None:
    """The whole --regions run on the fixture's stacks: both stacks, the second pass, the
    secret's replica, replication both ways, the domains, alarms, health checks, records; and
    a rerun that reuses them."""
    host = f"registry.r{uuid.uuid4().hex[:8]}.test"
    stack = f"soute-{uuid.uuid4().hex[:8]}"
    import_certificate(moto_endpoint, host)
    _import_in(moto_endpoint, host, "eu-west-1")
    route53 = client(moto_endpoint, "route53", "us-east-1")
    zone = route53.create_hosted_zone(Name=host.split(".", 1)[1], CallerReference=stack)
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    secret = client(moto_endpoint, "secretsmanager", "us-east-1").create_secret(
        Name=stack, SecretString="k"
    )["ARN"]
    args = _regions_args(moto_endpoint, host, stack, regional_fixture_project)
    args += ["--parameter", f"TokenSigningSecretArn={secret}", "--replication-time-control"]
    # moto's UpdateStack fails (500, KeyError) on UsePreviousValue for a parameter the stack
    # took its default for; AWS does not: give it.
    args += ["--parameter", "ApiHandlerReservedConcurrency=100"]
    stopped = soute(*args)
    # moto's CloudFormation makes the bucket but ignores its VersioningConfiguration, which
    # AWS applies and S3 replication requires: the run stops there, with S3's message ...
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "Versioning must be 'Enabled'" in stopped.stderr.strip().splitlines()[-1]
    for region in TWO:
        found = client(moto_endpoint, "cloudformation", region).describe_stacks(StackName=stack)
        bucket = next(
            o["OutputValue"]
            for o in found["Stacks"][0]["Outputs"]
            if o["OutputKey"] == "RegistryBucketName"
        )
        client(moto_endpoint, "s3", region).put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    # ... and, versioned as the template has it, the next run takes up where that one stopped.
    first = soute(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    out = stopped.stdout + first.stdout
    for line in (
        f"us-east-1: stack {stack} (primary)",
        "replica in eu-west-1 requested; the endpoint does not list it",
        "secret: replica in eu-west-1 created",
        f"eu-west-1: stack {stack} (replica)",
        "us-east-1: second pass (the other regions' buckets and roles)",
        "the app has no blob_copies function: no bucket notification",
        f"Route 53 zone {zone_id}: {host} A, latency alias per region (us-east-1, eu-west-1)",
        "--dynamodb-table",
    ):
        assert line in out, (line, out)
    assert "eu-west-1: second pass" not in out  # it knew the primary's bucket already
    stacks = {
        region: {
            o["OutputKey"]: o["OutputValue"]
            for o in client(moto_endpoint, "cloudformation", region).describe_stacks(
                StackName=stack
            )["Stacks"][0]["Outputs"]
        }
        for region in TWO
    }
    east, west = (stacks[r]["RegistryBucketName"] for r in TWO)
    assert stacks["eu-west-1"]["RegistryTableName"] == stacks["us-east-1"]["RegistryTableName"]
    assert stacks["eu-west-1"]["TokenSigningSecretArn"] == aws_deploy_regions.in_region(
        secret, "eu-west-1"
    )
    for region, source, target in (("us-east-1", east, west), ("eu-west-1", west, east)):
        s3 = client(moto_endpoint, "s3", region)
        [rule] = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"]
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{target}"
        assert rule["Destination"]["ReplicationTime"]["Status"] == "Enabled"
        domain = client(moto_endpoint, "apigateway", region).get_domain_name(domainName=host)
        assert domain["regionalCertificateArn"].split(":")[3] == region
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    latency = [r for r in records if r["Name"].rstrip(".") == host]
    assert sorted(r["Region"] for r in latency) == sorted(TWO)
    assert len({r["HealthCheckId"] for r in latency}) == 2
    again = soute(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "secret: replica in eu-west-1 reused" in again.stdout
    assert "replicates blobs/ to" in again.stdout and ": reused" in again.stdout
    assert "health check" in again.stdout and "created" not in again.stdout.split("custom")[-1]
    assert "second pass" not in again.stdout
