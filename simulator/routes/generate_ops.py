"""POST /generate/<op> for the 31 operations other than txt2img and custom:
one generic handler per operation, from the GENERATE_OPS table."""

import hashlib

from ..errors import ApiError
from ..png import output_size
from ..state.jobs import MAX_OUTPUTS
from ..util import is_integer, is_number, new_id
from .common import parse_json_body, raise_bad, random_seed, truthy, type_ok

# Every generate operation other than txt2img and custom:
#   name: (jobType, asset source, asset metadata type, required body fields,
#          seed type, CU per output, inference type or None)
# A source of None: a text operation, whose job has no output asset.
GENERATE_OPS = {
    "caption": ("caption", None, None, ["images"], "number", 1, None),
    "controlnet": ("inference", "inference-control-net", "inference-controlnet",
                   ["modality", "modelId", "prompt"], "string", 5, "controlnet"),
    "controlnet-img2img": ("inference", "inference-control-net-img",
                           "inference-controlnet-img2img",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_img2img"),
    "controlnet-inpaint": ("inference", "inference-control-net-inpainting",
                           "inference-controlnet-inpaint",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_inpaint"),
    "controlnet-inpaint-ip-adapter": ("inference", "inference-control-net-inpainting-ip-adapter",
                                      "inference-controlnet-inpaint-ip-adapter",
                                      ["modelId", "prompt"], "string", 5,
                                      "controlnet_inpaint_ip_adapter"),
    "controlnet-ip-adapter": ("inference", "inference-control-net-ip-adapter",
                              "inference-controlnet-ip-adapter",
                              ["modality", "modelId", "prompt"], "string", 5,
                              "controlnet_ip_adapter"),
    "controlnet-texture": ("inference", "inference-control-net-texture",
                           "inference-controlnet-texture",
                           ["modality", "modelId", "prompt"], "string", 5, "controlnet_texture"),
    "describe-style": ("describe-style", None, None, [], "number", 1, None),
    "detect": ("detection", "detection", "detection", ["image", "modality"], None, 1, None),
    "embed": ("embed", None, None, ["text"], None, 1, None),
    "generative-fill": ("repaint", "generative-fill", "generative-fill", ["image"],
                        "number", 5, None),
    "img2img": ("inference", "inference-img", "inference-img2img", ["modelId", "prompt"],
                "string", 5, "img2img"),
    "img2img-ip-adapter": ("inference", "inference-img-ip-adapter",
                           "inference-img2img-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "img2img_ip_adapter"),
    "img2img-texture": ("inference", "inference-img-texture", "inference-img2img-texture",
                        ["modelId", "prompt"], "string", 5, "img2img_texture"),
    "inpaint": ("inference", "inference-in-paint", "inference-inpaint", ["modelId", "prompt"],
                "string", 5, "inpaint"),
    "inpaint-ip-adapter": ("inference", "inference-in-paint-ip-adapter",
                           "inference-inpaint-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "inpaint_ip_adapter"),
    "patch": ("patch-image", "patch", "patch", ["image"], None, 2, None),
    "pixelate": ("pixelate", "pixelization", "pixelization",
                 ["image", "pixelGridSize", "removeNoise"], None, 1, None),
    "prompt": ("generate-prompt", None, None, ["mode"], "number", 1, None),
    "prompt-editing": ("image-prompt-editing", "image-prompt-editing", "image-prompt-editing",
                       ["image", "prompt"], "number", 5, None),
    "reframe": ("reframe", "reframe", "reframe", ["image", "targetHeight", "targetWidth"],
                "number", 5, None),
    "remove-background": ("remove-background", "background-removal", "background-removal",
                          ["image"], None, 2, None),
    "restyle": ("restyle", "restyle", "restyle", ["image", "styleImages"], "number", 5, None),
    "segment": ("segment", "segment", "segment", ["image"], None, 1, None),
    "skybox-base-360": ("skybox-base-360", "skybox-base-360", "skybox-base-360", ["prompt"],
                        "number", 10, None),
    "skybox-upscale-360": ("skybox-upscale-360", "upscale-skybox", "upscale-skybox", ["image"],
                           "number", 10, None),
    "texture": ("texture", "texture", "texture", ["texture"], None, 5, None),
    "translate": ("translate", None, None, ["prompt"], "number", 1, None),
    "txt2img-ip-adapter": ("inference", "inference-txt-ip-adapter",
                           "inference-txt2img-ip-adapter", ["modelId", "prompt"], "string", 5,
                           "txt2img_ip_adapter"),
    "txt2img-texture": ("inference", "inference-txt-texture", "inference-txt2img-texture",
                        ["modelId", "prompt"], "string", 5, "txt2img_texture"),
    "upscale": ("upscale", "upscale", "upscale", ["image"], "number", 5, None),
    "vectorize": ("vectorize", "vectorization", "vectorization", ["image"], None, 2, None),
}
# Operations whose answer carries the first output asset as `asset`.
GENERATE_ASSET_ANSWER = {"detect", "patch", "pixelate", "remove-background", "vectorize"}
# Body fields whose type the generic generate handler checks (when present).
GENERATE_FIELD_TYPES = {
    "prompt": "string", "modelId": "string", "image": "string", "mask": "string",
    "modality": "string", "texture": "string", "text": "string", "mode": "string",
    "numSamples": "integer", "numOutputs": "integer", "width": "number", "height": "number",
    "targetWidth": "number", "targetHeight": "number", "pixelGridSize": "number",
    "removeNoise": "boolean", "images": "array", "styleImages": "array",
}


def text_results(name, data, n_req):
    """Deterministic results of the text operations (answer and job output)."""
    if name == "caption":
        imgs = data.get("images") if isinstance(data.get("images"), list) else []
        return {"captions": ["A simulated caption of image %d" % (i + 1)
                             for i in range(max(1, len(imgs)))]}
    if name == "describe-style":
        return {"description": "A simulated description of the style of the images",
                "synthesis": "simulated style: soft light, flat colours"}
    if name == "embed":
        h = hashlib.sha256(str(data.get("text", "")).encode("utf-8")).digest()
        return {"embedding": [round((b - 128) / 128.0, 4) for b in h[:16]]}
    if name == "prompt":
        mode = data.get("mode") if isinstance(data.get("mode"), str) else "structured"
        out = {"prompts": ["A simulated %s prompt %d" % (mode, i + 1)
                           for i in range(min(max(1, n_req), MAX_OUTPUTS))]}
        if mode in ("completion", "contextual", "image-editing", "inventive", "structured"):
            out["mode"] = mode
        return out
    if name == "translate":
        return {"translation": str(data.get("prompt", "")), "detectedLanguage": "en"}
    return {}


def make_generate_handler(name):
    unit = GENERATE_OPS[name][5]

    def handler(h, params, query, body, fault):
        data = parse_json_body(body)
        check_generate_body(name, data)
        n_req = int(data.get("numSamples", data.get("numOutputs", 1)))
        cost = unit * n_req
        if truthy(query.get("dryRun", "")):
            return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
        return 200, run_generate(h.sim, name, data, n_req, cost, fault)
    handler.__name__ = "h_generate_" + name.replace("-", "_")
    return handler


def check_generate_body(name, data):
    """The required fields, the types of the common ones: one 400 listing
    every problem."""
    _, _, _, required, seed_type, _, _ = GENERATE_OPS[name]
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = [(f, "%s is required" % f) for f in required if f not in data]
    for f, t in GENERATE_FIELD_TYPES.items():
        if f in data and not type_ok(data[f], t):
            bad.append((f, "%s must be %s %s" % (f, "an" if t[0] in "aeiou" else "a", t)))
    if "seed" in data and seed_type and not type_ok(data["seed"], seed_type):
        bad.append(("seed", "seed must be a %s for this operation" % seed_type))
    for f in ("numSamples", "numOutputs"):
        if is_integer(data.get(f)) and not 1 <= data[f] <= 128:
            bad.append((f, "%s must be between 1 and 128" % f))
    raise_bad(bad)


def run_generate(sim, name, data, n_req, cost, fault):
    """Creates the operation's job: its answer."""
    job_type, source, atype, _, _, _, inf_type = GENERATE_OPS[name]
    seed = data.get("seed")
    if seed is None:
        seed = random_seed()
    prompt = data.get("prompt")
    if not isinstance(prompt, str):
        prompt = "%s:%s" % (name, data.get("image") or data.get("text")
                            or data.get("texture") or "")
    w, hh = generate_size(name, data)
    n_out = 0 if source is None else min(n_req, MAX_OUTPUTS)
    results = text_results(name, data, n_req) if source is None else None
    model_id = data.get("modelId") if isinstance(data.get("modelId"), str) else None
    inference = None
    if inf_type:
        inference = generate_inference(inf_type, data, prompt, model_id, seed, n_req)
    job = sim.create_job(job_type, model_id, data, prompt, seed, n_out, w, hh, cost,
                         fault, inference, asset_source=source, asset_type=atype,
                         output=results)
    out = {"job": sim.job_json(job), "creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    if inference is not None:
        out["inference"] = inference
    if results:
        out.update(results)
    if name in GENERATE_ASSET_ANSWER:
        out["asset"] = sim.pending_asset_json(job, 0)
    if name == "segment":
        out["segments"] = [{"bbox": [0, 0, w, hh], "checkpoint": "sam_b",
                            "message": "simulated segment", "nbMasks": 1}]
    return out


def generate_size(name, data):
    """(width, height) of the outputs."""
    if name == "reframe" and is_number(data.get("targetWidth")) and is_number(
            data.get("targetHeight")):
        return output_size({"width": data["targetWidth"], "height": data["targetHeight"]})
    if name == "skybox-base-360":
        return output_size({"aspectRatio": "2:1"})
    return output_size(data)


def generate_inference(inf_type, data, prompt, model_id, seed, n_req):
    """The `inference` object of an inference operation's answer."""
    inference = {"id": new_id("inf_"), "type": inf_type, "prompt": prompt,
                 "modelId": model_id or "", "seed": str(seed), "numSamples": n_req}
    for k in ("image", "imageId", "mask", "maskId", "controlImage", "controlImageId"):
        v = data.get(k)
        inference[k] = v if isinstance(v, str) else ""
    if isinstance(data.get("modality"), str):
        inference["modality"] = data["modality"]
    return inference


HANDLERS = {("POST", "/generate/" + _name): make_generate_handler(_name)
            for _name in GENERATE_OPS}
