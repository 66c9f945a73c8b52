"""Deployment as code: the Chalice config, the IAM policies and the merged CloudFormation
template, packaged by `chalice package` and checked by cfn-lint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.oci.lambda_limits import LAMBDA_CHUNK_BYTES
from chalicelib.server.backends import BackendOptions
from chalicelib.server.chalice_routes import API_GATEWAY_RESOURCE_QUOTA, resource_count
from chalicelib.server.gateway_responses import GATEWAY_RESPONSES

from .template_conditions import SINGLE_REGION, resolve

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT_FILES = ["app.py", "chalicelib", "requirements.txt", "deploy", ".chalice"]
# What the verifier function reads (server/backends.py options_from_environment, for
# build_registry): which storage, and its names. AWS_REGION comes from Lambda.
VERIFIER_VARIABLES = {"SOUTE_BACKEND", "SOUTE_S3_BUCKET", "SOUTE_DYNAMODB_TABLE"}

# The only resources an Allow statement of the packaged template may give with a "*", and why
# each needs one. No action needs a bare "*".
PACKAGED_WILDCARDS = {
    # Keys are upload ids, chunk tails and manifest bodies, named as a push goes.
    "${RegistryBucket.Arn}/*": "the registry function: the objects of its bucket",
    # Direct uploads are assembled under blobs/<upload id>, as every blob is.
    "${RegistryBucket.Arn}/blobs/*": "the verifier and the gc: uploads read back, blobs deleted",
    # Chunk tails are under uploads/<upload id>/.
    "${RegistryBucket.Arn}/uploads/*": "the gc: the pieces of abandoned uploads",
}
# The same for `chalice deploy`'s policy files, whose ARNs cannot name the region or account.
STAGE_WILDCARDS = [
    re.compile(r"arn:aws:s3:::[a-z0-9.-]+/(blobs/|uploads/)?\*"),  # as above
    # A log group's streams, which Lambda names per instance.
    re.compile(r"arn:aws:logs:\*:\*:log-group:/aws/lambda/[\w-]+:\*"),
]


def allow_statements(node: Any) -> list[dict[str, Any]]:
    """Every Allow statement of every policy document under `node`."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        listed = node.get("Statement")
        if isinstance(listed, list):
            found += [statement for statement in listed if statement.get("Effect") == "Allow"]
        for value in node.values():
            found += allow_statements(value)
    elif isinstance(node, list):
        for value in node:
            found += allow_statements(value)
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def needless_wildcards(
    statements_: list[dict[str, Any]], allowed: Any, resources: dict[str, Any] | None = None
) -> list[str]:
    """The wildcards of these statements that `allowed` (text -> bool) does not list."""
    problems = []
    for statement in statements_:
        sid = statement.get("Sid", "?")
        assert "NotResource" not in statement and "NotAction" not in statement, sid
        for action in _listed(statement["Action"]):
            if "*" in action:
                problems.append(f"{sid}: action {action}")
        # A role's trust policy names no resource: its principal is Lambda's service.
        for resource in _listed(statement.get("Resource", [])):
            text = _resource_text(resource, resources or {})
            # A bare "*", or an ARN that ends in one: the region and account of the stage
            # policies' ARNs are "*" (the file cannot know them), a name is not.
            # Any other intrinsic: a string in it that ends in "*".
            wild = text.endswith("*") or (text.startswith("{") and '*"' in text)
            if wild and not allowed(text):
                problems.append(f"{sid}: resource {text}")
    return problems


def _resource_text(resource: Any, resources: dict[str, Any]) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        return resource["Fn::Sub"]
    if "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        kind = resources.get(name, {}).get("Type")
        if (kind, attribute) == ("AWS::Logs::LogGroup", "Arn"):
            return f"log group {name}"  # its ARN ends in ":*": the group's own streams
        return f"{name}.{attribute}"
    if "Ref" in resource:
        return f"Ref {resource['Ref']}"
    return json.dumps(resource)  # any other intrinsic (Fn::Join, Fn::If): as it is


def assert_no_needless_wildcard(document: dict[str, Any], patterns: list[re.Pattern]) -> None:
    found = allow_statements(document)
    assert found
    allowed = lambda text: any(p.fullmatch(text) for p in patterns)  # noqa: E731
    assert needless_wildcards(found, allowed) == []


def load(relative: str) -> dict[str, Any]:
    return json.loads((ROOT / relative).read_text())


def single_region_template() -> dict[str, Any]:
    """deploy/resources.json as a one-region stack sees it (tests/lambda/test_aws_deploy_regions.py
    checks the primary's and a replica's)."""
    return resolve(load("deploy/resources.json"), SINGLE_REGION)


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
    definition = single_region_template()["Resources"]["RestAPI"]["Properties"]
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
    resources = single_region_template()["Resources"]
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
    assert table["DeletionProtectionEnabled"] is True
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


def assert_handler_policy(
    policy: dict[str, Any], bucket: Any, objects: Any, table: Any, verifier: Any, secret: Any
) -> None:
    by_sid = statements(policy)
    assert set(by_sid) - {"Logs"} == {
        "BlobObjects",
        "BlobBucket",
        "Metadata",
        "InvokeVerifier",
        "TokenSigningSecret",
    }
    # the one function the registry invokes, and only that
    invoke = by_sid["InvokeVerifier"]
    assert (invoke["Action"], invoke["Resource"]) == (["lambda:InvokeFunction"], verifier)
    # reads the one secret, never writes or lists secrets
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


def assert_verifier_policy(policy: dict[str, Any], blobs: Any, table: Any) -> None:
    """Reads back and deletes assembled objects, records items: no PutObject, no listing,
    no invoke right, no secret."""
    by_sid = statements(policy)
    assert set(by_sid) - {"Logs"} == {"VerifiedObjects", "Metadata"}
    objects = by_sid["VerifiedObjects"]
    assert objects["Resource"] == blobs
    assert objects["Action"] == ["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    metadata = by_sid["Metadata"]
    assert metadata["Resource"] == table
    assert metadata["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ]
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"


GC_DYNAMODB_ACTIONS = [
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]


def assert_gc_policy(policy: dict[str, Any], objects: list[Any], table: Any) -> None:
    """Deletes blobs and the pieces of abandoned uploads, lists and changes the table's items:
    no reads of bytes, no PutObject, no listing of the bucket, no invoke right, no secret."""
    by_sid = statements(policy)
    assert set(by_sid) - {"Logs"} == {"CollectedObjects", "Metadata"}
    collected = by_sid["CollectedObjects"]
    assert collected["Resource"] == objects
    assert collected["Action"] == ["s3:DeleteObject", "s3:AbortMultipartUpload"]
    metadata = by_sid["Metadata"]
    assert (metadata["Resource"], metadata["Action"]) == (table, GC_DYNAMODB_ACTIONS)
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"


def test_packaged_policy_is_scoped_to_the_stack_bucket_and_table() -> None:
    resources = single_region_template()["Resources"]
    table = {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    role = resources["ApiHandlerRole"]["Properties"]
    assert_handler_policy(
        role["Policies"][0]["PolicyDocument"],
        {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
        {"Fn::Sub": "${RegistryBucket.Arn}/*"},
        table,
        {"Fn::GetAtt": ["Verifier", "Arn"]},
        {"Ref": "TokenSigningSecret"},
    )
    verifier_role = resources["VerifierRole"]["Properties"]
    assert_verifier_policy(
        verifier_role["Policies"][0]["PolicyDocument"],
        {"Fn::Sub": "${RegistryBucket.Arn}/blobs/*"},
        table,
    )


def stage_variables(config: dict[str, Any], stage: str, function: str) -> dict[str, str]:
    """A function's environment in `stage`, merged as Chalice merges it."""
    settings = config["stages"][stage]
    return {
        **config["environment_variables"],
        **settings["environment_variables"],
        **settings["lambda_functions"][function].get("environment_variables", {}),
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_config_and_policy(stage: str) -> None:
    config = load(".chalice/config.json")
    assert config["autogen_policy"] is False
    settings = stage_variables(config, stage, "api_handler")
    assert settings["SOUTE_BACKEND"] == "aws"
    assert settings["SOUTE_CHUNK_MIN_LENGTH"] == str(LAMBDA_CHUNK_BYTES)  # the one definition
    assert settings["SOUTE_PRESIGN_EXPIRES"] == "300"  # short-lived URLs (A6)
    assert settings["SOUTE_AUTH"] == "on"  # a deployed registry asks for logins
    bucket, table = settings["SOUTE_S3_BUCKET"], settings["SOUTE_DYNAMODB_TABLE"]
    secret = settings["SOUTE_SIGNING_SECRET"]
    assert secret == f"{table}-token-signing"  # the one `soute aws init` creates
    functions = config["stages"][stage]["lambda_functions"]
    policy = load(f".chalice/{functions['api_handler']['iam_policy_file']}")
    verifier = settings["SOUTE_VERIFIER_FUNCTION"]
    assert verifier == f"soute-{stage}-verifier"  # Chalice's name for the function
    assert functions["verifier"]["lambda_timeout"] == 900
    assert_handler_policy(
        policy,
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
        f"arn:aws:dynamodb:*:*:table/{table}",
        f"arn:aws:lambda:*:*:function:{verifier}",
        f"arn:aws:secretsmanager:*:*:secret:{secret}-??????",
    )
    # With `chalice deploy` too the verifier has a policy of its own, and its own log group.
    verifier_policy = load(f".chalice/{functions['verifier']['iam_policy_file']}")
    assert verifier_policy != policy
    assert_verifier_policy(
        verifier_policy, f"arn:aws:s3:::{bucket}/blobs/*", f"arn:aws:dynamodb:*:*:table/{table}"
    )
    for document, function in ((policy, f"soute-{stage}"), (verifier_policy, verifier)):
        group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function}"
        assert statements(document)["Logs"]["Resource"] == [group, f"{group}:*"]
        assert_no_needless_wildcard(document, STAGE_WILDCARDS)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_gc_config_and_policy(stage: str) -> None:
    config = load(".chalice/config.json")
    settings = stage_variables(config, stage, "gc")
    bucket, table = settings["SOUTE_S3_BUCKET"], settings["SOUTE_DYNAMODB_TABLE"]
    functions = config["stages"][stage]["lambda_functions"]
    # Room for batches of pages: gc_function.py stops starting pages a minute before the end.
    assert functions["gc"]["lambda_timeout"] == 600
    assert set(settings) == VERIFIER_VARIABLES  # the storage alone, no secret's name
    policy = load(f".chalice/{functions['gc']['iam_policy_file']}")
    objects = [f"arn:aws:s3:::{bucket}/blobs/*", f"arn:aws:s3:::{bucket}/uploads/*"]
    assert_gc_policy(policy, objects, f"arn:aws:dynamodb:*:*:table/{table}")
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/soute-{stage}-gc"
    assert statements(policy)["Logs"]["Resource"] == [group, f"{group}:*"]
    assert_no_needless_wildcard(policy, STAGE_WILDCARDS)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_verifier_environment_is_the_storage_alone(stage: str) -> None:
    config = load(".chalice/config.json")
    variables = stage_variables(config, stage, "verifier")
    assert set(variables) == VERIFIER_VARIABLES


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
    template = packaged_template(packaged)
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


# -- A7, A9-A12 and wildcards, on the packaged template -------------------------------------


def packaged_template(packaged: Path) -> dict[str, Any]:
    return resolve(json.loads((packaged / "sam.json").read_text()), SINGLE_REGION)


def test_packaged_iam_has_no_needless_wildcard(packaged: Path) -> None:
    template = packaged_template(packaged)
    resources = template["Resources"]
    found = allow_statements(resources)
    assert len(found) >= 9  # both roles, both log policies: the walk saw them
    problems = needless_wildcards(found, PACKAGED_WILDCARDS.__contains__, resources)
    assert problems == [], "wildcards no statement needs:\n" + "\n".join(problems)


def _roles_documents(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The policy documents that apply to `role`: its own, and AWS::IAM::Policy naming it."""
    documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in properties["Roles"]:
            documents.append(properties["PolicyDocument"])
    return documents


def test_packaged_logs_are_each_functions_own(packaged: Path) -> None:
    resources = packaged_template(packaged)["Resources"]
    functions = {
        name: resource["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(functions) == {"APIHandler", "Verifier", "BlobCopies", "Gc"}
    assert len(set(functions.values())) == 4  # a role each
    for function, role in functions.items():
        granted = [
            statement
            for document in _roles_documents(resources, role)
            for statement in document["Statement"]
            if any(action.startswith("logs:") for action in _listed(statement["Action"]))
        ]
        assert granted, function
        for statement in granted:
            assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
            [resource] = _listed(statement["Resource"])
            group, attribute = resource["Fn::GetAtt"]
            assert attribute == "Arn"
            log_group = resources[group]
            assert log_group["Type"] == "AWS::Logs::LogGroup"
            assert log_group["Properties"]["LogGroupName"] == {
                "Fn::Sub": f"/aws/lambda/${{{function}}}"
            }


def test_packaged_verifier_has_its_own_minimal_policy_and_environment(packaged: Path) -> None:
    resources = packaged_template(packaged)["Resources"]
    verifier = resources["Verifier"]["Properties"]
    assert verifier["Role"] == {"Fn::GetAtt": ["VerifierRole", "Arn"]}
    [document] = [p["PolicyDocument"] for p in resources["VerifierRole"]["Properties"]["Policies"]]
    assert_verifier_policy(
        document,
        {"Fn::Sub": "${RegistryBucket.Arn}/blobs/*"},
        {"Fn::GetAtt": ["RegistryTable", "Arn"]},
    )
    variables = verifier["Environment"]["Variables"]
    assert set(variables) == VERIFIER_VARIABLES  # nothing stale, no secret's name
    assert BackendOptions.variable_names() >= VERIFIER_VARIABLES
    assert variables["SOUTE_S3_BUCKET"] == {"Ref": "RegistryBucket"}
    assert variables["SOUTE_DYNAMODB_TABLE"] == {"Ref": "RegistryTable"}


def test_packaged_gc_function_runs_hourly_with_its_own_minimal_policy(packaged: Path) -> None:
    resources = packaged_template(packaged)["Resources"]
    gc = resources["Gc"]
    assert gc["Condition"] == "CreatesTable"  # a one-region stack, or the primary's
    properties = gc["Properties"]
    assert (properties["Handler"], properties["Timeout"]) == ("app.gc", 600)
    assert properties["Events"] == {
        "GcEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)"}}
    }
    assert properties["Role"] == {"Fn::GetAtt": ["GcRole", "Arn"]}
    assert set(properties["Environment"]["Variables"]) == VERIFIER_VARIABLES
    [document] = [p["PolicyDocument"] for p in resources["GcRole"]["Properties"]["Policies"]]
    assert_gc_policy(
        document,
        [
            {"Fn::Sub": "${RegistryBucket.Arn}/blobs/*"},
            {"Fn::Sub": "${RegistryBucket.Arn}/uploads/*"},
        ],
        {"Fn::GetAtt": ["RegistryTable", "Arn"]},
    )
    for name in ("GcRole", "GcLogGroup", "GcLogs"):
        assert resources[name]["Condition"] == "CreatesTable", name


def test_packaged_signing_secret_is_readable_by_the_registry_role_only(packaged: Path) -> None:
    resources = packaged_template(packaged)["Resources"]
    [policy] = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::SecretsManager::ResourcePolicy"
    ]
    assert policy["SecretId"] == {"Ref": "TokenSigningSecret"}
    assert policy["BlockPublicPolicy"] is True
    [statement] = policy["ResourcePolicy"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert "secretsmanager:GetSecretValue" in _listed(statement["Action"])
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}}
    }


def test_packaged_storage_is_protected(packaged: Path) -> None:
    template = packaged_template(packaged)
    resources = template["Resources"]
    table = resources["RegistryTable"]["Properties"]
    assert table["DeletionProtectionEnabled"] is True
    bucket = resources["RegistryBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    noncurrent = rules["ExpireNoncurrentVersions"]
    assert noncurrent["Status"] == "Enabled" and "Prefix" not in noncurrent  # every object
    assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    [bucket_policy] = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::S3::BucketPolicy"
    ]
    assert bucket_policy["Bucket"] == {"Ref": "RegistryBucket"}
    [tls] = bucket_policy["PolicyDocument"]["Statement"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [
        {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
        {"Fn::Sub": "${RegistryBucket.Arn}/*"},
    ]
    # With a custom domain the execute-api URL is off: one way in.
    api = resources["RestAPI"]["Properties"]
    assert api["DisableExecuteApiEndpoint"] == {"Fn::If": ["HasRegistryDomainName", True, False]}
    assert template["Conditions"]["HasRegistryDomainName"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RegistryDomainName"}, ""]}]
    }


def test_packaged_limits_what_a_flood_can_use(packaged: Path) -> None:
    template = packaged_template(packaged)
    parameters, resources = template["Parameters"], template["Resources"]
    for function, parameter, default in (
        ("APIHandler", "ApiHandlerReservedConcurrency", 100),
        ("Verifier", "VerifierReservedConcurrency", 10),
    ):
        assert parameters[parameter]["Type"] == "Number"
        assert (parameters[parameter]["Default"], parameters[parameter]["MinValue"]) == (default, 0)
        condition = f"Reserves{parameter}"
        # 0 would stop the function: it means "no reservation" instead.
        assert resources[function]["Properties"]["ReservedConcurrentExecutions"] == {
            "Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]
        }
        assert template["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]
        }
    [setting] = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")  # every method
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert parameters["ApiThrottlingRateLimit"]["Default"] == 200
    assert parameters["ApiThrottlingBurstLimit"]["Default"] == 400
    # An AWS WAF web ACL, when one is named.
    association = resources["RestAPIWebAcl"]
    assert association["Type"] == "AWS::WAFv2::WebACLAssociation"
    assert association["Condition"] == "HasWebAcl"
    assert association["Properties"]["WebACLArn"] == {"Ref": "WebAclArn"}
    assert parameters["WebAclArn"]["Default"] == ""
