"""The report's tables for model packages and the MQTT transport (used by report.py).

Rows come from `starling-bench package` / `starling-bench sizes` (JSON lines with "section":
"packages" / "sizes") and from `starling-transport-bench`, whose text output `transport_rows`
turns into JSON lines with "section": "transport" (run.sh does that).

    .venv/bin/python Benchmarks/report_packages.py transport-rows FILE >> results.jsonl
"""

import json
import re
import statistics
import sys
from collections import defaultdict

TRANSPORT_TARGET = 25_000  # issue 3: QoS 1, 64 B payloads, one process, through Mosquitto


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def spread(values):
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


# MARK: - Packages


class PackageResults:
    """Rows of `starling-bench package`, grouped by (case, side); one row per process (repeat)."""

    def __init__(self, rows):
        self.groups = defaultdict(list)
        self.info = []
        for row in rows:
            if row["case"] == "info":
                self.info.append(row)
            else:
                self.groups[(row["case"], row["side"])].append(row)

    def rate(self, case, side):
        """(median MB/s over repeats, spread, median MB/s by CPU time) or None. Rates another tool
        measured itself (zstd -b) have no CPU time: their MB/s stands for both."""
        rows = self.groups.get((case, side))
        if not rows:
            return None
        values = [r["mb_per_s"] for r in rows]
        cpu = statistics.median(r.get("cpu_mb_per_s", r["mb_per_s"]) for r in rows)
        return statistics.median(values), spread(values), cpu

    def ratio(self, case, side, peer_case, peer_side, field="mb_per_s"):
        """Median over repeats of Starling's MB/s over the peer's, both from the same process."""
        mine, theirs = self.groups.get((case, side), []), self.groups.get((peer_case, peer_side), [])
        values = [a.get(field, a["mb_per_s"]) / b.get(field, b["mb_per_s"]) for a, b in zip(mine, theirs)]
        return statistics.median(values) if values else None


def mbs(m, model_bytes):
    """MB/s, the milliseconds that means for the model (when its size is known), and MB/s by CPU time."""
    if not m:
        return "—"
    text = f"{m[0]:,.0f} MB/s ({model_bytes / 1e3 / m[0]:,.1f} ms)" if model_bytes else f"{m[0]:,.0f} MB/s"
    text += f"; CPU {m[2]:,.0f}" if abs(m[2] - m[0]) > 0.005 * m[0] else ""
    return text + (f"; spread {m[1]:.0%}" if m[1] > 0.25 else "")


def packages(rows):
    res = PackageResults(rows)
    if not res.groups:
        return None
    info = res.info[-1] if res.info else {}
    size = info.get("model_bytes", 0)
    comparisons = [
        ("create (validate + zstd -3 + SHA-256 + chunk digests + Ed25519), API", ("create", "starling"),
         [("zstd -b3 compression, in memory", "create.mem", "zstd")]),
        ("create, command line end to end (read, package, write)", ("create.cli", "starling"),
         [("zstd -3 CLI", "create.cli", "zstd"), ("openssl pkeyutl -sign CLI", "create.cli", "openssl"),
          ("zstd -3 then openssl sign", "create.cli", "zstd+openssl")]),
        ("verify (signature + digests + bounded decompression), API", ("verify", "starling"),
         [("zstd -b3 decompression, in memory", "verify.mem", "zstd")]),
        ("verify + model validation (ModelFile.decode), API", ("verify.model", "starling"),
         [("zstd -b3 decompression, in memory", "verify.mem", "zstd")]),
        ("verify, command line end to end (with model validation)", ("verify.cli", "starling"),
         [("zstd -d CLI", "verify.cli", "zstd"), ("openssl pkeyutl -verify CLI", "verify.cli", "openssl"),
          ("zstd -d then openssl verify", "verify.cli", "zstd+openssl")]),
    ]  # fmt: skip
    out = []
    for label, (case, side), peers in comparisons:
        mine = res.rate(case, side)
        for i, (peer_label, peer_case, peer_side) in enumerate(peers):
            theirs = res.rate(peer_case, peer_side)
            ratio = res.ratio(case, side, peer_case, peer_side)
            cpu = res.ratio(case, side, peer_case, peer_side, field="cpu_mb_per_s")
            out.append([label if i == 0 else "", mbs(mine, size) if i == 0 else "", f"{peer_label}: {mbs(theirs, size)}",
                        "—" if ratio is None else f"{ratio:.2f}×", "—" if cpu is None else f"{cpu:.2f}×"])  # fmt: skip
    parts = [
        "MB/s by wall time (median over rounds, then over repeats), then by CPU time (user + system "
        "of the process or tool) where it differs: CPU time hardly grows when other work shares the "
        "machine, so it shows what a quiet machine would do for this single-threaded work.",
        table(["measurement", "Starling", "peer (same file, same run)", "Starling / peer", "same, by CPU time"], out),
        "Where Starling's time goes (same runs, in-process):",
        table(
            ["step", "MB/s of model"],
            [[label, mbs(res.rate(case, "starling"), size)] for case, label in [
                ("decode", "ModelFile.decode: CRC-32, header, tensors, dequantization, graph validation"),
                ("sha256", "SHA-256 of the model (swift-crypto; create and verify hash model and payload)"),
                ("libzstd.compress", "libzstd level 3 compression alone"),
                ("libzstd.decompress", "libzstd decompression alone"),
            ]],  # fmt: skip
        ),
    ]
    if info:
        parts.append(
            f"Model file {info['model_bytes']:,} B → payload {info['payload_bytes']:,} B "
            f"({info['payload_bytes'] / info['model_bytes']:.1%}; `zstd -3` CLI: {info['zstd_cli_bytes']:,} B), "
            f"package file {info['package_bytes']:,} B in {info['chunks']} chunks of 256 KiB. "
            f"{len(res.info)} repeats × {info['rounds']} rounds; CRC-32 "
            f"{'carry-less multiplication' if info['crc32_accelerated'] else 'slice-by-8 tables'}; "
            f"{short_version(info['zstd'])}, {short_version(info['openssl'])}."
        )
    return "\n\n".join(parts)


def short_version(text):
    """'*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***' -> 'zstd 1.5.4'; 'OpenSSL 3.0.2 15 Mar 2022 (...)' -> 'OpenSSL 3.0.2'."""
    m = re.search(r"v?(\d+\.\d+\.\d+)", text)
    name = "zstd" if "Zstandard" in text else text.split()[0] if text.split() else "?"
    return f"{name} {m[1]}" if m else text


def sizes(rows):
    if not rows:
        return None
    labels = {"digits": "digits MLP 64-128-64-10", "mlp1024": "MLP 1024-1024-1024-10", "cnn": "FedAvg CNN 28×28×1",
              "mlp10m": "MLP 1024-2048-2048-2048-10"}  # fmt: skip
    latest = {r["case"]: r for r in rows}
    out = []
    for name, r in latest.items():
        out.append([labels.get(name, name), f"{r['parameters']:,}", f"{r['fp32_onnx_bytes']:,}", f"{r['int8_onnx_bytes']:,}",
                    f"{r['starling_bytes']:,}", f"{r['package_bytes']:,}",
                    f"{r['package_bytes'] / r['fp32_onnx_bytes']:.1%}"])  # fmt: skip
    header = ["model", "parameters", "fp32 ONNX (B)", "int8 ONNX, QDQ (B)", "int8 .starling (B)", "int8 + zstd package (B)",
              "package / fp32 ONNX"]  # fmt: skip
    return table(header, out)


# MARK: - Transport

ROW = re.compile(r"^(?P<client>\S.*?)\s+(?P<window>\d+)\s+(?P<rate>\d+)\s+(?P<ratio>[\d.]+)x\s*$")


def transport_rows(text):
    """JSON rows from one `starling-transport-bench` output (its publish table)."""
    broker, messages = "?", "?"
    for line in text.splitlines():
        if line.startswith("QoS 1 publish throughput through Mosquitto"):
            broker = line.split("Mosquitto", 1)[1].split(" on ")[0].strip()
            parts = re.findall(r"\d+", broker)  # e.g. "(major: 2, minor: 0, revision: 11)"
            broker = ".".join(parts) if len(parts) == 3 else broker
        elif " messages of " in line:
            messages = line.strip()
        m = ROW.match(line)
        if not m:
            continue
        client = m["client"].strip()
        side = "starling" if client.startswith("Starling") else "paho" if client.startswith("paho") else "mosquitto_pub"
        yield {"section": "transport", "case": "qos1.publish", "side": side, "client": client, "window": int(m["window"]),
               "msg_per_s": float(m["rate"]), "vs_mosquitto_pub": float(m["ratio"]), "broker": broker, "setup": messages}  # fmt: skip


def transport(rows):
    if not rows:
        return None
    groups = defaultdict(list)
    for r in rows:
        groups[(r["window"], r["side"])].append(r)
    out = []
    for (window, side), group in sorted(groups.items(), key=lambda kv: (kv[0][0], ["starling", "mosquitto_pub", "paho"].index(kv[0][1]))):
        rates = [r["msg_per_s"] for r in group]
        ratios = [r["vs_mosquitto_pub"] for r in group]
        mid = statistics.median(rates)
        target = verdict = "—"
        if side == "starling":
            target = f"≥ {TRANSPORT_TARGET / 1e3:.0f} k msg/s"
            verdict = "met" if mid >= TRANSPORT_TARGET else "**missed**"
        note = f" (spread {spread(rates):.0%})" if spread(rates) > 0.25 else ""
        out.append([group[0]["client"], window, f"{mid / 1e3:,.1f} k msg/s{note}", f"{statistics.median(ratios):.2f}×", len(group), target, verdict])
    first = rows[0]
    intro = (f"Mosquitto {first['broker']} on loopback, started by the benchmark; {first['setup']}. Each figure is the median "
             f"over repeats (separate processes); the ratio is taken within each repeat.")  # fmt: skip
    return intro + "\n\n" + table(["client", "in-flight window", "QoS 1 publishes", "vs mosquitto_pub", "repeats", "target", ""], out)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "transport-rows":
        with open(sys.argv[2]) as f:
            rows = list(transport_rows(f.read()))
        if not rows:
            sys.exit(f"report_packages.py: no publish rows in {sys.argv[2]} (has starling-transport-bench's table changed?)")
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
