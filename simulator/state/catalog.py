"""Collections and workflow definitions: the stored records, their API JSON."""

import json
import time

from ..util import iso, new_id


class Catalog:
    """Sim's collections and workflows (a mixin of state.Sim)."""

    # ---- collections
    def add_collection(self, name, cid=None):
        now = time.time()
        c = {"id": cid or new_id("collection_"), "seq": self.next_seq(), "name": name,
             "created": now, "updated": now, "thumbnail": None}
        with self.lock:
            self.collections[c["id"]] = c
        return c

    def collection_json(self, c):
        with self.lock:
            na = sum(1 for a in self.assets.values() if c["id"] in a["collections"])
            nm = sum(1 for m in self.models.values() if c["id"] in m["collections"])
            thumb = c["thumbnail"]
            ta = self.assets.get(thumb) if thumb else None
        out = {"id": c["id"], "name": c["name"], "ownerId": "sim-project",
               "createdAt": iso(c["created"]), "updatedAt": iso(c["updated"]),
               "assetCount": na, "modelCount": nm, "itemCount": na + nm}
        if ta is not None:
            out["thumbnail"] = {"assetId": ta["id"], "url": self.file_url(ta["id"], ta["mime"])}
        return out

    # ---- workflows
    def add_workflow(self, name, description, wid=None):
        now = time.time()
        w = {"id": wid or new_id("workflow_"), "seq": self.next_seq(), "name": name,
             "description": description, "created": now, "updated": now, "flow": [],
             "inputs": [], "status": "draft", "privacy": "private", "tags": [],
             "editor": {}, "extra": {}}
        with self.lock:
            self.workflows[w["id"]] = w
        return w

    def workflow_json(self, w):
        out = {"id": w["id"], "name": w["name"], "description": w["description"],
               "authorId": "sim-user", "ownerId": "sim-project",
               "createdAt": iso(w["created"]), "updatedAt": iso(w["updated"]),
               "editorInfo": json.loads(json.dumps(w["editor"])),
               "flow": json.loads(json.dumps(w["flow"])),
               "inputs": json.loads(json.dumps(w["inputs"])),
               "privacy": w["privacy"], "status": w["status"], "tagSet": list(w["tags"])}
        for k, v in w["extra"].items():
            out[k] = json.loads(json.dumps(v))
        return out
