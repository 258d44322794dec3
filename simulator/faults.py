"""Fault injection: fault specs (`status=429,retry_after=1`), the queues of
POST /_sim/faults, which fault a request gets (header, queue, run-wide), and
the effects of a fault on the answer (see README.md, "Faults")."""

import collections
import email.utils
import fnmatch
import random
import time

from .errors import ApiError
from .routing import FILE_ROUTE, PART_ROUTE
from .util import strip_v1

FAULT_FLAGS = {"reset", "reset_body", "truncated", "invalid_json", "empty", "html",
               "redirect", "redirect_other_host", "expired"}
FAULT_FLOATS = {"delay_headers", "delay_body", "job_duration", "retry_after_date", "rate"}
FILTER_KEYS = {"method", "path", "rate"}
# A fault made only of the effects of one scope applies only to the requests of
# that scope (and is not used up by others):
#   job:    job-creating requests (POST /generate/*, PUT /workflows/{id}/run)
#   file:   downloads (GET /_files/*)
#   part:   part uploads (PUT /_uploads/*)
#   upload: POST /uploads and POST /uploads/{id}/action
SCOPED_KEYS = {
    "job": {"job_fail", "job_duration"},
    "file": {"redirect", "redirect_other_host"},
    "part": {"expired"},
    "upload": {"upload_fail"},
}
# The message of job_fail / upload_fail when the spec gives none.
DEFAULT_FAIL = {"job_fail": "Simulated job failure",
                "upload_fail": "Simulated validation failure: the file is corrupt"}

INVALID_JSON = b'{"status":"ok","job":{"jobId":"job_sim" <html>not json</html>,,'
HTML_502 = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
            b"<body><center><h1>502 Bad Gateway</h1></center><hr>"
            b"<center>scenario-sim</center></body></html>\n")


class Fault:
    """One parsed fault spec, e.g. `status=429,retry_after=1`."""

    def __init__(self, spec):
        self.spec = spec.strip()
        self.opts = {}
        if not self.spec:
            raise ValueError("empty fault spec")
        for tok in self.spec.split(","):
            tok = tok.strip()
            if tok:
                self.parse_token(tok)
        effects = set(self.opts) - FILTER_KEYS - {"message"}
        if not effects:
            raise ValueError("fault spec has no effect: %r" % self.spec)
        # A fault made only of one scope's effects applies to that scope only
        # (job_fail to job-creating requests, redirect to downloads, ...).
        self.scope = None
        for scope, keys in SCOPED_KEYS.items():
            if effects <= keys:
                self.scope = scope

    def parse_token(self, tok):
        """One `key[=value]` of the spec into opts (ValueError when bad)."""
        key, eq, val = tok.partition("=")
        key = key.strip().lower().replace("-", "_")
        val = val.strip()
        if key == "status":
            self.opts[key] = parse_status(val, tok)
        elif key == "retry_after":
            if not val:
                raise ValueError("retry_after needs a value")
            self.opts[key] = val
        elif key in FAULT_FLOATS:
            self.opts[key] = parse_seconds(key, val, tok)
        elif key in FAULT_FLAGS:
            if eq:
                raise ValueError("%s takes no value" % key)
            self.opts[key] = True
        elif key in DEFAULT_FAIL:
            self.opts[key] = val or DEFAULT_FAIL[key]
        elif key == "message":
            self.opts[key] = val
        elif key == "method":
            self.opts[key] = val.upper()
        elif key == "path":
            self.opts[key] = strip_v1(val) if val != "*" else "*"
        else:
            raise ValueError("unknown fault %r" % key)

    def get(self, key, default=None):
        return self.opts.get(key, default)

    def applies_to(self, scopes):
        return self.scope is None or self.scope in scopes

    def matches(self, method, path, scopes):
        if not self.applies_to(scopes):
            return False
        m = self.opts.get("method")
        if m and m not in ("*", method):
            return False
        p = self.opts.get("path")
        if p and not fnmatch.fnmatchcase(path, p):
            return False
        return True


def parse_status(val, tok):
    try:
        n = int(val)
    except ValueError:
        raise ValueError("status needs an integer: %r" % tok) from None
    if not 200 <= n <= 599:
        raise ValueError("status out of range: %r" % tok)
    return n


def parse_seconds(key, val, tok):
    try:
        n = float(val)
    except ValueError:
        raise ValueError("%s needs a number: %r" % (key, tok)) from None
    if n < 0:
        raise ValueError("%s must be >= 0" % key)
    return n


class FaultQueue:
    def __init__(self, method, path, faults):
        self.method = (method or "*").upper()
        self.path = strip_v1(path) if path and path != "*" else "*"
        self.faults = collections.deque(faults)

    def matches(self, method, path, scopes):
        if self.method not in ("*", method):
            return False
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        return bool(self.faults) and self.faults[0].applies_to(scopes)

    def to_json(self):
        return {"method": self.method, "path": self.path,
                "faults": [f.spec for f in self.faults]}


def parse_fault_list(spec):
    """`--faults`: entries separated by `;`."""
    return [Fault(s) for s in spec.split(";") if s.strip()]


# --------------------------------------------------------------------------
# which fault a request gets


def request_scopes(method, tmpl):
    """The fault scopes a request belongs to ({"job"}, {"file"}, ...)."""
    scopes = set()
    if (method == "POST" and tmpl and tmpl.startswith("/generate/")) or (
            method == "PUT" and tmpl == "/workflows/{workflowId}/run"):
        scopes.add("job")
    elif tmpl == FILE_ROUTE:
        scopes.add("file")
    elif tmpl == PART_ROUTE:
        scopes.add("part")
    elif method == "POST" and tmpl in ("/uploads", "/uploads/{uploadId}/action"):
        scopes.add("upload")
    return scopes


def pick_fault(sim, header, method, path, scopes, api):
    """Header fault, else next queued fault, else run-wide fault.
    scopes: the fault scopes this request belongs to ({"job"}, {"file"}, ...)."""
    if header:
        return Fault(header)  # may raise ValueError
    with sim.lock:
        for q in sim.queues:
            if q.matches(method, path, scopes):
                f = q.faults.popleft()
                sim.queues = [x for x in sim.queues if x.faults]
                return f
        for f in sim.run_faults:
            if not api and not f.get("path") and f.scope not in ("file", "part"):
                continue  # run-wide faults hit API paths unless scoped
            if f.matches(method, path, scopes):
                rate = f.get("rate")
                if rate is None or random.random() < rate:
                    return f
    return None


# --------------------------------------------------------------------------
# effects on the answer


def answer_fault(h, fault):
    """The effects that come before the route (delay_headers, then reset, an
    error status or the HTML page): True when the request is answered."""
    if fault.get("delay_headers"):
        time.sleep(fault.get("delay_headers"))
    if fault.get("reset"):
        h.abort()
        return True
    if fault.get("status") is not None and fault.get("status") >= 400:
        h.send_error_json(fault_error(fault), fault)
        return True
    if fault.get("html"):
        h.send(502, HTML_502, "text/html; charset=utf-8", fault=fault)
        return True
    return False


def fault_error(fault):
    """The error of a fault with status >= 400 (Retry-After, 429 details)."""
    st = fault.get("status")
    hdrs = {}
    if fault.get("retry_after") is not None:
        hdrs["Retry-After"] = fault.get("retry_after")
    if fault.get("retry_after_date") is not None:
        hdrs["Retry-After"] = email.utils.formatdate(
            time.time() + fault.get("retry_after_date") + 0.999, usegmt=True)
    details = None
    if st == 429:
        details = {"actionName": "api-request", "actionLimit": 100}
    msg = fault.get("message") or "Simulated fault: %s" % fault.spec
    return ApiError(st, msg, headers=hdrs, details=details)


def send_shaped(h, status, headers, body, fault):
    """Writes a response with the response-shaping effects of `fault`
    (invalid_json, empty, reset_body, truncated, delay_body)."""
    if fault.get("invalid_json"):
        body = INVALID_JSON
    if fault.get("empty"):
        status = 200
        h.status_sent = 200
        body = b""
    if fault.get("reset_body"):
        h.wfile.write(h.head_bytes(status, headers, len(body)) + body[: len(body) // 2])
        time.sleep(0.05)
        h.abort()
        return
    if fault.get("truncated"):
        h.close_connection = True
        h.wfile.write(h.head_bytes(status, headers, len(body) + max(16, len(body)))
                      + body)
        return
    if fault.get("delay_body") is not None:
        h.wfile.write(h.head_bytes(status, headers, len(body)))
        time.sleep(fault.get("delay_body"))
        h.wfile.write(body)
        return
    h.wfile.write(h.head_bytes(status, headers, len(body)) + body)
