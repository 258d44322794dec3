"""The HTTP handler: reads a request, picks its fault, routes it (control
endpoints, the simulator's own routes, the API with auth, 404/405/501) and
writes the answer; every request but the control ones is counted and logged."""

import base64
import binascii
import email.utils
import http.server
import socket
import struct
import sys
import time
import traceback
import urllib.parse
import uuid

from .errors import REASONS, ApiError, error_body
from .faults import answer_fault, pick_fault, request_scopes, send_shaped
from .routes import HANDLERS
from .routes.control import control
from .routes.files import FileRoutes
from .routes.parts import PartRoutes
from .routing import CDN_ROUTE, FILE_ROUTE, classify
from .util import JSON_CT, VERSION, jdump, strip_v1

# The operations whose `security` is empty in the API document: the API
# takes `Authorization: public-auth-token` on them from callers without
# credentials.
PUBLIC_OPERATIONS = {
    ("GET", "/assets/public"), ("GET", "/assets/public/{assetId}"),
    ("GET", "/models/public"), ("GET", "/models/public/{modelId}"),
    ("GET", "/oscu/prices"), ("GET", "/models/{modelId}/scores/training-dataset"),
}


class Handler(FileRoutes, PartRoutes, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "scenario-sim/" + VERSION
    sys_version = ""
    timeout = 300
    sim = None  # set in main()

    # every method goes through dispatch
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def setup(self):
        super().setup()
        self.conn_id = self.sim.on_connect()
        self.conn_epoch = None  # stats epoch of the last counted request on it

    def log_message(self, fmt, *args):  # BaseHTTPRequestHandler's own logging
        self.sim.log("%s %s" % (self.address_string(), fmt % args))

    # ---- low level I/O
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        return self.rfile.read(n) if n > 0 else b""

    def head_bytes(self, status, headers, length):
        reason = REASONS.get(status)
        if reason is None:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = "Status"
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Date: %s" % email.utils.formatdate(usegmt=True),
                 "Server: %s" % self.server_version,
                 "x-request-id: %s" % self.request_id]
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        lines.append("Content-Length: %d" % length)
        lines.append("Connection: %s" % ("close" if self.close_connection else "keep-alive"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def abort(self):
        """Close the connection with an RST (SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def send(self, status, body=b"", ctype=JSON_CT, headers=(), fault=None):
        """Write a full response, applying the response-shaping faults."""
        self.status_sent = status
        headers = list(headers)
        if ctype:
            headers.insert(0, ("Content-Type", ctype))
        if self.command == "HEAD":
            self.wfile.write(self.head_bytes(status, headers, len(body)))
            return
        if fault is not None:
            return send_shaped(self, status, headers, body, fault)
        self.wfile.write(self.head_bytes(status, headers, len(body)) + body)

    def send_json(self, status, obj, headers=(), fault=None):
        self.send(status, jdump(obj), JSON_CT, headers, fault)

    def send_error_json(self, err, fault=None):
        headers = list(err.headers.items())
        self.send_json(err.status, error_body(err.status, err.message, self.request_id,
                                              err.code, err.infos, err.details),
                       headers, fault)

    # ---- dispatch
    def dispatch(self):
        t0 = time.time()
        self.request_id = str(uuid.uuid4())
        self.status_sent = None
        split = urllib.parse.urlsplit(self.path)
        raw_path = split.path or "/"
        qs = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in qs.items()}
        path = strip_v1(raw_path)
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path == "/_sim" or path.startswith("/_sim/"):
            try:
                control(self, self.command, path, body)
            except ApiError as e:
                self.send_error_json(e)
            return
        self.counted(t0, split, path, query, body)

    def counted(self, t0, split, path, query, body):
        """A request other than the control ones: its fault, its entry in
        the request log and stats, its answer (500 when a handler breaks)."""
        sim = self.sim
        method, raw_path = self.command, split.path or "/"
        tmpl, params, methods, api = classify(path)
        scopes = request_scopes(method, tmpl)
        fault = None
        fault_err = None
        try:
            fault = pick_fault(sim, self.headers.get("X-Sim-Fault"), method, path, scopes, api)
        except ValueError as e:
            fault_err = ApiError(400, "Invalid X-Sim-Fault header: %s" % e,
                                 infos={"field": "X-Sim-Fault"})
        entry = self.log_entry(t0, method, raw_path, tmpl or path, split.query, body, fault)
        sim.begin(entry, self)
        try:
            self.serve(method, path, tmpl, methods, params, query, body, fault, fault_err, api)
        except (ConnectionError, BrokenPipeError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - answer 500 rather than drop
            self.internal_error(method, raw_path, e)
        finally:
            entry["status"] = self.status_sent
            entry["duration_ms"] = round((time.time() - t0) * 1000, 3)
            sim.end()
            sim.log("%s %s -> %s%s %.1fms" % (
                method, self.path, self.status_sent if self.status_sent is not None else "RESET",
                " [fault %s]" % fault.spec if fault else "", entry["duration_ms"]))

    def log_entry(self, t0, method, raw_path, route_path, query_string, body, fault):
        """The request's entry in the request log of GET /_sim/stats."""
        return {
            "id": self.request_id, "method": method, "path": raw_path,
            "route": "%s %s" % (method, route_path), "query": query_string,
            "time": round(t0, 6),
            "auth": bool(self.headers.get("Authorization")),
            "status": None, "fault": fault.spec if fault else None,
            "body_size": len(body), "duration_ms": None,
            "user_agent": self.headers.get("User-Agent"),
            "host": self.headers.get("Host"), "conn": self.conn_id,
        }

    def internal_error(self, method, raw_path, e):
        sim = self.sim
        sim.log("internal error on %s %s: %r" % (method, raw_path, e))
        if not sim.quiet:
            traceback.print_exc(file=sys.stderr)
        try:
            self.send_error_json(ApiError(500, "Simulator internal error: %r" % e))
        except OSError:
            self.close_connection = True

    def serve(self, method, path, tmpl, methods, params, query, body, fault, fault_err, api):
        if fault_err is not None:
            return self.send_error_json(fault_err)
        if fault is not None and answer_fault(self, fault):
            return
        try:
            if not api:
                return self.serve_own(method, path, tmpl, methods, params, query, body, fault)
            return self.serve_api(method, path, tmpl, methods, params, query, body, fault)
        except ApiError as e:
            return self.send_error_json(e, fault)

    def serve_own(self, method, path, tmpl, methods, params, query, body, fault):
        """The simulator's own routes: downloads and part uploads (no auth)."""
        if method not in methods:
            raise ApiError(405, "Method %s not allowed on %s" % (method, path),
                           headers={"Allow": ", ".join(sorted(methods))})
        if tmpl == FILE_ROUTE and fault is not None and (
                fault.get("redirect") or fault.get("redirect_other_host")):
            return self.redirect_file(params["file"], fault)
        if tmpl in (FILE_ROUTE, CDN_ROUTE):
            return self.serve_file(params["file"], fault)
        if fault is not None and fault.get("expired"):
            return self.expire_part(params, fault)
        return self.put_part(params, query, body, fault)

    def serve_api(self, method, path, tmpl, methods, params, query, body, fault):
        """An API path: 404, then auth (401), 405, 501, then its handler."""
        if tmpl is None:
            raise ApiError(404, "No route for %s %s" % (method, path))
        self.check_auth(public=(method, tmpl) in PUBLIC_OPERATIONS)
        if method not in methods:
            raise ApiError(405, "Method %s not allowed on %s" % (method, tmpl),
                           headers={"Allow": ", ".join(sorted(methods))})
        handler = HANDLERS.get((method, tmpl))
        if handler is None:
            raise ApiError(501, "%s %s is not implemented by the simulator" % (method, tmpl))
        status, obj = handler(self, params, query, body, fault)
        if fault is not None and fault.get("status") is not None:
            status = fault.get("status")  # status=2xx/3xx: normal body, forced status
        return self.send_json(status, obj, fault=fault)

    def check_auth(self, public=False):
        sim = self.sim
        h = (self.headers.get("Authorization") or "").strip()
        ok = False
        if public and h == "public-auth-token":
            ok = True
        elif h[:6].lower() == "basic ":
            try:
                dec = base64.b64decode(h[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                dec = None
            ok = dec is not None and dec == "%s:%s" % (sim.api_key, sim.api_secret)
        elif h[:7].lower() == "bearer ":
            ok = bool(sim.token) and h[7:].strip() == sim.token
        if not ok:
            msg = ("Missing Authorization header" if not h else
                   "Invalid credentials in Authorization header")
            raise ApiError(401, msg, code="UNAUTHORIZED")
