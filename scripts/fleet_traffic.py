#!/usr/bin/env python3
"""The demo fleet's local traffic and its summary table (standard library only).

  fleet_traffic.py run --agent dev-01=PORT:north ... --data data/digits.csv --split SPLIT --stats FILE
      Each agent serves its own non-IID partition of digits (the Dirichlet client with the same
      position) as local traffic: an inference, then the true label as feedback, about ten a
      second, until SIGTERM. Per agent and model version it counts predictions, correct answers
      and latencies, and rewrites FILE every second.

  fleet_traffic.py summary --stats FILE --hub URL --token TOKEN
      Prints the table: per group, the version its devices run, accuracy and latency seen by the
      local traffic per version, then the rollouts with their durations and the package bytes the
      hub sent.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

running = threading.Event()
running.set()


def post(url, body, timeout=5):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def get(url, token=None, timeout=5):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        body = reply.read()
        return json.loads(body) if reply.headers.get_content_type() == "application/json" else body.decode()


def read_rows(data, split, client):
    lines = open(data).read().strip().split("\n")[1:]
    indices = json.load(open(split))["clients"][str(client)]
    rows = []
    for index in indices:
        fields = lines[index].split(",")
        rows.append(([float(v) for v in fields[:-1]], fields[-1]))
    return rows


def drive(name, port, rows, stats, lock):
    base = f"http://127.0.0.1:{port}/v2/models/digits"
    input_name = None
    sent = 0
    while running.is_set():
        if input_name is None:
            try:
                input_name = get(base)["inputs"][0]["name"]
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                time.sleep(0.5)
                continue
        pixels, label = rows[sent % len(rows)]
        request_id = f"{name}-{sent}"
        sent += 1
        started = time.perf_counter()
        try:
            reply = post(f"{base}/infer", {"id": request_id, "inputs": [
                {"name": input_name, "shape": [1, 64], "datatype": "FP32", "data": pixels}]})
            elapsed = (time.perf_counter() - started) * 1000
            scores = reply["outputs"][0]["data"]
            predicted = max(range(len(scores)), key=scores.__getitem__)
            post(f"{base}/feedback", {"id": request_id, "label": label})
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            # No model yet, or one being swapped in: try again shortly.
            input_name = None
            time.sleep(0.2)
            continue
        version = reply.get("model_version", "?")
        with lock:
            entry = stats[name]["versions"].setdefault(version, {"predictions": 0, "correct": 0, "latencies": []})
            entry["predictions"] += 1
            entry["correct"] += int(str(predicted) == label)
            entry["latencies"] = (entry["latencies"] + [elapsed])[-500:]
        time.sleep(0.1)


def run(args):
    signal.signal(signal.SIGTERM, lambda *_: running.clear())
    signal.signal(signal.SIGINT, lambda *_: running.clear())
    stats, lock, threads = {}, threading.Lock(), []
    for position, text in enumerate(args.agent):
        name, rest = text.split("=", 1)
        port, group = rest.split(":", 1)
        stats[name] = {"group": group, "versions": {}}
        rows = read_rows(args.data, args.split, position)
        thread = threading.Thread(target=drive, args=(name, int(port), rows, stats, lock), daemon=True)
        thread.start()
        threads.append(thread)
    while running.is_set():
        with lock:
            text = json.dumps(stats)
        with open(args.stats + ".tmp", "w") as out:
            out.write(text)
        os.replace(args.stats + ".tmp", args.stats)
        time.sleep(1)
    for thread in threads:
        thread.join(timeout=5)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("   " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("   " + "  ".join("-" * width for width in widths))


def summary(args):
    stats = json.load(open(args.stats))
    devices = get(f"{args.hub}/api/v1/devices?limit=500", args.token)["items"]
    running_version = {d["id"]: (d.get("status") or {}).get("modelVersion") or "-" for d in devices}
    groups = sorted({entry["group"] for entry in stats.values()})
    rows = [["GROUP", "DEVICES", "RUNS NOW", "VERSION SEEN", "PREDICTIONS", "ACCURACY", "P50 MS", "P95 MS"]]
    for group in groups:
        members = [name for name, entry in stats.items() if entry["group"] == group]
        now = sorted({running_version.get(name, "-") for name in members})
        versions = sorted({v for name in members for v in stats[name]["versions"]})
        for version in versions:
            entries = [stats[name]["versions"][version] for name in members if version in stats[name]["versions"]]
            predictions = sum(e["predictions"] for e in entries)
            correct = sum(e["correct"] for e in entries)
            latencies = [value for e in entries for value in e["latencies"]]
            rows.append([group, len(members), ",".join(now), version, predictions,
                         f"{100 * correct / max(predictions, 1):.1f} %",
                         f"{percentile(latencies, 50):.2f}", f"{percentile(latencies, 95):.2f}"])
    table(rows)
    print()
    rollouts = get(f"{args.hub}/api/v1/rollouts", args.token)["items"]
    rows = [["ROLLOUT", "VERSION", "BASELINE", "OUTCOME", "SECONDS", "REASON"]]
    for rollout in sorted(rollouts, key=lambda r: r["createdAt"]):
        state = rollout["state"]
        rows.append([rollout["id"], rollout["candidate"], rollout.get("baseline") or "-", state["state"],
                     f"{(rollout['updatedAt'] - rollout['createdAt']) / 1000:.1f}", (state.get("reason") or "")[:60]])
    table(rows)
    metrics = get(f"{args.hub}/metrics")
    sent = next((line.split()[-1] for line in metrics.splitlines() if line.startswith("starling_hub_chunk_bytes_sent ")), "0")
    print(f"\n   package bytes the hub sent to devices in chunks: {int(float(sent)):,}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run")
    r.add_argument("--agent", action="append", required=True, help="NAME=PORT:GROUP")
    r.add_argument("--data", required=True)
    r.add_argument("--split", required=True)
    r.add_argument("--stats", required=True)
    s = commands.add_parser("summary")
    s.add_argument("--stats", required=True)
    s.add_argument("--hub", required=True)
    s.add_argument("--token", required=True)
    args = parser.parse_args()
    run(args) if args.command == "run" else summary(args)


if __name__ == "__main__":
    sys.exit(main())
