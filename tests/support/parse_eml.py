#!/usr/bin/env python3
"""Parses .eml files with Python's `email` package and prints, as a JSON list, what a mail client
would show: subject, from, to, Message-ID, the plain-text body, and for each attachment its file
name (RFC 2231 decoded), the Content-Type `name` parameter, the content type, size and sha256.

  parse_eml.py FILE.eml ...
"""

import email
import hashlib
import json
import sys
from email import policy
from email.header import decode_header, make_header


def rfc2047(message, name):
    """A header decoded strictly by RFC 2047. policy.default's address parser puts a space
    between adjacent encoded-words of a display name (where RFC 2047 says the whitespace between
    them is ignored), so "Đầm Hà", folded as two words, would come back as "Đầm  Hà"."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(make_header(decode_header(value)))
    return None


def describe(path):
    with open(path, "rb") as f:
        message = email.message_from_bytes(f.read(), policy=policy.default)
    out = {
        "subject": str(message["subject"]),
        "from": rfc2047(message, "from"),
        "to": rfc2047(message, "to"),
        "message_id": str(message["message-id"]),
        "date": str(message["date"]),
        "body": None,
        "attachments": [],
        "defects": [repr(d) for part in message.walk() for d in part.defects],
    }
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            data = part.get_payload(decode=True)
            out["attachments"].append(
                {
                    "filename": part.get_filename(),
                    "name": part.get_param("name", header="content-type"),
                    "content_type": part.get_content_type(),
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
        elif part.get_content_type() == "text/plain" and out["body"] is None:
            out["body"] = part.get_content()
    return out


if __name__ == "__main__":
    print(json.dumps([describe(p) for p in sys.argv[1:]], ensure_ascii=False))
