"""Models: the stored records, the three built-in ones, their API JSON."""

import json
import time

from ..util import iso

# The fixed creation time of the built-in models.
SEED_TIME = 1735689600.0  # 2025-01-01T00:00:00Z

# inputs[] of the built-in custom model `model_sim-custom` (GET /models/{id}),
# checked by POST /generate/custom/model_sim-custom.
CUSTOM_MODEL_INPUTS = [
    {"name": "prompt", "type": "string", "label": "Prompt", "prompt": True,
     "required": {"always": True}, "maxLength": 2000},
    {"name": "numSamples", "type": "number", "label": "Number of images",
     "min": 1, "max": 8, "step": 1, "costImpact": True},
    {"name": "aspectRatio", "type": "string", "label": "Aspect ratio",
     "allowedValues": ["1:1", "16:9", "9:16", "4:3", "3:4"]},
    {"name": "seed", "type": "number", "label": "Seed", "min": 0, "max": 2147483647},
    {"name": "guidance", "type": "number", "label": "Guidance", "min": 1, "max": 10},
    {"name": "style", "type": "string", "label": "Style",
     "allowedValues": ["photo", "illustration", "pixel-art"]},
    {"name": "highQuality", "type": "boolean", "label": "High quality", "costImpact": True},
    {"name": "image", "type": "file", "kind": "image", "label": "Reference image"},
    {"name": "referenceImages", "type": "file_array", "kind": "image",
     "label": "Style references"},
    {"name": "tags", "type": "string_array", "label": "Tags"},
]


class Models:
    """Sim's models (a mixin of state.Sim)."""

    def add_model(self, mid, name, mtype, custom, status="trained", source="scenario",
                  privacy="private", capabilities=None, inputs=None, created=None,
                  short=None):
        t = time.time() if created is None else created
        m = {"id": mid, "seq": self.next_seq(), "name": name, "type": mtype,
             "custom": custom, "status": status, "source": source, "privacy": privacy,
             "capabilities": list(capabilities or ["txt2img"]), "inputs": inputs,
             "created": t, "updated": t, "tags": [], "collections": [], "short": short}
        with self.lock:
            self.models[mid] = m
        return m

    def seed_models(self):
        """The models every simulator starts with (deterministic)."""
        self.add_model("flux.1-dev", "Flux.1 [dev]", "flux.1", False, source="scenario",
                       privacy="public", created=SEED_TIME,
                       capabilities=["txt2img", "img2img", "inpaint", "controlnet"],
                       short="Scenario's base text-to-image model (simulated)")
        self.add_model("model_sim-custom", "Simulator custom model", "custom", True,
                       source="other", created=SEED_TIME + 60,
                       capabilities=["txt2img", "img2img"],
                       inputs=json.loads(json.dumps(CUSTOM_MODEL_INPUTS)),
                       short="A custom model whose inputs are listed in inputs[]")
        self.add_model("model_sim-lora", "Simulator LoRA", "flux.1-lora", True,
                       source="scenario", created=SEED_TIME + 120,
                       capabilities=["txt2img", "img2img"],
                       short="A trained LoRA (simulated)")

    def model_json(self, m):
        out = {
            "id": m["id"], "name": m["name"], "type": m["type"], "custom": m["custom"],
            "status": m["status"], "source": m["source"], "privacy": m["privacy"],
            "capabilities": list(m["capabilities"]), "collectionIds": list(m["collections"]),
            "tags": list(m["tags"]), "exampleAssetIds": [], "trainingImagesNumber": 0,
            "createdAt": iso(m["created"]), "updatedAt": iso(m["updated"]),
            "ownerId": "sim-project", "authorId": "sim-user",
        }
        if m["inputs"] is not None:
            out["inputs"] = json.loads(json.dumps(m["inputs"]))
        if m["short"]:
            out["shortDescription"] = m["short"]
        return out
