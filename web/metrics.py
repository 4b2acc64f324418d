"""Prometheus metrics: the product's own, prefixed ``inviaro_``, defined once per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SOCKETS_OPEN = Gauge("inviaro_sockets_open", "WebSocket connections open", ["kind"])
FRAMES_IN = Counter("inviaro_frames_in_total", "Frames received from clients")
FRAMES_OUT = Counter("inviaro_frames_out_total", "Frames queued to clients")
SOCKETS_CLOSED_SLOW = Counter("inviaro_sockets_closed_slow_total", "Sockets cut off as too slow")
FANOUT_SECONDS = Histogram(
    "inviaro_fanout_seconds",
    "From a message's commit to its frames queued on local sockets",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
WRITER_BATCH = Histogram(
    "inviaro_writer_batch_size",
    "Messages per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
WRITER_COMMIT_SECONDS = Histogram(
    "inviaro_writer_commit_seconds",
    "Latency of one group commit",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
OUTBOX_BACKLOG = Gauge("inviaro_outbox_backlog", "Outbound sends waiting in the outbox")
WEBHOOKS = Counter("inviaro_webhooks_total", "Channel webhook requests", ["provider", "result"])
