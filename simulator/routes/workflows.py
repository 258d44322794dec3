"""/workflows: create, list, get, define (PUT, with the checks of the flow and
of the inputs), delete, run, and release a user-approval node."""

import json
import time

from ..errors import ApiError
from ..state.runs import find_cycle
from .common import csv, paginate, parse_json_body, raise_bad, truthy
from .inputs import check_inputs

INPUT_TYPES = ["boolean", "file", "file_array", "inputs_array", "model", "model_array",
               "number", "number_array", "string", "string_array"]
WF_NODE_TYPES = ["custom-model", "generate-prompt", "logic", "remove-background",
                 "transform", "user-approval", "workflow"]
WF_MAX_NODES = 50
WF_NODE_COST = {"custom-model": 10, "remove-background": 2, "workflow": 10,
                "generate-prompt": 1}


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
        validate_node("flow[%d]" % i, n, ids, seen, bad)
    if not bad:
        cycle = find_cycle(flow)
        if cycle:
            bad.append(("flow", "dependsOn has a cycle: %s" % " -> ".join(cycle)))


def validate_node(where, n, ids, seen, bad):
    """Adds the problems of one node of a flow to bad."""
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
        return
    for d in deps:
        if d not in ids:
            bad.append((where + ".dependsOn", "%s.dependsOn: unknown node %s" % (where, d)))
    if "inputs" in n and not isinstance(n["inputs"], list):
        bad.append((where + ".inputs", "%s.inputs must be an array" % where))


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
    bad = workflow_problems(data)
    pics = workflow_pictures(sim, data, bad)
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


def workflow_problems(data):
    """The problems of a PUT /workflows/{id} body, other than its pictures."""
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
    return bad


def workflow_pictures(sim, data, bad):
    """thumbnail, before and after: {assetId, url} of existing assets (an
    unknown one is added to bad)."""
    pics = {}
    for k in ("thumbnail", "before", "after"):
        if k in data:
            with sim.lock:
                a = sim.assets.get(data[k]) if isinstance(data[k], str) else None
            if a is None:
                bad.append((k, "%s must be the id of an existing asset" % k))
            else:
                pics[k] = {"assetId": a["id"], "url": sim.file_url(a["id"], a["mime"])}
    return pics


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
    ("GET", "/workflows"): h_list_workflows,
    ("POST", "/workflows"): h_post_workflow,
    ("GET", "/workflows/{workflowId}"): h_get_workflow,
    ("PUT", "/workflows/{workflowId}"): h_put_workflow,
    ("DELETE", "/workflows/{workflowId}"): h_delete_workflow,
    ("PUT", "/workflows/{workflowId}/run"): h_run_workflow,
    ("PUT", "/workflows/{workflowId}/user-approval"): h_approve_workflow,
}
