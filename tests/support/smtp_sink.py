#!/usr/bin/env python3
"""SMTP sink for vanban's delivery tests: an aiosmtpd server that stores every message it accepts.

Each accepted message is written to DIR/NNNNN.eml (the bytes exactly as received, after
dot-unstuffing) with its envelope in DIR/NNNNN.json, both BEFORE the 250 reply, so a test can
read them as soon as the client returns.  Prints "READY <port>" once listening (port 0 picks a
free port, which avoids the race of guessing one).

  smtp_sink.py --dir DIR [--host 127.0.0.1] [--port 0]
               [--starttls CERT KEY | --tls CERT KEY] [--auth USER:PASS]
               [--fail-first N [--fail-code 451] [--fail-stage data|rcpt]]
               [--reject ADDRESS ... [--reject-code 550]] [--stall-data N [--stall-seconds S]]
               [--exit-on-stdin-eof]

--starttls requires STARTTLS before MAIL; --tls is implicit TLS (port-465 style).
--auth requires AUTH (PLAIN or LOGIN) after TLS.  --fail-first answers the first N DATA (or
RCPT) commands with a temporary error and then accepts.  --reject refuses RCPT TO that address
permanently.  --stall-data N stores the Nth accepted message, creates DIR/stalled, then holds
the 250 reply for --stall-seconds (default 30): the client is between "sending" and "sent" for
that long, so a test can kill it there.  --exit-on-stdin-eof stops the server when stdin closes, so a test process that
dies cannot leave the sink running.
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd itself touches its deprecated Session.login_data after a successful AUTH.
warnings.filterwarnings("ignore", message="Session.login_data")


class Sink:
    def __init__(self, directory, fail_first, fail_code, fail_stage, rejects, reject_code,
                 stall_at=0, stall_seconds=30.0):
        self.directory = directory
        self.fail_left = fail_first
        self.fail_code = fail_code
        self.fail_stage = fail_stage
        self.rejects = {address.lower() for address in rejects}
        self.reject_code = reject_code
        self.count = 0
        self.failed = 0
        self.stall_at = stall_at
        self.stall_seconds = stall_seconds

    def _temporary_failure(self):
        if self.fail_left > 0:
            self.fail_left -= 1
            self.failed += 1
            return f"{self.fail_code} 4.3.0 Temporary failure {self.failed}, try again later"
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejects:
            return f"{self.reject_code} 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.fail_stage == "rcpt":
            reply = self._temporary_failure()
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_stage == "data":
            reply = self._temporary_failure()
            if reply:
                return reply
        self.count += 1
        stem = os.path.join(self.directory, f"{self.count:05d}")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.authenticated,
        }
        # Temp file + rename: a reader never sees half a message.
        for suffix, data in ((".json", json.dumps(meta).encode()), (".eml", envelope.original_content)):
            tmp = stem + suffix + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, stem + suffix)
        if self.count == self.stall_at:
            with open(os.path.join(self.directory, "stalled"), "w") as f:
                f.write(f"{self.count:05d}\n")
            await asyncio.sleep(self.stall_seconds)
        return f"250 2.0.0 OK queued as {self.count:05d}"


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode("utf-8")
            and auth_data.password == password.encode("utf-8")
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


def server_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-code", type=int, default=451)
    parser.add_argument("--fail-stage", choices=("data", "rcpt"), default="data")
    parser.add_argument("--reject", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--reject-code", type=int, default=550)
    parser.add_argument("--stall-data", type=int, default=0, metavar="N")
    parser.add_argument("--stall-seconds", type=float, default=30.0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, args.fail_first, args.fail_code, args.fail_stage, args.reject, args.reject_code,
                   args.stall_data, args.stall_seconds)

    smtp_kwargs = {"hostname": "sink.test", "ident": "vanban test sink"}
    listen_ssl = None
    if args.starttls:
        smtp_kwargs.update(tls_context=server_context(*args.starttls), require_starttls=True)
    if args.tls:
        listen_ssl = server_context(*args.tls)
    if args.auth:
        user, _, password = args.auth.partition(":")
        smtp_kwargs.update(
            authenticator=make_authenticator(user, password),
            auth_required=True,
            auth_require_tls=True,
        )

    async def serve():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()

        def request_stop(*_):
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, request_stop)
        if args.exit_on_stdin_eof:
            fd = sys.stdin.fileno()

            def on_stdin():
                if not os.read(fd, 4096):
                    loop.remove_reader(fd)
                    request_stop()

            loop.add_reader(fd, on_stdin)

        server = await loop.create_server(
            lambda: SMTP(handler, **smtp_kwargs), host=args.host, port=args.port, ssl=listen_ssl
        )
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await stop
        server.close()
        await server.wait_closed()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
