"""Package the app with Chalice and put the result where CloudFormation can read it.

`chalice package --merge-template deploy/resources.json` writes deployment.zip (~5 MB) and
sam.json (~0.7 MB): far over the 51,200 bytes CloudFormation takes inline, so both go to an
artifact bucket of the account (one per region, private, encrypted, owner-enforced, TLS only)
and the stack is created from the template's URL. Object keys carry the content's digest:
an unchanged function is the same key, so CloudFormation sees no change, and an older key
stays for the rollback of an update that fails (rollback re-reads the previous code).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .aws_errors import DeployError

# The largest template CloudFormation reads from S3 (an inline TemplateBody: 51,200 bytes).
TEMPLATE_URL_LIMIT = 1_000_000


@dataclass(frozen=True)
class Package:
    template: dict[str, Any]
    code: Path


def default_project_dir() -> Path:
    """The checkout this `soute` runs from (app.py and .chalice/ beside chalicelib/), else the
    current directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "app.py").is_file() and (checkout / ".chalice" / "config.json").is_file():
        return checkout
    return Path.cwd()


def api_stage(project: Path) -> str:
    """The API Gateway stage Chalice deploys to (.chalice/config.json api_gateway_stage)."""
    config = json.loads((project / ".chalice" / "config.json").read_text())
    return str(config.get("api_gateway_stage", "api"))


def _chalice() -> str:
    beside = Path(sys.executable).parent / "chalice"
    found = str(beside) if beside.exists() else shutil.which("chalice")
    if not found:
        raise DeployError("chalice is not installed here: run `make .venv/.installed`")
    return found


def check_project(project: Path) -> Path:
    """`project`, once it has what `chalice package` needs."""
    needed = ("app.py", ".chalice/config.json", "deploy/resources.json")
    if not all((project / name).is_file() for name in needed):
        raise DeployError(
            f"{project} is not a Soute checkout (app.py, .chalice/config.json,"
            " deploy/resources.json): give --project-dir"
        )
    return project


def package(project: Path, stage: str, region: str, out: Path) -> Package:
    """`chalice package --stage STAGE --merge-template deploy/resources.json OUT`."""
    command = [_chalice(), "package", "--stage", stage]
    command += ["--merge-template", "deploy/resources.json", str(out)]
    env = {**os.environ, "AWS_DEFAULT_REGION": region}
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DeployError(f"chalice package failed: {last[0]}")
    return Package(json.loads((out / "sam.json").read_text()), out / "deployment.zip")


def artifact_bucket_name(account: str, region: str) -> str:
    return f"soute-artifacts-{account}-{region}"


def ensure_artifact_bucket(s3: Any, name: str, region: str) -> bool:
    """Create the artifact bucket if missing and (re)apply its settings; True if new."""
    try:
        s3.head_bucket(Bucket=name)
        created = False
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(
                f"artifact bucket {name} exists but is not readable with these credentials"
                " (another account's?): give --artifact-bucket"
            ) from error
        arguments: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        created = True
    _private(s3, name)
    return created


def _private(s3: Any, name: str) -> None:
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            key: True
            for key in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    if s3.meta.endpoint_url.startswith("https://"):
        from ..storage.aws.provision import tls_only_policy

        arn = f"arn:{s3.meta.partition}:s3:::{name}"
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_only_policy(arn, f"{arn}/*")))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def upload_code(s3: Any, bucket: str, stack: str, code: Path) -> str:
    """Upload deployment.zip; its key."""
    data = code.read_bytes()
    key = f"{stack}/code-{_digest(data)}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return key


def with_code(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """A copy of Chalice's template whose functions' code is the uploaded zip."""
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return template


def upload_template(s3: Any, bucket: str, region: str, stack: str, template: dict[str, Any]) -> str:
    """Upload the template; the URL CloudFormation reads it from (TemplateURL: no size limit
    but S3's, where an inline TemplateBody stops at 51,200 bytes)."""
    body = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if len(body) > TEMPLATE_URL_LIMIT:
        raise DeployError(
            f"the template is {len(body):,} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT:,}:"
            " lower MAX_DEPTH in chalicelib/server/chalice_routes.py"
        )
    key = f"{stack}/template-{_digest(body)}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
