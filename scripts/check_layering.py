#!/usr/bin/env python3
"""Checks the package's dependency rules from `swift package dump-package`.

- The agent's dependency closure contains no HTTP framework of the hub (Hummingbird, Vapor).
- Core imports no networking, storage or HTTP library; Agent and Hub never depend on each other.
"""
import json
import subprocess
import sys

package = json.loads(subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
targets = {t["name"]: t for t in package["targets"]}


def deps(name):
    out = []
    for d in targets[name].get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in d:
                out.append((kind, d[kind][0], d[kind][1] if kind == "product" else None))
    return out


def closure(name):
    seen, stack, products = set(), [name], set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        for kind, dep, pkg in deps(t):
            if dep in targets:
                stack.append(dep)
            else:
                products.add((dep, pkg))
    return seen, products

errors = []
agent_targets, agent_products = closure("starling-agent")
for product, pkg in agent_products:
    if any(word in (product + str(pkg)).lower() for word in ("hummingbird", "vapor")):
        errors.append(f"starling-agent depends on {product} ({pkg}), the hub's HTTP framework")
if "Hub" in agent_targets:
    errors.append("starling-agent depends on the Hub library")
if "Agent" in closure("starling-hub")[0]:
    errors.append("starling-hub depends on the Agent library")
core_targets, core_products = closure("Core")
CORE_ALLOWED = {"Crypto"}  # pure computation: hashing and signatures
for product, pkg in core_products:
    if product not in CORE_ALLOWED:
        errors.append(f"Core depends on the package product {product}; Core must stay pure")
for forbidden in ("CMosquitto", "TransportMQTT", "Agent", "Hub"):
    if forbidden in core_targets and forbidden != "Core":
        errors.append(f"Core depends on {forbidden}")

if errors:
    print("layering check failed:\n  " + "\n  ".join(errors))
    sys.exit(1)
print(f"layering ok: starling-agent closure = {sorted(agent_targets)} + {sorted(p for p, _ in agent_products)}")
