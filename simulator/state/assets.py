"""Assets: the stored records and their API JSON."""

import time

from ..png import EXT_OF_MIME
from ..util import iso, new_id


class Assets:
    """Sim's assets (a mixin of state.Sim)."""

    def make_asset(self, aid, data, created, job, index, source, atype, model_id,
                   seed, prompt, w, h):
        return {
            "id": aid, "seq": self.next_seq(), "created": created,
            "updated": created, "data": data, "mime": "image/png",
            "kind": "image", "job_id": job["id"], "index": index,
            "source": source, "type": atype, "model_id": model_id, "seed": seed,
            "prompt": prompt, "w": w, "h": h, "name": None, "tags": [],
            "collections": [],
        }

    def file_url(self, asset_id, mime):
        return "%s/_files/%s.%s" % (self.base_url(), asset_id, EXT_OF_MIME.get(mime, "bin"))

    def asset_json(self, a):
        url = self.file_url(a["id"], a["mime"])
        meta = {"type": a["type"], "kind": a["kind"]}
        if a.get("model_id"):
            meta["modelId"] = a["model_id"]
        if a.get("prompt") is not None:
            meta["prompt"] = a["prompt"]
        if a.get("seed") is not None:
            meta["seed"] = str(a["seed"])
        # (metadata.width is a generation parameter with minimum 1024 in the
        # spec: the real pixel size goes in properties.width/height only)
        if a.get("name"):
            meta["name"] = a["name"]
        props = {"size": len(a["data"])}
        if a.get("w"):
            props["width"], props["height"] = a["w"], a["h"]
        out = {
            "id": a["id"],
            "url": url,
            "mimeType": a["mime"],
            "kind": a["kind"],
            "source": a["source"],
            "status": "success",
            "privacy": "private",
            "ownerId": "sim-project",
            "authorId": "sim-user",
            "createdAt": iso(a["created"]),
            "updatedAt": iso(a["updated"]),
            "editCapabilities": (["DETECTION", "GENERATIVE_FILL", "PIXELATE",
                                  "PROMPT_EDITING", "REFINE", "REFRAME",
                                  "REMOVE_BACKGROUND", "SEGMENTATION", "UPSCALE",
                                  "VECTORIZATION"] if a["kind"] == "image" else []),
            "tags": list(a["tags"]),
            "collectionIds": list(a["collections"]),
            "properties": props,
            "metadata": meta,
        }
        if a.get("job_id"):
            meta["parentJobId"] = a["job_id"]
            meta["outputIndex"] = a["index"]
            out["outputIndex"] = a["index"]
        return out

    def add_asset(self, data, mime, kind, source, atype, name=None, tags=None,
                  collections=None, aid=None):
        now = time.time()
        aid = aid or new_id("asset_")
        with self.lock:
            self.assets[aid] = {
                "id": aid, "seq": self.next_seq(), "created": now, "updated": now,
                "data": data, "mime": mime, "kind": kind, "job_id": None,
                "index": 0, "source": source, "type": atype, "model_id": None,
                "seed": None, "prompt": None, "w": None, "h": None, "name": name,
                "tags": list(tags or []), "collections": list(collections or []),
            }
        return self.assets[aid]
