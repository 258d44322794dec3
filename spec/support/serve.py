"""How every spec server starts: a threading HTTP server on a free port of
127.0.0.1, announced to the spec that started it as "LISTENING <port>...
<pid>" on stdout, serving until SIGTERM, which ends the process at once.

    srv = serve.make(Handler)          # or serve.make(Handler, MyServerClass)
    serve.run(srv)                     # serve.run(srv, other): two ports
"""
import http.server
import os
import signal
import threading


def make(handler, server_class=http.server.ThreadingHTTPServer):
    srv = server_class(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    return srv


def run(srv, *others):
    """Prints the ports (srv's first; the others are served on threads of
    their own) and the pid, then serves srv until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    for other in others:
        threading.Thread(target=other.serve_forever, daemon=True).start()
    ports = " ".join(str(s.server_address[1]) for s in (srv,) + others)
    print("LISTENING %s %d" % (ports, os.getpid()), flush=True)
    srv.serve_forever()
