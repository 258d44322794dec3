"""/collections: create, list, get, rename, delete, and add or remove the
assets and models of a collection."""

import time

from ..errors import ApiError
from .common import paginate, parse_json_body, raise_bad, string_list


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


HANDLERS = {
    ("GET", "/collections"): h_list_collections,
    ("POST", "/collections"): h_post_collection,
    ("GET", "/collections/{collectionId}"): h_get_collection,
    ("PUT", "/collections/{collectionId}"): h_put_collection,
    ("DELETE", "/collections/{collectionId}"): h_delete_collection,
    ("PUT", "/collections/{collectionId}/assets"): h_put_collection_assets,
    ("DELETE", "/collections/{collectionId}/assets"): h_delete_collection_assets,
    ("PUT", "/collections/{collectionId}/models"): h_put_collection_models,
    ("DELETE", "/collections/{collectionId}/models"): h_delete_collection_models,
}
