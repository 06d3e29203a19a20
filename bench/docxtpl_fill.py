"""Fills vanban's exported DOCX templates with docxtpl, in one process, as the peer benchmark.

Usage: python3 docxtpl_fill.py TEMPLATES_DIR CONTEXTS_DIR VANBAN_DOCX_DIR [RUNS]

TEMPLATES_DIR holds docx/<kind>.docx (`vanban templates export`); CONTEXTS_DIR the contexts vanban
rendered from (`vanban render --dump-context`), one <file stem>.json per document; VANBAN_DOCX_DIR
vanban's own DOCX of the same documents, to check that docxtpl produced the same paragraphs
(otherwise the timings would compare different work).

Per document: load the template from bytes, render with autoescape (docxtpl's default is no
escaping, which corrupts the XML on "&" or "<"), save to bytes. docxtpl rewrites the document it
loaded, so there is no warm mode: each fill is one-shot. Prints the median per document.
"""

import io
import json
import os
import statistics
import sys
import time

import docx
from docxtpl import DocxTemplate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
from docx_text import texts  # noqa: E402

KINDS = {
    "01-": "review-report.docx",
    "02-": "conclusion-notice.docx",
    "03-": "assignment-letter.docx",
}
WARMUP = 3


def fill(template_bytes, context):
    tpl = DocxTemplate(io.BytesIO(template_bytes))
    tpl.render(context, autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def paragraphs(data):
    document = docx.Document(io.BytesIO(data))
    return [" ".join(t.split()) for t in texts(document.element.body, document)]


def main(templates_dir, contexts_dir, vanban_dir, runs):
    templates = {}
    for name in KINDS.values():
        with open(os.path.join(templates_dir, "docx", name), "rb") as f:
            templates[name] = f.read()
    samples = []
    for file in sorted(os.listdir(contexts_dir)):
        if not file.endswith(".json"):
            continue
        stem = file[: -len(".json")]
        name = next(v for k, v in KINDS.items() if stem.startswith(k))
        with open(os.path.join(contexts_dir, file), encoding="utf-8") as f:
            context = json.load(f)
        data = fill(templates[name], context)
        with open(os.path.join(vanban_dir, stem + ".docx"), "rb") as f:
            ours = f.read()
        mine, theirs = paragraphs(data), paragraphs(ours)
        # Empty paragraphs differ (docxtpl keeps some {%p %} paragraphs' neighbours); words must not.
        if " ".join(mine).split() != " ".join(theirs).split():
            print(f"{stem}: docxtpl and vanban disagree", file=sys.stderr)
            for a, b in zip(mine, theirs):
                if a != b:
                    print(f"  docxtpl: {a!r}\n  vanban:  {b!r}", file=sys.stderr)
                    break
            return 1
        for _ in range(WARMUP):
            fill(templates[name], context)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fill(templates[name], context)
            times.append(time.perf_counter() - start)
        samples.append((stem, statistics.median(times), times))
    print(f"docxtpl {__import__('docxtpl').__version__}, {runs} runs per document, one process")
    for stem, med, _ in samples:
        print(f"{stem:<28} {med * 1e3:8.3f} ms")
    every = [t for _, _, times in samples for t in times]
    print(f"{'all documents':<28} {statistics.median(every) * 1e3:8.3f} ms")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 30))
