"""The control endpoints /_sim/... (no auth, no faults, not counted): stats,
health, seed, reset, fault queues, config."""

import json
import os

from ..errors import ApiError
from ..faults import Fault, FaultQueue, parse_fault_list
from ..util import VERSION, is_integer, is_number

SEED_KINDS = ("assets", "models", "collections", "workflows", "jobs")


def control(h, method, path, body):
    """Answers a /_sim request (raises ApiError when it fails)."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ApiError(400, "Body is not valid JSON") from None
    endpoint = CONTROL.get((method, path))
    if endpoint is None:
        raise ApiError(404, "No control endpoint %s %s" % (method, path))
    return h.send_json(200, endpoint(h.sim, data))


def ctl_stats(sim, data):
    return sim.stats()


def ctl_health(sim, data):
    return {"ok": True, "port": sim.port, "pid": os.getpid(), "version": VERSION}


def ctl_seed(sim, data):
    if not isinstance(data, dict):
        raise ApiError(400, "seed needs an object such as {\"assets\": 250}")
    counts = {}
    for k, v in data.items():
        if k not in SEED_KINDS:
            raise ApiError(400, "Unknown seed kind %s" % k, infos={"field": k})
        if not is_integer(v) or not 0 <= v <= 100000:
            raise ApiError(400, "%s must be an integer between 0 and 100000" % k,
                           infos={"field": k})
        counts[k] = int(v)
    out = sim.seed(**counts)
    out["ok"] = True
    return out


def ctl_reset(sim, data):
    sim.reset_stats(clear_state=bool(isinstance(data, dict) and data.get("all")))
    return {"ok": True}


def ctl_get_faults(sim, data):
    with sim.lock:
        return {"queues": [q.to_json() for q in sim.queues]}


def ctl_clear_faults(sim, data):
    with sim.lock:
        sim.queues = []
    return {"ok": True}


def ctl_add_faults(sim, data):
    items = data if isinstance(data, list) else [data]
    new = [fault_queue(item) for item in items]
    with sim.lock:
        sim.queues.extend(new)
        queues = [q.to_json() for q in sim.queues]
    return {"ok": True, "queues": queues}


def fault_queue(item):
    """A FaultQueue from {"method", "path", "faults"} or {"fault", "count"}."""
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
    return FaultQueue(item.get("method"), item.get("path") or "*", faults)


def ctl_set_config(sim, data):
    if not isinstance(data, dict):
        raise ApiError(400, "config must be an object")
    for k, v in data.items():
        set_config(sim, k, v)
    return sim.config()


def set_config(sim, k, v):
    if k in ("job_duration", "upload_duration", "min_part_size", "part_url_ttl"):
        if v is None and k == "upload_duration":
            sim.upload_duration = None
            return
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


def ctl_get_config(sim, data):
    return sim.config()


CONTROL = {
    ("GET", "/_sim/stats"): ctl_stats,
    ("GET", "/_sim/health"): ctl_health,
    ("POST", "/_sim/seed"): ctl_seed,
    ("POST", "/_sim/reset"): ctl_reset,
    ("GET", "/_sim/faults"): ctl_get_faults,
    ("DELETE", "/_sim/faults"): ctl_clear_faults,
    ("POST", "/_sim/faults"): ctl_add_faults,
    ("POST", "/_sim/config"): ctl_set_config,
    ("GET", "/_sim/config"): ctl_get_config,
}
