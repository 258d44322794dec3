"""Routes: every path and method of the OpenAPI document, the simulator's own
routes (/_files, /_cdn, /_uploads), and the match of a request path."""

import urllib.parse

# Every (path, methods) of the OpenAPI document, without the /v1 server prefix.
SPEC_ROUTES = [
    ("/assets", "GET POST DELETE"),
    ("/assets/download", "POST"),
    ("/assets/download/{jobId}", "GET"),
    ("/assets/get-bulk", "POST"),
    ("/assets/public", "GET"),
    ("/assets/public/{assetId}", "GET"),
    ("/assets/{assetId}", "GET PUT"),
    ("/assets/{assetId}/copy", "POST"),
    ("/assets/{assetId}/download", "POST"),
    ("/assets/{assetId}/lock", "PUT"),
    ("/assets/{assetId}/snapshots", "GET"),
    ("/assets/{assetId}/tags", "PUT"),
    ("/assets/{assetId}/unlock", "PUT"),
    ("/collections", "GET POST"),
    ("/collections/{collectionId}", "GET PUT DELETE"),
    ("/collections/{collectionId}/assets", "PUT DELETE"),
    ("/collections/{collectionId}/models", "PUT DELETE"),
    ("/generate/caption", "POST"),
    ("/generate/controlnet", "POST"),
    ("/generate/controlnet-img2img", "POST"),
    ("/generate/controlnet-inpaint", "POST"),
    ("/generate/controlnet-inpaint-ip-adapter", "POST"),
    ("/generate/controlnet-ip-adapter", "POST"),
    ("/generate/controlnet-texture", "POST"),
    ("/generate/custom/{modelId}", "POST"),
    ("/generate/describe-style", "POST"),
    ("/generate/detect", "POST"),
    ("/generate/embed", "POST"),
    ("/generate/generative-fill", "POST"),
    ("/generate/img2img", "POST"),
    ("/generate/img2img-ip-adapter", "POST"),
    ("/generate/img2img-texture", "POST"),
    ("/generate/inpaint", "POST"),
    ("/generate/inpaint-ip-adapter", "POST"),
    ("/generate/patch", "POST"),
    ("/generate/pixelate", "POST"),
    ("/generate/prompt", "POST"),
    ("/generate/prompt-editing", "POST"),
    ("/generate/reframe", "POST"),
    ("/generate/remove-background", "POST"),
    ("/generate/restyle", "POST"),
    ("/generate/segment", "POST"),
    ("/generate/skybox-base-360", "POST"),
    ("/generate/skybox-upscale-360", "POST"),
    ("/generate/texture", "POST"),
    ("/generate/translate", "POST"),
    ("/generate/txt2img", "POST"),
    ("/generate/txt2img-ip-adapter", "POST"),
    ("/generate/txt2img-texture", "POST"),
    ("/generate/upscale", "POST"),
    ("/generate/vectorize", "POST"),
    ("/jobs", "GET"),
    ("/jobs/{jobId}", "GET"),
    ("/jobs/{jobId}/action", "POST"),
    ("/models", "GET POST"),
    ("/models/get-bulk", "POST"),
    ("/models/public", "GET"),
    ("/models/public/{modelId}", "GET"),
    ("/models/{modelId}", "GET PUT DELETE"),
    ("/models/{modelId}/copy", "POST"),
    ("/models/{modelId}/description", "GET PUT"),
    ("/models/{modelId}/download", "POST"),
    ("/models/{modelId}/examples", "GET PUT"),
    ("/models/{modelId}/images", "DELETE"),
    ("/models/{modelId}/presets", "GET POST"),
    ("/models/{modelId}/presets/{presetId}", "PUT DELETE"),
    ("/models/{modelId}/scores/prompt", "GET"),
    ("/models/{modelId}/scores/training-dataset", "GET"),
    ("/models/{modelId}/tags", "PUT"),
    ("/models/{modelId}/train", "PUT"),
    ("/models/{modelId}/train/action", "POST"),
    ("/models/{modelId}/training-images", "POST"),
    ("/models/{modelId}/training-images/pairs", "PUT"),
    ("/models/{modelId}/training-images/{trainingImageId}", "PUT DELETE"),
    ("/models/{modelId}/transfer", "POST"),
    ("/oscu/prices", "GET"),
    ("/recommendations/models", "GET"),
    ("/search/assets", "POST"),
    ("/search/models", "POST"),
    ("/tags", "GET"),
    ("/uploads", "POST"),
    ("/uploads/{uploadId}", "GET"),
    ("/uploads/{uploadId}/action", "POST"),
    ("/usages", "GET"),
    ("/workflows", "GET POST"),
    ("/workflows/tags", "GET"),
    ("/workflows/{workflowId}", "GET PUT DELETE"),
    ("/workflows/{workflowId}/run", "PUT"),
    ("/workflows/{workflowId}/user-approval", "PUT"),
]

# Simulator-only routes (not in the spec, not under /v1, no auth).
FILE_ROUTE = "/_files/{file}"
CDN_ROUTE = "/_cdn/{file}"  # where the `redirect` faults send downloads
PART_ROUTE = "/_uploads/{uploadId}/{partNumber}"


class Router:
    def __init__(self, routes):
        self.routes = []
        for path, methods in routes:
            segs = path.strip("/").split("/")
            self.routes.append((path, segs, set(methods.split())))

    def match(self, path):
        """Best matching template: literal segments beat parameters."""
        segs = path.strip("/").split("/")
        best = None
        for tmpl, tsegs, methods in self.routes:
            if len(tsegs) != len(segs):
                continue
            params, score, ok = {}, 0, True
            for t, s in zip(tsegs, segs):
                if t.startswith("{"):
                    if not s:
                        ok = False
                        break
                    params[t[1:-1]] = urllib.parse.unquote(s)
                elif t == s:
                    score += 1
                else:
                    ok = False
                    break
            if ok and (best is None or score > best[0]):
                best = (score, tmpl, params, methods)
        return None if best is None else best[1:]


ROUTER = Router(SPEC_ROUTES)


def classify(path):
    """(template, params, methods, api) of a path without /v1: api is False
    for the simulator's own routes; template and methods are None when no
    route matches."""
    if path.startswith("/_files/"):
        params = {"file": urllib.parse.unquote(path[len("/_files/"):])}
        return FILE_ROUTE, params, {"GET", "HEAD"}, False
    if path.startswith("/_cdn/"):
        params = {"file": urllib.parse.unquote(path[len("/_cdn/"):])}
        return CDN_ROUTE, params, {"GET", "HEAD"}, False
    if path.startswith("/_uploads/"):
        rest = path[len("/_uploads/"):].split("/")
        params = {"uploadId": rest[0], "partNumber": rest[1] if len(rest) > 1 else ""}
        return PART_ROUTE, params, {"PUT"}, False
    m = ROUTER.match(path)
    if m:
        tmpl, params, methods = m
        return tmpl, params, methods, True
    return None, {}, None, True
