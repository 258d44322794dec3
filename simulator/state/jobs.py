"""Jobs: creation, their status over time (a share of the job's duration per
phase), the PNG outputs of those that succeeded, and their API JSON."""

import time

from ..png import make_png
from ..util import iso, new_id

# Job phases as fractions of the job's duration.
JOB_PHASES = (("pending", 0.0), ("queued", 0.10), ("in-progress", 0.25),
              ("finalizing", 0.85))
# At most this many output files per job (the cost counts every sample).
MAX_OUTPUTS = 8


def fault_timing(duration, fault):
    """(duration, failure message or None) of a new job under `fault`."""
    fail = None
    if fault is not None:
        if fault.get("job_duration") is not None:
            duration = fault.get("job_duration")
        fail = fault.get("job_fail")
    return duration, fail


class Jobs:
    """Sim's jobs (a mixin of state.Sim)."""

    def create_job(self, job_type, model_id, body, prompt, seed, n_outputs,
                   out_w, out_h, cost, fault, inference=None, asset_source=None,
                   asset_type=None, output=None, created=None):
        now = time.time() if created is None else created
        duration, fail = fault_timing(self.job_duration, fault)
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
