"""A server that remembers what it was asked, for spec/start_budget_spec.lua:
every request is answered 200 with its own path as the body, and its path is
kept; GET /seen answers the paths asked so far (not /seen itself), one a line,
in the order they arrived. GET /fail-once/<name> answers 503 the first time.

usage: seen_server.py   (prints "LISTENING <port> <pid>")
"""
import http.server
import threading

import serve


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        srv = self.server
        status, body = 200, self.path.encode()
        with srv.lock:
            if self.path == "/seen":
                body = "".join(p + "\n" for p in srv.seen).encode()
            else:
                srv.seen.append(self.path)
                if self.path.startswith("/fail-once/") and self.path not in srv.failed:
                    srv.failed.add(self.path)
                    status = 503
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client gone mid-request: the tests close states on purpose


def main():
    srv = serve.make(Handler, Server)
    srv.lock = threading.Lock()
    srv.seen = []
    srv.failed = set()
    serve.run(srv)


if __name__ == "__main__":
    main()
