#!/usr/bin/env python3
"""Local Scenario API simulator (Python 3.11 standard library only).

A stateful stand-in for https://api.cloud.scenario.com/v1 on 127.0.0.1, used by
the scenario-lua test suite, `make demo` and `make simulator`.

    python3 spec/simulator/scenario_sim.py [--port 0] [--host 127.0.0.1]
        [--job-duration 2.0] [--api-key test-key] [--api-secret test-secret]
        [--token test-token] [--faults SPEC] [--seed-assets N] [--quiet]

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
import tempfile
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
CDN_ROUTE = "/_cdn/{file}"  # where the `redirect` faults send downloads
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

# Seeded records: fixed creation time of the built-in models, size of seeded PNGs.
SEED_TIME = 1735689600.0  # 2025-01-01T00:00:00Z
SEED_SIDE = 32

# inputs[] of the built-in custom model `model_sim-custom` (GET /models/{id}),
# checked by POST /generate/custom/model_sim-custom.
CUSTOM_MODEL_INPUTS = [
    {"name": "prompt", "type": "string", "label": "Prompt", "prompt": True,
     "required": {"always": True}, "maxLength": 2000},
    {"name": "numSamples", "type": "number", "label": "Number of images",
     "min": 1, "max": 8, "step": 1, "costImpact": True},
    {"name": "aspectRatio", "type": "string", "label": "Aspect ratio",
     "allowedValues": ["1:1", "16:9", "9:16", "4:3", "3:4"]},
    {"name": "seed", "type": "number", "label": "Seed", "min": 0, "max": 2147483647},
    {"name": "guidance", "type": "number", "label": "Guidance", "min": 1, "max": 10},
    {"name": "style", "type": "string", "label": "Style",
     "allowedValues": ["photo", "illustration", "pixel-art"]},
    {"name": "highQuality", "type": "boolean", "label": "High quality", "costImpact": True},
    {"name": "image", "type": "file", "kind": "image", "label": "Reference image"},
    {"name": "referenceImages", "type": "file_array", "kind": "image",
     "label": "Style references"},
    {"name": "tags", "type": "string_array", "label": "Tags"},
]

INPUT_TYPES = ["boolean", "file", "file_array", "inputs_array", "model", "model_array",
               "number", "number_array", "string", "string_array"]
WF_NODE_TYPES = ["custom-model", "generate-prompt", "logic", "remove-background",
                 "transform", "user-approval", "workflow"]
WF_ASSET_NODES = {"custom-model", "remove-background", "workflow"}
WF_MAX_NODES = 50
WF_NODE_COST = {"custom-model": 10, "remove-background": 2, "workflow": 10,
                "generate-prompt": 1}

# Every generate operation other than txt2img and custom:
#   name: (jobType, asset source, asset metadata type, required body fields,
#          seed type, CU per output, inference type or None)
# A source of None: a text operation, whose job has no output asset.
GENERATE_OPS = {
    "caption": ("caption", None, None, ["images"], "number", 1, None),
    "controlnet": ("inference", "inference-control-net", "inference-controlnet",
                   ["modality", "modelId", "prompt"], "string", 5, "controlnet"),
    "controlnet-img2img": ("inference", "inference-control-net-img",
                           "inference-controlnet-img2img",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_img2img"),
    "controlnet-inpaint": ("inference", "inference-control-net-inpainting",
                           "inference-controlnet-inpaint",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_inpaint"),
    "controlnet-inpaint-ip-adapter": ("inference", "inference-control-net-inpainting-ip-adapter",
                                      "inference-controlnet-inpaint-ip-adapter",
                                      ["modelId", "prompt"], "string", 5,
                                      "controlnet_inpaint_ip_adapter"),
    "controlnet-ip-adapter": ("inference", "inference-control-net-ip-adapter",
                              "inference-controlnet-ip-adapter",
                              ["modality", "modelId", "prompt"], "string", 5,
                              "controlnet_ip_adapter"),
    "controlnet-texture": ("inference", "inference-control-net-texture",
                           "inference-controlnet-texture",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_texture"),
    "describe-style": ("describe-style", None, None, [], "number", 1, None),
    "detect": ("detection", "detection", "detection", ["image", "modality"], None, 1, None),
    "embed": ("embed", None, None, ["text"], None, 1, None),
    "generative-fill": ("repaint", "generative-fill", "generative-fill", ["image"],
                        "number", 5, None),
    "img2img": ("inference", "inference-img", "inference-img2img", ["modelId", "prompt"],
                "string", 5, "img2img"),
    "img2img-ip-adapter": ("inference", "inference-img-ip-adapter",
                           "inference-img2img-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "img2img_ip_adapter"),
    "img2img-texture": ("inference", "inference-img-texture", "inference-img2img-texture",
                        ["modelId", "prompt"], "string", 5, "img2img_texture"),
    "inpaint": ("inference", "inference-in-paint", "inference-inpaint", ["modelId", "prompt"],
                "string", 5, "inpaint"),
    "inpaint-ip-adapter": ("inference", "inference-in-paint-ip-adapter",
                           "inference-inpaint-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "inpaint_ip_adapter"),
    "patch": ("patch-image", "patch", "patch", ["image"], None, 2, None),
    "pixelate": ("pixelate", "pixelization", "pixelization",
                 ["image", "pixelGridSize", "removeNoise"], None, 1, None),
    "prompt": ("generate-prompt", None, None, ["mode"], "number", 1, None),
    "prompt-editing": ("image-prompt-editing", "image-prompt-editing", "image-prompt-editing",
                       ["image", "prompt"], "number", 5, None),
    "reframe": ("reframe", "reframe", "reframe", ["image", "targetHeight", "targetWidth"],
                "number", 5, None),
    "remove-background": ("remove-background", "background-removal", "background-removal",
                          ["image"], None, 2, None),
    "restyle": ("restyle", "restyle", "restyle", ["image", "styleImages"], "number", 5, None),
    "segment": ("segment", "segment", "segment", ["image"], None, 1, None),
    "skybox-base-360": ("skybox-base-360", "skybox-base-360", "skybox-base-360", ["prompt"],
                        "number", 10, None),
    "skybox-upscale-360": ("skybox-upscale-360", "upscale-skybox", "upscale-skybox", ["image"],
                           "number", 10, None),
    "texture": ("texture", "texture", "texture", ["texture"], None, 5, None),
    "translate": ("translate", None, None, ["prompt"], "number", 1, None),
    "txt2img-ip-adapter": ("inference", "inference-txt-ip-adapter",
                           "inference-txt2img-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "txt2img_ip_adapter"),
    "txt2img-texture": ("inference", "inference-txt-texture", "inference-txt2img-texture",
                        ["modelId", "prompt"], "string", 5, "txt2img_texture"),
    "upscale": ("upscale", "upscale", "upscale", ["image"], "number", 5, None),
    "vectorize": ("vectorize", "vectorization", "vectorization", ["image"], None, 2, None),
}
# Operations whose answer carries the first output asset as `asset`.
GENERATE_ASSET_ANSWER = {"detect", "patch", "pixelate", "remove-background", "vectorize"}
# Body fields whose type the generic generate handler checks (when present).
GENERATE_FIELD_TYPES = {
    "prompt": "string", "modelId": "string", "image": "string", "mask": "string",
    "modality": "string", "texture": "string", "text": "string", "mode": "string",
    "numSamples": "integer", "numOutputs": "integer", "width": "number", "height": "number",
    "targetWidth": "number", "targetHeight": "number", "pixelGridSize": "number",
    "removeNoise": "boolean", "images": "array", "styleImages": "array",
}


def topo_order(flow):
    """Nodes in dependency order (a node after everything it depends on)."""
    byid = {n["id"]: n for n in flow}
    out, state = [], {}

    def visit(n):
        if state.get(n["id"]) == 2:
            return
        state[n["id"]] = 1
        for d in n.get("dependsOn") or []:
            if d in byid and state.get(d) != 1:
                visit(byid[d])
        state[n["id"]] = 2
        out.append(n)
    for n in flow:
        visit(n)
    return out


def find_cycle(flow):
    """A list of node ids forming a cycle through dependsOn, or None."""
    byid = {n["id"]: n for n in flow}
    color, stack = {}, []

    def visit(nid):
        color[nid] = 1
        stack.append(nid)
        for d in byid[nid].get("dependsOn") or []:
            if d not in byid:
                continue
            if color.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if color.get(d) is None:
                c = visit(d)
                if c:
                    return c
        color[nid] = 2
        stack.pop()
        return None
    for n in flow:
        if color.get(n["id"]) is None:
            c = visit(n["id"])
            if c:
                return c
    return None


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

# Uploaded parts of at least this size are kept in anonymous temporary files
# rather than in memory; an uploaded file larger than BLOB_INLINE stays there
# and is streamed from them.
PART_SPOOL = 1024 * 1024
BLOB_INLINE = 16 * 1024 * 1024


class Blob:
    """Bytes made of pieces (bytes, or (fd, size) of an anonymous temporary
    file), read with pread so that threads can share it."""

    def __init__(self, pieces):
        self.pieces = pieces
        self.size = sum(piece_len(p) for p in pieces)

    def __len__(self):
        return self.size

    def read(self, start, end):
        """Bytes [start, end)."""
        out = []
        off = 0
        for p in self.pieces:
            n = piece_len(p)
            a, b = max(start, off), min(end, off + n)
            if a < b:
                if isinstance(p, bytes):
                    out.append(p[a - off:b - off])
                else:
                    out.append(os.pread(p[0].fileno(), b - a, a - off))
            off += n
            if off >= end:
                break
        return b"".join(out)


def piece_len(p):
    return len(p) if isinstance(p, bytes) else p[1]


def spool(data):
    """A part's bytes: kept as is when small, else in a temporary file."""
    if len(data) < PART_SPOOL:
        return data
    f = tempfile.TemporaryFile(prefix="scenario-sim-part-")
    f.write(data)
    f.flush()
    return (f, len(data))


# --------------------------------------------------------------------------
# faults

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
            elif key == "upload_fail":
                self.opts[key] = val or "Simulated validation failure: the file is corrupt"
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
        # A fault made only of one scope's effects applies to that scope only
        # (job_fail to job-creating requests, redirect to downloads, ...).
        self.scope = None
        for scope, keys in SCOPED_KEYS.items():
            if effects <= keys:
                self.scope = scope

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
        self.part_url_ttl = 3600.0
        self.run_faults = parse_fault_list(args.faults) if args.faults else []
        self.started = time.time()
        self.seq = 0
        self.jobs = collections.OrderedDict()
        self.assets = collections.OrderedDict()
        self.uploads = {}
        self.models = collections.OrderedDict()
        self.collections = collections.OrderedDict()
        self.workflows = collections.OrderedDict()
        self.seeded = collections.Counter()  # kind -> how many seeded so far
        self.conn_seq = 0  # connection ids (never reset)
        self.epoch = 0     # bumped by every stats reset
        self.log_lock = threading.Lock()
        self.reset_stats()
        self.seed_models()

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
            self.connections = 0
            self.api_connections = 0
            self.epoch += 1
            self.stats_since = time.time()
            if clear_state:
                self.jobs.clear()
                self.assets.clear()
                self.uploads.clear()
                self.models.clear()
                self.collections.clear()
                self.workflows.clear()
                self.seeded.clear()
        if clear_state:
            self.seed_models()

    def on_connect(self):
        """A TCP connection was accepted: its id."""
        with self.lock:
            self.conn_seq += 1
            self.connections += 1
            return self.conn_seq

    def begin(self, entry, handler=None):
        with self.lock:
            if handler is not None and handler.conn_epoch != self.epoch:
                handler.conn_epoch = self.epoch  # first counted request on it
                self.api_connections += 1
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
        running, peak = self.job_concurrency()
        with self.lock:
            return {
                "jobs_running": running,
                "max_jobs_running": peak,
                "total": self.total,
                "routes": dict(self.routes),
                "cancels": self.cancels,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "faults_applied": self.faults_applied,
                "faults_pending": sum(len(q.faults) for q in self.queues),
                "jobs": len(self.jobs),
                "assets": len(self.assets),
                "models": len(self.models),
                "collections": len(self.collections),
                "workflows": len(self.workflows),
                "uploads": len(self.uploads),
                "connections": self.connections,
                "api_connections": self.api_connections,
                "uptime": round(time.time() - self.started, 3),
                "requests": [dict(e) for e in self.requests],
            }

    def job_concurrency(self):
        """(jobs running now, most jobs running at once since the last reset).
        A job runs from its creation to its terminal status."""
        now = time.time()
        with self.lock:
            jobs = list(self.jobs.values())
            since = self.stats_since
        running, events = 0, []
        for j in jobs:
            end = self.job_end(j, now)
            if end is None or end > now:
                running += 1
            if j["created"] >= since:
                events.append((j["created"], 1))
                if end is not None and end <= now:
                    events.append((end, -1))
        events.sort()  # an end at the same instant as a start comes first
        cur = peak = 0
        for _, d in events:
            cur += d
            peak = max(peak, cur)
        return running, peak

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
                "part_url_ttl": self.part_url_ttl,
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
    def pick_fault(self, header, method, path, scopes, api):
        """Header fault, else next queued fault, else run-wide fault.
        scopes: the fault scopes this request belongs to ({"job"}, {"file"}, ...)."""
        if header:
            return Fault(header)  # may raise ValueError
        with self.lock:
            for q in self.queues:
                if q.matches(method, path, scopes):
                    f = q.faults.popleft()
                    self.queues = [x for x in self.queues if x.faults]
                    return f
            for f in self.run_faults:
                if not api and not f.get("path") and f.scope not in ("file", "part"):
                    continue  # run-wide faults hit API paths unless scoped
                if f.matches(method, path, scopes):
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
                   out_w, out_h, cost, fault, inference=None, asset_source=None,
                   asset_type=None, output=None, created=None):
        now = time.time() if created is None else created
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
            "asset_source": asset_source,
            "asset_type": asset_type,
            "output": output,
            "flow": None,
        }
        with self.lock:
            self.jobs[job["id"]] = job
        return job

    def job_state(self, job, now):
        """(status, progress, history[(status, t)]) at time `now`."""
        if job["flow"] is not None:
            ev = self.wf_eval(job, now)
            return ev["status"], ev["progress"], ev["history"]
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

    def job_end(self, job, now):
        """When the job reaches (or reached) its terminal status; None while
        that is not known yet (a workflow run parked on an approval)."""
        if job["flow"] is not None:
            return self.wf_eval(job, now)["end"]
        if job["canceled_at"] is not None:
            return job["canceled_at"]
        return job["created"] + job["duration"]

    def make_asset(self, aid, data, created, job, index, source, atype, model_id,
                   seed, prompt, w, h):
        return {
            "id": aid, "seq": self.next_seq(), "created": created,
            "updated": created, "data": data, "mime": "image/png",
            "kind": "image", "job_id": job["id"], "index": index,
            "source": source, "type": atype, "model_id": model_id, "seed": seed,
            "prompt": prompt, "w": w, "h": h, "name": None, "tags": [],
            "collections": [],
        }

    def settle(self, job, now=None):
        """Materialize the outputs of a job that has succeeded (or, for a
        workflow run, of each node that has)."""
        now = time.time() if now is None else now
        if job["settled"]:
            return
        if job["flow"] is not None:
            return self.settle_workflow(job, now)
        status, _, history = self.job_state(job, now)
        if status != "success":
            return
        # Generate PNGs outside the lock (pure CPU), insert under it.
        pngs = [make_png(job["seed"], job["prompt"], i, job["w"], job["h"])
                for i in range(job["n"])]
        done_at = history[-1][1]
        source = job["asset_source"] or (
            "inference-txt" if job["type"] == "inference" else "txt2img")
        atype = job["asset_type"] or (
            "inference-txt2img" if job["type"] == "inference" else "txt2img")
        with self.lock:
            if job["settled"]:
                return
            for i, (aid, data) in enumerate(zip(job["asset_ids"], pngs)):
                self.assets[aid] = self.make_asset(
                    aid, data, done_at, job, i, source, atype, job["model_id"],
                    job["seed"], job["prompt"], job["w"], job["h"])
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
        if job["flow"] is not None:
            return self.wf_job_json(job, now)
        status, progress, history = self.job_state(job, now)
        metadata = {"input": job["input"], "output": {},
                    "assetIds": list(job["asset_ids"]) if status == "success" else []}
        if status == "success" and job["output"]:
            metadata["output"] = dict(job["output"])
        return self.job_record(job, status, progress, history, metadata)

    def job_record(self, job, status, progress, history, metadata):
        """The API's job object around a job's state and metadata."""
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

    def pending_asset_json(self, job, index=0):
        """The record of a job's output before it exists (status pending)."""
        t = job["created"]
        a = self.make_asset(job["asset_ids"][index], b"", t, job, index,
                            job["asset_source"] or "txt2img",
                            job["asset_type"] or "txt2img", job["model_id"],
                            job["seed"], job["prompt"], job["w"], job["h"])
        out = self.asset_json(a)
        out["status"] = "pending"
        return out

    # ---- workflow runs
    def create_workflow_job(self, wf, inputs, cost, fault):
        now = time.time()
        flow = [dict(n) for n in wf["flow"]]
        order = topo_order(flow)
        depth = {}
        for n in order:
            deps = [d for d in (n.get("dependsOn") or [])]
            depth[n["id"]] = 1 + max([depth[d] for d in deps] or [0])
        duration = self.job_duration
        fail = None
        if fault is not None:
            if fault.get("job_duration") is not None:
                duration = fault.get("job_duration")
            fail = fault.get("job_fail")
        producing = [n for n in order if n["type"] in WF_ASSET_NODES]
        fail_node = None
        if fail:
            cands = producing or [n for n in order if n["type"] != "user-approval"] or order
            fail_node = cands[0]["id"]
        node_assets = {n["id"]: [new_id("asset_")] for n in producing}
        # Outputs of the run: the assets of producing nodes that no other
        # producing node depends on (directly or not).
        children = collections.defaultdict(set)
        for n in flow:
            for d in n.get("dependsOn") or []:
                children[d].add(n["id"])
        prod_ids = set(node_assets)

        def feeds_producer(nid, seen=None):
            seen = set() if seen is None else seen
            for c in children[nid]:
                if c in seen:
                    continue
                seen.add(c)
                if c in prod_ids or feeds_producer(c, seen):
                    return True
            return False
        outputs = [aid for n in order if n["id"] in prod_ids and not feeds_producer(n["id"])
                   for aid in node_assets[n["id"]]]
        prompt = inputs.get("prompt") if isinstance(inputs.get("prompt"), str) else wf["name"]
        seed = inputs.get("seed")
        seed = str(seed) if seed is not None else "wf"
        job = {
            "id": new_id("job_"), "seq": self.next_seq(), "type": "workflow",
            "created": now, "duration": float(duration), "fail": fail,
            "canceled_at": None, "model_id": None, "input": inputs,
            "prompt": prompt, "seed": seed, "n": 0, "w": IMAGE_SIDE, "h": IMAGE_SIDE,
            "cost": cost, "asset_ids": outputs, "settled": False, "inference": None,
            "asset_source": None, "asset_type": None, "output": None,
            "flow": flow, "order": [n["id"] for n in order], "depth": depth,
            "levels": max(depth.values() or [1]), "fail_node": fail_node,
            "approvals": {}, "node_assets": node_assets, "materialized": set(),
            "workflow_id": wf["id"],
        }
        with self.lock:
            self.jobs[job["id"]] = job
        return job

    def wf_eval(self, job, now):
        """Status of a workflow run and of each of its nodes at `now`.
        Nodes start when their dependencies have finished; each takes
        0.85 * duration / (longest chain).  A user-approval node stays
        `processing` until approved."""
        d = job["duration"]
        created = job["created"]
        t0 = created + 0.1 * d
        step = 0.85 * d / max(1, job["levels"])
        byid = {n["id"]: n for n in job["flow"]}
        times = {}
        for nid in job["order"]:
            n = byid[nid]
            deps = [times[x][1] for x in (n.get("dependsOn") or [])]
            if any(e is None for e in deps):
                start = None
            else:
                start = max([t0] + deps)
            if start is None:
                end = None
            elif n["type"] == "user-approval":
                at = job["approvals"].get(nid)
                end = None if at is None else max(start, at)
            else:
                end = start + step
            times[nid] = (start, end)
        fail_node = job["fail_node"]
        fail_at = times[fail_node][1] if fail_node else None
        if fail_node:
            run_end = fail_at
        elif all(e is not None for _, e in times.values()):
            run_end = max([t0] + [e for _, e in times.values()])
        else:
            run_end = None
        cut = job["canceled_at"]
        terminal = None
        if cut is not None and (run_end is None or cut < run_end):
            terminal = ("canceled", cut)
        elif run_end is not None:
            terminal = ("failure" if fail_node else "success", run_end)
        ended = terminal is not None and terminal[1] <= now
        tnow = min(now, terminal[1]) if ended else now
        nodes = {}
        done = 0
        for nid in job["order"]:
            start, end = times[nid]
            if nid == fail_node and ended and terminal[0] == "failure":
                st = "failure"
            elif end is not None and end <= tnow:
                st = "success"
                done += 1
            elif ended:
                st = "skipped"
            elif start is not None and start <= now:
                st = "processing"
            else:
                st = "pending"
            nodes[nid] = st
        history = [("pending", created)]
        for name, t in (("queued", created + 0.05 * d), ("in-progress", t0)):
            if t <= tnow and not (ended and t >= terminal[1] and terminal[0] == "canceled"):
                history.append((name, t))
        if ended:
            history.append(terminal)
        status = history[-1][0]
        total = max(1, len(job["order"]))
        if status == "success":
            progress = 1.0
        else:
            progress = round(min(0.99, done / total), 3)
        return {"status": status, "progress": progress, "history": history,
                "nodes": nodes, "end": terminal[1] if terminal else None}

    def settle_workflow(self, job, now):
        ev = self.wf_eval(job, now)
        todo = [nid for nid, st in ev["nodes"].items()
                if st == "success" and nid in job["node_assets"]
                and nid not in job["materialized"]]
        if not todo:
            if ev["status"] in ("success", "failure", "canceled"):
                job["settled"] = all(n in job["materialized"] for n in job["node_assets"]
                                     if ev["nodes"][n] == "success")
            return
        byid = {n["id"]: n for n in job["flow"]}
        made = []
        for nid in todo:
            n = byid[nid]
            idx = job["order"].index(nid)
            for aid in job["node_assets"][nid]:
                made.append((nid, aid, n, make_png(job["seed"], job["prompt"], idx,
                                                   job["w"], job["h"])))
        t = ev["history"][-1][1]
        with self.lock:
            for nid, aid, n, data in made:
                if nid in job["materialized"]:
                    continue
                rb = n["type"] == "remove-background"
                self.assets[aid] = self.make_asset(
                    aid, data, t, job, job["order"].index(nid),
                    "background-removal" if rb else "txt2img",
                    "background-removal" if rb else "txt2img",
                    n.get("modelId"), job["seed"], job["prompt"], job["w"], job["h"])
            for nid in todo:
                job["materialized"].add(nid)

    def wf_job_json(self, job, now):
        ev = self.wf_eval(job, now)
        status, history = ev["status"], ev["history"]
        flow = []
        for n in job["flow"]:
            node = {k: v for k, v in n.items() if k not in ("status", "assets")}
            node["status"] = ev["nodes"][n["id"]]
            if node["status"] == "success" and n["id"] in job["node_assets"]:
                node["assets"] = [{"assetId": a, "url": self.file_url(a, "image/png")}
                                  for a in job["node_assets"][n["id"]]]
            flow.append(node)
        metadata = {"input": job["input"], "output": {},
                    "assetIds": list(job["asset_ids"]) if status == "success" else [],
                    "flow": flow, "workflowId": job["workflow_id"],
                    "workflowJobId": job["id"]}
        return self.job_record(job, status, ev["progress"], history, metadata)

    def file_url(self, asset_id, mime):
        return "%s/_files/%s.%s" % (self.base_url(), asset_id, EXT_OF_MIME.get(mime, "bin"))

    def asset_json(self, a):
        url = self.file_url(a["id"], a["mime"])
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
                  collections=None, aid=None):
        now = time.time()
        aid = aid or new_id("asset_")
        with self.lock:
            self.assets[aid] = {
                "id": aid, "seq": self.next_seq(), "created": now, "updated": now,
                "data": data, "mime": mime, "kind": kind, "job_id": None,
                "index": 0, "source": source, "type": atype, "model_id": None,
                "seed": None, "prompt": None, "w": None, "h": None, "name": name,
                "tags": list(tags or []), "collections": list(collections or []),
            }
        return self.assets[aid]

    # ---- models
    def add_model(self, mid, name, mtype, custom, status="trained", source="scenario",
                  privacy="private", capabilities=None, inputs=None, created=None,
                  short=None):
        t = time.time() if created is None else created
        m = {"id": mid, "seq": self.next_seq(), "name": name, "type": mtype,
             "custom": custom, "status": status, "source": source, "privacy": privacy,
             "capabilities": list(capabilities or ["txt2img"]), "inputs": inputs,
             "created": t, "updated": t, "tags": [], "collections": [], "short": short}
        with self.lock:
            self.models[mid] = m
        return m

    def seed_models(self):
        """The models every simulator starts with (deterministic)."""
        self.add_model("flux.1-dev", "Flux.1 [dev]", "flux.1", False, source="scenario",
                       privacy="public", created=SEED_TIME,
                       capabilities=["txt2img", "img2img", "inpaint", "controlnet"],
                       short="Scenario's base text-to-image model (simulated)")
        self.add_model("model_sim-custom", "Simulator custom model", "custom", True,
                       source="other", created=SEED_TIME + 60,
                       capabilities=["txt2img", "img2img"],
                       inputs=json.loads(json.dumps(CUSTOM_MODEL_INPUTS)),
                       short="A custom model whose inputs are listed in inputs[]")
        self.add_model("model_sim-lora", "Simulator LoRA", "flux.1-lora", True,
                       source="scenario", created=SEED_TIME + 120,
                       capabilities=["txt2img", "img2img"],
                       short="A trained LoRA (simulated)")

    def model_json(self, m):
        out = {
            "id": m["id"], "name": m["name"], "type": m["type"], "custom": m["custom"],
            "status": m["status"], "source": m["source"], "privacy": m["privacy"],
            "capabilities": list(m["capabilities"]), "collectionIds": list(m["collections"]),
            "tags": list(m["tags"]), "exampleAssetIds": [], "trainingImagesNumber": 0,
            "createdAt": iso(m["created"]), "updatedAt": iso(m["updated"]),
            "ownerId": "sim-project", "authorId": "sim-user",
        }
        if m["inputs"] is not None:
            out["inputs"] = json.loads(json.dumps(m["inputs"]))
        if m["short"]:
            out["shortDescription"] = m["short"]
        return out

    # ---- collections
    def add_collection(self, name, cid=None):
        now = time.time()
        c = {"id": cid or new_id("collection_"), "seq": self.next_seq(), "name": name,
             "created": now, "updated": now, "thumbnail": None}
        with self.lock:
            self.collections[c["id"]] = c
        return c

    def collection_json(self, c):
        with self.lock:
            na = sum(1 for a in self.assets.values() if c["id"] in a["collections"])
            nm = sum(1 for m in self.models.values() if c["id"] in m["collections"])
            thumb = c["thumbnail"]
            ta = self.assets.get(thumb) if thumb else None
        out = {"id": c["id"], "name": c["name"], "ownerId": "sim-project",
               "createdAt": iso(c["created"]), "updatedAt": iso(c["updated"]),
               "assetCount": na, "modelCount": nm, "itemCount": na + nm}
        if ta is not None:
            out["thumbnail"] = {"assetId": ta["id"], "url": self.file_url(ta["id"], ta["mime"])}
        return out

    # ---- workflows
    def add_workflow(self, name, description, wid=None):
        now = time.time()
        w = {"id": wid or new_id("workflow_"), "seq": self.next_seq(), "name": name,
             "description": description, "created": now, "updated": now, "flow": [],
             "inputs": [], "status": "draft", "privacy": "private", "tags": [],
             "editor": {}, "extra": {}}
        with self.lock:
            self.workflows[w["id"]] = w
        return w

    def workflow_json(self, w):
        out = {"id": w["id"], "name": w["name"], "description": w["description"],
               "authorId": "sim-user", "ownerId": "sim-project",
               "createdAt": iso(w["created"]), "updatedAt": iso(w["updated"]),
               "editorInfo": json.loads(json.dumps(w["editor"])),
               "flow": json.loads(json.dumps(w["flow"])),
               "inputs": json.loads(json.dumps(w["inputs"])),
               "privacy": w["privacy"], "status": w["status"], "tagSet": list(w["tags"])}
        for k, v in w["extra"].items():
            out[k] = json.loads(json.dumps(v))
        return out

    # ---- seeding (--seed-assets, POST /_sim/seed)
    def seed(self, assets=0, models=0, collections=0, workflows=0, jobs=0):
        """Creates records with deterministic ids and contents; returns their ids."""
        out = {"assets": [], "models": [], "collections": [], "workflows": [], "jobs": []}
        for _ in range(assets):
            with self.lock:
                self.seeded["assets"] += 1
                k = self.seeded["assets"]
            a = self.add_asset(make_png("seed", "seeded asset", k, SEED_SIDE, SEED_SIDE),
                               "image/png", "image", "uploaded", "uploaded",
                               name="seeded-%06d.png" % k, aid="asset_seed%06d" % k)
            a["w"] = a["h"] = SEED_SIDE
            out["assets"].append(a["id"])
        for _ in range(models):
            with self.lock:
                self.seeded["models"] += 1
                k = self.seeded["models"]
            m = self.add_model("model_seed%06d" % k, "Seeded model %d" % k, "flux.1-lora",
                               True, source="scenario")
            out["models"].append(m["id"])
        for _ in range(collections):
            with self.lock:
                self.seeded["collections"] += 1
                k = self.seeded["collections"]
            c = self.add_collection("Seeded collection %d" % k, cid="collection_seed%06d" % k)
            out["collections"].append(c["id"])
        for _ in range(workflows):
            with self.lock:
                self.seeded["workflows"] += 1
                k = self.seeded["workflows"]
            w = self.add_workflow("Seeded workflow %d" % k, "A seeded workflow",
                                  wid="workflow_seed%06d" % k)
            w["inputs"] = [{"name": "prompt", "type": "string", "required": {"always": True}}]
            w["flow"] = [{"id": "generate", "type": "custom-model",
                          "modelId": "model_sim-custom",
                          "inputs": [{"name": "prompt", "type": "string",
                                      "ref": {"name": "prompt"}}]}]
            w["status"] = "ready"
            out["workflows"].append(w["id"])
        for _ in range(jobs):
            with self.lock:
                self.seeded["jobs"] += 1
                k = self.seeded["jobs"]
            body = {"modelId": "flux.1-dev", "prompt": "seeded job %d" % k, "seed": str(k)}
            j = self.create_job("inference", "flux.1-dev", body, body["prompt"], body["seed"],
                                1, SEED_SIDE, SEED_SIDE, 5, None,
                                created=time.time() - self.job_duration - 1)
            with self.lock:
                del self.jobs[j["id"]]
                j["id"] = "job_seed%06d" % k
                self.jobs[j["id"]] = j
            out["jobs"].append(j["id"])
        return out

    # ---- uploads
    def upload_state(self, up, now):
        if up["failed"]:
            return "failed"
        if up["completed_at"] is None:
            return "pending"
        d = self.upload_duration if self.upload_duration is not None else self.job_duration / 2
        el = now - up["completed_at"]
        if up["fail_validation"] and el >= d / 2:
            return "failed"
        if el >= d:
            return "imported"
        if el >= d / 2:
            return "validated"
        return "validating"

    def part_url(self, up, n):
        return "%s/_uploads/%s/%d?gen=%d&expires=%d" % (
            self.base_url(), up["id"], n, up["url_gen"], int(up["urls_expire"]))

    def upload_json(self, up, now=None):
        now = time.time() if now is None else now
        status = self.upload_state(up, now)
        with self.lock:
            if status == "imported" and up["entity_id"] is None:
                blob = up["blob"]
                if up["kind"] == "model":
                    m = self.add_model(new_id("model_"), up["file_name"], "custom",
                                       custom=True, status="trained", source="other")
                    up["entity_id"] = m["id"]
                else:
                    head = blob.read(0, 16)
                    mime = up["content_type"] or sniff_mime(head)
                    data = blob if len(blob) > BLOB_INLINE else blob.read(0, len(blob))
                    a = self.add_asset(data, mime, ASSET_KIND_OF_UPLOAD.get(up["kind"], "image"),
                                       "uploaded", "uploaded", name=up["file_name"])
                    up["entity_id"] = a["id"]
                up["updated"] = now
            if status == "failed" and up["fail_validation"] and not up["failed"]:
                up["failed"] = up["fail_validation"]
                up["updated"] = now
            if status == "pending" and (up["url_gen"] <= up["expired_gen"]
                                        or up["urls_expire"] <= now):
                # expired URLs: hand out fresh ones
                up["url_gen"] = max(up["url_gen"], up["expired_gen"]) + 1
                up["urls_expire"] = now + self.part_url_ttl
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
            out["parts"] = [{"number": n, "url": self.part_url(up, n),
                             "expires": iso(up["urls_expire"])}
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
        elif path.startswith("/_cdn/"):
            api, tmpl = False, CDN_ROUTE
            params = {"file": urllib.parse.unquote(path[len("/_cdn/"):])}
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

        fault = None
        fault_err = None
        try:
            fault = sim.pick_fault(self.headers.get("X-Sim-Fault"), method, path, scopes, api)
        except ValueError as e:
            fault_err = ApiError(400, "Invalid X-Sim-Fault header: %s" % e,
                                 infos={"field": "X-Sim-Fault"})

        entry = {
            "id": self.request_id, "method": method, "path": raw_path,
            "route": route, "query": split.query, "time": round(t0, 6),
            "auth": bool(self.headers.get("Authorization")),
            "status": None, "fault": fault.spec if fault else None,
            "body_size": len(body), "duration_ms": None,
            "user_agent": self.headers.get("User-Agent"),
            "host": self.headers.get("Host"), "conn": self.conn_id,
        }
        sim.begin(entry, self)
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
                if tmpl == FILE_ROUTE and fault is not None and (
                        fault.get("redirect") or fault.get("redirect_other_host")):
                    return self.redirect_file(params["file"], fault)
                if tmpl in (FILE_ROUTE, CDN_ROUTE):
                    return self.serve_file(params["file"], fault)
                if fault is not None and fault.get("expired"):
                    return self.expire_part(params, fault)
                return self.put_part(params, query, body, fault)
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
        size = len(data)
        etag = (hashlib.md5(data).hexdigest() if isinstance(data, bytes)
                else "%s-%d" % (a["id"], size))
        headers = [("Accept-Ranges", "bytes"),
                   ("ETag", '"%s"' % etag),
                   ("Cache-Control", "private, max-age=3600")]
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a_, _, b_ = rng[6:].partition("-")
            try:
                if a_ == "":
                    start, end = max(0, size - int(b_)), size - 1
                else:
                    start = int(a_)
                    end = min(int(b_), size - 1) if b_ else size - 1
            except ValueError:
                start, end = 0, size - 1
            if start >= size or start > end:
                return self.send(416, b"", None,
                                 headers + [("Content-Range", "bytes */%d" % size)], fault)
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
            status = 206
        if isinstance(data, bytes):
            return self.send(status, data[start:end + 1], a["mime"], headers, fault)
        return self.send_blob(status, data, start, end + 1, a["mime"], headers, fault)

    def send_blob(self, status, blob, start, end, ctype, headers, fault):
        """Stream bytes [start, end) of a large uploaded file."""
        self.status_sent = status
        headers = [("Content-Type", ctype)] + list(headers)
        length = end - start
        self.wfile.write(self.head_bytes(status, headers, length))
        if self.command == "HEAD":
            return
        stop = end
        if fault is not None and fault.get("reset_body"):
            stop = start + length // 2
        elif fault is not None and fault.get("delay_body") is not None:
            time.sleep(fault.get("delay_body"))
        pos = start
        while pos < stop:
            n = min(1024 * 1024, stop - pos)
            self.wfile.write(blob.read(pos, pos + n))
            pos += n
        if stop < end:
            time.sleep(0.05)
            self.abort()

    def redirect_file(self, name, fault):
        """Faults `redirect` / `redirect_other_host`: 302 to /_cdn/<name>, on
        this host or on `localhost` (another host name for the same server)."""
        base = self.sim.base_url()
        if fault.get("redirect_other_host"):
            base = "http://localhost:%d" % self.sim.port
        split = urllib.parse.urlsplit(self.path)
        loc = "%s/_cdn/%s" % (base, urllib.parse.quote(name))
        if split.query:
            loc += "?" + split.query
        return self.send(302, b"", None, [("Location", loc)])

    def find_part_upload(self, params):
        sim = self.sim
        with sim.lock:
            up = sim.uploads.get(params["uploadId"])
        if up is None:
            raise ApiError(404, "Upload %s not found" % params["uploadId"])
        return up

    def expire_part(self, params, fault):
        """Fault `expired`: this part URL and every URL handed out so far for
        the upload answer 403 until fresh ones are fetched (GET /uploads/{id})."""
        sim = self.sim
        with sim.lock:
            up = sim.uploads.get(params["uploadId"])
            if up is not None:
                up["expired_gen"] = max(up["expired_gen"], up["url_gen"])
        raise ApiError(403, "Request has expired: the part URL is no longer valid",
                       code="FORBIDDEN")

    def put_part(self, params, query, body, fault):
        sim = self.sim
        up = self.find_part_upload(params)
        try:
            n = int(params["partNumber"])
        except ValueError:
            n = -1
        if self.headers.get("Authorization"):
            raise ApiError(400, "Only one auth mechanism allowed: a presigned part URL "
                                "carries its own signature, send no Authorization header",
                           infos={"field": "Authorization"})
        if not 1 <= n <= up["parts_count"]:
            raise ApiError(400, "Part number must be between 1 and %d" % up["parts_count"],
                           infos={"field": "partNumber"})
        gen, expires = query.get("gen"), query.get("expires")
        try:
            stale = gen is not None and int(gen) <= up["expired_gen"]
            stale = stale or (expires is not None and float(expires) <= time.time())
        except ValueError:
            stale = True
        if stale:
            raise ApiError(403, "Request has expired: the part URL is no longer valid",
                           code="FORBIDDEN")
        if up["completed_at"] is not None or up["failed"]:
            raise ApiError(409, "Upload %s is already completed" % up["id"])
        piece = spool(body)
        with sim.lock:
            old = up["parts_data"].get(n)
            up["parts_data"][n] = piece
            up["part_puts"][n] = up["part_puts"].get(n, 0) + 1
            up["updated"] = time.time()
        if old is not None and not isinstance(old, bytes):
            old[0].close()
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
        if path == "/_sim/seed" and method == "POST":
            if not isinstance(data, dict):
                raise ApiError(400, "seed needs an object such as {\"assets\": 250}")
            counts = {}
            for k, v in data.items():
                if k not in ("assets", "models", "collections", "workflows", "jobs"):
                    raise ApiError(400, "Unknown seed kind %s" % k, infos={"field": k})
                if not is_integer(v) or not 0 <= v <= 100000:
                    raise ApiError(400, "%s must be an integer between 0 and 100000" % k,
                                   infos={"field": k})
                counts[k] = int(v)
            out = sim.seed(**counts)
            out["ok"] = True
            return self.send_json(200, out)
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
                    if k in ("job_duration", "upload_duration", "min_part_size", "part_url_ttl"):
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
    with h.sim.lock:
        model = h.sim.models.get(params["modelId"])
    if model is not None and model["inputs"]:
        data = check_inputs(model["inputs"], data)  # known model: its inputs[] rule
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
    types = csv(query, "types", "type")
    if types:
        jobs = [j for j in jobs if j["type"] in types]
    if query.get("workflowId"):
        jobs = [j for j in jobs if j.get("workflow_id") == query["workflowId"]]
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
    if query.get("collectionId"):
        assets = [a for a in assets if query["collectionId"] in a["collections"]]
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
          "entity_id": None, "parts_data": {}, "part_puts": {}, "blob": None,
          "url_gen": 1, "expired_gen": 0, "urls_expire": now + sim.part_url_ttl,
          "fail_validation": fault.get("upload_fail") if fault is not None else None}
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
        if fault is not None and fault.get("upload_fail") and up["completed_at"] is None:
            up["fail_validation"] = fault.get("upload_fail")
        if up["completed_at"] is None and not up["failed"]:
            missing = [n for n in range(1, up["parts_count"] + 1) if n not in up["parts_data"]]
            if missing:
                raise ApiError(400, "Missing parts: %s" % ", ".join(map(str, missing[:20])),
                               infos={"field": "parts", "missing": missing[:100]})
            pieces = [up["parts_data"][n] for n in range(1, up["parts_count"] + 1)]
            sizes = [piece_len(p) for p in pieces]
            small = [n for n, s in enumerate(sizes[:-1], 1) if s < sim.min_part_size]
            now = time.time()
            if sum(sizes) != up["file_size"]:
                up["failed"] = ("Uploaded %d bytes but fileSize is %d"
                                % (sum(sizes), up["file_size"]))
            elif small:
                up["failed"] = ("Part %d is smaller than %d bytes (only the last part may be)"
                                % (small[0], sim.min_part_size))
            # the parts, assembled in order (no copy: the file is read from them)
            up["blob"] = Blob(pieces)
            up["completed_at"] = now
            up["updated"] = now
    return 200, upload_out(sim, up)


def type_ok(v, t):
    if t == "string":
        return isinstance(v, str)
    if t == "number":
        return is_number(v)
    if t == "integer":
        return is_integer(v)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return True


def raise_bad(bad):
    if bad:
        fields = [b[0] for b in bad]
        raise ApiError(400, "; ".join(b[1] for b in bad),
                       infos={"field": fields[0], "fields": fields,
                              "errors": [{"field": f, "message": m} for f, m in bad]})


ARRAY_ITEM_TYPE = {"file_array": "string", "string_array": "string", "model_array": "string",
                   "number_array": "number", "inputs_array": "object"}


def check_inputs(defs, values):
    """Checks `values` against inputs[] definitions (type, required.always,
    min/max, minLength/maxLength, allowedValues) and raises one 400 listing
    every problem.  A scalar where an array is expected is dropped silently,
    as the API does.  Returns the values kept."""
    kept = dict(values)
    bad = []
    for d in defs:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            continue
        name, typ = d["name"], d.get("type")
        required = isinstance(d.get("required"), dict) and d["required"].get("always") is True
        if typ in ARRAY_ITEM_TYPE and name in kept and not isinstance(kept[name], list):
            del kept[name]  # the API drops it silently (and still bills)
        if kept.get(name) is None:
            if required:
                bad.append((name, "%s is required (%s)" % (name, typ)))
            continue
        v = kept[name]
        if typ in ARRAY_ITEM_TYPE:
            if not all(type_ok(x, ARRAY_ITEM_TYPE[typ]) for x in v):
                bad.append((name, "%s must be an array of %ss" % (name, ARRAY_ITEM_TYPE[typ])))
            continue
        want = {"file": "string", "model": "string"}.get(typ, typ)
        if want in ("string", "number", "boolean") and not type_ok(v, want):
            bad.append((name, "%s must be a %s (got %s)" % (name, want, type(v).__name__)))
            continue
        if typ == "number":
            if is_number(d.get("min")) and v < d["min"]:
                bad.append((name, "%s must be >= %s (got %s)" % (name, d["min"], v)))
            elif is_number(d.get("max")) and v > d["max"]:
                bad.append((name, "%s must be <= %s (got %s)" % (name, d["max"], v)))
        if isinstance(v, str):
            if is_number(d.get("maxLength")) and len(v) > d["maxLength"]:
                bad.append((name, "%s must be at most %d characters" % (name, d["maxLength"])))
            elif is_number(d.get("minLength")) and len(v) < d["minLength"]:
                bad.append((name, "%s must be at least %d characters" % (name, d["minLength"])))
        allowed = d.get("allowedValues")
        if isinstance(allowed, list) and allowed and v not in allowed:
            bad.append((name, "%s must be one of %s" % (name, ", ".join(map(str, allowed)))))
    raise_bad(bad)
    return kept


def random_seed():
    return str(random.randint(0, 2 ** 31 - 1))


def text_results(name, data, n_req):
    """Deterministic results of the text operations (answer and job output)."""
    if name == "caption":
        imgs = data.get("images") if isinstance(data.get("images"), list) else []
        return {"captions": ["A simulated caption of image %d" % (i + 1)
                             for i in range(max(1, len(imgs)))]}
    if name == "describe-style":
        return {"description": "A simulated description of the style of the images",
                "synthesis": "simulated style: soft light, flat colours"}
    if name == "embed":
        h = hashlib.sha256(str(data.get("text", "")).encode("utf-8")).digest()
        return {"embedding": [round((b - 128) / 128.0, 4) for b in h[:16]]}
    if name == "prompt":
        mode = data.get("mode") if isinstance(data.get("mode"), str) else "structured"
        out = {"prompts": ["A simulated %s prompt %d" % (mode, i + 1)
                           for i in range(min(max(1, n_req), MAX_OUTPUTS))]}
        if mode in ("completion", "contextual", "image-editing", "inventive", "structured"):
            out["mode"] = mode
        return out
    if name == "translate":
        return {"translation": str(data.get("prompt", "")), "detectedLanguage": "en"}
    return {}


def make_generate_handler(name):
    job_type, source, atype, required, seed_type, unit, inf_type = GENERATE_OPS[name]

    def handler(h, params, query, body, fault):
        sim = h.sim
        data = parse_json_body(body)
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
        bad = [(f, "%s is required" % f) for f in required if f not in data]
        for f, t in GENERATE_FIELD_TYPES.items():
            if f in data and not type_ok(data[f], t):
                bad.append((f, "%s must be %s %s" % (f, "an" if t[0] in "aeiou" else "a", t)))
        if "seed" in data and seed_type and not type_ok(data["seed"], seed_type):
            bad.append(("seed", "seed must be a %s for this operation" % seed_type))
        for f in ("numSamples", "numOutputs"):
            if is_integer(data.get(f)) and not 1 <= data[f] <= 128:
                bad.append((f, "%s must be between 1 and 128" % f))
        raise_bad(bad)
        n_req = int(data.get("numSamples", data.get("numOutputs", 1)))
        cost = unit * n_req
        if truthy(query.get("dryRun", "")):
            return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
        seed = data.get("seed")
        if seed is None:
            seed = random_seed()
        prompt = data.get("prompt")
        if not isinstance(prompt, str):
            prompt = "%s:%s" % (name, data.get("image") or data.get("text")
                                or data.get("texture") or "")
        if name == "reframe" and is_number(data.get("targetWidth")) and is_number(
                data.get("targetHeight")):
            w, hh = output_size({"width": data["targetWidth"], "height": data["targetHeight"]})
        elif name == "skybox-base-360":
            w, hh = output_size({"aspectRatio": "2:1"})
        else:
            w, hh = output_size(data)
        n_out = 0 if source is None else min(n_req, MAX_OUTPUTS)
        results = text_results(name, data, n_req) if source is None else None
        model_id = data.get("modelId") if isinstance(data.get("modelId"), str) else None
        inference = None
        if inf_type:
            inference = {"id": new_id("inf_"), "type": inf_type, "prompt": prompt,
                         "modelId": model_id or "", "seed": str(seed), "numSamples": n_req}
            for k in ("image", "imageId", "mask", "maskId", "controlImage", "controlImageId"):
                v = data.get(k)
                inference[k] = v if isinstance(v, str) else ""
            if isinstance(data.get("modality"), str):
                inference["modality"] = data["modality"]
        job = sim.create_job(job_type, model_id, data, prompt, seed, n_out, w, hh, cost,
                             fault, inference, asset_source=source, asset_type=atype,
                             output=results)
        out = {"job": sim.job_json(job), "creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
        if inference is not None:
            out["inference"] = inference
        if results:
            out.update(results)
        if name in GENERATE_ASSET_ANSWER:
            out["asset"] = sim.pending_asset_json(job, 0)
        if name == "segment":
            out["segments"] = [{"bbox": [0, 0, w, hh], "checkpoint": "sam_b",
                                "message": "simulated segment", "nbMasks": 1}]
        return 200, out
    handler.__name__ = "h_generate_" + name.replace("-", "_")
    return handler


# ---- models

def get_model(sim, model_id):
    with sim.lock:
        m = sim.models.get(model_id)
    if m is None:
        raise ApiError(404, "Model %s not found" % model_id, infos={"modelId": model_id})
    return m


def h_get_model(h, params, query, body, fault):
    return 200, {"model": h.sim.model_json(get_model(h.sim, params["modelId"]))}


def csv(query, *names):
    for n in names:
        if query.get(n):
            return set(x for x in query[n].split(",") if x)
    return set()


def h_list_models(h, params, query, body, fault):
    sim = h.sim
    with sim.lock:
        models = list(sim.models.values())
    types = csv(query, "types", "type")
    if types:
        models = [m for m in models if m["type"] in types]
    status = csv(query, "status")
    if status:
        models = [m for m in models if m["status"] in status]
    if query.get("privacy"):
        models = [m for m in models if m["privacy"] == query["privacy"]]
    if query.get("collectionId"):
        models = [m for m in models if query["collectionId"] in m["collections"]]
    page, nxt = paginate(models, query, 500, default=100,
                         ascending=query.get("sortDirection", "desc").lower() == "asc")
    out = {"models": [sim.model_json(m) for m in page]}
    if nxt:
        out["nextPaginationToken"] = nxt
    return 200, out


def string_list(data, key, limit=None, required=True):
    ids = data.get(key) if isinstance(data, dict) else None
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "%s must be an array of strings" % key, infos={"field": key})
    if limit and len(ids) > limit:
        raise ApiError(400, "%s accepts at most %d ids" % (key, limit), infos={"field": key})
    return ids


def h_models_bulk(h, params, query, body, fault):
    sim = h.sim
    ids = string_list(parse_json_body(body, required=False), "modelIds", 200, required=False)
    with sim.lock:
        found = [sim.models[i] for i in ids if i in sim.models]
    return 200, {"models": [sim.model_json(m) for m in found]}


# ---- collections

def get_collection(sim, cid):
    with sim.lock:
        c = sim.collections.get(cid)
    if c is None:
        raise ApiError(404, "Collection %s not found" % cid, infos={"collectionId": cid})
    return c


def h_post_collection(h, params, query, body, fault):
    data = parse_json_body(body)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ApiError(400, "name is required (string)", infos={"field": "name"})
    return 200, {"collection": h.sim.collection_json(h.sim.add_collection(data["name"]))}


def h_list_collections(h, params, query, body, fault):
    sim = h.sim
    with sim.lock:
        cols = list(sim.collections.values())
    page, nxt = paginate(cols, query, 100, default=10)
    out = {"collections": [sim.collection_json(c) for c in page]}
    if nxt:
        out["nextPaginationToken"] = nxt
    return 200, out


def h_get_collection(h, params, query, body, fault):
    return 200, {"collection": h.sim.collection_json(get_collection(h.sim, params["collectionId"]))}


def h_put_collection(h, params, query, body, fault):
    sim = h.sim
    c = get_collection(sim, params["collectionId"])
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    if "name" in data and (not isinstance(data["name"], str) or not data["name"]):
        bad.append(("name", "name must be a non-empty string"))
    if "thumbnail" in data:
        t = data["thumbnail"]
        with sim.lock:
            known = isinstance(t, str) and t in sim.assets
        if not known:
            bad.append(("thumbnail", "thumbnail must be the id of an existing asset"))
    raise_bad(bad)
    with sim.lock:
        if "name" in data:
            c["name"] = data["name"]
        if "thumbnail" in data:
            c["thumbnail"] = data["thumbnail"]
        c["updated"] = time.time()
    return 200, {"collection": sim.collection_json(c)}


def h_delete_collection(h, params, query, body, fault):
    sim = h.sim
    c = get_collection(sim, params["collectionId"])
    with sim.lock:
        sim.collections.pop(c["id"], None)
        for rec in list(sim.assets.values()) + list(sim.models.values()):
            if c["id"] in rec["collections"]:
                rec["collections"].remove(c["id"])
    return 200, {}


def collection_items(kind):
    """PUT / DELETE /collections/{id}/assets (kind "asset") or /models."""
    key = kind + "Ids"

    def change(h, params, query, body, fault, add):
        sim = h.sim
        sim.settle_all()
        c = get_collection(sim, params["collectionId"])
        ids = string_list(parse_json_body(body), key, 100)
        store = sim.assets if kind == "asset" else sim.models
        with sim.lock:
            missing = [i for i in ids if i not in store]
            if add and missing:
                raise ApiError(404, "%s not found: %s" % (kind.capitalize(), ", ".join(missing[:20])),
                               infos={"field": key, "missing": missing[:100]})
            for i in ids:
                rec = store.get(i)
                if rec is None:
                    continue
                if add and c["id"] not in rec["collections"]:
                    rec["collections"].append(c["id"])
                elif not add and c["id"] in rec["collections"]:
                    rec["collections"].remove(c["id"])
            c["updated"] = time.time()
        return 200, {"collection": sim.collection_json(c)}

    def put(h, params, query, body, fault):
        return change(h, params, query, body, fault, True)

    def delete(h, params, query, body, fault):
        return change(h, params, query, body, fault, False)
    return put, delete


h_put_collection_assets, h_delete_collection_assets = collection_items("asset")
h_put_collection_models, h_delete_collection_models = collection_items("model")


# ---- workflows

def get_workflow(sim, wid):
    with sim.lock:
        w = sim.workflows.get(wid)
    if w is None:
        raise ApiError(404, "Workflow %s not found" % wid, infos={"workflowId": wid})
    return w


def h_post_workflow(h, params, query, body, fault):
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    if not isinstance(data.get("name"), str) or not data["name"]:
        bad.append(("name", "name is required (string)"))
    if "description" in data and not isinstance(data["description"], str):
        bad.append(("description", "description must be a string"))
    raise_bad(bad)
    w = h.sim.add_workflow(data["name"], data.get("description", ""))
    return 200, {"workflow": h.sim.workflow_json(w)}


def h_list_workflows(h, params, query, body, fault):
    sim = h.sim
    with sim.lock:
        wfs = list(sim.workflows.values())
    status = csv(query, "status")
    if status:
        wfs = [w for w in wfs if w["status"] in status]
    if query.get("privacy"):
        wfs = [w for w in wfs if w["privacy"] == query["privacy"]]
    tags = csv(query, "tags")
    if tags:
        wfs = [w for w in wfs if tags & set(w["tags"])]
    page, nxt = paginate(wfs, query, 200, default=10)
    out = {"workflows": [sim.workflow_json(w) for w in page]}
    if nxt:
        out["nextPaginationToken"] = nxt
    return 200, out


def h_get_workflow(h, params, query, body, fault):
    return 200, {"workflow": h.sim.workflow_json(get_workflow(h.sim, params["workflowId"]))}


def validate_flow(flow, bad):
    if not isinstance(flow, list) or not all(isinstance(n, dict) for n in flow):
        bad.append(("flow", "flow must be an array of node objects"))
        return
    if len(flow) > WF_MAX_NODES:
        bad.append(("flow", "a workflow has at most %d nodes (got %d)" % (WF_MAX_NODES, len(flow))))
    ids = [n.get("id") for n in flow]
    seen = set()
    for i, n in enumerate(flow):
        where = "flow[%d]" % i
        if not isinstance(n.get("id"), str) or not n["id"]:
            bad.append((where + ".id", "%s.id is required (string)" % where))
        elif n["id"] in seen:
            bad.append((where + ".id", "duplicate node id %s" % n["id"]))
        seen.add(n.get("id"))
        if n.get("type") not in WF_NODE_TYPES:
            bad.append((where + ".type", "%s.type must be one of %s" % (where, ", ".join(WF_NODE_TYPES))))
        if n.get("type") == "custom-model" and not isinstance(n.get("modelId"), str):
            bad.append((where + ".modelId", "%s.modelId is required for a custom-model node" % where))
        if n.get("type") == "workflow" and not isinstance(n.get("workflowId"), str):
            bad.append((where + ".workflowId", "%s.workflowId is required for a workflow node" % where))
        deps = n.get("dependsOn", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            bad.append((where + ".dependsOn", "%s.dependsOn must be an array of node ids" % where))
            continue
        for d in deps:
            if d not in ids:
                bad.append((where + ".dependsOn", "%s.dependsOn: unknown node %s" % (where, d)))
        if "inputs" in n and not isinstance(n["inputs"], list):
            bad.append((where + ".inputs", "%s.inputs must be an array" % where))
    if not bad:
        cycle = find_cycle(flow)
        if cycle:
            bad.append(("flow", "dependsOn has a cycle: %s" % " -> ".join(cycle)))


def validate_input_defs(inputs, bad):
    if not isinstance(inputs, list) or not all(isinstance(x, dict) for x in inputs):
        bad.append(("inputs", "inputs must be an array of input objects"))
        return
    names = set()
    for i, d in enumerate(inputs):
        where = "inputs[%d]" % i
        if not isinstance(d.get("name"), str) or not d["name"]:
            bad.append((where + ".name", "%s.name is required (string)" % where))
        elif d["name"] in names:
            bad.append((where + ".name", "duplicate input name %s" % d["name"]))
        names.add(d.get("name"))
        if d.get("type") not in INPUT_TYPES:
            bad.append((where + ".type", "%s.type must be one of %s" % (where, ", ".join(INPUT_TYPES))))


def h_put_workflow(h, params, query, body, fault):
    sim = h.sim
    w = get_workflow(sim, params["workflowId"])
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    for k in ("name", "description"):
        if k in data and not isinstance(data[k], str):
            bad.append((k, "%s must be a string" % k))
    if "privacy" in data and data["privacy"] not in ("private", "public", "unlisted"):
        bad.append(("privacy", "privacy must be one of private, public, unlisted"))
    if "status" in data and data["status"] not in ("draft", "ready"):
        bad.append(("status", "status must be one of draft, ready"))
    if "tagSet" in data and not (isinstance(data["tagSet"], list)
                                 and all(isinstance(t, str) for t in data["tagSet"])):
        bad.append(("tagSet", "tagSet must be an array of strings"))
    if "editorInfo" in data and not isinstance(data["editorInfo"], dict):
        bad.append(("editorInfo", "editorInfo must be an object"))
    if "flow" in data:
        validate_flow(data["flow"], bad)
    if "inputs" in data:
        validate_input_defs(data["inputs"], bad)
    pics = {}
    for k in ("thumbnail", "before", "after"):
        if k in data:
            with sim.lock:
                a = sim.assets.get(data[k]) if isinstance(data[k], str) else None
            if a is None:
                bad.append((k, "%s must be the id of an existing asset" % k))
            else:
                pics[k] = {"assetId": a["id"], "url": sim.file_url(a["id"], a["mime"])}
    raise_bad(bad)
    with sim.lock:
        for k, field in (("name", "name"), ("description", "description"), ("privacy", "privacy"),
                         ("status", "status"), ("tagSet", "tags"), ("editorInfo", "editor")):
            if k in data:
                w[field] = data[k]
        if "flow" in data:
            w["flow"] = json.loads(json.dumps(data["flow"]))
        if "inputs" in data:
            w["inputs"] = json.loads(json.dumps(data["inputs"]))
        if "outputAssetKinds" in data:
            w["extra"]["outputAssetKinds"] = data["outputAssetKinds"]
        w["extra"].update(pics)
        w["updated"] = time.time()
    return 200, {"workflow": sim.workflow_json(w)}


def h_delete_workflow(h, params, query, body, fault):
    sim = h.sim
    w = get_workflow(sim, params["workflowId"])
    with sim.lock:
        sim.workflows.pop(w["id"], None)
    return 200, {}


def h_run_workflow(h, params, query, body, fault):
    sim = h.sim
    w = get_workflow(sim, params["workflowId"])
    data = parse_json_body(body, required=False)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object of the workflow's inputs",
                       infos={"field": "body"})
    if not w["flow"]:
        raise ApiError(400, "Workflow %s has no nodes: PUT /workflows/{id} a flow first" % w["id"],
                       infos={"field": "flow"})
    inputs = check_inputs(w["inputs"], data)
    cost = sum(WF_NODE_COST.get(n.get("type"), 0) for n in w["flow"])
    if truthy(query.get("dryRun", "")):
        return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    job = sim.create_workflow_job(w, inputs, cost, fault)
    return 200, {"job": sim.job_json(job), "workflow": sim.workflow_json(w)}


def h_approve_workflow(h, params, query, body, fault):
    sim = h.sim
    w = get_workflow(sim, params["workflowId"])
    data = parse_json_body(body)
    bad = [(k, "%s is required (string)" % k) for k in ("workflowJobId", "nodeId")
           if not isinstance(data, dict) or not isinstance(data.get(k), str)]
    raise_bad(bad)
    with sim.lock:
        job = sim.jobs.get(data["workflowJobId"])
    if job is None or job["flow"] is None or job["workflow_id"] != w["id"]:
        raise ApiError(404, "Workflow job %s of workflow %s not found"
                       % (data["workflowJobId"], w["id"]), infos={"field": "workflowJobId"})
    node = next((n for n in job["flow"] if n["id"] == data["nodeId"]), None)
    if node is None:
        raise ApiError(404, "Node %s not found in the run" % data["nodeId"],
                       infos={"field": "nodeId"})
    if node["type"] != "user-approval":
        raise ApiError(400, "Node %s is a %s node, not a user-approval node"
                       % (node["id"], node["type"]), infos={"field": "nodeId"})
    with sim.lock:
        now = time.time()
        st = sim.wf_eval(job, now)["nodes"][node["id"]]
        if st != "processing":
            raise ApiError(400, "Node %s is not awaiting approval (it is %s)" % (node["id"], st),
                           infos={"field": "nodeId", "status": st})
        job["approvals"][node["id"]] = now
    return 200, {"job": sim.job_json(job)}


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
    ("GET", "/models"): h_list_models,
    ("GET", "/models/{modelId}"): h_get_model,
    ("POST", "/models/get-bulk"): h_models_bulk,
    ("GET", "/collections"): h_list_collections,
    ("POST", "/collections"): h_post_collection,
    ("GET", "/collections/{collectionId}"): h_get_collection,
    ("PUT", "/collections/{collectionId}"): h_put_collection,
    ("DELETE", "/collections/{collectionId}"): h_delete_collection,
    ("PUT", "/collections/{collectionId}/assets"): h_put_collection_assets,
    ("DELETE", "/collections/{collectionId}/assets"): h_delete_collection_assets,
    ("PUT", "/collections/{collectionId}/models"): h_put_collection_models,
    ("DELETE", "/collections/{collectionId}/models"): h_delete_collection_models,
    ("GET", "/workflows"): h_list_workflows,
    ("POST", "/workflows"): h_post_workflow,
    ("GET", "/workflows/{workflowId}"): h_get_workflow,
    ("PUT", "/workflows/{workflowId}"): h_put_workflow,
    ("DELETE", "/workflows/{workflowId}"): h_delete_workflow,
    ("PUT", "/workflows/{workflowId}/run"): h_run_workflow,
    ("PUT", "/workflows/{workflowId}/user-approval"): h_approve_workflow,
}
for _name in GENERATE_OPS:
    HANDLERS[("POST", "/generate/" + _name)] = make_generate_handler(_name)


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
    ap.add_argument("--seed-assets", type=int, default=0, metavar="N",
                    help="create N assets (small deterministic PNGs) before listening")
    args = ap.parse_args(argv)
    if args.job_duration < 0:
        ap.error("--job-duration must be >= 0")
    if not 0 <= args.seed_assets <= 100000:
        ap.error("--seed-assets must be between 0 and 100000")
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
