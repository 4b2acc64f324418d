"""Where a message's milliseconds go: the hubs' latency histograms, read around a scenario.

Every ``inviaro_*_seconds`` histogram of every hub (``/metrics``), summed over the hubs and
differenced between two scrapes, gives each stage's p50 and p99 over just that scenario:
the writer's queue wait and transaction, the publish after it, the bus to the subscriber,
and the fan-out write. Quantiles are read inside a bucket linearly, as Prometheus's
``histogram_quantile`` does, so they are as fine as the buckets (web/metrics.py).
"""

from __future__ import annotations

import re

import httpx

_BUCKET = re.compile(r"^(inviaro_\w+)_seconds_bucket\{([^}]*)\} (\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
Buckets = dict[str, dict[float, float]]  # histogram (with its labels) -> le -> cumulative


def scrape(urls: list[str]) -> Buckets:
    """Every hub's latency buckets, summed."""
    total: Buckets = {}
    with httpx.Client(timeout=10) as client:
        for url in urls:
            for line in client.get(f"{url}/metrics").text.splitlines():
                match = _BUCKET.match(line)
                if match is None:
                    continue
                name, labels, value = match.groups()
                found = dict(_LABEL.findall(labels))
                le = found.pop("le")
                key = ":".join([name.removeprefix("inviaro_"), *found.values()])
                buckets = total.setdefault(key, {})
                buckets[float(le)] = buckets.get(float(le), 0.0) + float(value)
    return total


def quantile_ms(cumulative: dict[float, float], q: float) -> float | None:
    """The ``q`` quantile of one histogram's cumulative buckets, in ms (None: empty)."""
    count = cumulative.get(float("inf"), 0.0)
    if not count:
        return None
    rank = q * count
    low, below = 0.0, 0.0
    for le in sorted(cumulative):
        if cumulative[le] >= rank:
            if le == float("inf"):
                return float("inf")
            inside = cumulative[le] - below
            share = (rank - below) / inside if inside else 1.0
            return round((low + (le - low) * share) * 1000, 2)
        low, below = le, cumulative[le]
    return float("inf")


def breakdown(before: Buckets, after: Buckets) -> dict[str, dict[str, float | None]]:
    """Each histogram's count, p50 and p99 (ms) between the two scrapes."""
    out: dict[str, dict[str, float | None]] = {}
    for key, buckets in sorted(after.items()):
        earlier = before.get(key, {})
        diff = {le: v - earlier.get(le, 0.0) for le, v in buckets.items()}
        if diff.get(float("inf"), 0.0) > 0:
            count = diff[float("inf")]
            out[key] = {"n": count, "p50": quantile_ms(diff, 0.5), "p99": quantile_ms(diff, 0.99)}
    return out


def render(stages: dict[str, dict[str, float | None]]) -> str:
    return ", ".join(f"{k} {v['p50']}/{v['p99']} (n={v['n']:.0f})" for k, v in stages.items())
