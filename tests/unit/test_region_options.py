"""The multi-region options: SOUTE_PRIMARY_REGION and SOUTE_S3_BUCKETS, and `soute serve
--primary-region REGION --region-bucket REGION=BUCKET`, refused with a message that says what
to give (exit 2) when they do not fit together."""

from __future__ import annotations

import pytest

from chalicelib.cli.main import main
from chalicelib.server.backends import (
    BackendOptions,
    open_storage,
    options_from_environment,
    parse_region_buckets,
    regions_problem,
)

BUCKETS = (("us-east-1", "reg-a"), ("eu-west-1", "reg-b"))


def test_the_options_round_trip_through_the_environment() -> None:
    options = BackendOptions(
        backend="aws",
        s3_bucket="reg-b",
        dynamodb_table="t",
        region="eu-west-1",
        primary_region="us-east-1",
        region_buckets=BUCKETS,
    )
    environment = options.environment()
    assert environment["SOUTE_PRIMARY_REGION"] == "us-east-1"
    assert environment["SOUTE_S3_BUCKETS"] == "us-east-1=reg-a,eu-west-1=reg-b"
    assert options_from_environment(environment) == options
    assert {"SOUTE_PRIMARY_REGION", "SOUTE_S3_BUCKETS"} <= BackendOptions.variable_names()


def test_one_region_sets_neither_variable() -> None:
    environment = BackendOptions(backend="aws", s3_bucket="b", dynamodb_table="t").environment()
    assert "SOUTE_PRIMARY_REGION" not in environment and "SOUTE_S3_BUCKETS" not in environment
    assert options_from_environment(environment).primary_region is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("us-east-1", "is not REGION=BUCKET"),
        ("us-east-1=", "is not REGION=BUCKET"),
        ("useast=b-1", "not an AWS region name"),
        ("us-east-1=Bad_Bucket", "not an S3 bucket name"),
    ],
)
def test_a_bad_region_bucket_is_a_usage_error(
    text: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--backend", "aws", "--region-bucket", text])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --region-bucket" in error and said in error, error
    with pytest.raises(ValueError, match=said):
        parse_region_buckets(f"eu-west-1=ok-bucket,{text}")


AWS = ["serve", "--backend", "aws", "--dynamodb-table", "t", "--endpoint-url", "http://x:1"]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (
            ["--region", "eu-west-1", "--primary-region", "us-east-1"],
            "the primary region us-east-1 has no bucket: add --region-bucket us-east-1=BUCKET",
        ),
        (
            [
                "--region",
                "eu-west-1",
                "--primary-region",
                "us-east-1",
                "--region-bucket",
                "us-east-1=reg-a",
            ],  # fmt: skip
            "the local region eu-west-1 has no bucket: add --region-bucket eu-west-1=BUCKET",
        ),
        (
            ["--primary-region", "us-east-1", "--region-bucket", "us-east-1=reg-a"],
            "--primary-region needs the local region too: --region",
        ),
        (
            ["--region", "eu-west-1", "--region-bucket", "eu-west-1=reg-b", "--s3-bucket", "x"],
            "--region-bucket (SOUTE_S3_BUCKETS) needs --primary-region",
        ),
        (
            [
                "--region",
                "eu-west-1",
                "--primary-region",
                "us-east-1",
                "--s3-bucket",
                "reg-c",
                "--region-bucket",
                "us-east-1=reg-a",
                "--region-bucket",
                "eu-west-1=reg-b",
            ],  # fmt: skip
            "--s3-bucket reg-c is not the bucket --region-bucket gives the local region",
        ),
        (
            [
                "--region",
                "eu-west-1",
                "--primary-region",
                "us-east-1",
                "--region-bucket",
                "us-east-1=reg-a",
                "--region-bucket",
                "us-east-1=reg-c",
            ],  # fmt: skip
            "--region-bucket names a bucket twice for us-east-1",
        ),
    ],
)
def test_options_that_do_not_fit_together_say_what_to_give(
    arguments: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*AWS, *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("soute serve: ") and said in error, error


def test_several_regions_need_the_aws_backend(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["serve", "--primary-region", "us-east-1", "--region-bucket", "us-east-1=reg-a"]
    assert main(arguments) == 2
    assert "need the aws backend" in capsys.readouterr().err


def test_a_function_misconfigured_in_its_environment_fails_to_build() -> None:
    options = BackendOptions(backend="aws", dynamodb_table="t", primary_region="us-east-1")
    assert regions_problem(options) is not None
    with pytest.raises(ValueError, match="needs the local region"):
        open_storage(options)


def test_the_local_bucket_may_come_from_the_region_buckets_alone() -> None:
    options = BackendOptions(
        backend="aws",
        dynamodb_table="t",
        region="eu-west-1",
        primary_region="us-east-1",
        region_buckets=BUCKETS,
    )
    assert regions_problem(options) is None
    assert open_storage(options).bucket == "reg-b"  # type: ignore[attr-defined]
