"""Collected numbers, their medians and ratios, the printed table and the JSON record."""

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REGISTRIES = ("reference", "soute")
RSS_TARGET_MB = 150.0


@dataclass(frozen=True)
class Metric:
    """One row of the table. `passes(ratio, soute_median)` decides PASS/MISS (None: info)."""

    key: str
    label: str
    unit: str
    better: str
    target: str
    passes: Callable[[float, float], bool] | None


def time_metric(key: str, label: str) -> Metric:
    return Metric(key, label, "s", "lower", "<= 1.00x", lambda ratio, _: ratio <= 1.0)


def rate_metric(key: str, label: str) -> Metric:
    return Metric(key, label, "req/s", "higher", ">= 1.00x", lambda ratio, _: ratio >= 1.0)


def rss_metric(key: str, label: str) -> Metric:
    target = f"< {RSS_TARGET_MB:.0f} MB"
    return Metric(key, label, "MB", "lower", target, lambda _, soute: soute < RSS_TARGET_MB)


def info_metric(key: str, label: str, unit: str) -> Metric:
    return Metric(key, label, unit, "lower", "info", None)


def _numbers(records: list[dict[str, object]], name: str) -> list[float]:
    """The numeric values of field `name` in the records that have one."""
    return [float(v) for r in records if isinstance(v := r.get(name), int | float)]


@dataclass
class Results:
    """Every measured value and every failure, per metric and registry.

    Values are added as pending, then committed (counted) or discarded (kept in the records
    only), so that a repetition disturbed by other work on the machine can be run again.
    """

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    records: list[dict[str, object]] = field(default_factory=list)
    pending: list[dict[str, object]] = field(default_factory=list)

    def add(self, key: str, registry: str, rep: int, value: float, **details: object) -> None:
        self.pending.append(
            {"metric": key, "registry": registry, "rep": rep, "value": value, **details}
        )

    def pending_max(self, detail: str) -> float:
        return max(_numbers(self.pending, detail), default=0.0)

    def commit(self, discarded: bool = False) -> None:
        for record in self.pending:
            if not discarded:
                values = self.values.setdefault(str(record["metric"]), {})
                values.setdefault(str(record["registry"]), []).extend(_numbers([record], "value"))
            self.records.append({**record, "discarded": discarded})
        self.pending.clear()

    def fail(self, key: str, registry: str, rep: int, message: str) -> None:
        self.errors.setdefault(key, {}).setdefault(registry, []).append(message)
        self.records.append({"metric": key, "registry": registry, "rep": rep, "error": message})

    def samples(self, key: str, registry: str) -> list[float]:
        return self.values.get(key, {}).get(registry, [])

    def counted(self, detail: str) -> list[float]:
        """A detail (e.g. others_during_pct) of every counted measurement that has it."""
        return _numbers([r for r in self.records if not r.get("discarded")], detail)


@dataclass
class Row:
    metric: Metric
    medians: dict[str, float | None]
    spread_pct: float | None
    ratio: float | None
    result: str


def _spread(values: list[float]) -> float | None:
    median = statistics.median(values) if values else 0
    return (max(values) - min(values)) / median * 100 if median else None


def summarize(metric: Metric, results: Results) -> Row:
    """Medians of both registries, soute/reference ratio and the verdict."""
    samples = {r: results.samples(metric.key, r) for r in REGISTRIES}
    medians = {r: statistics.median(v) if v else None for r, v in samples.items()}
    spreads = [s for s in (_spread(v) for v in samples.values()) if s is not None]
    ref, soute = medians["reference"], medians["soute"]
    ratio = soute / ref if ref and soute is not None else None
    if ratio is None or soute is None:
        result = "ERROR"
    elif metric.passes is None:
        result = "info"
    else:
        result = "PASS" if metric.passes(ratio, soute) else "MISS"
    return Row(metric, medians, max(spreads) if spreads else None, ratio, result)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if unit == "req/s" else f"{value:.3f}" if unit == "s" else f"{value:.1f}"


HEADER = (
    "metric",
    "unit",
    "reference",
    "soute",
    "soute/ref",
    "better",
    "target",
    "spread",
    "result",
)


def _cells(row: Row) -> tuple[str, ...]:
    m = row.metric
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    spread = f"{row.spread_pct:.0f}%" if row.spread_pct is not None else "-"
    ref, soute = (_number(row.medians[r], m.unit) for r in REGISTRIES)
    return (m.label, m.unit, ref, soute, ratio, m.better, m.target, spread, row.result)


def format_table(rows: list[Row]) -> str:
    """A plain-text table, one line per metric."""
    lines = [HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    left = {0, 1, 5, 6}
    text = [
        "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def row_json(row: Row, results: Results) -> dict[str, object]:
    m = row.metric
    return {
        "label": m.label,
        "unit": m.unit,
        "better": m.better,
        "target": m.target,
        "median": row.medians,
        "ratio_soute_over_reference": row.ratio,
        "spread_pct_max": row.spread_pct,
        "result": row.result,
        "samples": {r: results.samples(m.key, r) for r in REGISTRIES},
        "errors": results.errors.get(m.key, {}),
    }


def write_json(path: Path, meta: dict[str, object], rows: list[Row], results: Results) -> None:
    """The raw numbers, medians and verdicts, with the run's settings and machine facts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        **meta,
        "metrics": {row.metric.key: row_json(row, results) for row in rows},
        "records": results.records,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
