"""A tiny HTTPS server for the TLS tests: answers every GET with a JSON body.

usage: https_server.py CERT KEY   (prints "LISTENING <port> <pid>")
"""
import http.server
import json
import ssl
import sys

import serve


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = serve.make(Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    serve.run(srv)


if __name__ == "__main__":
    main()
