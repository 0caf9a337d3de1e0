"""The report's tables for the hub (used by report.py): rows with "section": "hub" from
starling-hub-ingest-bench and Benchmarks/hub-api/run.sh.

Targets (issue 5): telemetry ingest >= 25 k msg/s sustained with nothing dropped (sent ==
applied, the broker's dropped count 0), beside mosquitto_sub on the same filter; API p50 / p99
for list and get with 50 concurrent clients, beside MLflow's model registry.
"""

import statistics

INGEST_TARGET = 25_000


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(us):
    return f"{us / 1000:,.2f} ms"


def ingest(rows):
    summaries = [r for r in rows if r.get("case") == "ingest_summary"]
    sides = [r for r in rows if r.get("case") == "ingest"]
    if not summaries:
        return None
    out = []
    for i, s in enumerate(summaries):
        hub = [r for r in sides if r["side"] == "hub"][i]
        peer = [r for r in sides if r["side"] == "mosquitto_sub"][i]
        out.append([
            i + 1, s["order"], f"{hub['sent']:,}", f"{hub['received']:,} / {hub['applied']:,}",
            f"{hub['received_per_s'] / 1e3:,.1f} k", f"{hub['flushes']} / {hub['flushed']:,}", hub["broker_dropped"],
            f"{hub['peak_buffered_inbound']:,} ({hub['inbound_stalls']} stalls)",
            f"{peer['received']:,}", f"{peer['received_per_s'] / 1e3:,.1f} k", peer["broker_dropped"],
            f"{s['hub_over_peer']:.2f}×",
        ])  # fmt: skip
    rates = [s["hub_per_s"] for s in summaries]
    peers = [s["mosquitto_sub_per_s"] for s in summaries]
    ratios = [s["hub_over_peer"] for s in summaries]
    complete = all(s["complete"] for s in summaries)
    median = statistics.median(rates)
    out.append([
        "**median**", "", "", "", f"**{median / 1e3:,.1f} k**", "", "", "", "", f"**{statistics.median(peers) / 1e3:,.1f} k**", "",
        f"**{statistics.median(ratios):.2f}×**",
    ])  # fmt: skip
    first = summaries[0]
    verdict = "met" if median >= INGEST_TARGET and complete else "**missed**"
    head = (f"{first['devices']:,} enrolled devices, {first['messages']:,} telemetry messages at QoS 1 from "
            f"{first['publishers']} publisher processes (MQTTTransport, window {sides[0]['window']}), after one warm-up "
            f"message per device; msg/s from the publishers' start to the last message counted by the subscriber. "
            f"Target ≥ {INGEST_TARGET / 1e3:.0f} k msg/s with sent = applied and 0 dropped: {verdict}.")  # fmt: skip
    return head + "\n\n" + table(
        ["run", "order", "sent", "hub received / applied", "hub msg/s", "flushes / statuses written", "broker dropped",
         "peak inbound buffer", "mosquitto_sub lines", "mosquitto_sub msg/s", "broker dropped", "hub / peer"], out)  # fmt: skip


def api(rows):
    summaries = [r for r in rows if r.get("case") == "api_summary"]
    if not summaries:
        return None
    labels = {"list": "`GET /models?limit=50` / `registered-models/search?max_results=50`",
              "get": "`GET /models/{name}` / `registered-models/get`",
              "version": "`GET /models/{name}/versions/{v}` / `model-versions/get`"}  # fmt: skip
    out = []
    for s in summaries:
        out.append([
            labels[s["endpoint"]],
            f"{ms(s['hub_p50_us'])} / {ms(s['hub_p99_us'])} / {s['hub_rps']:,.0f}",
            f"{ms(s['mlflow_p50_us'])} / {ms(s['mlflow_p99_us'])} / {s['mlflow_rps']:,.0f}",
            f"{s['hub_over_mlflow_p50_us']:.2f}× / {s['hub_over_mlflow_p99_us']:.2f}× / {s['hub_over_mlflow_rps']:.2f}×",
            f"{s['hub_bytes_per_response']:,.0f} B / {s['mlflow_bytes_per_response']:,.0f} B",
            s["hub_failed"] + s["mlflow_failed"],
        ])  # fmt: skip
    first = summaries[0]
    head = (f"{first['models']} models × {first['versions_per_model']} versions in each registry; `wrk -t2 -c50 --latency`, "
            f"medians over {first['rounds']} rounds; ratios hub / MLflow (latency < 1 and req/s > 1: the hub is faster).")  # fmt: skip
    return head + "\n\n" + table(
        ["endpoint (hub / MLflow)", "hub p50 / p99 / req/s", "MLflow p50 / p99 / req/s", "ratio p50 / p99 / req/s",
         "response size", "failed"], out)  # fmt: skip


def hub(rows):
    parts = [p for p in (ingest(rows), api(rows)) if p]
    return "\n\n".join(parts) if parts else None
