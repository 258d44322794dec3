"""A tiny HTTP server for spec/json_roundtrip_spec.lua: answers every request
with one status and one body, given as arguments, byte for byte.

usage: json_server.py STATUS BODY   (prints "LISTENING <port> <pid>")
"""
import http.server
import sys

import serve


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = self.server.body
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", "req_json_server")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


def main():
    srv = serve.make(Handler)
    srv.status = int(sys.argv[1])
    srv.body = sys.argv[2].encode()
    serve.run(srv)


if __name__ == "__main__":
    main()
