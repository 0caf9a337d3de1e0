"""The report's tables for the agent (used by report.py): rows with "section": "agent" from
Benchmarks/agent-http/run.sh.

Targets (issue 4): infer p50 <= 1.5x the floor route's p50 at 1 and 16 connections; RSS while
serving <= 24 MB; feedback >= 100 k rows/s into SQLite while serving; binary size reported.
"""

RATIO_TARGET = 1.5
FEEDBACK_TARGET = 100_000


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def us(value):
    return f"{value:,.0f} µs"


def verdict(ok):
    return "met" if ok else "**missed**"


def latency(rows):
    summaries = [r for r in rows if r.get("case") == "summary"]
    if not summaries:
        return None
    out = []
    for r in summaries:
        ratio = r["p50_ratio"]
        out.append([
            f"`{r['variant']}`", r["connections"],
            f"{us(r['floor_p50_us'])} / {us(r['floor_p99_us'])} / {r['floor_rps'] / 1e3:,.1f} k",
            f"{us(r['infer_p50_us'])} / {us(r['infer_p99_us'])} / {r['infer_rps'] / 1e3:,.1f} k",
            f"{ratio:.2f}×", verdict(ratio <= RATIO_TARGET), r.get("failed_requests", 0),
        ])  # fmt: skip
    return table(["variant", "connections", "floor p50 / p99 / req/s", "infer p50 / p99 / req/s", "infer / floor p50",
                  f"≤ {RATIO_TARGET}×", "failed"], out)  # fmt: skip


def memory(rows):
    rss = [r for r in rows if r.get("case") == "rss"]
    if not rss:
        return None
    out = [[f"`{r['variant']}`", f"{r['idle_rss_kb'] / 1024:.1f} MiB", f"{r['serving_rss_kb'] / 1024:.1f} MiB",
            f"{r['peak_rss_kb'] / 1024:.1f} MiB", r.get("os_threads", "?"), verdict(r["serving_rss_kb"] * 1024 <= 24e6)]
           for r in rss]  # fmt: skip
    return table(["variant", "VmRSS idle", "VmRSS serving 16 conn.", "VmHWM", "OS threads", "≤ 24 MB"], out)


def feedback(rows):
    out = []
    for r in rows:
        if r.get("case") == "feedback_http":
            beside = r["beside_infer"]
            attached = r["requests"] - r["non_2xx"] - r["errors"]
            out.append(["HTTP `POST /feedback`, one label a request, 8 connections, beside 8 connections inferring",
                        f"{attached / r['seconds'] / 1e3:,.1f} k/s (p50 {us(r['p50_us'])}; {r['non_2xx']} not 200)",
                        f"infer {beside['rps'] / 1e3:,.1f} k/s", "—", "—"])  # fmt: skip
        elif r.get("case") == "store_while_serving" and r.get("metric") == "feedback_rows_per_s":
            peer = next((p for p in rows if p.get("metric") == "peer_python_sqlite3_feedback_rows_per_s"), None)
            load = next((p for p in rows if p.get("case") == "load_beside_store"), None)
            out.append([f"`AgentStore.attachFeedback`, calls of {r['batch']} (starling-store-bench), while wrk infers on the daemon",
                        f"{r['value'] / 1e3:,.1f} k/s",
                        f"Python sqlite3 {peer['value'] / 1e3:,.1f} k/s" if peer else "—",
                        f"{peer['starling_over_peer']:.2f}×" if peer else "—",
                        verdict(r["value"] >= FEEDBACK_TARGET) + (f" (daemon answered {load['rps'] / 1e3:,.1f} k infer/s meanwhile)" if load else "")])  # fmt: skip
        elif r.get("case") == "store_while_serving" and r.get("metric") == "feedback_single_calls_per_s":
            out.append([f"`AgentStore.attachFeedback`, single labels from {r['concurrent_callers']} callers", f"{r['value'] / 1e3:,.1f} k/s", "—", "—", "—"])  # fmt: skip
    if not out:
        return None
    return table(["feedback while serving", "rows/s", "peer / beside", "ratio", f"≥ {FEEDBACK_TARGET / 1e3:.0f} k/s"], out)


def size(rows):
    sizes = [r for r in rows if r.get("case") == "binary"]
    if not sizes:
        return None
    out = [[r["binary"], f"{r['bytes']:,} B", f"{r['stripped_bytes']:,} B ({r['stripped_bytes'] / 2**20:.1f} MiB)", r["shared_libraries"]] for r in sizes]  # fmt: skip
    return table(["starling-agent", "as built", "stripped", "shared libraries"], out)


def agent(rows):
    parts = [
        ("OIP HTTP inference with the digits int8 model (wrk, one thread; server on CPU 0, wrk on CPU 1), beside the same "
         "server's `GET /v2/health/live` in the same run; medians over rounds.", latency(rows)),
        ("Memory (VmRSS in the middle of the first 16-connection infer run; VmHWM at the end).", memory(rows)),
        ("Feedback while serving.", feedback(rows)),
        ("Binary size.", size(rows)),
    ]  # fmt: skip
    parts = [f"{title}\n\n{body}" for title, body in parts if body]
    return "\n\n".join(parts) if parts else None
