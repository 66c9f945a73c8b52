"""scripts/aws_cost.py, run as the README runs it: the table adds up, uses the memory size the
stack deploys, and each line is its usage at the price written in the script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "aws_cost.py"


def run(*args: str) -> dict[str, tuple[str, float]]:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True
    )
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\**[\d,]+\.\d\d\**", cells[2]):
            rows[cells[0].strip("*")] = (cells[1], float(cells[2].strip("*").replace(",", "")))
    return rows


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_table_adds_up_at_the_configured_memory() -> None:
    memory = json.loads((ROOT / ".chalice" / "config.json").read_text())["lambda_memory_size"]
    rows = run("--stored-gb", "200", "--egress-gb", "1000", "--pulls", "50000")
    total = rows.pop("total")[1]
    assert abs(total - sum(dollars for _, dollars in rows.values())) < 0.01 * len(rows)
    assert rows["S3 storage"] == ("200 GB", 4.60)
    assert rows["data transfer out"] == ("1,000 GB", 90.00)
    requests = number(rows["API Gateway (REST)"][0].split()[0])
    assert abs(rows["API Gateway (REST)"][1] - requests * 3.5e-6) < 0.01
    assert f"Lambda requests + duration ({memory} MB)" in rows
    assert rows["Secrets Manager (1 secret)"][1] >= 0.40
    for fixed in ("DynamoDB storage + PITR", "CloudWatch Logs (30 days kept)", "S3 requests"):
        assert fixed in rows


def test_lambda_duration_scales_with_memory() -> None:
    def gb_seconds(memory: str) -> float:
        [usage] = [u for item, (u, _) in run("--memory-mb", memory).items() if "Lambda" in item]
        return number(usage.split("+")[1].split()[0])

    assert abs(gb_seconds("2048") - 2 * gb_seconds("1024")) <= 1


def test_each_region_adds_its_copies_and_the_replication() -> None:
    one, two, three = run(), run("--regions", "2"), run("--regions", "3")
    rtc = run("--regions", "2", "--replication-time-control")
    for rows in (two, three, rtc):
        total = rows.pop("total")[1]
        assert abs(total - sum(dollars for _, dollars in rows.values())) < 0.01 * len(rows)
    assert "S3 storage, 1 more bucket" not in one
    assert two["S3 storage, 1 more bucket"] == ("100 GB", 2.30)
    assert three["S3 storage, 2 more buckets"] == ("200 GB", 4.60)
    # 2,000 pushes of 2 new 20 MB layers, to each other region at $0.02/GB (and $0.015 RTC).
    assert two["S3 replication: inter-region transfer"] == ("80 GB", 1.60)
    assert three["S3 replication: inter-region transfer"] == ("160 GB", 3.20)
    assert "S3 Replication Time Control" not in two
    assert rtc["S3 Replication Time Control"] == ("80 GB", 1.20)
    # Requests are spread over the regions, not repeated.
    assert two["API Gateway (REST)"] == one["API Gateway (REST)"]
    writes = number(one["DynamoDB reads + writes (on demand)"][0].split("+")[1].split()[0])
    replicated = number(three["DynamoDB replicated writes (global table)"][0].split()[0])
    assert replicated > 2 * writes  # every write, once per other region
