"""web.metrics.Histogram: exposed exactly as prometheus_client's histogram is (a scrape
cannot tell them apart), observed without its locks."""

from __future__ import annotations

from typing import Any

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from web import metrics
from web.metrics import Histogram

BUCKETS = (0.005, 0.05, 1.0, 1000)
OBSERVED = (0.0, 0.004, 0.005, 0.0051, 0.7, 1.0, 999.0, 5000.0)


def scrape(registry: CollectorRegistry) -> list[str]:
    """The exposition, without the creation times (they differ by when each was built)."""
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line.split(" ")[0]]


def both(labelnames: tuple[str, ...]) -> tuple[CollectorRegistry, CollectorRegistry, list[Any]]:
    """Ours and prometheus_client's histogram, alike, each in a registry of its own."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    made: list[Any] = [
        Histogram("t_seconds", "Doc", labelnames, buckets=BUCKETS, registry=ours),
        prometheus_client.Histogram(
            "t_seconds", "Doc", labelnames, buckets=BUCKETS, registry=theirs
        ),
    ]
    return ours, theirs, made


def test_a_labelled_histogram_scrapes_as_prometheus_clients_does() -> None:
    ours, theirs, made = both(("door",))
    for histogram in made:
        for n, amount in enumerate(OBSERVED):
            histogram.labels(door="ingest" if n % 2 else "api").observe(amount)
        histogram.labels("api").observe(0.01)  # by position: the same series
    assert scrape(ours) == scrape(theirs)
    # 0.0 and 0.005 itself: a bound counts in its own bucket.
    assert 't_seconds_bucket{door="api",le="0.005"} 2.0' in scrape(ours)


def test_a_histogram_without_labels_scrapes_as_prometheus_clients_does() -> None:
    ours, theirs, made = both(())
    assert scrape(ours) == scrape(theirs)  # all zeros before the first observation
    for histogram in made:
        for amount in OBSERVED:
            histogram.observe(amount)
    assert scrape(ours) == scrape(theirs)


def test_every_series_has_a_creation_time() -> None:
    ours, _, (histogram, _) = both(("door",))
    histogram.labels(door="ingest").observe(0.1)
    text = generate_latest(ours).decode()
    assert 't_seconds_created{door="ingest"} ' in text


def test_a_labelled_histogram_refuses_an_observation_without_labels() -> None:
    _, _, (histogram, _) = both(("door",))
    with pytest.raises(ValueError):
        histogram.observe(0.1)
    with pytest.raises(ValueError):
        histogram.labels("ingest", "extra")


def test_the_products_histograms_are_these() -> None:
    for name in ("ACCEPT_SECONDS", "FANOUT_SECONDS", "HTTP_SECONDS", "STAGE_SECONDS"):
        assert isinstance(getattr(metrics, name), Histogram), name
