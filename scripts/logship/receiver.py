#!/usr/bin/env python3
"""receiver.py OUT PORT [STATIC_DIR]: an HTTP receiver for log shipping.

JSON Lines POSTs (application/x-ndjson) are appended to OUT, fsynced
before the 200. Undo journal POSTs (application/vnd.unbrick.undo-journal)
are written to OUT.journals/<X-Unbrick-Journal> (a plain name: no '/',
no '..') after the body's SHA-256 is checked against X-Unbrick-SHA256
(400 if it differs), fsynced and renamed into place before the 200.
STATIC_DIR, when given, is served by GET (config and key downloads).
Env: RECEIVER_BIND (default 127.0.0.1), RECEIVER_TLS_CERT and
RECEIVER_TLS_KEY (PEM files: serve HTTPS). Stopped with SIGTERM."""
import functools, hashlib, http.server, os, socket, ssl, sys

out, port = sys.argv[1], int(sys.argv[2])
static = sys.argv[3] if len(sys.argv) > 3 else None
MAX_RECORDS = 64 << 20   # one JSON Lines batch (unbrick sends at most ~1 MiB)
MAX_JOURNAL = 256 << 20  # logship.MaxJournalSize
JOURNAL = "application/vnd.unbrick.undo-journal"


class H(http.server.SimpleHTTPRequestHandler):
    def answer(self, code, msg=""):
        body = (msg + "\n").encode() if msg else b""
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        ctype = self.headers.get("Content-Type")
        limit = MAX_JOURNAL if ctype == JOURNAL else MAX_RECORDS
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self.answer(400, "bad Content-Length")
        if n < 0 or n > limit:
            self.close_connection = True
            return self.answer(413, f"at most {limit} bytes")
        body = self.rfile.read(n)
        if len(body) != n:
            return self.answer(400, "body cut short")
        if ctype == JOURNAL:
            return self.journal(body)
        if ctype != "application/x-ndjson":
            return self.answer(415, "application/x-ndjson or " + JOURNAL)
        with open(out, "ab") as f:
            f.write(body); f.flush(); os.fsync(f.fileno())
        self.answer(200)

    def journal(self, body):
        name = self.headers.get("X-Unbrick-Journal", "")
        if not name or "/" in name or "\\" in name or ".." in name or "\0" in name or name.startswith("."):
            return self.answer(400, "X-Unbrick-Journal must be a plain file name")
        if hashlib.sha256(body).hexdigest() != self.headers.get("X-Unbrick-SHA256", "").lower():
            return self.answer(400, "SHA-256 does not match X-Unbrick-SHA256")
        d = out + ".journals"
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(body); f.flush(); os.fsync(f.fileno())
        os.replace(tmp, os.path.join(d, name))
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.answer(200)

    def do_GET(self):
        if static is None:
            return self.answer(404)
        super().do_GET()

    def do_HEAD(self):
        if static is None:
            return self.answer(404)
        super().do_HEAD()

    def list_directory(self, path):
        self.send_error(404)  # files only, no listings

    def log_message(self, *a):
        pass


bind = os.environ.get("RECEIVER_BIND", "127.0.0.1")


class Server(http.server.HTTPServer):
    allow_reuse_address = True
    address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET


httpd = Server((bind, port), functools.partial(H, directory=static or os.getcwd()))
cert, key = os.environ.get("RECEIVER_TLS_CERT"), os.environ.get("RECEIVER_TLS_KEY")
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key or None)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
