"""GET/POST/DELETE /assets, GET /assets/{assetId}, POST /assets/get-bulk."""

import base64
import binascii

from ..errors import ApiError
from ..png import sniff_mime
from .common import paginate, parse_json_body


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


HANDLERS = {
    ("GET", "/assets"): h_list_assets,
    ("POST", "/assets"): h_post_asset,
    ("DELETE", "/assets"): h_delete_assets,
    ("GET", "/assets/{assetId}"): h_get_asset,
    ("POST", "/assets/get-bulk"): h_bulk_assets,
}
