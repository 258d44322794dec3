"""Seeded records (--seed-assets, POST /_sim/seed): deterministic ids and
contents, numbered on from earlier seeds."""

import time

from ..png import make_png

# The side of seeded PNGs (assets and the outputs of seeded jobs).
SEED_SIDE = 32


class Seeding:
    """Sim's seeding (a mixin of state.Sim)."""

    def seed(self, assets=0, models=0, collections=0, workflows=0, jobs=0):
        """Creates records with deterministic ids and contents; returns their ids."""
        out = {}
        for kind, n, make in (("assets", assets, self.seed_asset),
                              ("models", models, self.seed_model),
                              ("collections", collections, self.seed_collection),
                              ("workflows", workflows, self.seed_workflow),
                              ("jobs", jobs, self.seed_job)):
            out[kind] = [make(self.next_seeded(kind)) for _ in range(n)]
        return out

    def next_seeded(self, kind):
        """The number of the next seeded record of that kind (1, 2, ...)."""
        with self.lock:
            self.seeded[kind] += 1
            return self.seeded[kind]

    def seed_asset(self, k):
        a = self.add_asset(make_png("seed", "seeded asset", k, SEED_SIDE, SEED_SIDE),
                           "image/png", "image", "uploaded", "uploaded",
                           name="seeded-%06d.png" % k, aid="asset_seed%06d" % k)
        a["w"] = a["h"] = SEED_SIDE
        return a["id"]

    def seed_model(self, k):
        m = self.add_model("model_seed%06d" % k, "Seeded model %d" % k, "flux.1-lora",
                           True, source="scenario")
        return m["id"]

    def seed_collection(self, k):
        c = self.add_collection("Seeded collection %d" % k, cid="collection_seed%06d" % k)
        return c["id"]

    def seed_workflow(self, k):
        w = self.add_workflow("Seeded workflow %d" % k, "A seeded workflow",
                              wid="workflow_seed%06d" % k)
        w["inputs"] = [{"name": "prompt", "type": "string", "required": {"always": True}}]
        w["flow"] = [{"id": "generate", "type": "custom-model",
                      "modelId": "model_sim-custom",
                      "inputs": [{"name": "prompt", "type": "string",
                                  "ref": {"name": "prompt"}}]}]
        w["status"] = "ready"
        return w["id"]

    def seed_job(self, k):
        body = {"modelId": "flux.1-dev", "prompt": "seeded job %d" % k, "seed": str(k)}
        j = self.create_job("inference", "flux.1-dev", body, body["prompt"], body["seed"],
                            1, SEED_SIDE, SEED_SIDE, 5, None,
                            created=time.time() - self.job_duration - 1)
        with self.lock:
            del self.jobs[j["id"]]
            j["id"] = "job_seed%06d" % k
            self.jobs[j["id"]] = j
        return j["id"]
