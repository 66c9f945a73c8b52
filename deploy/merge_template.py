"""Writes the deployment files that are generated from code, so each fact has one definition:

- deploy/resources.json, merged into Chalice's template by
  `chalice package --merge-template deploy/resources.json out/`: the S3 bucket, the DynamoDB
  table, the token signing secret and its resource policy, their names in the functions'
  environments, each function's least-privilege policy (its own log group included), the
  limits on what a flood of requests can use (reserved concurrency, stage throttling, an
  optional AWS WAF web ACL), and the API's gateway responses
  (chalicelib/server/gateway_responses.py, which the emulator answers with too);
- .chalice/policy-<stage>.json and policy-<stage>-verifier.json, the same two policies for
  `chalice deploy`, on the bucket, table and secret that .chalice/config.json names for the
  stage (created beforehand by `soute aws init`).

The app has two functions: the API handler, and `verifier`, which verifies large direct uploads
in the background. The handler may invoke that one function (lambda:InvokeFunction on its ARN
only), and finds its name in SOUTE_VERIFIER_FUNCTION. The verifier reads back and hashes the
parts of one upload, and records the result: its policy allows that and nothing else.

Several regions (`soute aws deploy --regions`, chalicelib/cli/aws_deploy_regions.py): every region's
stack is this one template; its parameters say which region is the primary (PrimaryRegion, empty:
one region, the template as it always was) and name the other regions' buckets, the primary's
table and the local replica of the signing secret. Only the primary's stack holds the table and
the secret (CreatesTable); every stack holds its own bucket, the role S3 replicates with, and the
right of the `blob_copies` function (when the app has it) to be invoked by the bucket; the `gc`
function, its schedule and its role exist in the primary's stack only (docs/regions.md rule 7:
a scheduled job runs once). What has
one entry per other region and AWS creates by API (table replicas, secret replicas, replication
rules, the bucket's notification, the latency records) is done by the deploy after the stacks.

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
from chalicelib.server.gateway_responses import GATEWAY_RESPONSES
from chalicelib.storage.aws.provision import (
    ABORT_MULTIPART_DAYS,
    NONCURRENT_VERSION_DAYS,
    UPLOAD_PREFIX,
    UPLOAD_TEMPORARY_DAYS,
    tls_only_policy,
)

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
    # A manifest PUT under a namespace quota reads its blobs' counts and links in one call
    # (storage/aws/dynamodb_quota.py); a read of the same table, like GetItem.
    "dynamodb:BatchGetItem",
]
# The verifier (registry/direct_uploads.py verify, on storage/aws/s3.py and storage/aws/dynamodb.py)
# reads the assembled object back, deletes it if its digest is wrong, aborts the multipart
# upload's leftovers, and records the blob and the session; tests/lambda/test_verifier_policy.py
# runs it on moto and checks every call it makes against these lists.
# No ListBucket: an object missing then answers 403, not 404, and the verifier fails on either
# (Lambda retries the event).
VERIFIER_S3_ACTIONS = ["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
# Direct uploads are assembled under this prefix (storage/aws/s3.py _object_key).
VERIFIED_PREFIX = "blobs/"
VERIFIER_DYNAMODB_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]
# The stack creates each function's log group (Chalice does, with log_retention_in_days), so
# the functions only add streams and events to their own.
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# `chalice deploy` names the API handler's log group after a function that does not exist
# (Chalice 1.34: /aws/lambda/<app>-<stage>-api_handler), so the real one is created on first use.
STAGE_LOG_ACTIONS = ["logs:CreateLogGroup", *LOG_ACTIONS]
# The API handler reads the secret its token signing key is derived from; nothing writes it.
SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
VERIFIER_ACTIONS = ["lambda:InvokeFunction"]
# A replica region's own replica of the table is read, never written (writes go to the primary).
LOCAL_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query"]
DOMAIN, HAS_DOMAIN = "RegistryDomainName", "HasRegistryDomainName"
# What a flood of requests may use: at most this many instances of each function (and always
# that many available to it), and this many requests a second to the stage (a burst of more).
# Defaults fit an account with the usual quota of 1,000 concurrent executions; 0: no
# reservation (an account whose quota is lower cannot reserve: AWS keeps 100 unreserved).
API_CONCURRENCY = "ApiHandlerReservedConcurrency"
VERIFIER_CONCURRENCY = "VerifierReservedConcurrency"
THROTTLE_RATE, THROTTLE_BURST = "ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"
WEB_ACL, HAS_WEB_ACL = "WebAclArn", "HasWebAcl"
DEFAULT_API_CONCURRENCY, DEFAULT_VERIFIER_CONCURRENCY = 100, 10
DEFAULT_THROTTLE_RATE, DEFAULT_THROTTLE_BURST = 200, 400
# Reading back a blob of any size: the longest a Lambda function may run.
VERIFIER_TIMEOUT = 900
# Several regions: the parameters the deploy gives every region's stack (aws_deploy_regions.py).
PRIMARY_REGION = "PrimaryRegion"  # "": one region
PRIMARY_TABLE = "PrimaryTableName"  # replicas: the primary's table (a global table's name)
REPLICA_SECRET = "ReplicaSecretArn"  # replicas: the local replica of the primary's secret
PEER_BUCKETS = "PeerBuckets"  # "eu-west-1=bucket-b,...": the other regions' buckets
PEER_BUCKET_ARNS = "PeerBucketArns"  # the same buckets' ARNs, for the policies
PEER_HANDLER_ROLES = "PeerHandlerRoleArns"  # primary: the other regions' API handler roles
IS_MULTI_REGION, CREATES_TABLE = "IsMultiRegion", "CreatesTable"
HAS_PEERS, HAS_PEER_ROLES = "HasPeerBuckets", "HasPeerHandlerRoles"
# The app's third function (chalicelib/server/chalice_app.py), when it has it: S3 invokes it for
# each object created in the region's bucket, replicas included, and it records which region
# holds the blob (in the primary's table). Chalice names its resources after it.
BLOB_COPIES = "blob_copies"
BLOB_COPIES_DYNAMODB_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
# The scheduled garbage collector (chalicelib/server/gc_function.py), when the app has it: one
# batch an hour, in the primary region's stack only. What lifecycle/gc.py calls, through
# storage/aws/dynamodb_lifecycle.py, dynamodb_links.py, dynamodb.py (delete_upload), s3.py
# (discard, delete_object) and regions/ (remove marks the object's record, then deletes every
# region's copy); tests/lambda/test_gc_function.py checks every call it makes against these.
GC = "gc"
GC_DYNAMODB_ACTIONS = [
    "dynamodb:Scan",  # its listings: the one reader that pages through the table
    "dynamodb:Query",  # retention: the policies, the catalog, a repository's images
    "dynamodb:BatchGetItem",  # retention: the tags of a page of images
    "dynamodb:GetItem",
    "dynamodb:PutItem",  # its progress, and the mark that older links are counted
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]
# No ListBucket and no GetObject: it deletes blobs (blobs/<upload id>) and the tails of
# abandoned uploads (uploads/...), and aborts their multipart uploads; it never reads bytes.
GC_S3_ACTIONS = ["s3:DeleteObject", "s3:AbortMultipartUpload"]
GC_PREFIXES = (VERIFIED_PREFIX, UPLOAD_PREFIX)
# Only finished blobs replicate: an upload in progress continues in the bucket it started in.
REPLICATED_PREFIX = VERIFIED_PREFIX
REPLICATION_SOURCE_BUCKET_ACTIONS = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
REPLICATION_SOURCE_OBJECT_ACTIONS = [
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
]
REPLICATION_DESTINATION_ACTIONS = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]


def _statement(sid: str, actions: list[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def handler_policy(
    bucket_arn: Any, objects_arn: Any, table_arn: Any, verifier_arn: Any, secret_arn: Any
) -> list[dict[str, Any]]:
    """The API handler's permissions: the registry's bucket and table, invoking the verifier
    function and reading the token signing secret, those and no other."""
    return [
        _statement("BlobObjects", S3_OBJECT_ACTIONS, objects_arn),
        _statement("BlobBucket", S3_BUCKET_ACTIONS, bucket_arn),
        _statement("Metadata", DYNAMODB_ACTIONS, table_arn),
        _statement("InvokeVerifier", VERIFIER_ACTIONS, verifier_arn),
        _statement("TokenSigningSecret", SECRET_ACTIONS, secret_arn),
    ]


def verifier_policy(blobs_arn: Any, table_arn: Any) -> list[dict[str, Any]]:
    """The verifier's: the assembled objects and the table's items, no listing, no writes to
    S3, no invoke right, no secret (it serves no request and builds no auth)."""
    return [
        _statement("VerifiedObjects", VERIFIER_S3_ACTIONS, blobs_arn),
        _statement("Metadata", VERIFIER_DYNAMODB_ACTIONS, table_arn),
    ]


def stage_policies(
    bucket: str, table: str, handler: str, verifier: str, secret: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The API handler's and the verifier's policies for `chalice deploy`, on the bucket,
    table, functions and secret named in the stage's config."""

    def logs(function: str) -> dict[str, Any]:
        group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function}"
        return _statement("Logs", STAGE_LOG_ACTIONS, [group, f"{group}:*"])

    table_arn = f"arn:aws:dynamodb:*:*:table/{table}"
    # Secrets Manager appends a dash and six random characters to a secret's name in its ARN.
    secret_arn = f"arn:aws:secretsmanager:*:*:secret:{secret}-??????"
    api = handler_policy(
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
        table_arn,
        f"arn:aws:lambda:*:*:function:{verifier}",
        secret_arn,
    )
    checks = verifier_policy(f"arn:aws:s3:::{bucket}/{VERIFIED_PREFIX}*", table_arn)
    return _document(*api, logs(handler)), _document(*checks, logs(verifier))


def stage_blob_copies_policy(table: str, function: str) -> dict[str, Any]:
    """The blob_copies function's policy for `chalice deploy` (one region: nothing invokes it)."""
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function}"
    return _document(
        _statement("Metadata", BLOB_COPIES_DYNAMODB_ACTIONS, f"arn:aws:dynamodb:*:*:table/{table}"),
        _statement("Logs", STAGE_LOG_ACTIONS, [group, f"{group}:*"]),
    )


def gc_policy(objects_arns: Any, table_arn: Any) -> list[dict[str, Any]]:
    """The gc function's: delete blobs and abandoned uploads' pieces, and the table's items it
    lists and changes; no reads of bytes, no listing of the bucket, no secret, no invoke."""
    return [
        _statement("CollectedObjects", GC_S3_ACTIONS, objects_arns),
        _statement("Metadata", GC_DYNAMODB_ACTIONS, table_arn),
    ]


def stage_gc_policy(bucket: str, table: str, function: str) -> dict[str, Any]:
    """The gc function's policy for `chalice deploy` (one region)."""
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function}"
    objects = [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in GC_PREFIXES]
    return _document(
        *gc_policy(objects, f"arn:aws:dynamodb:*:*:table/{table}"),
        _statement("Logs", STAGE_LOG_ACTIONS, [group, f"{group}:*"]),
    )


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _role(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Keys merged into one of Chalice's roles: its policy replaces the one Chalice read from
    .chalice/policy-<stage>.json, whose names are the stage's pre-created resources."""
    document = _document(*statements)
    return {"Properties": {"Policies": [{"PolicyName": name, "PolicyDocument": document}]}}


def log_policy(role: str, log_group: str) -> dict[str, Any]:
    """Writing to the function's own log group. A resource apart from the role: the group's
    name comes from the function, which needs the role first."""
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": f"{role}Logs",
            "Roles": [{"Ref": role}],
            # A log group's Arn attribute ends in ":*", its streams.
            "PolicyDocument": _document(
                _statement("Logs", LOG_ACTIONS, {"Fn::GetAtt": [log_group, "Arn"]})
            ),
        },
    }


def secret_policy() -> dict[str, Any]:
    """Only the API handler's role may read the signing secret, whatever an identity policy
    elsewhere in the account allows (an administrator must change this policy first, which
    CloudTrail records)."""
    # Secrets Manager copies a secret's resource policy to its replicas: the other regions'
    # API handler roles are named here too (PeerHandlerRoleArns), or they could not read theirs.
    readers = {
        "Fn::If": [
            HAS_PEER_ROLES,
            {
                "Fn::Split": [
                    ",",
                    {"Fn::Sub": f"${{ApiHandlerRole.Arn}},${{{PEER_HANDLER_ROLES}}}"},
                ]
            },
            {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]},
        ]
    }
    return {
        "Type": "AWS::SecretsManager::ResourcePolicy",
        "Condition": CREATES_TABLE,
        "Properties": {
            "SecretId": {"Ref": "TokenSigningSecret"},
            "BlockPublicPolicy": True,
            "ResourcePolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "OnlyTheRegistryReads",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": SECRET_ACTIONS,
                        "Resource": "*",  # in a secret's policy: this secret
                        "Condition": {"StringNotEquals": {"aws:PrincipalArn": readers}},
                    }
                ],
            },
        },
    }


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
            # A deleted or overwritten object stays recoverable for NONCURRENT_VERSION_DAYS.
            "VersioningConfiguration": {"Status": "Enabled"},
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
                        "AbortIncompleteMultipartUpload": {
                            "DaysAfterInitiation": ABORT_MULTIPART_DAYS
                        },
                    },
                    {
                        # Pieces of uploads in progress (chunk tails); finished blobs are
                        # elsewhere.
                        "Id": "ExpireUploadTemporaries",
                        "Status": "Enabled",
                        "Prefix": UPLOAD_PREFIX,
                        "ExpirationInDays": UPLOAD_TEMPORARY_DAYS,
                        # Nobody wants a deleted tail back.
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                    },
                    {
                        "Id": "ExpireNoncurrentVersions",
                        "Status": "Enabled",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
                        "ExpiredObjectDeleteMarker": True,
                    },
                ]
            },
        },
    }


def bucket_policy() -> dict[str, Any]:
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "RegistryBucket"},
            "PolicyDocument": tls_only_policy(
                {"Fn::GetAtt": ["RegistryBucket", "Arn"]}, _sub("${RegistryBucket.Arn}/*")
            ),
        },
    }


def table() -> dict[str, Any]:
    """The registry's table, in the primary's stack only. With several regions it is the
    global table (version 2019.11.21) whose replicas the deploy adds by UpdateTable
    ReplicaUpdates (aws_deploy_regions.py says why it stays an AWS::DynamoDB::Table): replicas need
    its stream, new and old images."""
    return {
        "Type": "AWS::DynamoDB::Table",
        "Condition": CREATES_TABLE,
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
            # Retain keeps it when the stack goes; this refuses a DeleteTable by hand too.
            "DeletionProtectionEnabled": True,
            "StreamSpecification": {
                "Fn::If": [
                    IS_MULTI_REGION,
                    {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    {"Ref": "AWS::NoValue"},
                ]
            },
        },
    }


def signing_secret() -> dict[str, Any]:
    """64 random characters that only CloudFormation and the API handler ever see; every
    instance derives the token signing key from them (chalicelib/auth/keys.py derive_key).
    Rotate by putting a new value: tokens signed with the previous one stay valid."""
    return {
        "Type": "AWS::SecretsManager::Secret",
        # With several regions the deploy replicates it (ReplicateSecretToRegions) to the
        # others: a token signed in one region verifies in every other.
        "Condition": CREATES_TABLE,
        "Properties": {
            "Description": "Soute: the secret its token signing key is derived from",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }


def _if(condition: str, then: Any, otherwise: Any = None) -> dict[str, Any]:
    nothing = {"Ref": "AWS::NoValue"}
    return {"Fn::If": [condition, then, nothing if otherwise is None else otherwise]}


def signing_secret_arn() -> dict[str, Any]:
    """The primary's secret, or this region's replica of it (the same name and suffix)."""
    return _if(CREATES_TABLE, {"Ref": "TokenSigningSecret"}, {"Ref": REPLICA_SECRET})


def table_name() -> dict[str, Any]:
    return _if(CREATES_TABLE, {"Ref": "RegistryTable"}, {"Ref": PRIMARY_TABLE})


def _table_arn(region: str) -> dict[str, Any]:
    return _sub(
        f"arn:${{AWS::Partition}}:dynamodb:${{{region}}}:${{AWS::AccountId}}:table/"
        f"${{{PRIMARY_TABLE}}}"
    )


def primary_table_arn() -> dict[str, Any]:
    """Where every region writes: its own table in the primary's stack, else the primary's."""
    return _if(CREATES_TABLE, {"Fn::GetAtt": ["RegistryTable", "Arn"]}, _table_arn(PRIMARY_REGION))


def local_replica_reads() -> dict[str, Any]:
    """A replica region reads its own replica of the table (and falls back to the primary's)."""
    return _if(
        CREATES_TABLE,
        {"Ref": "AWS::NoValue"},
        _statement("LocalReplicaReads", LOCAL_READ_ACTIONS, _table_arn("AWS::Region")),
    )


def peer_objects(suffix: str) -> dict[str, Any]:
    """The other regions' buckets' ARNs with `suffix` (e.g. "/*"), a list."""
    joined = {"Fn::Join": [f"{suffix},", {"Ref": PEER_BUCKET_ARNS}]}
    return {"Fn::Split": [",", {"Fn::Join": ["", [joined, suffix]]}]}


def peer_statement(sid: str, actions: list[str], resource: Any) -> dict[str, Any]:
    return _if(HAS_PEERS, _statement(sid, actions, resource))


def storage_variables() -> dict[str, Any]:
    """Every function's storage. With several regions (absent with one): the region, the
    primary region, and every region's bucket, `us-east-1=bucket-a,eu-west-1=bucket-b`."""
    local = "${AWS::Region}=${RegistryBucket}"
    return {
        "SOUTE_S3_BUCKET": {"Ref": "RegistryBucket"},
        "SOUTE_DYNAMODB_TABLE": table_name(),
        "SOUTE_AWS_REGION": _if(IS_MULTI_REGION, {"Ref": "AWS::Region"}),
        "SOUTE_PRIMARY_REGION": _if(IS_MULTI_REGION, {"Ref": PRIMARY_REGION}),
        "SOUTE_S3_BUCKETS": _if(
            IS_MULTI_REGION,
            _if(HAS_PEERS, _sub(f"{local},${{{PEER_BUCKETS}}}"), _sub(local)),
        ),
    }


def _count(description: str, default: int, minimum: int) -> dict[str, Any]:
    return {
        "Type": "Number",
        "Default": default,
        "MinValue": minimum,
        "Description": description,
    }


def parameters() -> dict[str, Any]:
    return {
        DOMAIN: {
            "Type": "String",
            "Default": "",
            "Description": "The host name clients use, e.g. registry.example.com: the"
            " token service name, and with it AWS-native login; the API's execute-api"
            " endpoint is then off (clients use the custom domain). Empty: AWS login off.",
        },
        API_CONCURRENCY: _count(
            "Reserved concurrency of the registry function: the most instances a flood of"
            " requests can start, and always available to it. 0: no reservation.",
            DEFAULT_API_CONCURRENCY,
            0,
        ),
        VERIFIER_CONCURRENCY: _count(
            "Reserved concurrency of the verifier function (more verifications wait in"
            " Lambda's queue). 0: no reservation.",
            DEFAULT_VERIFIER_CONCURRENCY,
            0,
        ),
        THROTTLE_RATE: _count(
            "Requests per second the API stage accepts, from all clients together (429 beyond).",
            DEFAULT_THROTTLE_RATE,
            1,
        ),
        THROTTLE_BURST: _count(
            "Requests the API stage accepts at once above the rate.", DEFAULT_THROTTLE_BURST, 1
        ),
        WEB_ACL: {
            "Type": "String",
            "Default": "",
            "Description": "Optional: the ARN of an AWS WAF web ACL (regional) for the API"
            " stage, e.g. with a rate-based rule per source address. Empty: none.",
        },
        **region_parameters(),
    }


def region_parameters() -> dict[str, Any]:
    """What `soute aws deploy --regions` tells each region's stack; all empty: one region."""

    def text(description: str, **more: Any) -> dict[str, Any]:
        return {"Type": "String", "Default": "", "Description": description, **more}

    return {
        PRIMARY_REGION: text(
            "Several regions: the primary region, whose stack holds the table and the secret"
            " and whose table every region writes to. Empty: one region.",
            AllowedPattern="^([a-z]{2}(-[a-z]+)+-[0-9])?$",
        ),
        PRIMARY_TABLE: text("A replica region: the primary's table (the global table)."),
        # No default for the two ARN parameters: cfn-lint would check the default, "", as an
        # ARN in the policies (where a false condition keeps it out). The deploy always gives
        # them, empty with one region.
        REPLICA_SECRET: {
            "Type": "String",
            "Description": "A replica region: the ARN of its replica of the signing secret.",
        },
        PEER_BUCKETS: text(
            "Several regions: the other regions' buckets, REGION=BUCKET,REGION=BUCKET."
        ),
        PEER_BUCKET_ARNS: {
            "Type": "CommaDelimitedList",
            "Description": "The same buckets' ARNs.",
        },
        PEER_HANDLER_ROLES: text(
            "The primary: the other regions' API handler role ARNs, comma-separated (they"
            " read their replicas of the signing secret, whose resource policy is this one's)."
        ),
    }


def _not_empty(parameter: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


def _reserves(parameter: str) -> str:
    return f"Reserves{parameter}"


def conditions() -> dict[str, Any]:
    return {
        HAS_DOMAIN: _not_empty(DOMAIN),
        HAS_WEB_ACL: _not_empty(WEB_ACL),
        IS_MULTI_REGION: _not_empty(PRIMARY_REGION),
        CREATES_TABLE: {
            "Fn::Or": [
                {"Fn::Equals": [{"Ref": PRIMARY_REGION}, ""]},
                {"Fn::Equals": [{"Ref": PRIMARY_REGION}, {"Ref": "AWS::Region"}]},
            ]
        },
        HAS_PEERS: _not_empty(PEER_BUCKETS),
        HAS_PEER_ROLES: _not_empty(PEER_HANDLER_ROLES),
        **{
            _reserves(name): {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, 0]}]}
            for name in (API_CONCURRENCY, VERIFIER_CONCURRENCY)
        },
    }


def _reserved_concurrency(parameter: str) -> dict[str, Any]:
    # 0 would mean "never run": no reservation instead.
    return {"Fn::If": [_reserves(parameter), {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}


def rest_api() -> dict[str, Any]:
    """Keys merged into Chalice's AWS::Serverless::Api."""
    return {
        "Properties": {
            # One limit for the whole stage: its methods are one greedy route to the function.
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": {"Ref": THROTTLE_RATE},
                    "ThrottlingBurstLimit": {"Ref": THROTTLE_BURST},
                }
            ],
            # With a custom domain, the execute-api URL would be a second way in that the
            # domain's own settings (TLS policy, a WAF on it) do not cover.
            "DisableExecuteApiEndpoint": {"Fn::If": [HAS_DOMAIN, True, False]},
            # Gateway responses go in the API definition, not in AWS::ApiGateway::
            # GatewayResponse resources: SAM imports the definition in overwrite mode on every
            # deployment, which drops gateway responses defined beside it, and they would not
            # be part of the stage's deployment.
            "DefinitionBody": {
                "x-amazon-apigateway-gateway-responses": {
                    name: response.openapi() for name, response in GATEWAY_RESPONSES.items()
                }
            },
        }
    }


def web_acl_association() -> dict[str, Any]:
    return {
        "Type": "AWS::WAFv2::WebACLAssociation",
        "Condition": HAS_WEB_ACL,
        "Properties": {
            "WebACLArn": {"Ref": WEB_ACL},
            # ${RestAPI.Stage} also makes it wait for the stage SAM creates.
            "ResourceArn": _sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}"
                "/stages/${RestAPI.Stage}"
            ),
        },
    }


def handler_variables() -> dict[str, Any]:
    return {
        **storage_variables(),
        "SOUTE_VERIFIER_FUNCTION": {"Ref": "Verifier"},
        # Ref of a secret is its ARN.
        "SOUTE_SIGNING_SECRET": signing_secret_arn(),
        # The host name clients use is the service name AWS logins are bound to (`soute login
        # --aws` checks it): with it, AWS login on.
        "SOUTE_AUTH_SERVICE": {"Fn::If": [HAS_DOMAIN, {"Ref": DOMAIN}, DEFAULT_SERVICE]},
        "SOUTE_AWS_LOGIN": {"Fn::If": [HAS_DOMAIN, "on", "off"]},
    }


def replication_role() -> dict[str, Any]:
    """The role S3 replicates the bucket's blobs to the other regions' buckets with (the deploy
    writes the rules, one per other region, once those buckets exist)."""
    return {
        "Type": "AWS::IAM::Role",
        "Condition": HAS_PEERS,
        "Properties": {
            "AssumeRolePolicyDocument": _document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                }
            ),
            "Policies": [
                {
                    "PolicyName": "ReplicationRolePolicy",
                    "PolicyDocument": _document(
                        _statement(
                            "SourceBucket",
                            REPLICATION_SOURCE_BUCKET_ACTIONS,
                            {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
                        ),
                        _statement(
                            "SourceBlobs",
                            REPLICATION_SOURCE_OBJECT_ACTIONS,
                            _sub(f"${{RegistryBucket.Arn}}/{REPLICATED_PREFIX}*"),
                        ),
                        _statement(
                            "DestinationBlobs",
                            REPLICATION_DESTINATION_ACTIONS,
                            peer_objects(f"/{REPLICATED_PREFIX}*"),
                        ),
                    ),
                }
            ],
        },
    }


def blob_copies_resources() -> dict[str, Any]:
    """Keys for Chalice's BlobCopies function and role, and the right of the registry's bucket
    to invoke it (several regions only). The bucket's notification itself is written by the
    deploy: in the template it would be a cycle (the bucket would wait for this permission,
    which names the bucket's ARN, and the function's environment names the bucket)."""
    return {
        "BlobCopies": {"Properties": {"Environment": {"Variables": storage_variables()}}},
        "BlobCopiesRole": _role(
            "BlobCopiesRolePolicy",
            [_statement("Metadata", BLOB_COPIES_DYNAMODB_ACTIONS, primary_table_arn())],
        ),
        "BlobCopiesLogs": log_policy("BlobCopiesRole", "BlobCopiesLogGroup"),
        "BlobCopiesInvokedByBucket": {
            "Type": "AWS::Lambda::Permission",
            "Condition": IS_MULTI_REGION,
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["BlobCopies", "Arn"]},
                "Principal": "s3.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["RegistryBucket", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
    }


def gc_resources() -> dict[str, Any]:
    """Keys for Chalice's Gc function (its schedule is an event of it), role and log group,
    all in the primary's stack only (CreatesTable: also a one-region stack). SAM gives the
    function's condition to the schedule's rule and permission it makes of the event."""
    only = {"Condition": CREATES_TABLE}
    statements = gc_policy(
        [_sub(f"${{RegistryBucket.Arn}}/{prefix}*") for prefix in GC_PREFIXES],
        {"Fn::GetAtt": ["RegistryTable", "Arn"]},  # the primary's, where it runs
    )
    # Several regions: an abandoned upload is in the bucket it started in, and a blob's
    # bytes go from every region's bucket (BlobStore.remove).
    statements += [
        peer_statement(f"Peer{name}", GC_S3_ACTIONS, peer_objects(f"/{prefix}*"))
        for name, prefix in (("Blobs", VERIFIED_PREFIX), ("Uploads", UPLOAD_PREFIX))
    ]
    return {
        "Gc": {**only, "Properties": {"Environment": {"Variables": storage_variables()}}},
        "GcRole": {**only, **_role("GcRolePolicy", statements)},
        "GcLogGroup": only,
        "GcLogs": {**only, **log_policy("GcRole", "GcLogGroup")},
    }


def merge_template(functions: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What `chalice package --merge-template` deep-merges into Chalice's own template: new
    resources are added; for Chalice's resources (APIHandler, ApiHandlerRole, its log group,
    RestAPI, and the same for Verifier) the keys given here replace or extend Chalice's.
    `functions`: the app's Lambda functions besides the API handler (app_functions())."""
    bucket_arn = {"Fn::GetAtt": ["RegistryBucket", "Arn"]}
    table_arn = primary_table_arn()
    handler_statements = handler_policy(
        bucket_arn,
        _sub("${RegistryBucket.Arn}/*"),
        table_arn,
        {"Fn::GetAtt": ["Verifier", "Arn"]},
        signing_secret_arn(),
    )
    # Several regions: an upload that moved continues in the bucket it started in, a pull may
    # be sent to another region's bucket, a delete removes the blob from every bucket.
    handler_statements += [
        peer_statement("PeerBlobObjects", S3_OBJECT_ACTIONS, peer_objects("/*")),
        peer_statement("PeerBlobBuckets", S3_BUCKET_ACTIONS, {"Ref": PEER_BUCKET_ARNS}),
        local_replica_reads(),
    ]
    verifier_statements = verifier_policy(
        _sub(f"${{RegistryBucket.Arn}}/{VERIFIED_PREFIX}*"), table_arn
    )
    verifier_statements += [
        peer_statement(
            "PeerVerifiedObjects", VERIFIER_S3_ACTIONS, peer_objects(f"/{VERIFIED_PREFIX}*")
        ),
        local_replica_reads(),
    ]
    resources: dict[str, Any] = {
        "RegistryBucket": bucket(),
        "RegistryBucketPolicy": bucket_policy(),
        "RegistryTable": table(),
        "TokenSigningSecret": signing_secret(),
        "TokenSigningSecretPolicy": secret_policy(),
        "APIHandler": {
            "Properties": {
                "ReservedConcurrentExecutions": _reserved_concurrency(API_CONCURRENCY),
                "Environment": {"Variables": handler_variables()},
            }
        },
        # The verifier's environment is the storage alone (.chalice/config.json gives the
        # handler's other variables to the handler only).
        "Verifier": {
            "Properties": {
                "Timeout": VERIFIER_TIMEOUT,
                "ReservedConcurrentExecutions": _reserved_concurrency(VERIFIER_CONCURRENCY),
                "Environment": {"Variables": storage_variables()},
            }
        },
        # (With autogen_policy false, Chalice gives each function a role named after it.)
        "VerifierRole": _role("VerifierRolePolicy", verifier_statements),
        "VerifierLogs": log_policy("VerifierRole", "VerifierLogGroup"),
        "ApiHandlerRole": _role("ApiHandlerRolePolicy", handler_statements),
        "ApiHandlerLogs": log_policy("ApiHandlerRole", "ApiHandlerLogGroup"),
        # Chalice 1.34 names the log group after `ApiHandler`, a resource it renames to
        # APIHandler once the REST API exists: the reference would dangle.
        "ApiHandlerLogGroup": {"Properties": {"LogGroupName": _sub("/aws/lambda/${APIHandler}")}},
        "RestAPI": rest_api(),
        "RestAPIWebAcl": web_acl_association(),
        "ReplicationRole": replication_role(),
    }
    outputs: dict[str, Any] = {
        "RegistryBucketName": {"Value": {"Ref": "RegistryBucket"}},
        "RegistryTableName": {"Value": table_name()},
        "TokenSigningSecretArn": {"Value": signing_secret_arn()},
        "ApiHandlerRoleArn": {"Value": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}},
        "ReplicationRoleArn": {
            "Condition": HAS_PEERS,
            "Value": {"Fn::GetAtt": ["ReplicationRole", "Arn"]},
        },
    }
    if GC in functions:
        resources |= gc_resources()
    if BLOB_COPIES in functions:
        resources |= blob_copies_resources()
        outputs["BlobCopiesArn"] = {
            "Condition": IS_MULTI_REGION,
            "Value": {"Fn::GetAtt": ["BlobCopies", "Arn"]},
        }
    return {
        "Parameters": parameters(),
        "Conditions": conditions(),
        "Resources": resources,
        "Outputs": outputs,
    }


def app_functions() -> frozenset[str]:
    """The app's Lambda functions besides the API handler, as `chalice package` finds them:
    plain ones and scheduled ones."""
    from chalice.app import ScheduledEventConfig

    from chalicelib.server.chalice_app import create_app

    app = create_app()
    scheduled = [e for e in app.event_sources if isinstance(e, ScheduledEventConfig)]
    return frozenset(f.name for f in [*app.pure_lambda_functions, *scheduled])


def stage_settings(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The API handler's environment in `stage`, as Chalice merges it."""
    settings = config["stages"][stage]
    return {
        **config.get("environment_variables", {}),
        **settings.get("environment_variables", {}),
        **settings["lambda_functions"]["api_handler"].get("environment_variables", {}),
    }


def generated_files() -> dict[Path, str]:
    files = {MERGE_TEMPLATE: _json(merge_template(app_functions()))}
    config = json.loads(CHALICE_CONFIG.read_text())
    for name, stage in config["stages"].items():
        variables = stage_settings(config, name)
        functions = stage["lambda_functions"]
        handler, verifier = stage_policies(
            variables["SOUTE_S3_BUCKET"],
            variables["SOUTE_DYNAMODB_TABLE"],
            f"{config['app_name']}-{name}",  # Chalice's name for the API handler
            variables["SOUTE_VERIFIER_FUNCTION"],
            variables["SOUTE_SIGNING_SECRET"],
        )
        files[CHALICE_CONFIG.parent / functions["api_handler"]["iam_policy_file"]] = _json(handler)
        files[CHALICE_CONFIG.parent / functions["verifier"]["iam_policy_file"]] = _json(verifier)
        if BLOB_COPIES in functions:
            files[CHALICE_CONFIG.parent / functions[BLOB_COPIES]["iam_policy_file"]] = _json(
                stage_blob_copies_policy(
                    variables["SOUTE_DYNAMODB_TABLE"], f"{config['app_name']}-{name}-{BLOB_COPIES}"
                )
            )
        if GC in functions:
            files[CHALICE_CONFIG.parent / functions[GC]["iam_policy_file"]] = _json(
                stage_gc_policy(
                    variables["SOUTE_S3_BUCKET"],
                    variables["SOUTE_DYNAMODB_TABLE"],
                    f"{config['app_name']}-{name}-{GC}",
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
