"""Workflow runs: a job per PUT /workflows/{id}/run whose nodes start once
their dependencies have finished, user-approval nodes parked until released,
the outputs of the producing nodes, and the run's API JSON."""

import collections
import time

from ..png import IMAGE_SIDE, make_png
from ..util import new_id
from .jobs import fault_timing

# Node types that output an asset (one PNG each).
WF_ASSET_NODES = {"custom-model", "remove-background", "workflow"}


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


def flow_depths(order):
    """Node id -> length of the longest dependency chain ending there."""
    depth = {}
    for n in order:
        deps = [d for d in (n.get("dependsOn") or [])]
        depth[n["id"]] = 1 + max([depth[d] for d in deps] or [0])
    return depth


def fail_node_of(order, producing):
    """The node that fails a run with job_fail: the first producing one."""
    cands = producing or [n for n in order if n["type"] != "user-approval"] or order
    return cands[0]["id"]


def run_outputs(flow, order, node_assets):
    """Outputs of the run: the assets of producing nodes that no other
    producing node depends on (directly or not)."""
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
    return [aid for n in order if n["id"] in prod_ids and not feeds_producer(n["id"])
            for aid in node_assets[n["id"]]]


def node_times(job, t0, step):
    """Node id -> (start, end), None while not known (waiting on a
    dependency, or on an approval)."""
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
    return times


def run_terminal(job, times, t0):
    """(terminal status, when) of a run, or None while that is not known."""
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
    return terminal


def node_statuses(job, times, now, tnow, ended, terminal):
    """(node id -> status, how many nodes succeeded)."""
    fail_node = job["fail_node"]
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
    return nodes, done


def run_history(created, d, t0, tnow, ended, terminal):
    """The run's statusHistory as [(status, t)]."""
    history = [("pending", created)]
    for name, t in (("queued", created + 0.05 * d), ("in-progress", t0)):
        if t <= tnow and not (ended and t >= terminal[1] and terminal[0] == "canceled"):
            history.append((name, t))
    if ended:
        history.append(terminal)
    return history


class Runs:
    """Sim's workflow runs (a mixin of state.Sim)."""

    def create_workflow_job(self, wf, inputs, cost, fault):
        now = time.time()
        flow = [dict(n) for n in wf["flow"]]
        order = topo_order(flow)
        depth = flow_depths(order)
        duration, fail = fault_timing(self.job_duration, fault)
        producing = [n for n in order if n["type"] in WF_ASSET_NODES]
        fail_node = fail_node_of(order, producing) if fail else None
        node_assets = {n["id"]: [new_id("asset_")] for n in producing}
        outputs = run_outputs(flow, order, node_assets)
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
        times = node_times(job, t0, 0.85 * d / max(1, job["levels"]))
        terminal = run_terminal(job, times, t0)
        ended = terminal is not None and terminal[1] <= now
        tnow = min(now, terminal[1]) if ended else now
        nodes, done = node_statuses(job, times, now, tnow, ended, terminal)
        history = run_history(created, d, t0, tnow, ended, terminal)
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
