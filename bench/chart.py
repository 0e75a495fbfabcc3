#!/usr/bin/env python3
"""Draws bench/results/curve.svg from curve.csv and timings.jsonl (bench/curve.sh writes both).

    python3 bench/chart.py [CSV] [TIMINGS_JSONL] [SVG]

Four panels: wall time, CPU time (user + system) and peak RSS against connections, on log-log
axes (a straight line of slope 1 is linear growth), and where stuckconn's time goes at each
size (everything flagged, the median of the runs of `scan --timings`). Plain SVG written by
hand: python3 with no plotting library.
"""

import csv
import json
import math
import statistics
import sys
from html import escape

CSV = sys.argv[1] if len(sys.argv) > 1 else "bench/results/curve.csv"
PHASES = sys.argv[2] if len(sys.argv) > 2 else "bench/results/timings.jsonl"
SVG = sys.argv[3] if len(sys.argv) > 3 else "bench/results/curve.svg"

SERIES = [
    # (tool, mode, label, colour, dash)
    ("stuckconn", "all_flagged", "stuckconn scan, all flagged (threads examined)", "#c0392b", ""),
    ("stuckconn", "all_flagged_table", "stuckconn scan, all flagged, as the table", "#8e44ad", "4 2"),
    ("stuckconn", "nothing_flagged", "stuckconn scan, nothing flagged", "#e67e22", "6 3"),
    ("ss", "tanpi", "ss -tanpi", "#2c3e8f", ""),
    ("ss", "tan", "ss -tan (the dump alone)", "#7f8c8d", "2 3"),
    ("baseline", "all_flagged", "before (BASELINE), all flagged", "#e8a49c", "1 3"),
    ("baseline", "nothing_flagged", "before (BASELINE), nothing flagged", "#f5c28f", "1 3"),
]
PHASE_NAMES = [
    ("namespaces", "namespaces", "#bdc3c7"),
    ("dump", "sock_diag dump", "#2980b9"),
    ("fd_walk", "fd walk", "#c0392b"),
    ("describe", "describe processes", "#8e44ad"),
    ("threads", "thread evidence", "#16a085"),
    ("holders", "holders' names (containers)", "#95a5a6"),
    ("analysis", "analysis", "#f39c12"),
    ("probe", "probe (options, memory)", "#d35400"),
    ("diagnose", "diagnose (timeouts...)", "#7f8c8d"),
    ("render", "JSON render", "#27ae60"),
]


def read_csv(path):
    meta, rows = [], []
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    meta = [l[1:].strip() for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#")]
    for row in csv.DictReader(body):
        rows.append(row)
    return meta, rows


def read_phases(path):
    try:
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return {}
    by_size = {}
    for p in lines:
        if p.get("min_idle") != 0:
            continue
        cpu = {q["phase"]: q["cpu_secs"] for q in p["phases"]}
        # The fd walk runs beside the dump: the dump phase's CPU (the whole process's) includes
        # the walk's own, which `fd_walk` gives; the walk's share goes to the walk.
        walk = (p.get("fd_walk") or {}).get("cpu_secs")
        if walk is not None and "dump" in cpu:
            cpu["dump"] = max(cpu["dump"] - walk, 0.0)
            cpu["fd_walk"] = cpu.get("fd_walk", 0.0) + walk
        by_size.setdefault(p["conns"], []).append(cpu)
    return {
        conns: {name: statistics.median(p.get(name, 0.0) for p in runs) for name, _, _ in PHASE_NAMES}
        for conns, runs in by_size.items()
    }


def fmt(v):
    if v >= 1000:
        return f"{v / 1000:g}k" if v < 1e6 else f"{v / 1e6:g}M"
    return f"{v:g}"


class Panel:
    """A log-log plot area at (x, y) of size (w, h)."""

    def __init__(self, out, x, y, w, h, xs, ys, title, unit):
        self.out, self.x, self.y, self.w, self.h = out, x, y, w, h
        self.x0 = decades(xs)[0]
        self.x1 = math.log10(max(xs))
        self.y0, self.y1 = decades(ys)
        out.append(f'<text x="{x + w / 2}" y="{y - 12}" class="title">{escape(title)}</text>')
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" class="frame"/>')
        for e in range(int(self.y0), int(self.y1) + 1):
            for m in (1, 2, 5):
                v = m * 10.0**e
                if not (10**self.y0 <= v <= 10**self.y1):
                    continue
                py = self.py(v)
                cls = "grid" if m == 1 else "subgrid"
                out.append(f'<line x1="{x}" x2="{x + w}" y1="{py:.1f}" y2="{py:.1f}" class="{cls}"/>')
                if m == 1 or self.y1 - self.y0 <= 3:
                    out.append(f'<text x="{x - 5}" y="{py + 4:.1f}" class="ytick">{fmt(v)}</text>')
        for e in range(int(self.x0), math.floor(self.x1) + 1):
            v = 10.0**e
            px = self.px(v)
            out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y}" y2="{y + h}" class="grid"/>')
            out.append(f'<text x="{px:.1f}" y="{y + h + 16}" class="xtick">{fmt(v)}</text>')
        out.append(f'<text x="{x + w / 2}" y="{y + h + 34}" class="label">connections (2 sockets each)</text>')
        out.append(
            f'<text x="{x - 44}" y="{y + h / 2}" class="label" '
            f'transform="rotate(-90 {x - 44} {y + h / 2})">{escape(unit)}</text>'
        )

    def px(self, v):
        return self.x + (math.log10(v) - self.x0) / (self.x1 - self.x0) * self.w

    def py(self, v):
        return self.y + self.h - (math.log10(v) - self.y0) / (self.y1 - self.y0) * self.h

    def line(self, points, colour, dash):
        pts = [(self.px(a), self.py(b)) for a, b in points if a > 0 and b > 0]
        if not pts:
            return
        d = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        self.out.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for a, b in pts:
            self.out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')

    def slope_one(self, at_x, at_y):
        """A dotted reference of slope 1 (linear growth) through (at_x, at_y)."""
        lo, hi = 10**self.x0, 10**self.x1
        pts = [(v, at_y * v / at_x) for v in (lo, hi)]
        pts = [(a, min(max(b, 10**self.y0), 10**self.y1)) for a, b in pts]
        d = " ".join(f"{self.px(a):.1f},{self.py(b):.1f}" for a, b in pts)
        self.out.append(f'<polyline points="{d}" fill="none" class="ref"/>')


def decades(values):
    values = [v for v in values if v > 0]
    lo, hi = min(values), max(values)
    return math.floor(math.log10(lo)), math.ceil(math.log10(hi) + 1e-9)


def main():
    meta, rows = read_csv(CSV)
    phases = read_phases(PHASES)
    data = {}
    for r in rows:
        key = (r["tool"], r["mode"])
        data.setdefault(key, []).append(
            (int(r["conns"]), float(r["wall_s"]), float(r["cpu_s"]), int(r["peak_kib"]) / 1024)
        )
    for v in data.values():
        v.sort()
    conns = sorted({c for v in data.values() for c, *_ in v})

    W, H = 1180, 880
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        "<style>"
        ".frame{fill:none;stroke:#333}.grid{stroke:#ccc}.subgrid{stroke:#eee}"
        ".ref{stroke:#999;stroke-dasharray:1 4;stroke-width:1.5}"
        ".title{text-anchor:middle;font-weight:bold;font-size:14px}"
        ".xtick{text-anchor:middle;fill:#333}.ytick{text-anchor:end;fill:#333}"
        ".label{text-anchor:middle;fill:#333}.note{fill:#555;font-size:11px}"
        "</style>",
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="24" class="title" font-size="16">stuckconn against ss: cost by number of connections</text>',
    ]
    for i, line in enumerate(meta):
        out.append(f'<text x="{W / 2}" y="{42 + 14 * i}" class="note" text-anchor="middle">{escape(line)}</text>')

    top = 42 + 14 * len(meta) + 40
    pw, ph = 420, 230
    lefts = (90, 90 + pw + 130)
    panels = [
        ("wall time (median)", "seconds", 1),
        ("CPU time, user + system (median)", "seconds", 2),
        ("peak RSS (median)", "MiB", 3),
    ]
    spots = [(lefts[0], top), (lefts[1], top), (lefts[0], top + ph + 110)]
    for (title, unit, col), (x, y) in zip(panels, spots):
        ys = [v[col] for series in data.values() for v in series]
        xs = conns + [c * 1.6 for c in conns[-1:]]
        p = Panel(out, x, y, pw, ph, xs, ys, title, unit)
        ref = data.get(("stuckconn", "all_flagged"))
        if ref and col != 3:
            p.slope_one(ref[0][0], ref[0][col])
        for tool, mode, _, colour, dash in SERIES:
            if (tool, mode) in data:
                p.line([(v[0], v[col]) for v in data[(tool, mode)]], colour, dash)

    # The breakdown, right of the peak RSS panel.
    lx, ly = lefts[1], top + ph + 110
    out.append(f'<text x="{lx + pw / 2}" y="{ly - 12}" class="title">where stuckconn\'s time goes (all flagged)</text>')
    if phases:
        sizes = sorted(phases)
        bw = min(50, (pw - 140) // max(len(sizes), 1) - 20)
        # Shares of the total, one stacked bar per size, with the total written above.
        for i, c in enumerate(sizes):
            total = sum(phases[c][n] for n, _, _ in PHASE_NAMES)
            bx = lx + 20 + i * (bw + 20)
            yy = ly + ph
            for name, _, colour in PHASE_NAMES:
                hh = phases[c][name] / total * ph if total else 0
                yy -= hh
                out.append(f'<rect x="{bx}" y="{yy:.1f}" width="{bw}" height="{hh:.1f}" fill="{colour}"/>')
            out.append(f'<text x="{bx + bw / 2}" y="{ly + ph + 16}" class="xtick">{fmt(c)}</text>')
            out.append(f'<text x="{bx + bw / 2}" y="{ly + ph + 30}" class="xtick">{total * 1000:.0f} ms</text>')
        out.append(f'<text x="{lx + pw / 2 - 40}" y="{ly + ph + 48}" class="label">connections; the share of each step in the CPU-time total</text>')
        for j, (_, label, colour) in enumerate(PHASE_NAMES):
            yy = ly + 10 + j * 18
            out.append(f'<rect x="{lx + pw - 110}" y="{yy}" width="12" height="12" fill="{colour}"/>')
            out.append(f'<text x="{lx + pw - 94}" y="{yy + 10}">{escape(label)}</text>')

    ly2 = top + 2 * ph + 190
    shown = [s for s in SERIES if (s[0], s[1]) in data]
    for j, (tool, mode, label, colour, dash) in enumerate(shown):
        x = 90 + (j % 2) * 470
        y = ly2 + (j // 2) * 20
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" x2="{x + 30}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{x + 38}" y="{y + 4}">{escape(label)}</text>')
    out.append(
        f'<text x="90" y="{ly2 + 20 * ((len(shown) + 1) // 2) + 8}" class="note">dotted grey: slope 1 (cost proportional to the '
        "connections) through stuckconn's first point; log-log axes</text>"
    )
    out.append("</svg>")
    with open(SVG, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
