"""Prometheus metrics: the product's own, prefixed ``inviaro_``, defined once per process.

The hub keeps plain integer counters (it imports no metrics library); a collector reads
them at scrape time from every hub of this process.
"""

from __future__ import annotations

import math
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from web.services import Services


class _Counts:
    """One label set's observations: a count per bucket (not cumulative) and their sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1  # the first bound >= amount
        self.sum += amount


class Histogram(Collector):
    """A histogram exposed exactly as prometheus_client's is, made cheap to observe.

    prometheus_client's takes a lock per addition and walks the bounds one by one: about
    3 µs an observation, and a message is observed up to six times on its way (its request,
    accept, queue, publish, bus, fan-out). Here an observation is a bisect and two
    additions, without a lock: every observation happens on the event loop's thread (were
    one ever to race another, a count would be lost, nothing else)."""

    observe: Callable[[float], None]  # without labels; else through labels(...)

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = (*(float(b) for b in buckets), math.inf)
        self._children: dict[tuple[str, ...], _Counts] = {}
        self.observe = self.labels().observe if not self._labelnames else self._needs_labels
        registry.register(self)

    def labels(self, *values: str, **by_name: str) -> _Counts:
        key = values or tuple(by_name[name] for name in self._labelnames)
        if len(key) != len(self._labelnames):
            raise ValueError(f"{self._name} takes the labels {self._labelnames}")
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _Counts(self._bounds)
        return child

    def _needs_labels(self, amount: float) -> None:
        raise ValueError(f"{self._name} has labels: observe through labels(...)")

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for key, child in list(self._children.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(self._bounds, child.counts, strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]
            family.add_metric(list(key), buckets, child.sum)
        for key, child in list(self._children.items()):
            labels = dict(zip(self._labelnames, key, strict=True))
            family.samples.append(Sample(self._name + "_created", labels, child.created))
        yield family


# Fine enough around the targets (5, 25, 50, 100 ms) to read a p99 off them.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.035,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.5,
    1.0,
    2.5,
)
ACCEPT_SECONDS = Histogram(
    "inviaro_accept_seconds",
    "From a message's arrival to durable and handed to the bus (what its ack waits for)",
    buckets=LATENCY_BUCKETS,
)
FANOUT_SECONDS = Histogram(
    "inviaro_fanout_seconds",
    "From a publish on the bus to its frames written to this process's sockets, once per "
    "delivery (wall clocks: across machines, their skew adds in)",
    buckets=LATENCY_BUCKETS,
)
HTTP_SECONDS = Histogram(
    "inviaro_http_request_seconds",
    "HTTP request latency, first byte in to last byte out, by door: ingest, "
    "webhook_<channel kind>, api, other",
    ["door"],
    buckets=LATENCY_BUCKETS,
)
WRITER_BATCH = Histogram(
    "inviaro_writer_batch_size",
    "Messages per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
WRITER_COMMIT_SECONDS = Histogram(
    "inviaro_writer_commit_seconds",
    "Latency of one group commit",
    buckets=LATENCY_BUCKETS,
)
STAGE_SECONDS = Histogram(
    "inviaro_stage_seconds",
    "One message's time in a stage of its path, once per message (bus: once per delivery "
    "topic): queue (waiting for the writer to take its batch), publish (the bus round trip "
    "after the commit), bus (from that publish to the subscriber's receipt, wall clocks). "
    "With inviaro_writer_commit_seconds (the transaction) they add up to most of "
    "inviaro_accept_seconds and inviaro_fanout_seconds",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOKS = Counter("inviaro_webhooks", "Channel webhook requests", ["provider", "result"])
FLOW_RUNS = Counter(
    "inviaro_flow_runs",
    "Flow runs by flow and what happened: started, finished, handed_off, failed",
    ["flow_id", "event"],
)
FRAMES_IN = Counter("inviaro_frames_in", "Frames received from clients")
AI_CALLS = Counter(
    "inviaro_ai_calls",
    "AI calls by feature and outcome (ok, failed, invalid; refusals: contact_restricted, "
    "ai_budget_spent)",
    ["feature", "outcome"],
)
AI_SECONDS = Histogram(
    "inviaro_ai_call_seconds",
    "Latency of one AI call at the provider, retries included",
    ["feature"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0),
)
RATE_LIMITED = Counter("inviaro_rate_limited", "Requests refused with 429, by door", ["door"])
CALENDARS_BROKEN = Counter(
    "inviaro_calendar_connections_broken",
    "Calendar connections marked broken: their token could not be refreshed",
    ["provider"],
)

_sources: weakref.WeakSet[Services] = weakref.WeakSet()


def watch(services: Services) -> None:
    """Report this process's hub counters, writer backlog and outbox backlog."""
    _sources.add(services)


class _HubCollector(Collector):
    def collect(self) -> Iterator[Any]:
        sockets = GaugeMetricFamily("inviaro_sockets_open", "WebSocket connections open")
        frames = CounterMetricFamily("inviaro_frames_out", "Frames queued to clients")
        slow = CounterMetricFamily(
            "inviaro_sockets_closed_slow", "Sockets cut off with 1013 as too slow"
        )
        backlog = GaugeMetricFamily("inviaro_writer_backlog", "Messages waiting for a commit")
        outbox = GaugeMetricFamily("inviaro_outbox_backlog", "Outbound sends in the outbox")
        one_by_one = CounterMetricFamily(
            "inviaro_writer_one_by_one",
            "Group commits that failed as a whole and were retried one message at a time",
        )
        totals = [0, 0, 0, 0, 0, 0]
        for services in list(_sources):
            counters = services.hub.registry.counters
            totals[0] += counters.sockets_open
            totals[1] += counters.frames_out
            totals[2] += counters.overloaded
            totals[3] += services.store.writer.backlog
            totals[4] += services.outbox_backlog
            totals[5] += services.store.writer.one_by_one
        sockets.add_metric([], totals[0])
        frames.add_metric([], totals[1])
        slow.add_metric([], totals[2])
        backlog.add_metric([], totals[3])
        outbox.add_metric([], totals[4])
        one_by_one.add_metric([], totals[5])
        yield from (sockets, frames, slow, backlog, outbox, one_by_one)


REGISTRY.register(_HubCollector())
