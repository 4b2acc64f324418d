"""The table bench/run.py prints: medians per target, and the hub's ratio to each peer.

A ratio is the hub's figure over the peer's (below 1.00x the hub uses less, or is
faster, for the costs and latencies; for rates, above 1.00x is better). Rows a peer has
no figure for (D, H, I: the hub's ingest door) show "-".
"""

from __future__ import annotations

import statistics
from typing import Any

# Every target bench/run.py knows, in the table's column order; the hub first.
LABELS = {"inviaro": "Inviaro hub", "socketio": "python-socketio", "node": "Node socket.io"}
PEERS = ("socketio", "node")
RATIO_LABELS = {"socketio": "hub/python-socketio", "node": "hub/Node"}

Results = dict[str, dict[str, list[float]]]


def rows(plan: dict[str, Any], e_sockets: int) -> list[tuple[str, str, str]]:
    """(label, result key, the issue's target) of every row, in the issue's order."""
    a, b, c, d, f, g, h = (plan[k] for k in "ABCDFGH")
    dc = plan["Dc"]
    return [
        (
            f"A. {a['operators']} idle sockets: server memory per socket (KB)",
            "A_kb_per_socket",
            "20",
        ),
        (f"A. time to connect {a['operators']} (s)", "A_connect_s", ""),
        (
            f"B. 1 room of {b['operators']}, as fast as acked: server CPU per delivery (µs)",
            "B_us_per_delivery",
            "14",
        ),
        ("B. deliveries/s", "B_deliveries_per_s", ""),
        (
            f"C. {c['operators']} in {c['rooms']} rooms, {c['rate']} msg/s, {c['duration']} s: "
            "p50 (ms)",
            "C_p50_ms",
            "5",
        ),
        ("C. p99 (ms)", "C_p99_ms", "25"),
        ("C. loss (after a 60 s drain)", "C_loss", "0"),
        ("C. late deliveries (over 1 s)", "C_late", ""),
        ("C. acked msg/s", "C_acked_per_s", ""),
        (
            f"G. C at {g['rate']} msg/s ({g['operators']} in {g['rooms']} rooms): p50 (ms)",
            "G_p50_ms",
            "",
        ),
        ("G. p99 (ms)", "G_p99_ms", "100"),
        ("G. loss", "G_loss", "0"),
        ("G. acked msg/s", "G_acked_per_s", ""),
        (
            f"D. ingest API, {d['concurrency']} clients x {d['batch']}/request: msg/s",
            "D_msgs_per_s",
            "5000",
        ),
        ("D. writer commit p99 (ms)", "D_commit_p99_ms", "50"),
        ("D. accept p99: arrival to durable and published (ms)", "D_accept_p99_ms", ""),
        ("D. writer backlog at end", "D_backlog", "0"),
        (
            f"Dc. the same, cold contacts, {dc['concurrency']} clients x {dc['batch']}/request:"
            " msg/s",
            "Dc_msgs_per_s",
            "5000",
        ),
        ("Dc. accept p99 (ms)", "Dc_accept_p99_ms", "50"),
        (
            f"C' (H). {h['rate']} ingest requests/s, 1 message each, new contacts, ONE "
            "process: p50 ack (ms)",
            "H_p50_ms",
            "10",
        ),
        ("C' (H). p99 ack (ms)", "H_p99_ms", "50"),
        ("C' (H). late (acked after 1 s)", "H_late", "0"),
        ("C' (H). lost (never acked, or an error)", "H_lost", "0"),
        ("C' (H). refused (429/503)", "H_refused", "0"),
        ("C' (H). server CPU per request (µs)", "H_server_cpu_us_per_request", ""),
        ("I. ingest requests/s at p99 < 50 ms, ONE process", "I_best_rate", "2500"),
        (
            f"E. {e_sockets} idle sockets on ONE process: memory per socket (KB)",
            "E_kb_per_socket",
            "20",
        ),
        ("E. sockets open", "E_sockets", ""),
        (f"E. time to connect {e_sockets} (s)", "E_connect_s", ""),
        (
            f"F. room of {f['operators']}, {f['rate']} msg/s: CPU per delivery alone (µs)",
            "F_us_alone",
            "",
        ),
        (
            f"F. the same beside {f['idle']} idle sockets in {f['rooms']} rooms (µs)",
            "F_us_beside",
            "",
        ),
        ("F. growth (beside / alone)", "F_growth", ""),
        ("F. the idle sockets' own upkeep, no load (ms CPU/s)", "F_upkeep_ms_per_s", ""),
        ("F. growth net of that upkeep", "F_net_growth", "1.0"),
    ]


def median(results: Results, target: str, key: str) -> float | None:
    values = results.get(target, {}).get(key)
    return statistics.median(values) if values else None


def fmt(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    if key.endswith("loss"):
        return f"{value:.2%}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"


def ratio(mine: float | None, theirs: float | None) -> str:
    return f"{mine / theirs:.2f}x" if mine is not None and theirs else "-"


def render(results: Results, plan: dict[str, Any], e_sockets: int) -> str:
    """The table as aligned text: one column per target, then the hub's ratio to each peer."""
    head = (
        "scenario",
        *LABELS.values(),
        *(RATIO_LABELS[p] for p in PEERS),
        "target",
    )
    lines: list[tuple[str, ...]] = [head]
    for label, key, goal in rows(plan, e_sockets):
        figures = {t: median(results, t, key) for t in LABELS}
        lines.append(
            (
                label,
                *(fmt(figures[t], key) for t in LABELS),
                *(ratio(figures["inviaro"], figures[p]) for p in PEERS),
                goal,
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in lines]
    text.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(text)
