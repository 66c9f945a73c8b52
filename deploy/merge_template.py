"""Writes the deployment files that are generated from code, so each fact has one definition:

- deploy/resources.json, merged into Chalice's template by
  `chalice package --merge-template deploy/resources.json out/`: the S3 bucket, the DynamoDB
  table, their names in the function's environment, the function's least-privilege policy on
  them, and the API's gateway responses (the ones the emulator in chalicelib/server/gateway.py
  answers with);
- .chalice/policy-<stage>.json, the same policy for `chalice deploy`, on the bucket and table
  that .chalice/config.json names for the stage (created beforehand by `soute aws init`).

The app has two functions: the API handler, and `verifier`, which verifies large direct uploads
in the background. The handler may invoke that one function (lambda:InvokeFunction on its ARN
only), and finds its name in SOUTE_VERIFIER_FUNCTION.

Run it from the repository root after changing any of them: `python deploy/merge_template.py`.
`--check` only reports whether the files are up to date (the tests run it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.auth.tokens import DEFAULT_SERVICE
from chalicelib.server.gateway import GATEWAY_RESPONSES
from chalicelib.storage.aws_setup import UPLOAD_PREFIX

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "deploy" / "resources.json"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"

S3_OBJECT_ACTIONS = [
    "s3:GetObject",  # reads, and the presigned GET URLs that pulls are redirected to
    "s3:PutObject",  # also CreateMultipartUpload, UploadPart, CompleteMultipartUpload, copies
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
# Without it S3 answers 403 instead of 404 for a missing key, and the adapter could not tell an
# expired upload from a permission error. It lists this bucket's keys only.
S3_BUCKET_ACTIONS = ["s3:ListBucket"]
DYNAMODB_ACTIONS = [
    # TransactWriteItems and TransactGetItems have no IAM action of their own: each item is
    # authorised as the PutItem, UpdateItem, DeleteItem, GetItem or ConditionCheckItem it is.
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]
LOG_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
# The API handler reads the secret its token signing key is derived from; nothing writes it.
SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
VERIFIER_ACTIONS = ["lambda:InvokeFunction"]
DOMAIN, HAS_DOMAIN = "RegistryDomainName", "HasRegistryDomainName"
# Reading back a blob of any size: the longest a Lambda function may run.
VERIFIER_TIMEOUT = 900


def policy(bucket_arn: Any, objects_arn: Any, table_arn: Any, logs_arn: Any) -> dict[str, Any]:
    """The function's permissions: the registry's bucket and table, and its own logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "BlobObjects", "Effect": "Allow", "Action": S3_OBJECT_ACTIONS,
             "Resource": objects_arn},
            {"Sid": "BlobBucket", "Effect": "Allow", "Action": S3_BUCKET_ACTIONS,
             "Resource": bucket_arn},
            {"Sid": "Metadata", "Effect": "Allow", "Action": DYNAMODB_ACTIONS,
             "Resource": table_arn},
            {"Sid": "Logs", "Effect": "Allow", "Action": LOG_ACTIONS, "Resource": logs_arn},
        ],
    }  # fmt: skip


def with_handler_rights(
    document: dict[str, Any], verifier_arn: Any, secret_arn: Any
) -> dict[str, Any]:
    """`document` plus what only the API handler needs: invoking the verifier function and
    reading the token signing secret, that function and that secret and no other."""
    extra = [
        {"Sid": "InvokeVerifier", "Effect": "Allow", "Action": VERIFIER_ACTIONS,
         "Resource": verifier_arn},
        {"Sid": "TokenSigningSecret", "Effect": "Allow", "Action": SECRET_ACTIONS,
         "Resource": secret_arn},
    ]  # fmt: skip
    return {**document, "Statement": [*document["Statement"], *extra]}


def stage_policy(bucket: str, table: str, verifier: str, secret: str) -> dict[str, Any]:
    """The policy for `chalice deploy`, on the bucket, table and secret named in the stage's
    config. Both functions share it (Chalice gives a stage one policy file)."""
    storage = policy(
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
        f"arn:aws:dynamodb:*:*:table/{table}",
        "arn:aws:logs:*:*:log-group:/aws/lambda/*",
    )
    # Secrets Manager appends a dash and six random characters to a secret's name in its ARN.
    secret_arn = f"arn:aws:secretsmanager:*:*:secret:{secret}-??????"
    return with_handler_rights(storage, f"arn:aws:lambda:*:*:function:{verifier}", secret_arn)


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def packaged_policy() -> dict[str, Any]:
    """The policy in the packaged stack, on the bucket and table the stack creates."""
    return policy(
        {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
        _sub("${RegistryBucket.Arn}/*"),
        {"Fn::GetAtt": ["RegistryTable", "Arn"]},
        _sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/*"),
    )


def bucket() -> dict[str, Any]:
    return {
        "Type": "AWS::S3::Bucket",
        # Deleting the stack must not delete every image.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "AbortIncompleteMultipartUploads",
                        "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    },
                    {
                        # Pieces of uploads in progress (chunk tails); finished blobs are
                        # elsewhere.
                        "Id": "ExpireUploadTemporaries",
                        "Status": "Enabled",
                        "Prefix": UPLOAD_PREFIX,
                        "ExpirationInDays": 2,
                    },
                ]
            },
        },
    }


def bucket_policy() -> dict[str, Any]:
    """Refuse plain-HTTP access: presigned URLs are HTTPS, nothing else needs HTTP."""
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "RegistryBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
                            _sub("${RegistryBucket.Arn}/*"),
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }


def table() -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    }


def signing_secret() -> dict[str, Any]:
    """64 random characters that only CloudFormation and the API handler ever see; every
    instance derives the token signing key from them (chalicelib/auth/keys.py derive_key).
    Rotate by putting a new value: tokens signed with the previous one stay valid."""
    return {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Description": "Soute: the secret its token signing key is derived from",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }


def storage_variables() -> dict[str, Any]:
    return {
        "SOUTE_S3_BUCKET": {"Ref": "RegistryBucket"},
        "SOUTE_DYNAMODB_TABLE": {"Ref": "RegistryTable"},
    }


def merge_template() -> dict[str, Any]:
    """What `chalice package --merge-template` deep-merges into Chalice's own template: new
    resources are added; for Chalice's resources (APIHandler, ApiHandlerRole, its log group,
    RestAPI) the keys given here replace or extend Chalice's."""
    return {
        "Parameters": {
            DOMAIN: {
                "Type": "String",
                "Default": "",
                "Description": "The host name clients use, e.g. registry.example.com: the"
                " token service name, and with it AWS-native login. Empty: AWS login off.",
            }
        },
        "Conditions": {HAS_DOMAIN: {"Fn::Not": [{"Fn::Equals": [{"Ref": DOMAIN}, ""]}]}},
        "Resources": {
            "RegistryBucket": bucket(),
            "RegistryBucketPolicy": bucket_policy(),
            "RegistryTable": table(),
            "TokenSigningSecret": signing_secret(),
            "APIHandler": {
                "Properties": {
                    "Environment": {
                        "Variables": {
                            **storage_variables(),
                            "SOUTE_VERIFIER_FUNCTION": {"Ref": "Verifier"},
                            # Ref of a secret is its ARN.
                            "SOUTE_SIGNING_SECRET": {"Ref": "TokenSigningSecret"},
                            # The host name clients use is the service name AWS logins are
                            # bound to (`soute login --aws` checks it): with it, AWS login on.
                            "SOUTE_AUTH_SERVICE": {
                                "Fn::If": [HAS_DOMAIN, {"Ref": DOMAIN}, DEFAULT_SERVICE]
                            },
                            "SOUTE_AWS_LOGIN": {"Fn::If": [HAS_DOMAIN, "on", "off"]},
                        }
                    }
                }
            },
            "Verifier": {
                "Properties": {
                    "Timeout": VERIFIER_TIMEOUT,
                    "Environment": {"Variables": storage_variables()},
                }
            },
            # The verifier's own role: the bucket and table, no invoke right, no secret (it
            # serves no request and builds no auth).
            "VerifierRole": {
                "Properties": {
                    "Policies": [
                        {"PolicyName": "VerifierRolePolicy", "PolicyDocument": packaged_policy()}
                    ]
                }
            },
            # Replaces the policy Chalice read from .chalice/policy-<stage>.json, whose names
            # are the stage's pre-created bucket and table. (With autogen_policy false, Chalice
            # names the role after the function.)
            "ApiHandlerRole": {
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "ApiHandlerRolePolicy",
                            "PolicyDocument": with_handler_rights(
                                packaged_policy(),
                                {"Fn::GetAtt": ["Verifier", "Arn"]},
                                {"Ref": "TokenSigningSecret"},
                            ),
                        }
                    ]
                }
            },
            # Chalice 1.34 names the log group after `ApiHandler`, a resource it renames to
            # APIHandler once the REST API exists: the reference would dangle.
            "ApiHandlerLogGroup": {
                "Properties": {"LogGroupName": _sub("/aws/lambda/${APIHandler}")}
            },
            # Gateway responses go in the API definition, not in AWS::ApiGateway::GatewayResponse
            # resources: SAM imports the definition in overwrite mode on every deployment, which
            # drops gateway responses defined beside it, and they would not be part of the
            # stage's deployment.
            "RestAPI": {
                "Properties": {
                    "DefinitionBody": {
                        "x-amazon-apigateway-gateway-responses": {
                            name: response.openapi() for name, response in GATEWAY_RESPONSES.items()
                        }
                    }
                }
            },
        },
        "Outputs": {
            "RegistryBucketName": {"Value": {"Ref": "RegistryBucket"}},
            "RegistryTableName": {"Value": {"Ref": "RegistryTable"}},
            "TokenSigningSecretArn": {"Value": {"Ref": "TokenSigningSecret"}},
        },
    }


def generated_files() -> dict[Path, str]:
    files = {MERGE_TEMPLATE: _json(merge_template())}
    config = json.loads(CHALICE_CONFIG.read_text())
    for stage in config["stages"].values():
        variables = stage["environment_variables"]
        files[CHALICE_CONFIG.parent / stage["iam_policy_file"]] = _json(
            stage_policy(
                variables["SOUTE_S3_BUCKET"],
                variables["SOUTE_DYNAMODB_TABLE"],
                variables["SOUTE_VERIFIER_FUNCTION"],
                variables["SOUTE_SIGNING_SECRET"],
            )
        )
    return files


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [
        path
        for path, text in generated_files().items()
        if not path.exists() or path.read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python deploy/merge_template.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(generated_files()[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
