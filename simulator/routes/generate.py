"""POST /generate/txt2img and POST /generate/custom/{modelId}."""

import random

from ..errors import ApiError
from ..png import output_size
from ..state.jobs import MAX_OUTPUTS
from ..util import is_integer, is_number, new_id
from .common import parse_json_body, raise_bad, truthy
from .inputs import check_inputs

ASPECT_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "3:4", "4:3", "4:5",
                 "5:4", "9:16", "9:21"]
SCHEDULERS = [
    "DDIMScheduler", "DDPMScheduler", "DEISMultistepScheduler",
    "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
    "EulerAncestralDiscreteScheduler", "EulerDiscreteScheduler",
    "HeunDiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
    "KDPM2DiscreteScheduler", "LCMScheduler", "LMSDiscreteScheduler",
    "PNDMScheduler", "TCDScheduler", "UniPCMultistepScheduler"]

# Request body of POST /generate/txt2img (PostTxt2imgInferences), from the spec.
# (type, extra): extra is an enum list, a (min, max) tuple, or None.
TXT2IMG_FIELDS = {
    "seed": ("string", None),
    "modelId": ("string", None),
    "modelEpoch": ("string", None),
    "hideResults": ("boolean", None),
    "aspectRatio": ("string", ASPECT_RATIOS),
    "negativePrompt": ("string", None),
    "scheduler": ("string", SCHEDULERS),
    "intermediateImages": ("boolean", None),
    "concepts": ("concepts", None),
    "guidance": ("number", (0, 20)),
    "numInferenceSteps": ("number", (1, 150)),
    "numSamples": ("integer", (1, 128)),
    "width": ("number", (64, 2048)),
    "negativePromptStrength": ("number", (0, 10)),
    "baseModelId": ("string", None),
    "prompt": ("string", None),
    "height": ("number", (64, 2048)),
}


def validate_txt2img(body):
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    bad = []
    if "prompt" not in body:
        bad.append(("prompt", "prompt is required (string)"))
    for name, (typ, extra) in TXT2IMG_FIELDS.items():
        if name in body:
            check_txt2img_field(name, typ, extra, body[name], bad)
    raise_bad(bad)


def check_txt2img_field(name, typ, extra, v, bad):
    """Adds the problems of one field of the body to bad."""
    if typ == "string" and not isinstance(v, str):
        bad.append((name, "%s must be a string" % name))
    elif typ == "boolean" and not isinstance(v, bool):
        bad.append((name, "%s must be a boolean" % name))
    elif typ in ("number", "integer"):
        if not is_number(v):
            bad.append((name, "%s must be a number" % name))
            return
        if typ == "integer" and not is_integer(v):
            bad.append((name, "%s must be an integer" % name))
            return
    elif typ == "concepts":
        ok = isinstance(v, list) and all(
            isinstance(c, dict) and isinstance(c.get("modelId"), str)
            and is_number(c.get("scale")) and -2 <= c["scale"] <= 2
            and isinstance(c.get("modelEpoch", ""), str) for c in v)
        if not ok:
            bad.append((name, "concepts must be an array of {modelId: string, "
                              "scale: number in [-2, 2]}"))
        return
    if isinstance(extra, list) and v not in extra:
        bad.append((name, "%s must be one of %s" % (name, ", ".join(extra))))
    elif isinstance(extra, tuple) and not extra[0] <= v <= extra[1]:
        bad.append((name, "%s must be between %s and %s" % (name, extra[0], extra[1])))


def h_txt2img(h, params, query, body, fault):
    data = parse_json_body(body)
    validate_txt2img(data)
    n_req = int(data.get("numSamples", 1))
    cost = 5 * n_req
    if truthy(query.get("dryRun", "")):
        return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    n = min(n_req, MAX_OUTPUTS)
    seed = data.get("seed")
    if seed is None:
        seed = str(random.randint(0, 2 ** 31 - 1))
    w, hh = output_size(data)
    model_id = data.get("modelId") or "model_scenario-sim"
    inference = {k: data[k] for k in TXT2IMG_FIELDS if k in data}
    inference.update({"id": new_id("inf_"), "type": "txt2img", "seed": seed,
                      "numSamples": n_req, "modelId": model_id})
    job = h.sim.create_job("inference", model_id, data, data["prompt"], seed, n, w, hh,
                           cost, fault, inference)
    return 200, {"job": h.sim.job_json(job), "inference": inference,
                 "creativeUnitsCost": cost, "creativeUnitsDiscount": 0}


def h_custom(h, params, query, body, fault):
    data = parse_json_body(body, required=False)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", infos={"field": "body"})
    with h.sim.lock:
        model = h.sim.models.get(params["modelId"])
    if model is not None and model["inputs"]:
        data = check_inputs(model["inputs"], data)  # known model: its inputs[] rule
    n_req = data.get("numSamples", data.get("numOutputs", 1))
    if not is_integer(n_req) or n_req < 1:
        n_req = 1
    n_req = int(n_req)
    cost = 10 * n_req
    if truthy(query.get("dryRun", "")):
        return 269, {"creativeUnitsCost": cost, "creativeUnitsDiscount": 0}
    prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else ""
    seed = data.get("seed")
    if seed is None:
        seed = str(random.randint(0, 2 ** 31 - 1))
    w, hh = output_size(data)
    job = h.sim.create_job("custom", params["modelId"], data, prompt, seed,
                           min(n_req, MAX_OUTPUTS), w, hh, cost, fault)
    return 200, {"job": h.sim.job_json(job), "creativeUnitsCost": cost,
                 "creativeUnitsDiscount": 0}


HANDLERS = {
    ("POST", "/generate/txt2img"): h_txt2img,
    ("POST", "/generate/custom/{modelId}"): h_custom,
}
