"""POST /uploads, GET /uploads/{uploadId}, POST /uploads/{uploadId}/action
(complete). The parts are PUT on the simulator itself: routes/parts.py."""

import time

from ..blob import Blob, piece_len
from ..errors import ApiError
from ..state.uploads import UPLOAD_KINDS
from ..util import is_integer, new_id
from .common import parse_json_body


def h_post_upload(h, params, query, body, fault):
    sim = h.sim
    data = parse_json_body(body)
    check_upload_body(data)
    now = time.time()
    up = new_upload(data, now, sim.part_url_ttl, fault)
    with sim.lock:
        sim.uploads[up["id"]] = up
    out = sim.upload_json(up, now)
    if out["contentType"] is None:
        del out["contentType"]
    return 200, {"upload": out}


def check_upload_body(data):
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


def new_upload(data, now, part_url_ttl, fault):
    """The record of an upload whose body passed check_upload_body."""
    return {"id": new_id("upload_"), "file_name": data["fileName"],
            "file_size": int(data.get("fileSize")), "kind": data["kind"],
            "parts_count": int(data.get("parts", 1)),
            "content_type": data.get("contentType") or None,
            "created": now, "updated": now, "completed_at": None, "failed": None,
            "entity_id": None, "parts_data": {}, "part_puts": {}, "blob": None,
            "url_gen": 1, "expired_gen": 0, "urls_expire": now + part_url_ttl,
            "fail_validation": fault.get("upload_fail") if fault is not None else None}


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
            complete_upload(up, sim.min_part_size)
    return 200, upload_out(sim, up)


def complete_upload(up, min_part_size):
    """Assembles the parts in order (400 when some are missing); a size that
    does not add up, or a small part before the last, fails the upload."""
    missing = [n for n in range(1, up["parts_count"] + 1) if n not in up["parts_data"]]
    if missing:
        raise ApiError(400, "Missing parts: %s" % ", ".join(map(str, missing[:20])),
                       infos={"field": "parts", "missing": missing[:100]})
    pieces = [up["parts_data"][n] for n in range(1, up["parts_count"] + 1)]
    sizes = [piece_len(p) for p in pieces]
    small = [n for n, s in enumerate(sizes[:-1], 1) if s < min_part_size]
    now = time.time()
    if sum(sizes) != up["file_size"]:
        up["failed"] = ("Uploaded %d bytes but fileSize is %d"
                        % (sum(sizes), up["file_size"]))
    elif small:
        up["failed"] = ("Part %d is smaller than %d bytes (only the last part may be)"
                        % (small[0], min_part_size))
    # the parts, assembled in order (no copy: the file is read from them)
    up["blob"] = Blob(pieces)
    up["completed_at"] = now
    up["updated"] = now


HANDLERS = {
    ("POST", "/uploads"): h_post_upload,
    ("GET", "/uploads/{uploadId}"): h_get_upload,
    ("POST", "/uploads/{uploadId}/action"): h_upload_action,
}
