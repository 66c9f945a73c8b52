"""What a Soute deployment costs a month, for a stated workload, at AWS's list prices.

    .venv/bin/python scripts/aws_cost.py [--stored-gb 100] [--pushes 2000] [--pulls 20000]
        [--egress-gb 500] [--layers 10] [--new-layers 2] [--memory-mb N]
        [--regions 1] [--replication-time-control]

Prints a Markdown table (the README's). The prices are us-east-1 list prices, without free
tiers or savings plans, written below with the pages they come from; the Lambda memory is the
one .chalice/config.json deploys (lambda_memory_size) unless --memory-mb says otherwise.

How many AWS calls each push and pull makes comes from bench/aws_calls.py (docs/benchmarks.md:
a manifest or blob GET is 1 DynamoDB read, a login 5 reads and 5 writes, a new blob about 2 reads
and 4 writes and 3 S3 requests through Lambda). Docker logs in once per push or pull (it fetches
a token each time), pushes each new blob as POST + PATCH + PUT, and pulls an index, its
platform's manifest, the config and every layer (an upper bound: layers it already has are
skipped, and their bytes are not in --egress-gb either).

With --regions N (soute aws deploy --regions), the same pushes and pulls are spread over the
regions, so requests, Lambda, API Gateway and egress cost the same in total; what is added is
per additional region: its bucket's copy of every blob, the table's replica (each write is
replicated once per other region, billed as replicated write units, and its bytes cross
regions), the secret's replica, and the traffic S3 replication moves (inter-region transfer
per GB, and the Replication Time Control fee per GB when on); plus, for the deployment, a 5XX
alarm and a Route 53 health check per region, the hosted zone, and the blob_copies function
invoked once per blob per bucket. A new layer is taken to be BLOB_MB (the table's 20 MB).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRICES_AS_OF = "2025-01 (us-east-1 list prices; DynamoDB on-demand as lowered on 2024-11-01)"
SOURCES = {
    "S3": "https://aws.amazon.com/s3/pricing/",
    "data transfer": "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
    "Lambda": "https://aws.amazon.com/lambda/pricing/",
    "API Gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "DynamoDB": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "Secrets Manager": "https://aws.amazon.com/secrets-manager/pricing/",
    "CloudWatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "S3 replication": "https://aws.amazon.com/s3/pricing/ (Replication tab)",
    "DynamoDB global tables": "https://aws.amazon.com/dynamodb/pricing/on-demand/ (Global tables)",
    "Route 53": "https://aws.amazon.com/route53/pricing/",
}
S3_STANDARD_GB_MONTH = 0.023  # first 50 TB
S3_PUT_PER_1000 = 0.005  # PUT, COPY, POST, LIST (and multipart upload calls)
S3_GET_PER_1000 = 0.0004
EGRESS_PER_GB = 0.09  # to the internet, first 10 TB a month (the first 100 GB are free)
LAMBDA_PER_MILLION = 0.20
LAMBDA_GB_SECOND = 0.0000166667  # x86_64, first 6 billion GB-s
API_GATEWAY_REST_PER_MILLION = 3.50  # first 333 million
DYNAMODB_WRITE_PER_MILLION = 0.625  # on-demand write request units
DYNAMODB_READ_PER_MILLION = 0.125  # on-demand read request units
DYNAMODB_GB_MONTH = 0.25  # table storage (the first 25 GB are free)
DYNAMODB_PITR_GB_MONTH = 0.20  # continuous backups (point-in-time recovery)
SECRET_MONTH = 0.40
SECRETS_PER_10000_CALLS = 0.05
LOGS_INGESTED_GB = 0.50
LOGS_STORED_GB_MONTH = 0.03
# Several regions.
INTER_REGION_PER_GB = 0.02  # data transfer from us-east-1 to another AWS region (S3, DynamoDB)
RTC_PER_GB = 0.015  # S3 Replication Time Control, per GB replicated
DYNAMODB_REPLICATED_WRITE_PER_MILLION = 0.625  # rWRU, on demand (= WRU since 2024-11-01)
CLOUDWATCH_ALARM_MONTH = 0.10  # a standard-resolution metric alarm
ROUTE53_HEALTH_CHECK_MONTH = 0.50  # a basic health check of an AWS endpoint
ROUTE53_ZONE_MONTH = 0.50  # a hosted zone (alias queries to API Gateway are free)
BLOB_MB = 20  # a new layer's size, as TABLE_BYTES_PER_BLOB assumes

# Assumptions of the model (from bench/aws_calls.py and docs/benchmarks.md).
LOGIN = {"requests": 2, "reads": 5, "writes": 5}  # GET /v2/ (401), GET /token
NEW_BLOB = {"requests": 3, "reads": 2, "writes": 4, "s3_puts": 3}  # POST, PATCH, PUT
SECONDS = {"request": 0.025, "login": 0.1, "upload": 0.3}  # billed Lambda time per request
LOG_BYTES_PER_REQUEST = 500  # START, END, REPORT and one access-log line
WARM_INSTANCES = 2  # each reads the secret twice at start and every 15 minutes
TABLE_BYTES_PER_BLOB = 1024  # blob record, repository link, manifest items


@dataclass(frozen=True)
class Workload:
    stored_gb: float
    pushes: int
    pulls: int
    egress_gb: float
    layers: int
    new_layers: int
    memory_mb: int
    regions: int = 1
    replication_time_control: bool = False


@dataclass(frozen=True)
class Line:
    item: str
    usage: str
    dollars: float


def configured_memory_mb() -> int:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config["lambda_memory_size"])


def _counts(load: Workload) -> dict[str, float]:
    """Requests, reads, writes, S3 calls and Lambda seconds of a month."""
    new_blobs = load.new_layers + 1  # and a new config
    blobs = load.layers + 1
    push_plain = blobs + 1  # a HEAD per blob, the manifest PUT
    pull_plain = 3 + blobs  # /v2/ after the token, index, manifest; config and layers
    plain = load.pushes * push_plain + load.pulls * pull_plain
    logins = load.pushes + load.pulls
    uploads = load.pushes * new_blobs * NEW_BLOB["requests"]
    return {
        "requests": plain + logins * LOGIN["requests"] + uploads,
        "reads": logins * LOGIN["reads"]
        + load.pushes * (blobs + new_blobs * NEW_BLOB["reads"] + blobs + 1)
        + load.pulls * (2 + blobs),
        "writes": logins * LOGIN["writes"] + load.pushes * (new_blobs * NEW_BLOB["writes"] + 4),
        "s3_puts": load.pushes * new_blobs * NEW_BLOB["s3_puts"],
        "s3_gets": load.pulls * blobs,
        "seconds": plain * SECONDS["request"]
        + logins * (SECONDS["login"] + SECONDS["request"])
        + uploads * SECONDS["upload"],
    }


def monthly_costs(load: Workload) -> list[Line]:
    calls = _counts(load)
    requests, gb_seconds = calls["requests"], calls["seconds"] * load.memory_mb / 1024
    logs_gb = requests * LOG_BYTES_PER_REQUEST / 1e9
    table_gb = load.stored_gb * 1e9 / (20e6) * TABLE_BYTES_PER_BLOB / 1e9  # 20 MB blobs
    secret_calls = WARM_INSTANCES * 2 * 4 * 24 * 30
    million = 1e6
    return [
        Line("S3 storage", f"{load.stored_gb:,.0f} GB", load.stored_gb * S3_STANDARD_GB_MONTH),
        Line(
            "S3 requests",
            f"{calls['s3_puts']:,.0f} PUT, {calls['s3_gets']:,.0f} GET",
            calls["s3_puts"] / 1000 * S3_PUT_PER_1000 + calls["s3_gets"] / 1000 * S3_GET_PER_1000,
        ),
        Line("data transfer out", f"{load.egress_gb:,.0f} GB", load.egress_gb * EGRESS_PER_GB),
        Line(
            "API Gateway (REST)",
            f"{requests:,.0f} requests",
            requests / million * API_GATEWAY_REST_PER_MILLION,
        ),
        Line(
            f"Lambda requests + duration ({load.memory_mb} MB)",
            f"{requests:,.0f} + {gb_seconds:,.0f} GB-s",
            requests / million * LAMBDA_PER_MILLION + gb_seconds * LAMBDA_GB_SECOND,
        ),
        Line(
            "DynamoDB reads + writes (on demand)",
            f"{calls['reads']:,.0f} RRU + {calls['writes']:,.0f} WRU",
            calls["reads"] / million * DYNAMODB_READ_PER_MILLION
            + calls["writes"] / million * DYNAMODB_WRITE_PER_MILLION,
        ),
        Line(
            "DynamoDB storage + PITR",
            f"{table_gb:.2f} GB",
            table_gb * (DYNAMODB_GB_MONTH + DYNAMODB_PITR_GB_MONTH),
        ),
        Line(
            "Secrets Manager (1 secret)",
            f"{secret_calls:,} calls",
            SECRET_MONTH + secret_calls / 10000 * SECRETS_PER_10000_CALLS,
        ),
        Line(
            "CloudWatch Logs (30 days kept)",
            f"{logs_gb:.2f} GB",
            logs_gb * (LOGS_INGESTED_GB + LOGS_STORED_GB_MONTH),
        ),
    ]


def region_costs(load: Workload) -> list[Line]:
    """What each region beyond the first adds, and the replication traffic (see above)."""
    more = load.regions - 1
    if more <= 0:
        return []
    calls = _counts(load)
    million = 1e6
    new_objects = load.pushes * (load.new_layers + 1)  # the layers and the config
    new_gb = load.pushes * load.new_layers * BLOB_MB / 1000
    table_gb = load.stored_gb * 1e9 / (20e6) * TABLE_BYTES_PER_BLOB / 1e9
    # blob_copies: one invocation and one write per object created in each bucket.
    copies = new_objects * load.regions
    replicated_writes = (calls["writes"] + copies) * more
    lines = [
        Line(
            f"S3 storage, {more} more bucket{'s' * (more > 1)}",
            f"{load.stored_gb * more:,.0f} GB",
            load.stored_gb * more * S3_STANDARD_GB_MONTH,
        ),
        Line(
            "S3 replication: PUT in the other buckets",
            f"{new_objects * more:,.0f} PUT",
            new_objects * more / 1000 * S3_PUT_PER_1000,
        ),
        Line(
            "S3 replication: inter-region transfer",
            f"{new_gb * more:,.0f} GB",
            new_gb * more * INTER_REGION_PER_GB,
        ),
    ]
    if load.replication_time_control:
        lines.append(
            Line(
                "S3 Replication Time Control",
                f"{new_gb * more:,.0f} GB",
                new_gb * more * RTC_PER_GB,
            )
        )
    lines += [
        Line(
            "DynamoDB replicated writes (global table)",
            f"{replicated_writes:,.0f} rWRU",
            replicated_writes / million * DYNAMODB_REPLICATED_WRITE_PER_MILLION,
        ),
        Line(
            "DynamoDB replicas: storage + PITR + transfer",
            f"{table_gb * more:.2f} GB + {replicated_writes * 1024 / 1e9:.2f} GB",
            table_gb * more * (DYNAMODB_GB_MONTH + DYNAMODB_PITR_GB_MONTH)
            + replicated_writes * 1024 / 1e9 * INTER_REGION_PER_GB,
        ),
        Line(
            f"Secrets Manager ({more} replica{'s' * (more > 1)})",
            f"{WARM_INSTANCES * 2 * 4 * 24 * 30 * more:,} calls",
            more
            * (SECRET_MONTH + WARM_INSTANCES * 2 * 4 * 24 * 30 / 10000 * SECRETS_PER_10000_CALLS),
        ),
        Line(
            f"blob_copies Lambda ({load.memory_mb} MB) + its writes",
            f"{copies:,.0f} invocations, {copies:,.0f} WRU",
            copies / million * LAMBDA_PER_MILLION
            + copies * SECONDS["request"] * load.memory_mb / 1024 * LAMBDA_GB_SECOND
            + copies / million * DYNAMODB_WRITE_PER_MILLION,
        ),
        Line(
            "Route 53 zone, health checks, 5XX alarms",
            f"1 zone, {load.regions} checks, {load.regions} alarms",
            ROUTE53_ZONE_MONTH
            + load.regions * (ROUTE53_HEALTH_CHECK_MONTH + CLOUDWATCH_ALARM_MONTH),
        ),
    ]
    return lines


def table(load: Workload, lines: list[Line]) -> str:
    rows = [
        f"Workload: {load.stored_gb:,.0f} GB stored, {load.pushes:,} pushes and {load.pulls:,}"
        f" pulls a month (images of {load.layers} layers, {load.new_layers} new per push),"
        f" {load.egress_gb:,.0f} GB out to the internet; Lambda at {load.memory_mb} MB"
        + (
            f"; {load.regions} regions"
            + (", Replication Time Control" if load.replication_time_control else "")
            if load.regions > 1
            else ""
        )
        + "."
        f" Prices: {PRICES_AS_OF}.",
        "",
        "| item | usage a month | USD a month |",
        "|---|---|---:|",
    ]
    rows += [f"| {line.item} | {line.usage} | {line.dollars:,.2f} |" for line in lines]
    rows.append(f"| **total** | | **{sum(line.dollars for line in lines):,.2f}** |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored-gb", type=float, default=100)
    parser.add_argument("--pushes", type=int, default=2000, help="image pushes a month")
    parser.add_argument("--pulls", type=int, default=20000, help="image pulls a month")
    parser.add_argument("--egress-gb", type=float, default=500, help="GB pulled to the internet")
    parser.add_argument("--layers", type=int, default=10, help="layers per image")
    parser.add_argument("--new-layers", type=int, default=2, help="new layers per push")
    parser.add_argument("--memory-mb", type=int, help="default: .chalice/config.json's")
    parser.add_argument("--regions", type=int, default=1, help="regions deployed (1: one)")
    parser.add_argument("--replication-time-control", action="store_true")
    args = parser.parse_args(argv)
    load = Workload(
        args.stored_gb,
        args.pushes,
        args.pulls,
        args.egress_gb,
        args.layers,
        args.new_layers,
        args.memory_mb or configured_memory_mb(),
        args.regions,
        args.replication_time_control,
    )
    print(table(load, monthly_costs(load) + region_costs(load)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
