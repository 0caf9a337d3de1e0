#!/usr/bin/env python3
"""Turns out/bench/results.jsonl into one table per topic; prints it and writes report.md.

    .venv/bin/python Benchmarks/report.py out/bench

Each figure is the median over repeats of each process's own median (see run.sh); `spread`
is (max - min) / median of those per-process medians. ORT's single-sample latency is shown
raw and corrected: minus the median time of an Identity model with the same input size,
measured in the same repeats, which is what one `InferenceSession.run` call from Python costs.
Latency ratios use the corrected figure. The model package and MQTT transport tables come from
report_packages.py, the agent's from report_agent.py. Sections without results (run.sh with
BENCH_ONLY) are left out.
"""

import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import sys
from collections import defaultdict

import report_agent
import report_hub
import report_packages

LABELS = {
    "mlp1024": "MLP 1024-1024-1024-10",
    "digits": "digits MLP 64-128-64-10",
    "cnn": "FedAvg CNN 28×28×1",
}


def load(out):
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return rows, meta


class Results:
    def __init__(self, rows):
        self.groups = defaultdict(list)
        for row in rows:
            requested = row.get("requested", "auto")
            self.groups[(row["case"], row["side"], row["threads"], requested)].append(row)

    def get(self, case, side, threads, requested="auto", field="median_s"):
        """(median, spread, count) of `field` over repeats, or None."""
        rows = self.groups.get((case, side, threads, requested))
        if not rows:
            return None
        values = [r[field] for r in rows]
        mid = statistics.median(values)
        return mid, (max(values) - min(values)) / mid if mid else 0.0, len(values)

    def paired(self, case, threads, ratio, overhead_case=None, field="median_s", peer="ort"):
        """The median over repeats of `ratio(starling, peer[, overhead])` within each repeat: the
        sides ran back to back there, so they shared the machine's state."""
        s = [r[field] for r in self.groups.get((case, "starling", threads, "auto"), [])]
        o = [r[field] for r in self.groups.get((case, peer, threads, "auto"), [])]
        if overhead_case:
            idle = [r[field] for r in self.groups.get((overhead_case, peer, threads, "auto"), [])]
            values = [ratio(a, b, c) for a, b, c in zip(s, o, idle)]
        else:
            values = [ratio(a, b) for a, b in zip(s, o)]
        return statistics.median(values) if values else float("nan")


# MARK: - Formatting


def rate(seconds, batch):
    per_s = batch / seconds
    return f"{per_s / 1e3:,.1f} k/s" if per_s >= 1e4 else f"{per_s:,.0f} /s"


def micro(seconds):
    us = seconds * 1e6
    return f"{us:,.2f} µs" if us < 10 else f"{us:,.1f} µs"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


NOISY = 0.5


def verdict(ok, *measurements):
    """met / missed, plus a warning when the repeats of a figure disagree by more than NOISY."""
    text = "—" if ok is None else ("met" if ok else "**missed**")
    spread = max((m[1] for m in measurements if m), default=0)
    return text + (f" (repeats spread {spread:.0%})" if spread > NOISY else "")


# MARK: - Sections


def throughput_rows(res, number, case, label, batch, target, threads_list=(1, 2)):
    out = []
    for t in threads_list:
        s, o = res.get(case, "starling", t), res.get(case, "ort", t)
        if not s or not o:
            continue
        ratio = res.paired(case, t, lambda a, b: b / a)
        ok = ratio >= target if target else None
        out.append(
            [number, label, t, rate(s[0], batch), rate(o[0], batch), f"{ratio:.2f}×",
             f"≥ {target:.1f}× ORT" if target else "—", verdict(ok, s, o)]
        )  # fmt: skip
    return out


def latency_rows(res, number, case, label, overhead_case, target_ratio=None, target_us=None, threads_list=(1, 2)):
    out = []
    for t in threads_list:
        s, o, idle = res.get(case, "starling", t), res.get(case, "ort", t), res.get(overhead_case, "ort", t)
        if not s or not o:
            continue
        corrected = o[0] - idle[0] if idle else o[0]
        if idle:
            ratio = res.paired(case, t, lambda a, b, c: a / (b - c) if b > c else float("inf"), overhead_case)
        else:
            ratio = res.paired(case, t, lambda a, b: a / b)
        ort_text = f"{micro(o[0])} raw − {micro(idle[0])} call = **{micro(corrected)}**" if idle else micro(o[0])
        if target_ratio:
            ok, target = ratio <= target_ratio, f"≤ {target_ratio}× ORT (corrected)"
        elif target_us:
            ok, target = s[0] * 1e6 <= target_us, f"≤ {target_us} µs"
        else:
            ok, target = None, "—"
        out.append([number, label, t, micro(s[0]), ort_text, f"{ratio:.2f}×", target, verdict(ok, s, o, idle)])
    return out


def training_rows(res):
    out = []
    for t in (1, 2):
        s = res.get("digits.train", "starling", t, field="train_s")
        k = res.get("digits.train", "sklearn", t, field="train_s")
        if not s or not k:
            continue
        sc, kc = res.get("digits.train", "starling", t, field="command_s"), res.get("digits.train", "sklearn", t, field="command_s")
        sa = res.get("digits.train", "starling", t, field="test_accuracy")[0]
        ka = res.get("digits.train", "sklearn", t, field="test_accuracy")[0]
        out.append(
            [5, "digits MLP training, Adam, batch 32", t,
             f"{s[0]:.2f} s (command {sc[0]:.2f} s), test {sa:.1%}",
             f"{k[0]:.2f} s (command {kc[0]:.2f} s), test {ka:.1%}",
             f"{res.paired('digits.train', t, lambda a, b: a / b, field='train_s', peer='sklearn'):.2f}× time",
             "≥ 97 % test accuracy", verdict(sa >= 0.97, s, k)]
        )  # fmt: skip
    return out


def targets(res):
    header = ["#", "measurement", "threads", "Starling", "ONNX Runtime / scikit-learn", "ratio", "target", ""]
    rows = []
    rows += throughput_rows(res, 1, "mlp1024.int8.b1024", "MLP 1024-1024-1024-10 int8, batch 1024", 1024, 1.0)
    rows += latency_rows(res, 2, "mlp1024.int8.b1", "same MLP int8, one sample", "mlp1024.int8.b1.overhead", target_ratio=0.8)
    rows += latency_rows(res, 3, "digits.int8.b1", "digits MLP 64-128-64-10 int8, one sample", "digits.int8.b1.overhead", target_us=2)
    rows += throughput_rows(res, 4, "cnn.int8.b64", "FedAvg CNN int8, batch 64", 64, 1.0)
    rows += training_rows(res)
    return table(header, rows)


def fp32(res):
    header = ["#", "measurement", "threads", "Starling", "ONNX Runtime", "ratio", "target", ""]
    rows = []
    rows += throughput_rows(res, "", "mlp1024.fp32.b1024", "MLP 1024-1024-1024-10 fp32, batch 1024", 1024, None)
    rows += latency_rows(res, "", "mlp1024.fp32.b1", "same MLP fp32, one sample", "mlp1024.int8.b1.overhead")
    rows += latency_rows(res, "", "digits.fp32.b1", "digits MLP fp32, one sample", "digits.int8.b1.overhead")
    rows += throughput_rows(res, "", "cnn.fp32.b64", "FedAvg CNN fp32, batch 64", 64, None)
    return table(header[1:-2], [r[1:-2] for r in rows])


def cnn_layers(res):
    header = ["measurement", "threads", "Starling", "ONNX Runtime", "ratio"]
    rows = []
    rows += throughput_rows(res, "", "cnn.int8.b64", "whole CNN int8, batch 64", 64, None)
    rows += throughput_rows(res, "", "cnn_conv1.int8.b64", "conv5×5 1→32 + ReLU + pool, 28×28, batch 64", 64, None)
    rows += throughput_rows(res, "", "cnn_conv2.int8.b64", "conv5×5 32→64 + ReLU + pool, 14×14, batch 64", 64, None)
    return table(header, [r[1:-2] for r in rows])


def backends(res):
    cases = [
        ("mlp1024.int8.b1024", "MLP 1024 int8, batch 1024", 1024),
        ("mlp1024.int8.b1", "MLP 1024 int8, one sample", 1),
        ("digits.int8.b1", "digits MLP int8, one sample", 1),
        ("cnn.int8.b64", "FedAvg CNN int8, batch 64", 64),
    ]
    names = sorted({k[3] for k in res.groups if k[1] == "starling" and k[3] != "auto"})
    best = next((r["backend"] for (c, s, t, q), rs in res.groups.items() for r in rs if s == "starling" and q == "auto" and r["backend"] != "fp32"), "?")
    header = ["measurement (1 thread)", f"{best} (auto)"] + names + ["ORT"]
    rows = []
    for case, label, batch in cases:
        cells = []
        for q in ["auto"] + names:
            m = res.get(case, "starling", 1, q)
            cells.append("—" if not m else (rate(m[0], batch) if batch > 1 else micro(m[0])))
        o = res.get(case, "ort", 1)
        cells.append("—" if not o else (rate(o[0], batch) if batch > 1 else micro(o[0]) + " raw"))
        rows.append([label] + cells)
    return table(header, rows)


def details(res):
    header = ["case", "side", "threads", "backend", "median per call", "repeats", "spread", "check vs ORT"]
    rows = []
    for (case, side, threads, requested), group in sorted(res.groups.items()):
        if case == "digits.train":
            m = res.get(case, side, threads, requested, field="train_s")
            rows.append([case, side, threads, group[0]["backend"], f"{m[0]:.3f} s", m[2], f"{m[1]:.0%}", "—"])
            continue
        m = res.get(case, side, threads, requested)
        first = group[0]
        check = "—"
        if "check_samples" in first:
            check = (f"argmax {first['check_argmax_agree']}/{first['check_samples']}, "
                     f"max |Δ| {first['check_max_abs_diff']:.3g} (of {first['check_max_abs_ref']:.3g})")  # fmt: skip
        rows.append([case, side, threads, first["backend"], micro(m[0]), m[2], f"{m[1]:.0%}", check])
    return table(header, rows)


# MARK: - Machine


def machine(meta, out):
    # The last result line was written at the end of the measurements.
    finished = datetime.datetime.fromtimestamp((out / "results.jsonl").stat().st_mtime).astimezone()
    cpu, flags, ids = "?", "", {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and cpu == "?":
                cpu = value.strip()
            elif key in ("vendor_id", "cpu family", "model") and key not in ids:
                ids[key] = value.strip()
            elif key == "flags" and not flags:
                flags = line
    except OSError:
        pass
    isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f" {f}" in flags) or "?"
    versions = {}
    for module in ("onnxruntime", "onnx", "numpy", "sklearn"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "missing"
    try:
        versions["paho-mqtt"] = importlib.metadata.version("paho-mqtt")
    except importlib.metadata.PackageNotFoundError:
        versions["paho-mqtt"] = "missing"
    return [
        f"- machine: {cpu} ({ids.get('vendor_id', '?')} family {ids.get('cpu family', '?')} model {ids.get('model', '?')}; {isa}), "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- date: {finished.strftime('%Y-%m-%d %H:%M %Z')} (end of the measurements)",
        f"- versions: Swift {meta.get('swift', '?').replace('Swift version ', '')}; Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- command: `{meta.get('command', 'Benchmarks/run.sh')}` at revision {meta.get('revision', '?')}, {meta.get('repeats', '?')} repeats, "
        f"{meta.get('seconds', 0) / 60:.1f} min; load average before {meta.get('load_before', '?')}, after {meta.get('load_after', '?')}",
        f"- noise: other work kept the CPUs busy at {meta.get('busy_starts', '?')} of {meta.get('settles', '?')} repeat starts "
        f"(each waited up to {meta.get('settle_limit', '?')} s for 90 % idle, then measured anyway); 1-thread runs pinned to CPU {meta.get('cpu', '?')}",
    ]


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/bench")
    rows, meta = load(out)
    sections = defaultdict(list)
    for row in rows:
        sections[row.get("section", "runtime")].append(row)
    res = Results(sections["runtime"])
    parts = ["# Starling vs ONNX Runtime, scikit-learn, zstd, openssl and Mosquitto clients", "\n".join(machine(meta, out))]
    if sections["runtime"]:
        parts += [
            "## Targets\n\nFigures: medians over repeats. Ratio: the median over repeats of the ratio within a "
            "repeat (both sides ran back to back); throughput Starling / ORT (> 1: Starling faster), latency "
            "Starling / ORT corrected (< 1: Starling faster), training time Starling / scikit-learn.",
            targets(res),
            "## float32, for context\n\nStarling's float32 runner (`FloatRunner`, tensors in and out) is single-threaded: its 2-thread "
            "rows run one thread, unpinned.",
            fp32(res),
            "## The CNN by layer (int8), for context\n\nEach conv block alone (its own random weights, "
            "input quantized, output dequantized), to see where the CNN's time goes.",
            cnn_layers(res),
            "## Starling's int8 backends, for context",
            backends(res),
        ]
    extra = [
        ("## Model packages: sign + compress + chunk, verify + decompress\n\nThe same ~10 MB int8 model file for "
         "every tool; MB/s of the uncompressed model file (10^6 B/s), medians over rounds, then over repeats. "
         "Ratio: Starling's MB/s over the peer's (> 1: Starling faster), median over repeats.",
         report_packages.packages(sections["packages"])),
        ("## Package size: int8 + zstd vs the fp32 ONNX file", report_packages.sizes(sections["sizes"])),
        ("## MQTT: QoS 1 publish throughput, 64 B payloads, one process", report_packages.transport(sections["transport"])),
        ("## The agent: HTTP inference, memory, feedback while serving, binary size", report_agent.agent(sections["agent"])),
        ("## The hub: telemetry ingest beside mosquitto_sub, REST API beside MLflow", report_hub.hub(sections["hub"])),
    ]  # fmt: skip
    parts += [part for title, body in extra if body for part in (title, body)]
    if sections["runtime"]:
        parts += ["## Every measurement", details(res)]
    text = "\n\n".join(parts) + "\n"
    (out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
