#!/usr/bin/env python3
"""Local Scenario API simulator (Python 3.11 standard library only).

A stateful stand-in for https://api.cloud.scenario.com/v1 on 127.0.0.1, used by
the scenario-lua test suite, `make demo` and `make simulator`.

    python3 spec/simulator/scenario_sim.py [--port 0] [--host 127.0.0.1]
        [--job-duration 2.0] [--api-key test-key] [--api-secret test-secret]
        [--token test-token] [--faults SPEC] [--quiet]

As soon as it listens it prints exactly one line on stdout, `LISTENING <port>
<pid>`, and nothing else ever goes to stdout (logs go to stderr).  See
spec/simulator/README.md for the endpoints, fault specs and control endpoints.
"""

import argparse
import base64
import binascii
import collections
import email.utils
import fnmatch
import hashlib
import http.server
import json
import os
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib

VERSION = "0.1.0"
JSON_CT = "application/json; charset=utf-8"

# Every (path, methods) of the OpenAPI document, without the /v1 server prefix.
SPEC_ROUTES = [
    ("/assets", "GET POST DELETE"),
    ("/assets/download", "POST"),
    ("/assets/download/{jobId}", "GET"),
    ("/assets/get-bulk", "POST"),
    ("/assets/public", "GET"),
    ("/assets/public/{assetId}", "GET"),
    ("/assets/{assetId}", "GET PUT"),
    ("/assets/{assetId}/copy", "POST"),
    ("/assets/{assetId}/download", "POST"),
    ("/assets/{assetId}/lock", "PUT"),
    ("/assets/{assetId}/snapshots", "GET"),
    ("/assets/{assetId}/tags", "PUT"),
    ("/assets/{assetId}/unlock", "PUT"),
    ("/collections", "GET POST"),
    ("/collections/{collectionId}", "GET PUT DELETE"),
    ("/collections/{collectionId}/assets", "PUT DELETE"),
    ("/collections/{collectionId}/models", "PUT DELETE"),
    ("/generate/caption", "POST"),
    ("/generate/controlnet", "POST"),
    ("/generate/controlnet-img2img", "POST"),
    ("/generate/controlnet-inpaint", "POST"),
    ("/generate/controlnet-inpaint-ip-adapter", "POST"),
    ("/generate/controlnet-ip-adapter", "POST"),
    ("/generate/controlnet-texture", "POST"),
    ("/generate/custom/{modelId}", "POST"),
    ("/generate/describe-style", "POST"),
    ("/generate/detect", "POST"),
    ("/generate/embed", "POST"),
    ("/generate/generative-fill", "POST"),
    ("/generate/img2img", "POST"),
    ("/generate/img2img-ip-adapter", "POST"),
    ("/generate/img2img-texture", "POST"),
    ("/generate/inpaint", "POST"),
    ("/generate/inpaint-ip-adapter", "POST"),
    ("/generate/patch", "POST"),
    ("/generate/pixelate", "POST"),
    ("/generate/prompt", "POST"),
    ("/generate/prompt-editing", "POST"),
    ("/generate/reframe", "POST"),
    ("/generate/remove-background", "POST"),
    ("/generate/restyle", "POST"),
    ("/generate/segment", "POST"),
    ("/generate/skybox-base-360", "POST"),
    ("/generate/skybox-upscale-360", "POST"),
    ("/generate/texture", "POST"),
    ("/generate/translate", "POST"),
    ("/generate/txt2img", "POST"),
    ("/generate/txt2img-ip-adapter", "POST"),
    ("/generate/txt2img-texture", "POST"),
    ("/generate/upscale", "POST"),
    ("/generate/vectorize", "POST"),
    ("/jobs", "GET"),
    ("/jobs/{jobId}", "GET"),
    ("/jobs/{jobId}/action", "POST"),
    ("/models", "GET POST"),
    ("/models/get-bulk", "POST"),
    ("/models/public", "GET"),
    ("/models/public/{modelId}", "GET"),
    ("/models/{modelId}", "GET PUT DELETE"),
    ("/models/{modelId}/copy", "POST"),
    ("/models/{modelId}/description", "GET PUT"),
    ("/models/{modelId}/download", "POST"),
    ("/models/{modelId}/examples", "GET PUT"),
    ("/models/{modelId}/images", "DELETE"),
    ("/models/{modelId}/presets", "GET POST"),
    ("/models/{modelId}/presets/{presetId}", "PUT DELETE"),
    ("/models/{modelId}/scores/prompt", "GET"),
    ("/models/{modelId}/scores/training-dataset", "GET"),
    ("/models/{modelId}/tags", "PUT"),
    ("/models/{modelId}/train", "PUT"),
    ("/models/{modelId}/train/action", "POST"),
    ("/models/{modelId}/training-images", "POST"),
    ("/models/{modelId}/training-images/pairs", "PUT"),
    ("/models/{modelId}/training-images/{trainingImageId}", "PUT DELETE"),
    ("/models/{modelId}/transfer", "POST"),
    ("/oscu/prices", "GET"),
    ("/recommendations/models", "GET"),
    ("/search/assets", "POST"),
    ("/search/models", "POST"),
    ("/tags", "GET"),
    ("/uploads", "POST"),
    ("/uploads/{uploadId}", "GET"),
    ("/uploads/{uploadId}/action", "POST"),
    ("/usages", "GET"),
    ("/workflows", "GET POST"),
    ("/workflows/tags", "GET"),
    ("/workflows/{workflowId}", "GET PUT DELETE"),
    ("/workflows/{workflowId}/run", "PUT"),
    ("/workflows/{workflowId}/user-approval", "PUT"),
]

# Simulator-only routes (not in the spec, not under /v1, no auth).
FILE_ROUTE = "/_files/{file}"
PART_ROUTE = "/_uploads/{uploadId}/{partNumber}"

ERROR_CODES = {
    400: ("INVALID_PARAMETER", "Bad Request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    402: ("PAYMENT_REQUIRED", "Payment Required"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    405: ("METHOD_NOT_ALLOWED", "Method Not Allowed"),
    408: ("REQUEST_TIMEOUT", "Request Timeout"),
    409: ("CONFLICT", "Conflict"),
    413: ("PAYLOAD_TOO_LARGE", "Payload Too Large"),
    422: ("UNPROCESSABLE_ENTITY", "Unprocessable Entity"),
    429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
    501: ("NOT_IMPLEMENTED", "Not Implemented"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}

REASONS = {269: "Dry Run"}

# Job phases as fractions of the job's duration.
JOB_PHASES = (("pending", 0.0), ("queued", 0.10), ("in-progress", 0.25),
              ("finalizing", 0.85))
MAX_OUTPUTS = 8
IMAGE_SIDE = 128

ASPECT_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "3:4", "4:3", "4:5",
                 "5:4", "9:16", "9:21"]
SCHEDULERS = [
    "DDIMScheduler", "DDPMScheduler", "DEISMultistepScheduler",
    "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
    "EulerAncestralDiscreteScheduler", "EulerDiscreteScheduler",
    "HeunDiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
    "KDPM2DiscreteScheduler", "LCMScheduler", "LMSDiscreteScheduler",
    "PNDMScheduler", "TCDScheduler", "UniPCMultistepScheduler"]

# Request body of POST /generate/txt2img (PostTxt2imgInferences), from the spec.
# (type, extra): extra is an enum list, a (min, max) tuple, or None.
TXT2IMG_FIELDS = {
    "seed": ("string", None),
    "modelId": ("string", None),
    "modelEpoch": ("string", None),
    "hideResults": ("boolean", None),
    "aspectRatio": ("string", ASPECT_RATIOS),
    "negativePrompt": ("string", None),
    "scheduler": ("string", SCHEDULERS),
    "intermediateImages": ("boolean", None),
    "concepts": ("concepts", None),
    "guidance": ("number", (0, 20)),
    "numInferenceSteps": ("number", (1, 150)),
    "numSamples": ("integer", (1, 128)),
    "width": ("number", (64, 2048)),
    "negativePromptStrength": ("number", (0, 10)),
    "baseModelId": ("string", None),
    "prompt": ("string", None),
    "height": ("number", (64, 2048)),
}

UPLOAD_KINDS = ["3d", "asset", "audio", "avatar", "image", "model", "video"]
ASSET_KIND_OF_UPLOAD = {"3d": "3d", "asset": "image", "audio": "audio",
                        "avatar": "image", "image": "image", "video": "video"}


# --------------------------------------------------------------------------
# helpers

def iso(t):
    ms = int(round((t - int(t)) * 1000))
    if ms >= 1000:
        t, ms = int(t) + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03dZ" % ms


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:22]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_integer(v):
    return is_number(v) and float(v).is_integer()


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class ApiError(Exception):
    """An error answer: status, message and optional details."""

    def __init__(self, status, message, code=None, infos=None, headers=None,
                 details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.infos = infos or {}
        self.headers = headers or {}
        self.details = details


def error_body(status, message, request_id, code=None, infos=None, details=None):
    """The simulator's error body: both documented shapes plus the spec's
    InternalServerErrorResponse required fields (apiError, error, id, infos,
    createdAt, updatedAt)."""
    dcode, reason = ERROR_CODES.get(status, ("ERROR", "Error"))
    now = iso(time.time())
    body = {
        "status": "error",
        "statusCode": status,
        "code": code or dcode,
        "error": reason,
        "message": message,
        "apiError": code or dcode,
        "id": request_id,
        "requestId": request_id,
        "infos": infos or {},
        "createdAt": now,
        "updatedAt": now,
    }
    if details is not None:
        body["details"] = details
    return body


# --------------------------------------------------------------------------
# PNG generation (deterministic from seed, prompt and sample index)

def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_png(seed, prompt, index, width=IMAGE_SIDE, height=IMAGE_SIDE):
    """An RGB PNG whose pixels derive from sha256(seed, prompt, index)."""
    h = hashlib.sha256(("%s\x00%s\x00%d" % (seed, prompt, index)).encode("utf-8")).digest()
    c0, c1, c2 = h[0:3], h[3:6], h[6:9]
    cx, cy = h[9] * width // 256, h[10] * height // 256
    rad2 = (width // 8 + h[11] * width // 1024) ** 2
    stripe = max(2, width // (2 + h[12] % 6))
    wm = max(1, width - 1)
    hm = max(1, height - 1)
    # Horizontal gradient c0 -> c1, precomputed once per channel.
    grad = [[(c0[k] * (wm - x) + c1[k] * x) // wm for x in range(width)] for k in range(3)]
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        vy = y * 256 // hm  # 0..256 blend towards c2 going down
        iy = 256 - vy
        dy2 = (y - cy) * (y - cy)
        row = bytearray(width * 3)
        for x in range(width):
            r = (grad[0][x] * iy + c2[0] * vy) >> 8
            g = (grad[1][x] * iy + c2[1] * vy) >> 8
            b = (grad[2][x] * iy + c2[2] * vy) >> 8
            if (x - cx) * (x - cx) + dy2 < rad2:
                r, g, b = 255 - r, 255 - g, 255 - b
            elif ((x + y) // stripe) & 1:
                r, g, b = r * 3 // 4, g * 3 // 4, b * 3 // 4
            o = x * 3
            row[o] = r
            row[o + 1] = g
            row[o + 2] = b
        raw += row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _png_chunk(b"IEND", b""))


def output_size(body):
    """PNG dimensions (longest side IMAGE_SIDE) from width/height or aspectRatio."""
    w, h = body.get("width"), body.get("height")
    if is_number(w) and is_number(h) and w > 0 and h > 0:
        rw, rh = float(w), float(h)
    else:
        ar = body.get("aspectRatio")
        try:
            a, b = str(ar).split(":") if ar else ("1", "1")
            rw, rh = float(a), float(b)
        except ValueError:
            rw, rh = 1.0, 1.0
    if rw >= rh:
        return IMAGE_SIDE, max(8, int(round(IMAGE_SIDE * rh / rw)))
    return max(8, int(round(IMAGE_SIDE * rw / rh))), IMAGE_SIDE


def sniff_mime(data):
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


EXT_OF_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
               "image/webp": "webp"}


# --------------------------------------------------------------------------
# faults

FAULT_FLAGS = {"reset", "reset_body", "truncated", "invalid_json", "empty", "html"}
FAULT_FLOATS = {"delay_headers", "delay_body", "job_duration", "retry_after_date", "rate"}
JOB_KEYS = {"job_fail", "job_duration"}
FILTER_KEYS = {"method", "path", "rate"}


class Fault:
    """One parsed fault spec, e.g. `status=429,retry_after=1`."""

    def __init__(self, spec):
        self.spec = spec.strip()
        self.opts = {}
        if not self.spec:
            raise ValueError("empty fault spec")
        for tok in self.spec.split(","):
            tok = tok.strip()
            if not tok:
                continue
            key, eq, val = tok.partition("=")
            key = key.strip().lower().replace("-", "_")
            val = val.strip()
            if key == "status":
                try:
                    n = int(val)
                except ValueError:
                    raise ValueError("status needs an integer: %r" % tok) from None
                if not 200 <= n <= 599:
                    raise ValueError("status out of range: %r" % tok)
                self.opts[key] = n
            elif key == "retry_after":
                if not val:
                    raise ValueError("retry_after needs a value")
                self.opts[key] = val
            elif key in FAULT_FLOATS:
                try:
                    self.opts[key] = float(val)
                except ValueError:
                    raise ValueError("%s needs a number: %r" % (key, tok)) from None
                if self.opts[key] < 0:
                    raise ValueError("%s must be >= 0" % key)
            elif key in FAULT_FLAGS:
                if eq:
                    raise ValueError("%s takes no value" % key)
                self.opts[key] = True
            elif key == "job_fail":
                self.opts[key] = val or "Simulated job failure"
            elif key == "message":
                self.opts[key] = val
            elif key == "method":
                self.opts[key] = val.upper()
            elif key == "path":
                self.opts[key] = strip_v1(val) if val != "*" else "*"
            else:
                raise ValueError("unknown fault %r" % key)
        effects = set(self.opts) - FILTER_KEYS - {"message"}
        if not effects:
            raise ValueError("fault spec has no effect: %r" % self.spec)
        # A fault made only of job effects applies to job-creating requests only.
        self.job_only = effects <= JOB_KEYS

    def get(self, key, default=None):
        return self.opts.get(key, default)

    def matches(self, method, path, creates_job):
        if self.job_only and not creates_job:
            return False
        m = self.opts.get("method")
        if m and m not in ("*", method):
            return False
        p = self.opts.get("path")
        if p and not fnmatch.fnmatchcase(path, p):
            return False
        return True


def strip_v1(path):
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


class FaultQueue:
    def __init__(self, method, path, faults):
        self.method = (method or "*").upper()
        self.path = strip_v1(path) if path and path != "*" else "*"
        self.faults = collections.deque(faults)

    def matches(self, method, path, creates_job):
        if self.method not in ("*", method):
            return False
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        return bool(self.faults) and (creates_job or not self.faults[0].job_only)

    def to_json(self):
        return {"method": self.method, "path": self.path,
                "faults": [f.spec for f in self.faults]}


def parse_fault_list(spec):
    """`--faults`: entries separated by `;`."""
    return [Fault(s) for s in spec.split(";") if s.strip()]


# --------------------------------------------------------------------------
# routing

class Router:
    def __init__(self, routes):
        self.routes = []
        for path, methods in routes:
            segs = path.strip("/").split("/")
            self.routes.append((path, segs, set(methods.split())))

    def match(self, path):
        """Best matching template: literal segments beat parameters."""
        segs = path.strip("/").split("/")
        best = None
        for tmpl, tsegs, methods in self.routes:
            if len(tsegs) != len(segs):
                continue
            params, score, ok = {}, 0, True
            for t, s in zip(tsegs, segs):
                if t.startswith("{"):
                    if not s:
                        ok = False
                        break
                    params[t[1:-1]] = urllib.parse.unquote(s)
                elif t == s:
                    score += 1
                else:
                    ok = False
                    break
            if ok and (best is None or score > best[0]):
                best = (score, tmpl, params, methods)
        return None if best is None else best[1:]


ROUTER = Router(SPEC_ROUTES)


# --------------------------------------------------------------------------
# simulator state

class Sim:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.host = args.host
        self.port = 0
        self.api_key = args.api_key
        self.api_secret = args.api_secret
        self.token = args.token
        self.quiet = args.quiet
        self.job_duration = args.job_duration
        self.upload_duration = None  # None: half of job_duration
        self.min_part_size = 5 * 1024 * 1024
        self.run_faults = parse_fault_list(args.faults) if args.faults else []
        self.started = time.time()
        self.seq = 0
        self.jobs = collections.OrderedDict()
        self.assets = collections.OrderedDict()
        self.uploads = {}
        self.log_lock = threading.Lock()
        self.reset_stats()

    # ---- stats
    def reset_stats(self, clear_state=False):
        with self.lock:
            self.total = 0
            self.routes = collections.Counter()
            self.cancels = 0
            self.faults_applied = 0
            self.in_flight = getattr(self, "in_flight", 0)
            self.max_in_flight = self.in_flight
            self.requests = collections.deque(maxlen=1000)
            self.queues = []
            if clear_state:
                self.jobs.clear()
                self.assets.clear()
                self.uploads.clear()

    def begin(self, entry):
        with self.lock:
            self.total += 1
            self.routes[entry["route"]] += 1
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight
            if entry["fault"]:
                self.faults_applied += 1
            self.requests.append(entry)

    def end(self):
        with self.lock:
            self.in_flight -= 1

    def stats(self):
        with self.lock:
            return {
                "total": self.total,
                "routes": dict(self.routes),
                "cancels": self.cancels,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "faults_applied": self.faults_applied,
                "faults_pending": sum(len(q.faults) for q in self.queues),
                "jobs": len(self.jobs),
                "assets": len(self.assets),
                "uptime": round(time.time() - self.started, 3),
                "requests": [dict(e) for e in self.requests],
            }

    def log(self, msg):
        if not self.quiet:
            with self.log_lock:
                try:
                    sys.stderr.write("[scenario-sim] %s\n" % msg)
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass

    def config(self):
        return {"job_duration": self.job_duration,
                "upload_duration": self.upload_duration,
                "min_part_size": self.min_part_size,
                "faults": ";".join(f.spec for f in self.run_faults) or None,
                "quiet": self.quiet, "port": self.port, "host": self.host,
                "base_url": self.base_url() + "/v1"}

    def base_url(self):
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = "[%s]" % host
        return "http://%s:%d" % (host, self.port)

    # ---- faults
    def pick_fault(self, header, method, path, creates_job, api):
        """Header fault, else next queued fault, else run-wide fault."""
        if header:
            return Fault(header)  # may raise ValueError
        with self.lock:
            for q in self.queues:
                if q.matches(method, path, creates_job):
                    f = q.faults.popleft()
                    self.queues = [x for x in self.queues if x.faults]
                    return f
            for f in self.run_faults:
                if not api and not f.get("path"):
                    continue  # run-wide faults hit API paths unless scoped
                if f.matches(method, path, creates_job):
                    rate = f.get("rate")
                    if rate is None or random.random() < rate:
                        return f
        return None

    # ---- jobs
    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def create_job(self, job_type, model_id, body, prompt, seed, n_outputs,
                   out_w, out_h, cost, fault, inference=None):
        now = time.time()
        duration = self.job_duration
        fail = None
        if fault is not None:
            if fault.get("job_duration") is not None:
                duration = fault.get("job_duration")
            fail = fault.get("job_fail")
        job = {
            "id": new_id("job_"),
            "seq": self.next_seq(),
            "type": job_type,
            "created": now,
            "duration": float(duration),
            "fail": fail,
            "canceled_at": None,
            "model_id": model_id,
            "input": body,
            "prompt": prompt,
            "seed": seed,
            "n": n_outputs,
            "w": out_w,
            "h": out_h,
            "cost": cost,
            "asset_ids": [new_id("asset_") for _ in range(n_outputs)],
            "settled": False,
            "inference": inference,
        }
        with self.lock:
            self.jobs[job["id"]] = job
        return job

    def job_state(self, job, now):
        """(status, progress, history[(status, t)]) at time `now`."""
        d = job["duration"]
        created = job["created"]
        end = now if job["canceled_at"] is None else job["canceled_at"]
        history = []
        status = "pending"
        for name, frac in JOB_PHASES:
            t = created + frac * d
            if t <= end:
                history.append((name, t))
                status = name
        if job["canceled_at"] is not None:
            history.append(("canceled", job["canceled_at"]))
            progress = min(1.0, (job["canceled_at"] - created) / d) if d > 0 else 0.0
            return "canceled", round(progress, 3), history
        if now >= created + d:
            if job["fail"]:
                history = [h for h in history if h[0] != "finalizing"]
                history.append(("failure", created + d))
                return "failure", 0.85, history
            history.append(("success", created + d))
            return "success", 1.0, history
        progress = (now - created) / d if d > 0 else 1.0
        return status, round(min(progress, 0.99), 3), history

    def settle(self, job, now=None):
        """Materialize the outputs of a job that has succeeded."""
        now = time.time() if now is None else now
        if job["settled"]:
            return
        status, _, history = self.job_state(job, now)
        if status != "success":
            return
        # Generate PNGs outside the lock (pure CPU), insert under it.
        pngs = [make_png(job["seed"], job["prompt"], i, job["w"], job["h"])
                for i in range(job["n"])]
        done_at = history[-1][1]
        with self.lock:
            if job["settled"]:
                return
            for i, (aid, data) in enumerate(zip(job["asset_ids"], pngs)):
                self.assets[aid] = {
                    "id": aid, "seq": self.next_seq(), "created": done_at,
                    "updated": done_at, "data": data, "mime": "image/png",
                    "kind": "image", "job_id": job["id"], "index": i,
                    "source": "inference-txt" if job["type"] == "inference" else "txt2img",
                    "type": "inference-txt2img" if job["type"] == "inference" else "txt2img",
                    "model_id": job["model_id"], "seed": job["seed"],
                    "prompt": job["prompt"], "w": job["w"], "h": job["h"],
                    "name": None, "tags": [], "collections": [],
                }
            job["settled"] = True

    def settle_all(self):
        with self.lock:
            pending = [j for j in self.jobs.values() if not j["settled"]]
        now = time.time()
        for j in pending:
            self.settle(j, now)

    def job_json(self, job, now=None):
        now = time.time() if now is None else now
        self.settle(job, now)
        status, progress, history = self.job_state(job, now)
        metadata = {"input": job["input"], "output": {},
                    "assetIds": list(job["asset_ids"]) if status == "success" else []}
        out = {
            "jobId": job["id"],
            "jobType": job["type"],
            "status": status,
            "progress": progress,
            "createdAt": iso(job["created"]),
            "updatedAt": iso(history[-1][1]),
            "statusHistory": [{"status": s, "date": iso(t)} for s, t in history],
            "metadata": metadata,
            "authorId": "sim-user",
            "ownerId": "sim-project",
            "billing": {"cuCost": job["cost"], "cuDiscount": 0},
        }
        if status == "failure":
            metadata["error"] = job["fail"]
            metadata["output"] = {"error": job["fail"]}
            out["error"] = job["fail"]
        return out

    def asset_json(self, a):
        url = "%s/_files/%s.%s" % (self.base_url(), a["id"], EXT_OF_MIME.get(a["mime"], "bin"))
        meta = {"type": a["type"], "kind": a["kind"]}
        if a.get("model_id"):
            meta["modelId"] = a["model_id"]
        if a.get("prompt") is not None:
            meta["prompt"] = a["prompt"]
        if a.get("seed") is not None:
            meta["seed"] = str(a["seed"])
        # (metadata.width is a generation parameter with minimum 1024 in the
        # spec: the real pixel size goes in properties.width/height only)
        if a.get("name"):
            meta["name"] = a["name"]
        props = {"size": len(a["data"])}
        if a.get("w"):
            props["width"], props["height"] = a["w"], a["h"]
        out = {
            "id": a["id"],
            "url": url,
            "mimeType": a["mime"],
            "kind": a["kind"],
            "source": a["source"],
            "status": "success",
            "privacy": "private",
            "ownerId": "sim-project",
            "authorId": "sim-user",
            "createdAt": iso(a["created"]),
            "updatedAt": iso(a["updated"]),
            "editCapabilities": (["DETECTION", "GENERATIVE_FILL", "PIXELATE",
                                  "PROMPT_EDITING", "REFINE", "REFRAME",
                                  "REMOVE_BACKGROUND", "SEGMENTATION", "UPSCALE",
                                  "VECTORIZATION"] if a["kind"] == "image" else []),
            "tags": list(a["tags"]),
            "collectionIds": list(a["collections"]),
            "properties": props,
            "metadata": meta,
        }
        if a.get("job_id"):
            meta["parentJobId"] = a["job_id"]
            meta["outputIndex"] = a["index"]
            out["outputIndex"] = a["index"]
        return out

    def add_asset(self, data, mime, kind, source, atype, name=None, tags=None,
                  collections=None):
        now = time.time()
        aid = new_id("asset_")
        with self.lock:
            self.assets[aid] = {
                "id": aid, "seq": self.next_seq(), "created": now, "updated": now,
                "data": data, "mime": mime, "kind": kind, "job_id": None,
                "index": 0, "source": source, "type": atype, "model_id": None,
                "seed": None, "prompt": None, "w": None, "h": None, "name": name,
                "tags": list(tags or []), "collections": list(collections or []),
            }
        return self.assets[aid]

    # ---- uploads
    def upload_state(self, up, now):
        if up["failed"]:
            return "failed"
        if up["completed_at"] is None:
            return "pending"
        d = self.upload_duration if self.upload_duration is not None else self.job_duration / 2
        el = now - up["completed_at"]
        if el >= d:
            return "imported"
        if el >= d / 2:
            return "validated"
        return "validating"

    def upload_json(self, up, now=None):
        now = time.time() if now is None else now
        status = self.upload_state(up, now)
        with self.lock:
            if status == "imported" and up["entity_id"] is None:
                data = b"".join(up["parts_data"][n] for n in sorted(up["parts_data"]))
                if up["kind"] == "model":
                    up["entity_id"] = new_id("model_")
                else:
                    mime = up["content_type"] or sniff_mime(data)
                    a = self.add_asset(data, mime, ASSET_KIND_OF_UPLOAD.get(up["kind"], "image"),
                                       "uploaded", "uploaded", name=up["file_name"])
                    up["entity_id"] = a["id"]
                up["updated"] = now
        out = {
            "id": up["id"],
            "fileName": up["file_name"],
            "originalFileName": up["file_name"],
            "kind": up["kind"],
            "source": "multipart",
            "status": status,
            "authorId": "sim-user",
            "ownerId": "sim-project",
            "createdAt": iso(up["created"]),
            "updatedAt": iso(up["updated"]),
            "fileSize": up["file_size"],
            "partsCount": up["parts_count"],
            "contentType": up["content_type"],
        }
        if status == "pending":
            out["parts"] = [{"number": n, "url": "%s/_uploads/%s/%d" % (self.base_url(), up["id"], n),
                             "expires": iso(up["created"] + 3600)}
                            for n in range(1, up["parts_count"] + 1)]
        if up["entity_id"]:
            out["entityId"] = up["entity_id"]
        if up["failed"]:
            out["errorMessage"] = up["failed"]
        return out


# --------------------------------------------------------------------------
# request validation

def validate_txt2img(body):
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    if "prompt" not in body:
        bad.append(("prompt", "prompt is required (string)"))
    for name, (typ, extra) in TXT2IMG_FIELDS.items():
        if name not in body:
            continue
        v = body[name]
        if typ == "string" and not isinstance(v, str):
            bad.append((name, "%s must be a string" % name))
        elif typ == "boolean" and not isinstance(v, bool):
            bad.append((name, "%s must be a boolean" % name))
        elif typ in ("number", "integer"):
            if not is_number(v):
                bad.append((name, "%s must be a number" % name))
                continue
            if typ == "integer" and not is_integer(v):
                bad.append((name, "%s must be an integer" % name))
                continue
        elif typ == "concepts":
            ok = isinstance(v, list) and all(
                isinstance(c, dict) and isinstance(c.get("modelId"), str)
                and is_number(c.get("scale")) and -2 <= c["scale"] <= 2
                and isinstance(c.get("modelEpoch", ""), str) for c in v)
            if not ok:
                bad.append((name, "concepts must be an array of {modelId: string, "
                                  "scale: number in [-2, 2]}"))
            continue
        if isinstance(extra, list) and v not in extra:
            bad.append((name, "%s must be one of %s" % (name, ", ".join(extra))))
        elif isinstance(extra, tuple) and not extra[0] <= v <= extra[1]:
            bad.append((name, "%s must be between %s and %s" % (name, extra[0], extra[1])))
    if bad:
        fields = [b[0] for b in bad]
        raise ApiError(400, "; ".join(b[1] for b in bad),
                       infos={"field": fields[0], "fields": fields,
                              "errors": [{"field": f, "message": m} for f, m in bad]})


def parse_page(query, max_size, default=50):
    size = default
    raw = query.get("pageSize")
    if raw is not None:
        try:
            size = int(raw)
        except ValueError:
            size = -1
        if not 1 <= size <= max_size:
            raise ApiError(400, "pageSize must be an integer between 1 and %d" % max_size,
                           infos={"field": "pageSize"})
    after = None
    tok = query.get("paginationToken")
    if tok:
        try:
            dec = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
            kind, _, n = dec.partition(":")
            if kind != "seq":
                raise ValueError
            after = int(n)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ApiError(400, "Invalid paginationToken", infos={"field": "paginationToken"}) from None
    return size, after


def paginate(items, query, max_size, default=50, ascending=False):
    """items: records with 'seq'.  Newest first unless ascending."""
    size, after = parse_page(query, max_size, default)
    items = sorted(items, key=lambda r: r["seq"], reverse=not ascending)
    if after is not None:
        items = [r for r in items if (r["seq"] > after if ascending else r["seq"] < after)]
    page = items[:size]
    nxt = None
    if len(items) > size:
        nxt = base64.urlsafe_b64encode(("seq:%d" % page[-1]["seq"]).encode()).decode().rstrip("=")
    return page, nxt


# --------------------------------------------------------------------------
# HTTP

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


class Handler(http.server.BaseHTTPRequestHandler):
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
            if fault.get("invalid_json"):
                body = b'{"status":"ok","job":{"jobId":"job_sim" <html>not json</html>,,'

            if fault.get("empty"):
                status = 200
                self.status_sent = 200
                body = b""
            if fault.get("reset_body"):
                self.wfile.write(self.head_bytes(status, headers, len(body)) + body[: len(body) // 2])
                time.sleep(0.05)
                self.abort()
                return
            if fault.get("truncated"):
                self.close_connection = True
                self.wfile.write(self.head_bytes(status, headers, len(body) + max(16, len(body)))
                                 + body)
                return
            if fault.get("delay_body") is not None:
                self.wfile.write(self.head_bytes(status, headers, len(body)))
                time.sleep(fault.get("delay_body"))
                self.wfile.write(body)
                return
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
        sim = self.sim
        t0 = time.time()
        self.request_id = str(uuid.uuid4())
        self.status_sent = None
        split = urllib.parse.urlsplit(self.path)
        raw_path = split.path or "/"
        qs = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in qs.items()}
        path = strip_v1(raw_path)
        method = self.command
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return

        if path == "/_sim" or path.startswith("/_sim/"):
            try:
                self.control(method, path, body)
            except ApiError as e:
                self.send_error_json(e)
            return

        # classify
        params, tmpl, methods, api = {}, None, None, True
        if path.startswith("/_files/"):
            api, tmpl = False, FILE_ROUTE
            params = {"file": urllib.parse.unquote(path[len("/_files/"):])}
            methods = {"GET", "HEAD"}
        elif path.startswith("/_uploads/"):
            api, tmpl = False, PART_ROUTE
            rest = path[len("/_uploads/"):].split("/")
            params = {"uploadId": rest[0], "partNumber": rest[1] if len(rest) > 1 else ""}
            methods = {"PUT"}
        else:
            m = ROUTER.match(path)
            if m:
                tmpl, params, methods = m
        route = "%s %s" % (method, tmpl if tmpl else path)
        creates_job = method == "POST" and tmpl in ("/generate/txt2img", "/generate/custom/{modelId}")

        fault = None
        fault_err = None
        try:
            fault = sim.pick_fault(self.headers.get("X-Sim-Fault"), method, path, creates_job, api)
        except ValueError as e:
            fault_err = ApiError(400, "Invalid X-Sim-Fault header: %s" % e,
                                 infos={"field": "X-Sim-Fault"})

        entry = {
            "id": self.request_id, "method": method, "path": raw_path,
            "route": route, "query": split.query, "time": round(t0, 6),
            "auth": bool(self.headers.get("Authorization")),
            "status": None, "fault": fault.spec if fault else None,
            "body_size": len(body), "duration_ms": None,
        }
        sim.begin(entry)
        try:
            self.serve(method, path, tmpl, methods, params, query, body, fault, fault_err, api)
        except (ConnectionError, BrokenPipeError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - answer 500 rather than drop
            sim.log("internal error on %s %s: %r" % (method, raw_path, e))
            if not sim.quiet:
                traceback.print_exc(file=sys.stderr)
            try:
                self.send_error_json(ApiError(500, "Simulator internal error: %r" % e))
            except OSError:
                self.close_connection = True
        finally:
            entry["status"] = self.status_sent
            entry["duration_ms"] = round((time.time() - t0) * 1000, 3)
            sim.end()
            sim.log("%s %s -> %s%s %.1fms" % (
                method, self.path, self.status_sent if self.status_sent is not None else "RESET",
                " [fault %s]" % fault.spec if fault else "", entry["duration_ms"]))

    def serve(self, method, path, tmpl, methods, params, query, body, fault, fault_err, api):
        if fault_err is not None:
            return self.send_error_json(fault_err)
        if fault is not None:
            if fault.get("delay_headers"):
                time.sleep(fault.get("delay_headers"))
            if fault.get("reset"):
                return self.abort()
            if fault.get("status") is not None and fault.get("status") >= 400:
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
                return self.send_error_json(ApiError(st, msg, headers=hdrs, details=details),
                                            fault)
            if fault.get("html"):
                page = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
                        b"<body><center><h1>502 Bad Gateway</h1></center><hr>"
                        b"<center>scenario-sim</center></body></html>\n")
                return self.send(502, page, "text/html; charset=utf-8", fault=fault)
        try:
            if not api:
                if method not in methods:
                    raise ApiError(405, "Method %s not allowed on %s" % (method, path),
                                   headers={"Allow": ", ".join(sorted(methods))})
                if tmpl == FILE_ROUTE:
                    return self.serve_file(params["file"], fault)
                return self.put_part(params, body, fault)
            if tmpl is None:
                raise ApiError(404, "No route for %s %s" % (method, path))
            self.check_auth()
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
        except ApiError as e:
            return self.send_error_json(e, fault)

    def check_auth(self):
        sim = self.sim
        h = (self.headers.get("Authorization") or "").strip()
        ok = False
        if h[:6].lower() == "basic ":
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

    # ---- simulator-only routes
    def serve_file(self, name, fault):
        aid = name.rsplit(".", 1)[0] if "." in name else name
        sim = self.sim
        with sim.lock:
            a = sim.assets.get(aid)
        if a is None:
            raise ApiError(404, "File %s not found" % name)
        data = a["data"]
        headers = [("Accept-Ranges", "bytes"),
                   ("ETag", '"%s"' % hashlib.md5(data).hexdigest()),
                   ("Cache-Control", "private, max-age=3600")]
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a_, _, b_ = rng[6:].partition("-")
            try:
                if a_ == "":
                    start, end = max(0, len(data) - int(b_)), len(data) - 1
                else:
                    start = int(a_)
                    end = min(int(b_), len(data) - 1) if b_ else len(data) - 1
            except ValueError:
                start, end = 0, len(data) - 1
            if start >= len(data) or start > end:
                return self.send(416, b"", None,
                                 headers + [("Content-Range", "bytes */%d" % len(data))], fault)
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, len(data))))
            return self.send(206, data[start:end + 1], a["mime"], headers, fault)
        return self.send(200, data, a["mime"], headers, fault)

    def put_part(self, params, body, fault):
        sim = self.sim
        with sim.lock:
            up = sim.uploads.get(params["uploadId"])
        try:
            n = int(params["partNumber"])
        except ValueError:
            n = -1
        if up is None:
            raise ApiError(404, "Upload %s not found" % params["uploadId"])
        if not 1 <= n <= up["parts_count"]:
            raise ApiError(400, "Part number must be between 1 and %d" % up["parts_count"],
                           infos={"field": "partNumber"})
        if up["completed_at"] is not None or up["failed"]:
            raise ApiError(409, "Upload %s is already completed" % up["id"])
        with sim.lock:
            up["parts_data"][n] = body
            up["updated"] = time.time()
        return self.send(200, b"", None, [("ETag", '"%s"' % hashlib.md5(body).hexdigest())], fault)

    # ---- control endpoints
    def control(self, method, path, body):
        sim = self.sim
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise ApiError(400, "Body is not valid JSON") from None
        if path == "/_sim/stats" and method == "GET":
            return self.send_json(200, sim.stats())
        if path == "/_sim/health" and method == "GET":
            return self.send_json(200, {"ok": True, "port": sim.port, "pid": os.getpid(),
                                        "version": VERSION})
        if path == "/_sim/reset" and method == "POST":
            sim.reset_stats(clear_state=bool(isinstance(data, dict) and data.get("all")))
            return self.send_json(200, {"ok": True})
        if path == "/_sim/faults":
            if method == "GET":
                with sim.lock:
                    return self.send_json(200, {"queues": [q.to_json() for q in sim.queues]})
            if method == "DELETE":
                with sim.lock:
                    sim.queues = []
                return self.send_json(200, {"ok": True})
            if method == "POST":
                items = data if isinstance(data, list) else [data]
                new = []
                for item in items:
                    if not isinstance(item, dict):
                        raise ApiError(400, "Each fault queue must be an object")
                    specs = item.get("faults")
                    if specs is None and "fault" in item:
                        specs = [item["fault"]] * int(item.get("count", 1))
                    if isinstance(specs, str):
                        specs = [specs]
                    if not isinstance(specs, list) or not specs:
                        raise ApiError(400, "faults must be a non-empty list of fault specs",
                                       infos={"field": "faults"})
                    try:
                        faults = [Fault(str(s)) for s in specs]
                    except ValueError as e:
                        raise ApiError(400, "Invalid fault spec: %s" % e,
                                       infos={"field": "faults"}) from None
                    new.append(FaultQueue(item.get("method"), item.get("path") or "*", faults))
                with sim.lock:
                    sim.queues.extend(new)
                    queues = [q.to_json() for q in sim.queues]
                return self.send_json(200, {"ok": True, "queues": queues})
        if path == "/_sim/config":
            if method == "POST":
                if not isinstance(data, dict):
                    raise ApiError(400, "config must be an object")
                for k, v in data.items():
                    if k in ("job_duration", "upload_duration", "min_part_size"):
                        if v is None and k == "upload_duration":
                            sim.upload_duration = None
                            continue
                        if not is_number(v) or v < 0:
                            raise ApiError(400, "%s must be a number >= 0" % k, infos={"field": k})
                        setattr(sim, k, int(v) if k == "min_part_size" else float(v))
                    elif k == "faults":
                        try:
                            sim.run_faults = parse_fault_list(v) if v else []
                        except ValueError as e:
                            raise ApiError(400, "Invalid fault spec: %s" % e,
                                           infos={"field": "faults"}) from None
                    elif k in ("quiet",):
                        sim.quiet = bool(v)
                    elif k in ("api_key", "api_secret", "token"):
                        setattr(sim, k, str(v) if v is not None else "")
                    else:
                        raise ApiError(400, "Unknown config key %s" % k, infos={"field": k})
                return self.send_json(200, sim.config())
            if method == "GET":
                return self.send_json(200, sim.config())
        raise ApiError(404, "No control endpoint %s %s" % (method, path))


# --------------------------------------------------------------------------
# API handlers: (handler, params, query, body, fault) -> (status, obj)

def parse_json_body(body, required=True):
    if not body.strip():
        if required:
            raise ApiError(400, "A JSON request body is required", infos={"field": "body"})
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON", infos={"field": "body"}) from None


def truthy(v):
    return str(v).lower() in ("1", "true", "yes")


def h_txt2img(h, params, query, body, fault):
    data = parse_json_body(body)
    validate_txt2img(data)
    n_req = int(data.get("numSamples", 1))
    cost = 5 * n_req
    if truthy(query.get("dryRun", "")):
        return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    n = min(n_req, MAX_OUTPUTS)
    seed = data.get("seed")
    if seed is None:
        seed = str(random.randint(0, 2 ** 31 - 1))
    w, hh = output_size(data)
    model_id = data.get("modelId") or "model_scenario-sim"
    inference = {k: data[k] for k in TXT2IMG_FIELDS if k in data}
    inference.update({"id": new_id("inf_"), "type": "txt2img", "seed": seed,
                      "numSamples": n_req, "modelId": model_id})
    job = h.sim.create_job("inference", model_id, data, data["prompt"], seed, n, w, hh,
                           cost, fault, inference)
    return 200, {"job": h.sim.job_json(job), "inference": inference,
                 "creativeUnitsCost": cost, "creativeUnitsDiscount": 0}


def h_custom(h, params, query, body, fault):
    data = parse_json_body(body, required=False)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    n_req = data.get("numSamples", data.get("numOutputs", 1))
    if not is_integer(n_req) or n_req < 1:
        n_req = 1
    n_req = int(n_req)
    cost = 10 * n_req
    if truthy(query.get("dryRun", "")):
        return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else ""
    seed = data.get("seed")
    if seed is None:
        seed = str(random.randint(0, 2 ** 31 - 1))
    w, hh = output_size(data)
    job = h.sim.create_job("custom", params["modelId"], data, prompt, seed,
                           min(n_req, MAX_OUTPUTS), w, hh, cost, fault)
    return 200, {"job": h.sim.job_json(job), "creativeUnitsCost": cost,
                 "creativeUnitsDiscount": 0}


def get_job(sim, job_id):
    with sim.lock:
        job = sim.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "Job %s not found" % job_id, infos={"jobId": job_id})
    return job


def h_get_job(h, params, query, body, fault):
    return 200, {"job": h.sim.job_json(get_job(h.sim, params["jobId"]))}


def h_job_action(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    if not isinstance(data, dict) or data.get("action") != "cancel":
        raise ApiError(400, "action must be one of: cancel", infos={"field": "action"})
    job = get_job(sim, params["jobId"])
    with sim.lock:
        sim.cancels += 1
        now = time.time()
        status, _, _ = sim.job_state(job, now)
        if status in ("success", "failure"):
            raise ApiError(400, "Cannot cancel job %s: it is already %s" % (job["id"], status),
                           infos={"jobId": job["id"], "status": status})
        if job["canceled_at"] is None:
            job["canceled_at"] = now
    return 200, {"job": sim.job_json(job)}


def h_list_jobs(h, params, query, body, fault):
    sim = h.sim
    with sim.lock:
        jobs = list(sim.jobs.values())
    now = time.time()
    want = set(s for s in query.get("status", "").split(",") if s)
    if want:
        jobs = [j for j in jobs if sim.job_state(j, now)[0] in want]
    page, nxt = paginate(jobs, query, 200)
    out = {"jobs": [sim.job_json(j, now) for j in page]}
    if nxt:
        out["nextPaginationToken"] = nxt
    return 200, out


def get_asset(sim, asset_id):
    sim.settle_all()
    with sim.lock:
        a = sim.assets.get(asset_id)
    if a is None:
        raise ApiError(404, "Asset %s not found" % asset_id, infos={"assetId": asset_id})
    return a


def h_get_asset(h, params, query, body, fault):
    return 200, {"asset": h.sim.asset_json(get_asset(h.sim, params["assetId"]))}


def h_list_assets(h, params, query, body, fault):
    sim = h.sim
    sim.settle_all()
    with sim.lock:
        assets = list(sim.assets.values())
    asc = query.get("sortDirection", "desc").lower() == "asc"
    page, nxt = paginate(assets, query, 100, ascending=asc)
    out = {"assets": [sim.asset_json(a) for a in page]}
    if nxt:
        out["nextPaginationToken"] = nxt
    return 200, out


def h_bulk_assets(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    ids = data.get("assetIds") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "assetIds must be an array of strings", infos={"field": "assetIds"})
    if len(ids) > 200:
        raise ApiError(400, "assetIds accepts at most 200 ids", infos={"field": "assetIds"})
    sim.settle_all()
    with sim.lock:
        found = [sim.assets[i] for i in ids if i in sim.assets]
    return 200, {"assets": [sim.asset_json(a) for a in found]}


def h_delete_assets(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    ids = data.get("assetIds") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "assetIds is required (array of strings)", infos={"field": "assetIds"})
    if len(ids) > 100:
        raise ApiError(400, "assetIds accepts at most 100 ids", infos={"field": "assetIds"})
    sim.settle_all()
    with sim.lock:
        for i in ids:
            sim.assets.pop(i, None)
    return 200, {}


def h_post_asset(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    if not isinstance(data.get("name"), str):
        bad.append("name")
    img = data.get("image")
    if not isinstance(img, str):
        bad.append("image")
    if bad:
        raise ApiError(400, "; ".join("%s is required (string)" % b for b in bad)
                       + (" (canvas uploads are not simulated)" if "image" in bad else ""),
                       infos={"field": bad[0], "fields": bad})
    if img.startswith("data:") and "," in img:
        img = img.split(",", 1)[1]
    try:
        raw = base64.b64decode(img, validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(400, "image must be base64", infos={"field": "image"}) from None
    if not raw:
        raise ApiError(400, "image is empty", infos={"field": "image"})
    mime = sniff_mime(raw)
    a = sim.add_asset(raw, mime, "image", "uploaded", "uploaded", name=data["name"],
                      collections=data.get("collectionIds") if isinstance(
                          data.get("collectionIds"), list) else None)
    return 200, {"asset": sim.asset_json(a)}


def h_post_upload(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    if any(k in data for k in ("url", "civitaiModelUrl", "huggingFaceModelName")):
        raise ApiError(501, "URL, civitai and huggingface imports are not simulated")
    bad = []
    if not isinstance(data.get("fileName"), str) or not data.get("fileName"):
        bad.append(("fileName", "fileName is required (string)"))
    fs = data.get("fileSize")
    if not is_integer(fs) or fs < 0:
        bad.append(("fileSize", "fileSize is required (number of bytes)"))
    if data.get("kind") not in UPLOAD_KINDS:
        bad.append(("kind", "kind must be one of %s" % ", ".join(UPLOAD_KINDS)))
    parts = data.get("parts", 1)
    if not is_integer(parts) or not 1 <= parts <= 10000:
        bad.append(("parts", "parts must be an integer between 1 and 10000"))
    ct = data.get("contentType")
    if ct is not None and not isinstance(ct, str):
        bad.append(("contentType", "contentType must be a string"))
    if bad:
        fields = [b[0] for b in bad]
        raise ApiError(400, "; ".join(b[1] for b in bad),
                       infos={"field": fields[0], "fields": fields})
    now = time.time()
    up = {"id": new_id("upload_"), "file_name": data["fileName"], "file_size": int(fs),
          "kind": data["kind"], "parts_count": int(parts), "content_type": ct or None,
          "created": now, "updated": now, "completed_at": None, "failed": None,
          "entity_id": None, "parts_data": {}}
    with sim.lock:
        sim.uploads[up["id"]] = up
    out = sim.upload_json(up, now)
    if out["contentType"] is None:
        del out["contentType"]
    return 200, {"upload": out}


def get_upload(sim, uid):
    with sim.lock:
        up = sim.uploads.get(uid)
    if up is None:
        raise ApiError(404, "Upload %s not found" % uid, infos={"uploadId": uid})
    return up


def upload_out(sim, up):
    out = sim.upload_json(up)
    if out["contentType"] is None:
        del out["contentType"]
    return {"upload": out}


def h_get_upload(h, params, query, body, fault):
    return 200, upload_out(h.sim, get_upload(h.sim, params["uploadId"]))


def h_upload_action(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    if not isinstance(data, dict) or data.get("action") != "complete":
        raise ApiError(400, "action must be one of: complete", infos={"field": "action"})
    up = get_upload(sim, params["uploadId"])
    with sim.lock:
        if up["completed_at"] is None and not up["failed"]:
            missing = [n for n in range(1, up["parts_count"] + 1) if n not in up["parts_data"]]
            if missing:
                raise ApiError(400, "Missing parts: %s" % ", ".join(map(str, missing[:20])),
                               infos={"field": "parts", "missing": missing[:100]})
            sizes = [len(up["parts_data"][n]) for n in range(1, up["parts_count"] + 1)]
            small = [n for n, s in enumerate(sizes[:-1], 1) if s < sim.min_part_size]
            now = time.time()
            if sum(sizes) != up["file_size"]:
                up["failed"] = ("Uploaded %d bytes but fileSize is %d"
                                % (sum(sizes), up["file_size"]))
            elif small:
                up["failed"] = ("Part %d is smaller than %d bytes (only the last part may be)"
                                % (small[0], sim.min_part_size))
            up["completed_at"] = now
            up["updated"] = now
    return 200, upload_out(sim, up)


HANDLERS = {
    ("POST", "/generate/txt2img"): h_txt2img,
    ("POST", "/generate/custom/{modelId}"): h_custom,
    ("GET", "/jobs"): h_list_jobs,
    ("GET", "/jobs/{jobId}"): h_get_job,
    ("POST", "/jobs/{jobId}/action"): h_job_action,
    ("GET", "/assets"): h_list_assets,
    ("POST", "/assets"): h_post_asset,
    ("DELETE", "/assets"): h_delete_assets,
    ("GET", "/assets/{assetId}"): h_get_asset,
    ("POST", "/assets/get-bulk"): h_bulk_assets,
    ("POST", "/uploads"): h_post_upload,
    ("GET", "/uploads/{uploadId}"): h_get_upload,
    ("POST", "/uploads/{uploadId}/action"): h_upload_action,
}


# --------------------------------------------------------------------------
# main

def main(argv=None):
    ap = argparse.ArgumentParser(description="Local Scenario API simulator")
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
    args = ap.parse_args(argv)
    if args.job_duration < 0:
        ap.error("--job-duration must be >= 0")
    try:
        sim = Sim(args)
    except ValueError as e:
        ap.error("--faults: %s" % e)

    Handler.sim = sim
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        sys.stderr.write("scenario-sim: cannot listen on %s:%d: %s\n" % (args.host, args.port, e))
        return 1
    sim.port = server.server_address[1]

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


if __name__ == "__main__":
    sys.exit(main())
