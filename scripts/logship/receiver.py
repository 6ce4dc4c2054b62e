#!/usr/bin/env python3
"""A JSON Lines receiver for the log shipping test: every POST body is
appended to OUT (fsynced) before the 200 answer; the port is taken from
argv. Stopped with SIGTERM, restarted on the same port."""
import http.server, os, sys

out, port = sys.argv[1], int(sys.argv[2])

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.headers.get("Content-Type") != "application/x-ndjson":
            self.send_response(415); self.end_headers(); return
        with open(out, "ab") as f:
            f.write(body); f.flush(); os.fsync(f.fileno())
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass

http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
