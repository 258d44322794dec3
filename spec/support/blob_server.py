"""A byte server for the I/O budget tests: GET /blob/<size>/<seed> answers
<size> bytes, byte i being (i * 7 + seed) % 251, written in 64 KiB pieces.

usage: blob_server.py   (prints "LISTENING <port> <pid>")
"""
import http.server

import serve

PIECE = 65536


def blob_piece(seed, start, n):
    return bytes(((i * 7 + seed) % 251) for i in range(start, start + n))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "blob":
            self.send_error(404)
            return
        size, seed = int(parts[1]), int(parts[2])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        # the pattern repeats every 251 bytes: one period, sliced
        period = blob_piece(seed, 0, 251 + PIECE)
        pos = 0
        try:
            while pos < size:
                n = min(PIECE, size - pos)
                off = pos % 251
                self.wfile.write(period[off:off + n])
                pos += n
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled: the tests do that on purpose

    def log_message(self, *args):
        pass


def main():
    serve.run(serve.make(Handler))


if __name__ == "__main__":
    main()
