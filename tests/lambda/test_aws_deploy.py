"""`soute aws deploy` and `soute aws destroy`, run as a user runs them, against a moto server
through boto3 (every client gets --endpoint-url).

Where moto (5.2) stops, exactly:
- moto's CloudFormation has no SAM transform: Soute's packaged template (Transform
  AWS::Serverless-2016-10-31) makes its CreateStack fail. `--translate-sam` expands it here with
  aws-sam-translator (the emulator path only; CloudFormation does it on AWS).
- Expanded, the template gets further: moto creates the bucket, table, roles, policies, log
  groups, both Lambda functions (from the uploaded zip), the permission and the REST API, then
  fails on the API's AWS::ApiGateway::Deployment ("The REST API doesn't contain any methods"):
  its CloudFormation does not import the API's definition (Body, OpenAPI). It also has no
  AWS::ApiGateway::Stage, AWS::SecretsManager::Secret, ::ResourcePolicy, AWS::S3::BucketPolicy
  or AWS::WAFv2::WebACLAssociation (skipped with a warning). test_soute_template_on_moto checks
  every step up to that point and that the failure is one line.
- moto's stacks report only their own events (CREATE_IN_PROGRESS, CREATE_COMPLETE...), none
  per resource, and never fail after CreateStack or UpdateStack answered (no *_FAILED or
  ROLLBACK_* states, nor "No updates are to be performed"): the failure report and the checks
  of a stack's state are tested on AWS's event shapes at the end of this file.
- Every step after it (events, outputs, custom domain and base path mapping on moto's API
  Gateway, the printed DNS record and next command, the idempotent rerun, destroy with
  --delete-data) runs on tests/lambda/deploy_project: a Chalice app whose merge template gives
  the stack the outputs Soute's has (RestAPIId, RegistryBucketName, RegistryTableName,
  TokenSigningSecretArn) with resources moto can create: a retained versioned bucket and
  retained table, a REST API with one method and a Deployment that creates the stage `api`.
  Its secret is made by the test (no AWS::SecretsManager::Secret in moto) and passed in as a
  parameter, which the output names.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.cli import aws_data, aws_stack
from chalicelib.cli.aws_errors import DeployError
from tests.support.moto import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parents[1].parent
SOUTE = str(Path(sys.executable).parent / "soute")
REGION = "us-east-1"
SOUTE_FILES = ["app.py", "chalicelib", "requirements.txt", "deploy", ".chalice"]


def copy_project(source: Path, names: list[str], target: Path) -> Path:
    """A copy to package (chalice writes a build cache under .chalice/)."""
    ignore = shutil.ignore_patterns("__pycache__", "deployments")
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, ignore=ignore)
        else:
            shutil.copy2(source / name, target / name)
    return target


def soute(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAKE_CREDENTIALS}
    return subprocess.run(
        [SOUTE, "aws", *args], capture_output=True, text=True, env=env, input=stdin, timeout=300
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    for fragment in fragments:
        assert fragment in line, line


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **_keys())


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def import_certificate(endpoint: str, host: str) -> str:
    """A self-signed certificate for `host`, imported into moto's ACM (imported: ISSUED)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    answer = client(endpoint, "acm").import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM), PrivateKey=pem
    )
    return str(answer["CertificateArn"])


@pytest.fixture
def host(moto_endpoint: str) -> str:
    name = f"r{uuid.uuid4().hex[:8]}.example.test"
    import_certificate(moto_endpoint, name)
    return name


@pytest.fixture
def stack_name() -> str:
    return f"soute-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def soute_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(ROOT, SOUTE_FILES, tmp_path_factory.mktemp("soute-project"))


@pytest.fixture(scope="module")
def fixture_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = Path(__file__).parent / "deploy_project"
    names = ["app.py", "requirements.txt", "deploy", ".chalice"]
    return copy_project(source, names, tmp_path_factory.mktemp("fixture-project"))


def deploy_args(endpoint: str, host: str, stack: str, project: Path, *extra: str) -> list[str]:
    return [
        "deploy",
        "--domain",
        host,
        "--region",
        REGION,
        "--endpoint-url",
        endpoint,
        "--stack-name",
        stack,
        "--project-dir",
        str(project),
        "--translate-sam",
        *extra,
    ]


def artifact_keys(endpoint: str, stack: str) -> list[str]:
    s3 = client(endpoint, "s3")
    try:
        answer = s3.list_objects_v2(
            Bucket=f"soute-artifacts-123456789012-{REGION}", Prefix=f"{stack}/"
        )
    except s3.exceptions.NoSuchBucket:  # no deploy got that far yet
        return []
    return sorted(item["Key"] for item in answer.get("Contents", []))


def test_soute_template_on_moto(
    moto_endpoint: str, host: str, stack_name: str, soute_project: Path
) -> None:
    """Soute's own template: packaged, uploaded, created from its URL, as far as moto goes."""
    result = soute(*deploy_args(moto_endpoint, host, stack_name, soute_project))
    assert_one_line_failure(
        result, "the endpoint refused", ": The REST API doesn't contain any methods"
    )
    assert "artifact bucket soute-artifacts-123456789012-us-east-1" in result.stdout
    s3 = client(moto_endpoint, "s3")
    bucket = f"soute-artifacts-123456789012-{REGION}"
    assert_private(s3, bucket)
    code, template_key = artifact_keys(moto_endpoint, stack_name)
    assert code.startswith(f"{stack_name}/code-") and code.endswith(".zip")
    body = s3.get_object(Bucket=bucket, Key=template_key)["Body"].read()
    assert 51_200 < len(body) < 1_000_000  # over the inline limit, under TemplateURL's
    template = json.loads(body)
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Properties"]["Code"]["S3Key"] for f in functions} == {code}
    # moto got the template from its URL and created what it could before the failure.
    lambdas = client(moto_endpoint, "lambda").list_functions()["Functions"]
    assert {f"{stack_name}-APIHandler", f"{stack_name}-Verifier"} <= {
        name.rsplit("-", 1)[0] for name in (f["FunctionName"] for f in lambdas)
    }


def assert_private(s3: Any, bucket: str) -> None:
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    [rule] = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rule == {"ObjectOwnership": "BucketOwnerEnforced"}
    [encryption] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


@pytest.fixture
def secret(moto_endpoint: str) -> Iterator[str]:
    name = f"soute-test-{uuid.uuid4().hex[:8]}"
    answer = client(moto_endpoint, "secretsmanager").create_secret(Name=name, SecretString="x")
    yield str(answer["ARN"])


def test_deploy_rerun_and_destroy_with_data(
    moto_endpoint: str, host: str, stack_name: str, fixture_project: Path, secret: str
) -> None:
    args = deploy_args(moto_endpoint, host, stack_name, fixture_project)
    args += ["--parameter", f"TokenSigningSecretArn={secret}"]
    first = soute(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = stack_outputs(moto_endpoint, stack_name)
    table, bucket = outputs["RegistryTableName"], outputs["RegistryBucketName"]
    # The stack's events as they come (moto sends the stack's own, none per resource).
    assert re.search(event_line("CREATE_COMPLETE", stack_name), first.stdout, re.MULTILINE)
    assert_domain(moto_endpoint, host, outputs["RestAPIId"], first.stdout)
    assert (
        f"soute user add admin --admin --backend aws --dynamodb-table {table} --region {REGION}"
        in first.stdout
    )
    # Some data, which an upgrade keeps.
    s3, dynamodb = client(moto_endpoint, "s3"), client(moto_endpoint, "dynamodb")
    s3.put_object(Bucket=bucket, Key="blobs/x", Body=b"one")
    s3.put_object(Bucket=bucket, Key="blobs/x", Body=b"two")  # two versions
    s3.delete_object(Bucket=bucket, Key="blobs/x")  # and a delete marker
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "u"}, "sk": {"S": "USER"}})
    # An upgrade with one parameter changed: one given before stays (UsePreviousValue).
    again = soute(*args[:-2], "--parameter", "ApiHandlerReservedConcurrency=0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(event_line("UPDATE_COMPLETE", stack_name), again.stdout, re.MULTILINE)
    assert stack_outputs(moto_endpoint, stack_name) == outputs
    assert stack_parameters(moto_endpoint, stack_name) == {
        "RegistryDomainName": host,
        "TokenSigningSecretArn": secret,
        "ApiHandlerReservedConcurrency": "0",
    }
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "u"}, "sk": {"S": "USER"}})["Item"]
    assert_domain(moto_endpoint, host, outputs["RestAPIId"], again.stdout)
    assert len(artifact_keys(moto_endpoint, stack_name)) == 2  # same code, same template
    destroy = soute(
        "destroy", "--region", REGION, "--endpoint-url", moto_endpoint,
        "--stack-name", stack_name, "--delete-data", "--yes",
    )  # fmt: skip
    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    for line in (
        f"bucket {bucket}: deleted",
        f"table {table}: deleted",
        f"secret {secret}: deleted",
    ):
        assert line in destroy.stdout
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=table)  # not ListTables: it stops at 100 tables
    with pytest.raises(
        client(moto_endpoint, "secretsmanager").exceptions.ResourceNotFoundException
    ):
        client(moto_endpoint, "secretsmanager").describe_secret(SecretId=secret)
    gone = soute("destroy", "--region", REGION, "--endpoint-url", moto_endpoint,
                 "--stack-name", stack_name)  # fmt: skip
    assert_one_line_failure(gone, f"no stack {stack_name} in {REGION}")


def event_line(status: str, stack: str) -> str:
    """A stack event as deploy prints it: time, status, logical id, type."""
    return rf"^\d\d:\d\d:\d\d {status} +{stack} +AWS::CloudFormation::Stack$"


def stack_parameters(endpoint: str, stack: str) -> dict[str, str]:
    [found] = client(endpoint, "cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {item["ParameterKey"]: item["ParameterValue"] for item in found["Parameters"]}


def stack_outputs(endpoint: str, stack: str) -> dict[str, str]:
    [found] = client(endpoint, "cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {item["OutputKey"]: item["OutputValue"] for item in found["Outputs"]}


def assert_domain(endpoint: str, host: str, api_id: str, printed: str) -> None:
    apigw = client(endpoint, "apigateway")
    domain = apigw.get_domain_name(domainName=host)
    assert domain["endpointConfiguration"]["types"] == ["REGIONAL"]
    [mapping] = apigw.get_base_path_mappings(domainName=host)["items"]
    assert (mapping["basePath"], mapping["restApiId"], mapping["stage"]) == (
        "(none)",
        api_id,
        "api",
    )
    assert f"{host}. CNAME {domain['regionalDomainName']}" in printed


def test_destroy_without_data_keeps_it(
    moto_endpoint: str, host: str, stack_name: str, fixture_project: Path, secret: str
) -> None:
    args = deploy_args(moto_endpoint, host, stack_name, fixture_project)
    assert soute(*args, "--parameter", f"TokenSigningSecretArn={secret}").returncode == 0
    outputs = stack_outputs(moto_endpoint, stack_name)
    common = ["--region", REGION, "--endpoint-url", moto_endpoint, "--stack-name", stack_name]
    refused = soute("destroy", *common, "--delete-data", stdin="")  # not a terminal, no --yes
    assert_one_line_failure(refused, "add --yes")
    assert stack_outputs(moto_endpoint, stack_name) == outputs  # nothing deleted
    kept = soute("destroy", *common)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"bucket {outputs['RegistryBucketName']}, table {outputs['RegistryTableName']}" in (
        kept.stdout
    )
    s3 = client(moto_endpoint, "s3")
    assert outputs["RegistryBucketName"] in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # DescribeTable, not ListTables: a list stops at 100 tables, and the session's moto holds more
    table = client(moto_endpoint, "dynamodb").describe_table(TableName=outputs["RegistryTableName"])
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_certificate_problems_are_one_line_before_anything_is_built(
    moto_endpoint: str, stack_name: str, fixture_project: Path
) -> None:
    unknown = f"none{uuid.uuid4().hex[:6]}.example.test"
    missing = soute(*deploy_args(moto_endpoint, unknown, stack_name, fixture_project))
    assert_one_line_failure(
        missing, f"no issued ACM certificate in {REGION} covers {unknown}",
        f"aws acm request-certificate --region {REGION} --domain-name {unknown}",
    )  # fmt: skip
    elsewhere = "arn:aws:acm:eu-west-1:123456789012:certificate/x"
    wrong = soute(*deploy_args(moto_endpoint, unknown, stack_name, fixture_project),
                  "--certificate-arn", elsewhere)  # fmt: skip
    assert_one_line_failure(wrong, "the certificate is in eu-west-1", f"in {REGION}")
    other = import_certificate(moto_endpoint, f"other-{unknown}")
    not_it = soute(*deploy_args(moto_endpoint, unknown, stack_name, fixture_project),
                   "--certificate-arn", other)  # fmt: skip
    assert_one_line_failure(not_it, f"is for other-{unknown}, not {unknown}")
    for wrong_input, said in (
        (["--domain", "not a host"], "is not a host name"),
        (["--parameter", "ApiHandlerReservedConcurrency"], "write it KEY=VALUE"),
        (["--project-dir", str(fixture_project / "deploy")], "is not a Soute checkout"),
    ):
        args = deploy_args(moto_endpoint, unknown, stack_name, fixture_project)
        args[args.index("--domain") : args.index("--domain") + 2] = []
        result = soute(*args, *(["--domain", unknown] if "--domain" not in wrong_input else []),
                       *wrong_input)  # fmt: skip
        assert_one_line_failure(result, said)
    assert artifact_keys(moto_endpoint, stack_name) == []  # nothing uploaded


def test_no_region_says_how_to_set_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "HOME": str(tmp_path)}
    for verb in (["deploy", "--domain", "r.example.test"], ["destroy"]):
        result = subprocess.run([SOUTE, "aws", *verb], capture_output=True, text=True, env=env)
        assert_one_line_failure(result, "set --region or AWS_DEFAULT_REGION")


# moto's CloudFormation never fails a stack after accepting it (no *_FAILED or ROLLBACK_*
# states): what `soute aws deploy` says then is checked on the events AWS sends.


def test_a_failed_stack_names_the_first_failed_resource() -> None:
    events = [
        {"ResourceStatus": "CREATE_IN_PROGRESS", "LogicalResourceId": "RegistryTable"},
        {
            "ResourceStatus": "CREATE_FAILED",
            "LogicalResourceId": "APIHandler",
            "ResourceType": "AWS::Lambda::Function",
            "ResourceStatusReason": "Resource handler returned message: reserved concurrency",
        },
        {
            "ResourceStatus": "CREATE_FAILED",
            "LogicalResourceId": "RestAPI",
            "ResourceType": "AWS::ApiGateway::RestApi",
            "ResourceStatusReason": "Resource creation cancelled",
        },
    ]
    failed = [event for event in events if event["ResourceStatus"].endswith("_FAILED")]
    assert aws_stack._failure("ROLLBACK_COMPLETE", failed, None) == (
        "the stack ended ROLLBACK_COMPLETE: APIHandler (AWS::Lambda::Function): Resource"
        " handler returned message: reserved concurrency; fix that and rerun"
    )


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "UPDATE_IN_PROGRESS"])
def test_a_stack_that_cannot_be_updated_says_what_to_do(status: str) -> None:
    with pytest.raises(DeployError) as raised:
        aws_stack._check_updatable("soute", status)
    wanted = "soute aws destroy --stack-name soute" if "ROLLBACK" in status else "wait until"
    assert wanted in str(raised.value)


def test_delete_data_is_asked_twice() -> None:
    """The prompt itself (the test has no terminal): the stack's name, then the word."""

    def answers(*said: str) -> Any:
        replies = iter(said)
        return lambda prompt: next(replies)

    assert aws_data.confirmed("soute", "it", answers("soute", "delete"))
    assert not aws_data.confirmed("soute", "it", answers("soute", "yes"))
    assert not aws_data.confirmed("soute", "it", answers("y"))
