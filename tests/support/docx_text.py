"""Prints the text of .docx files as python-docx reads them, for vanban's tests.

Usage: python3 docx_text.py FILE.docx... > out.json
Output: {"FILE.docx": ["paragraph text", ...], ...}: the body's paragraphs and the paragraphs of
its table cells (row by row, cell by cell, nested tables included), in document order.
Opening a file that python-docx cannot parse fails the whole run (exit 1), naming the file.
"""

import json
import sys

import docx
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph


def texts(element, parent):
    for child in element.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent).text
        elif child.tag == qn("w:tbl"):
            for row in child.iterchildren(qn("w:tr")):
                for cell in row.iterchildren(qn("w:tc")):
                    yield from texts(cell, parent)
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from texts(content, parent)


def main(paths):
    out = {}
    for path in paths:
        try:
            document = docx.Document(path)
        except Exception as e:  # report which file python-docx refused
            print(f"python-docx cannot open {path}: {e}", file=sys.stderr)
            return 1
        # Touch the section too: python-docx parses page size and margins lazily.
        section = document.sections[0]
        if section.page_width is None or section.left_margin is None:
            print(f"{path}: no page size or margins", file=sys.stderr)
            return 1
        out[path] = list(texts(document.element.body, document))
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
