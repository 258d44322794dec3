"""A hostile HTTP server for spec/hostile_spec.lua: every route misbehaves in
one way a broken or malicious server (or something in between) could.
Python standard library only; binds 127.0.0.1 on two ephemeral ports (the
second one is "another host" for redirects: same address, other port, which
is another origin for libcurl and for the client).

usage: hostile_server.py   (prints "LISTENING <port> <other_port> <pid>")

Routes (GET; any query string is ignored):
  /endless-chunked     200 application/json, chunked, 64 KiB chunks forever
  /huge-length         200, Content-Length: 2000000000, zeros until then
  /gzip-bomb           200 application/json, Content-Encoding: gzip, chunked:
                       a deflate stream of 1 GiB of zeros made on the fly
                       (about 1 MB compressed)
  /endless-error       500 application/json, chunked forever
  /big-header          200 with one 1 MB header line
  /many-headers        200 with 20,000 small headers
  /repeated-headers    200 with 5,000 X-Rep headers (v0 .. v4999, names in
                       mixed case) and one X-One
  /slow-headers        a status line, then one byte of header per second
  /slow-body           200, Content-Length: 1000, one byte per second
  /redirect-loop       302 to itself, forever
  /redirect-file       302 to file:///etc/passwd
  /redirect-other      302 to http://127.0.0.1:<other_port>/echo-auth
  /echo-auth           200 application/octet-stream: the Authorization header
                       it received (empty when none), on either port
  /echo-auth-error     401 JSON whose message and nested fields hold the
                       Authorization header it received
  /not-json            200 text/html
  /bad-utf8            200 application/json with invalid UTF-8 in a string
  /assets              200 application/json of 1 MiB (a well-formed but large
                       page, for the per-call and per-client caps)
"""
import http.server
import json
import time
import zlib

import serve

ZEROS = bytes(1 << 20)  # 1 MiB
CHUNK = b"7" * 65536


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    other_port = 0

    def log_message(self, *args):
        pass

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def head(self, status, headers):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()

    def simple(self, status, ctype, body, extra=()):
        self.head(status, [("Content-Type", ctype),
                           ("Content-Length", str(len(body)))] + list(extra))
        self.wfile.write(body)

    def do_GET(self):
        route = self.path.split("?", 1)[0].strip("/")
        fn = getattr(self, "r_" + route.replace("-", "_"), None)
        if fn is None:
            self.simple(404, "application/json", b'{"message":"no such route"}')
            return
        try:
            fn()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the tests expect

    # ---- endless or oversized bodies ----

    def r_endless_chunked(self):
        self.head(200, [("Content-Type", "application/json"),
                        ("Transfer-Encoding", "chunked")])
        self.chunk(b"[")
        while True:
            self.chunk(CHUNK)

    def r_endless_error(self):
        self.head(500, [("Content-Type", "application/json"),
                        ("Transfer-Encoding", "chunked")])
        while True:
            self.chunk(CHUNK)

    def r_huge_length(self):
        total = 2000000000
        self.head(200, [("Content-Type", "application/octet-stream"),
                        ("Content-Length", str(total))])
        sent = 0
        while sent < total:
            n = min(len(ZEROS), total - sent)
            self.wfile.write(ZEROS[:n])
            sent += n

    def r_gzip_bomb(self):
        self.head(200, [("Content-Type", "application/json"),
                        ("Content-Encoding", "gzip"),
                        ("Transfer-Encoding", "chunked")])
        z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
        for _ in range(1024):  # 1 GiB of zeros
            out = z.compress(ZEROS)
            if out:
                self.chunk(out)
        self.chunk(z.flush())
        self.wfile.write(b"0\r\n\r\n")

    # ---- headers ----

    def r_big_header(self):
        self.simple(200, "application/json", b"{}", [("X-Big", "a" * (1 << 20))])

    def r_many_headers(self):
        self.simple(200, "application/json", b"{}",
                    [("X-H-%05d" % i, "v") for i in range(20000)])

    def r_repeated_headers(self):
        reps = [("X-Rep" if i % 2 else "x-REP", "v%d" % i) for i in range(5000)]
        self.simple(200, "application/json", b"{}", reps + [("X-One", "1")])

    # ---- slowloris ----

    def r_slow_headers(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self.wfile.flush()
        while True:
            self.wfile.write(b"X")
            self.wfile.flush()
            time.sleep(1)

    def r_slow_body(self):
        self.head(200, [("Content-Type", "application/json"),
                        ("Content-Length", "1000")])
        self.wfile.flush()
        for _ in range(1000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(1)

    # ---- redirects ----

    def redirect(self, location):
        self.simple(302, "text/plain", b"moved", [("Location", location)])

    def r_redirect_loop(self):
        self.redirect("/redirect-loop")

    def r_redirect_file(self):
        self.redirect("file:///etc/passwd")

    def r_redirect_other(self):
        self.redirect("http://127.0.0.1:%d/echo-auth" % self.other_port)

    # ---- bodies that are wrong in content ----

    def r_echo_auth(self):
        auth = self.headers.get("Authorization") or ""
        self.simple(200, "application/octet-stream", auth.encode("latin-1"))

    def r_echo_auth_error(self):
        auth = self.headers.get("Authorization") or ""
        body = {"message": "bad credentials: " + auth,
                "details": [{"header": auth, "hint": "you sent " + auth}],
                auth: "as a key"}
        self.simple(401, "application/json", json.dumps(body).encode())

    def r_not_json(self):
        self.simple(200, "text/html", b"<html><body>Hello</body></html>")

    def r_assets(self):
        item = b'{"id":"asset_%06d","pad":"' + b"p" * 1000 + b'"}'
        items = b",".join(item % i for i in range(1000))
        body = b'{"assets":[' + items + b'],"pad":"'
        body += b"q" * ((1 << 20) - len(body) - 2) + b'"}'
        self.simple(200, "application/json", body)

    def r_bad_utf8(self):
        self.simple(200, "application/json", b'{"name":"bad \xff\xfe \xed\xa0\x80 end"}')


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client hanging up on a hostile answer is the point


def main():
    main_srv, other = serve.make(Handler, Server), serve.make(Handler, Server)
    Handler.other_port = other.server_address[1]
    serve.run(main_srv, other)


if __name__ == "__main__":
    main()
