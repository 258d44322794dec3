"""Small shared helpers: the version, times, ids, numbers, JSON and paths."""

import json
import time
import uuid

VERSION = "0.1.0"
JSON_CT = "application/json; charset=utf-8"


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


def strip_v1(path):
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path
