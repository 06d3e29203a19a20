#!/usr/bin/env python3
"""Fills vanban's exported .docx templates with vanban's own contexts using docxtpl.

Usage: docxtpl_fill.py TEMPLATE_DIR CONTEXT_DIR OUT_DIR RUNS
Prints the median per-document fill time in one warm process (templates loaded from bytes
each time, as docxtpl requires), the same work as vanban's DOCX render.
"""
import io
import json
import pathlib
import statistics
import sys
import time

from docxtpl import DocxTemplate

tpl_dir, ctx_dir, out_dir, runs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), int(sys.argv[4])
out_dir.mkdir(parents=True, exist_ok=True)
templates = {p.stem: p.read_bytes() for p in tpl_dir.glob("*.docx")}
contexts = [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(ctx_dir.glob("*.json"))]
samples = []
for run in range(runs + 1):
    for stem, ctx in contexts:
        t = time.perf_counter()
        doc = DocxTemplate(io.BytesIO(templates[ctx["kind"]]))
        doc.render(ctx, autoescape=True)
        buffer = io.BytesIO()
        doc.save(buffer)
        elapsed = time.perf_counter() - t
        if run > 0:  # the first round warms up imports and caches
            samples.append(elapsed)
        if run == runs:
            (out_dir / f"{stem}.docx").write_bytes(buffer.getvalue())
print(f"docxtpl per-document median: {statistics.median(samples) * 1000:.2f} ms")
