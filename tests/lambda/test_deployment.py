"""Deployment as code: the Chalice config, the IAM policies and the merged CloudFormation
template, packaged by `chalice package` and checked by cfn-lint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.server.chalice_routes import API_GATEWAY_RESOURCE_QUOTA, resource_count
from chalicelib.server.gateway import GATEWAY_RESPONSES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT_FILES = ["app.py", "chalicelib", "requirements.txt", "deploy", ".chalice"]


def load(relative: str) -> dict[str, Any]:
    return json.loads((ROOT / relative).read_text())


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "deploy/merge_template.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_has_the_emulator_gateway_responses() -> None:
    definition = load("deploy/resources.json")["Resources"]["RestAPI"]["Properties"]
    responses = definition["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert set(responses) >= {
        "REQUEST_TOO_LARGE",
        "INTEGRATION_FAILURE",
        "INTEGRATION_TIMEOUT",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    for name, response in responses.items():
        emulated = GATEWAY_RESPONSES[name]
        template = response["responseTemplates"]["application/json"]
        assert template.encode() == emulated.body()
        assert response.get("statusCode") == (str(emulated.status) if emulated.status else None)
        error = json.loads(template)["errors"][0]
        assert error["code"] and error["message"]
        # Mapping templates are Velocity: no directive or reference may slip in.
        assert "$" not in template and "#" not in template, name
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/json'"


def test_bucket_table_and_wiring() -> None:
    resources = load("deploy/resources.json")["Resources"]
    bucket = resources["RegistryBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    abort = rules["AbortIncompleteMultipartUploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in abort  # the whole bucket
    expire = rules["ExpireUploadTemporaries"]
    assert (expire["Prefix"], expire["ExpirationInDays"]) == ("uploads/", 2)
    table = resources["RegistryTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["SOUTE_S3_BUCKET"] == {"Ref": "RegistryBucket"}
    assert variables["SOUTE_DYNAMODB_TABLE"] == {"Ref": "RegistryTable"}


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def assert_least_privilege(
    policy: dict[str, Any],
    bucket: Any,
    objects: Any,
    table: Any,
    verifier: Any = None,
    secret: Any = None,
) -> None:
    by_sid = statements(policy)
    sids = {"BlobObjects", "BlobBucket", "Metadata", "Logs"}
    sids |= {"InvokeVerifier"} if verifier else set()
    sids |= {"TokenSigningSecret"} if secret else set()
    assert set(by_sid) == sids
    if verifier:  # the one function the registry invokes, and only that
        invoke = by_sid["InvokeVerifier"]
        assert (invoke["Action"], invoke["Resource"]) == (["lambda:InvokeFunction"], verifier)
    if secret:  # reads the one secret, never writes or lists secrets
        read = by_sid["TokenSigningSecret"]
        assert (read["Action"], read["Resource"]) == (["secretsmanager:GetSecretValue"], secret)
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"
        assert "*" not in " ".join(statement["Action"])
    assert by_sid["BlobObjects"]["Resource"] == objects
    assert set(by_sid["BlobObjects"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert (by_sid["BlobBucket"]["Resource"], by_sid["BlobBucket"]["Action"]) == (
        bucket,
        ["s3:ListBucket"],
    )
    assert by_sid["Metadata"]["Resource"] == table
    assert "dynamodb:ConditionCheckItem" in by_sid["Metadata"]["Action"]  # transactions
    assert not {"dynamodb:Scan", "dynamodb:DeleteTable"} & set(by_sid["Metadata"]["Action"])


def test_packaged_policy_is_scoped_to_the_stack_bucket_and_table() -> None:
    resources = load("deploy/resources.json")["Resources"]
    storage = (
        {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
        {"Fn::Sub": "${RegistryBucket.Arn}/*"},
        {"Fn::GetAtt": ["RegistryTable", "Arn"]},
    )
    role = resources["ApiHandlerRole"]["Properties"]
    assert_least_privilege(
        role["Policies"][0]["PolicyDocument"],
        *storage,
        {"Fn::GetAtt": ["Verifier", "Arn"]},
        {"Ref": "TokenSigningSecret"},
    )
    verifier_role = resources["VerifierRole"]["Properties"]
    assert_least_privilege(verifier_role["Policies"][0]["PolicyDocument"], *storage)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_config_and_policy(stage: str) -> None:
    config = load(".chalice/config.json")
    assert config["autogen_policy"] is False
    settings = {
        **config["environment_variables"],
        **config["stages"][stage]["environment_variables"],
    }
    assert settings["SOUTE_BACKEND"] == "aws"
    assert settings["SOUTE_CHUNK_MIN_LENGTH"] == "4194304"
    assert settings["SOUTE_PRESIGN_EXPIRES"] == "300"  # short-lived URLs (A6)
    assert settings["SOUTE_AUTH"] == "on"  # a deployed registry asks for logins
    bucket, table = settings["SOUTE_S3_BUCKET"], settings["SOUTE_DYNAMODB_TABLE"]
    secret = settings["SOUTE_SIGNING_SECRET"]
    assert secret == f"{table}-token-signing"  # the one `soute aws init` creates
    policy = load(f".chalice/{config['stages'][stage]['iam_policy_file']}")
    verifier = settings["SOUTE_VERIFIER_FUNCTION"]
    assert verifier == f"soute-{stage}-verifier"  # Chalice's name for the function
    assert config["stages"][stage]["lambda_functions"]["verifier"]["lambda_timeout"] == 900
    assert_least_privilege(
        policy,
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
        f"arn:aws:dynamodb:*:*:table/{table}",
        f"arn:aws:lambda:*:*:function:{verifier}",
        f"arn:aws:secretsmanager:*:*:secret:{secret}-??????",
    )


# -- chalice package + cfn-lint ---------------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "prod"])
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`chalice package --merge-template` on a copy of the project (it writes a build cache
    under .chalice/)."""
    project = tmp_path_factory.mktemp(f"project-{request.param}")
    ignore = shutil.ignore_patterns("__pycache__", "deployments")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=ignore)
        else:
            shutil.copy2(source, project / name)
    out = project / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(BIN / "chalice"), "package", "--stage", request.param]
    command += ["--merge-template", "deploy/resources.json", str(out)]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_package_passes_cfn_lint(packaged: Path) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(packaged / "sam.json")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_packaged_template(packaged: Path) -> None:
    template = json.loads((packaged / "sam.json").read_text())
    resources = template["Resources"]
    assert {"RegistryBucket", "RegistryTable", "APIHandler", "RestAPI"} <= set(resources)
    assert "DefaultRole" not in resources  # the merge template names Chalice's own role
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["SOUTE_S3_BUCKET"] == {"Ref": "RegistryBucket"}
    assert variables["SOUTE_BACKEND"] == "aws"
    assert resources["APIHandler"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["ApiHandlerRole", "Arn"]
    }
    assert variables["SOUTE_VERIFIER_FUNCTION"] == {"Ref": "Verifier"}
    assert variables["SOUTE_AUTH"] == "on"
    assert variables["SOUTE_SIGNING_SECRET"] == {"Ref": "TokenSigningSecret"}
    # AWS login only with the host name clients use, which is then the service name.
    assert variables["SOUTE_AWS_LOGIN"] == {"Fn::If": ["HasRegistryDomainName", "on", "off"]}
    assert variables["SOUTE_AUTH_SERVICE"] == {
        "Fn::If": ["HasRegistryDomainName", {"Ref": "RegistryDomainName"}, "soute-registry"]
    }
    assert template["Parameters"]["RegistryDomainName"]["Default"] == ""
    secret = resources["TokenSigningSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    verifier = resources["Verifier"]["Properties"]
    assert verifier["Handler"] == "app.verifier"
    assert verifier["Timeout"] == 900
    assert verifier["Role"] == {"Fn::GetAtt": ["VerifierRole", "Arn"]}
    assert verifier["Environment"]["Variables"]["SOUTE_S3_BUCKET"] == {"Ref": "RegistryBucket"}
    api = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert api["x-amazon-apigateway-binary-media-types"] == ["*/*"]
    assert set(api["x-amazon-apigateway-gateway-responses"]) == set(GATEWAY_RESPONSES)
    assert resource_count(list(api["paths"])) <= API_GATEWAY_RESOURCE_QUOTA


def test_package_size(packaged: Path) -> None:
    archive = packaged / "deployment.zip"
    assert archive.stat().st_size < 15 * 1024 * 1024
    with zipfile.ZipFile(archive) as package:
        names = package.namelist()
    assert "app.py" in names
    assert "chalicelib/server/chalice_routes.py" in names
    assert not [name for name in names if name.startswith(("tests/", "deploy/", ".venv/"))]
