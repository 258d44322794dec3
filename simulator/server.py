"""The server: command line, the state, the listening socket, the LISTENING
line, and the exit on SIGTERM/SIGINT."""

import argparse
import http.server
import os
import signal
import socket
import socketserver
import sys
import threading

from .handler import Handler
from .state import Sim


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or Handler.sim.quiet:
            return
        super().handle_error(request, client_address)


def parse_args(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description="Local Scenario API simulator")
    ap.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--job-duration", type=float, default=2.0,
                    help="seconds from pending to success (default 2.0)")
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--api-secret", default="test-secret")
    ap.add_argument("--token", default="test-token", help="accepted Bearer token ('' disables)")
    ap.add_argument("--faults", default=None,
                    help="run-wide faults, e.g. 'status=503,rate=0.2;path=/jobs/*,delay_headers=1'")
    ap.add_argument("--quiet", action="store_true", help="no logs on stderr")
    ap.add_argument("--seed-assets", type=int, default=0, metavar="N",
                    help="create N assets (small deterministic PNGs) before listening")
    args = ap.parse_args(argv)
    if args.job_duration < 0:
        ap.error("--job-duration must be >= 0")
    if not 0 <= args.seed_assets <= 100000:
        ap.error("--seed-assets must be between 0 and 100000")
    return ap, args


def main(argv=None, prog=None):
    ap, args = parse_args(argv, prog)
    try:
        sim = Sim(args)
    except ValueError as e:
        ap.error("--faults: %s" % e)
    sim.seed(assets=args.seed_assets)

    Handler.sim = sim
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        sys.stderr.write("scenario-sim: cannot listen on %s:%d: %s\n" % (args.host, args.port, e))
        return 1
    sim.port = server.server_address[1]
    serve_until_signal(sim, server)


def serve_until_signal(sim, server):
    """Serves on a daemon thread, prints `LISTENING <port> <pid>`, and exits
    the process at once (status 0) on SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="scenario-sim", daemon=True)
    t.start()
    sys.stdout.write("LISTENING %d %d\n" % (sim.port, os.getpid()))
    sys.stdout.flush()
    sim.log("listening on %s (job duration %.2fs)" % (sim.base_url(), sim.job_duration))
    while not stop.wait(3600):
        pass
    sim.log("stopping")
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(0)
