"""GET /jobs, GET /jobs/{jobId}, POST /jobs/{jobId}/action (cancel)."""

import time

from ..errors import ApiError
from .common import csv, paginate, parse_json_body


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


HANDLERS = {
    ("GET", "/jobs"): h_list_jobs,
    ("GET", "/jobs/{jobId}"): h_get_job,
    ("POST", "/jobs/{jobId}/action"): h_job_action,
}
