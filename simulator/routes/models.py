"""GET /models, GET /models/{modelId}, POST /models/get-bulk."""

from ..errors import ApiError
from .common import csv, paginate, parse_json_body, string_list


def get_model(sim, model_id):
    with sim.lock:
        m = sim.models.get(model_id)
    if m is None:
        raise ApiError(404, "Model %s not found" % model_id, infos={"modelId": model_id})
    return m


def h_get_model(h, params, query, body, fault):
    return 200, {"model": h.sim.model_json(get_model(h.sim, params["modelId"]))}


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


def h_models_bulk(h, params, query, body, fault):
    sim = h.sim
    ids = string_list(parse_json_body(body, required=False), "modelIds", 200, required=False)
    with sim.lock:
        found = [sim.models[i] for i in ids if i in sim.models]
    return 200, {"models": [sim.model_json(m) for m in found]}



HANDLERS = {
    ("GET", "/models"): h_list_models,
    ("GET", "/models/{modelId}"): h_get_model,
    ("POST", "/models/get-bulk"): h_models_bulk,
}
