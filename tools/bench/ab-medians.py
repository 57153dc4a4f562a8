#!/usr/bin/env python3
"""Medians of an A/B benchmark log: one line per run, "KEY BUILD VALUE" (BUILD is A or B).
Usage: ab-medians.py LOG UNIT   (UNIT: tokens/s, or ms for values in seconds shown in milliseconds)"""
import collections
import statistics
import sys

log, unit = sys.argv[1], sys.argv[2]
runs = collections.defaultdict(list)
for line in open(log):
    key, build, value = line.split()
    runs[(key, build)].append(float(value))
scale, fmt = (1000.0, "ms") if unit == "ms" else (1.0, unit)
for key in dict.fromkeys(k for k, _ in runs):
    a, b = statistics.median(runs[(key, "A")]), statistics.median(runs[(key, "B")])
    print(f"{key}: A median {a * scale:.1f} {fmt}, B median {b * scale:.1f} {fmt}, B/A {b / a:.3f} ({len(runs[(key, 'A')])} runs each)")
