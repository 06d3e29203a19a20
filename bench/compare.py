#!/usr/bin/env python3
"""Times vanban against the tools offices use today, on the same input, in one run.

Called by compare.sh (which installs the tools). Prints one table: per-document median time
of each way of producing the sample's documents, and the ratio peer / vanban.

  vanban batch (cold)   the `vanban render` process for the whole sample, PDF + DOCX,
                        divided by the number of files; median of RUNS processes
  vanban warm           in-process per-document render from `cargo bench` (PDF, DOCX)
  docxtpl               python-docx-template filling vanban's exported .docx templates with
                        the same contexts, in one Python process (load, render, save)
  LibreOffice (batch)   soffice converting all the docxtpl outputs in one call, per document
  LibreOffice (1/call)  soffice converting one document per call
  typst CLI             `typst compile` of vanban's exported Typst templates with the same
                        data, one process per document
"""
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = pathlib.Path(sys.argv[1])
RUNS = int(os.environ.get("RUNS", "5"))
BIN = ROOT / "target/release/vanban"
SAMPLE = ROOT / "samples/dam-ha-2024-h1.toml"
TYPST = os.environ.get("TYPST", "typst")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd, **kw):
    t = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t


def ms(seconds):
    return seconds * 1000.0


rows = []  # (label, per-document median in ms, note)

# vanban, the whole sample batch from a cold process (both cores).
batch = []
for i in range(RUNS):
    out = WORK / f"vanban-{i}"
    batch.append(timed([BIN, "render", SAMPLE, "--format", "both", "--out", out]))
files = len(list((WORK / "vanban-0/2024-h1").iterdir()))
documents = files // 2
rows.append(("vanban batch, cold process, 2 cores (PDF+DOCX)", ms(statistics.median(batch)) / documents,
             f"{files} files, {ms(statistics.median(batch)):.0f} ms per batch"))

# vanban in-process, warm, from the benches.
bench = run(["cargo", "bench", "--quiet", "--bench", "render", "--", "--renders", "10"], cwd=ROOT).stdout
pdf_warm = float(re.search(r"all documents\s+([\d.]+) ms", bench).group(1))
docx_bench = run(["cargo", "bench", "--quiet", "--bench", "docx"], cwd=ROOT).stdout
docx_warm = float(re.search(r"all documents\s+([\d.]+) ms", docx_bench).group(1))
rows.append(("vanban in-process, warm, 1 core: PDF", pdf_warm, "cargo bench --bench render"))
rows.append(("vanban in-process, warm, 1 core: DOCX", docx_warm, "cargo bench --bench docx"))
vanban_doc = pdf_warm + docx_warm
rows.append(("vanban in-process, warm, 1 core: PDF+DOCX", vanban_doc, ""))

# The same contexts and templates for the peers.
run([BIN, "render", SAMPLE, "--format", "docx", "--out", WORK / "docx", "--dump-context", WORK / "ctx"])
run([BIN, "templates", "export", WORK / "tpl"])
contexts = sorted((WORK / "ctx").glob("*.json"))

# docxtpl filling the exported .docx templates, then LibreOffice for PDF.
# (docxtpl_fill.py checks that docxtpl's documents have the same words as vanban's.)
result = run([sys.executable, ROOT / "bench/docxtpl_fill.py", WORK / "tpl", WORK / "ctx", WORK / "docx/2024-h1", str(RUNS)])
docxtpl_ms = float(re.search(r"all documents\s+([\d.]+) ms", result.stdout).group(1))
rows.append(("docxtpl fill, 1 core (DOCX only)", docxtpl_ms, "same templates and contexts"))

# LibreOffice converts the same DOCX (vanban's, word for word docxtpl's) to PDF.
profile = f"-env:UserInstallation=file://{WORK}/lo-profile"
docs = sorted((WORK / "docx/2024-h1").glob("*.docx"))
timed(["soffice", profile, "--headless", "--convert-to", "pdf", "--outdir", WORK / "lo-warmup", docs[0]])
lo_batch = [timed(["soffice", profile, "--headless", "--convert-to", "pdf", "--outdir", WORK / f"lo-batch-{i}", *docs])
            for i in range(max(1, RUNS // 2))]
rows.append(("docxtpl + LibreOffice, one call for the batch", docxtpl_ms + ms(statistics.median(lo_batch)) / len(docs),
             f"{len(docs)} documents per call"))
lo_one = [timed(["soffice", profile, "--headless", "--convert-to", "pdf", "--outdir", WORK / "lo-one", d]) for d in docs[:RUNS]]
rows.append(("docxtpl + LibreOffice, one call per document", docxtpl_ms + ms(statistics.median(lo_one)), ""))

# The typst command line, one process per document, on the exported templates.
troot = WORK / "typst-root"
shutil.copytree(WORK / "tpl/typst", troot)
typst_times = []
for i in range(RUNS):
    for ctx in contexts:
        kind = json.loads(ctx.read_text(encoding="utf-8"))["kind"]
        shutil.copy(ctx, troot / "data.json")
        typst_times.append(timed([TYPST, "compile", "--root", troot, "--ignore-system-fonts", "--font-path",
                                  ROOT / "fonts", troot / f"{kind}.typ", WORK / "typst-out.pdf"]))
typst_version = run([TYPST, "--version"]).stdout.strip()
rows.append((f"typst CLI, one process per document (PDF)", ms(statistics.median(typst_times)), typst_version))

vanban_pdf = pdf_warm
print(f"\nSample: {documents} documents ({SAMPLE.name}); medians over {RUNS} runs; machine: {os.cpu_count()} cores")
print(f"{'way of producing a document':<50} {'per doc':>10}  {'× vanban':>9}  note")
for label, value, note in rows:
    base = vanban_pdf if "typst" in label and "PDF" in label else vanban_doc
    ratio = value / base if not label.startswith("vanban") else float("nan")
    ratio_text = f"{ratio:8.1f}×" if ratio == ratio else "        —"
    print(f"{label:<50} {value:>8.2f} ms  {ratio_text}  {note}")
print("\n× vanban: the peer's time divided by vanban's warm in-process time for the same output"
      " (PDF+DOCX; PDF only for the typst CLI).")
