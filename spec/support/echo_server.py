"""An echo server for spec/runner_secrets_spec.lua: a careless API that
repeats the credentials it was sent in every answer. Each body carries the
request's Authorization header, the credentials it holds (base64-decoded)
and the raw request headers; the X-Request-Id header and, on errors, the
message repeat the Authorization header too.

The first segment of the path chooses the answer, so that a runner given
SCENARIO_API_URL=http://127.0.0.1:<port>/<mode> gets it for every request:
  /ok/...      a success shaped like the API's answers (generations, jobs,
               assets and their files, uploads and their parts, lists), so
               that every runner command goes through to its end
  /e<NNN>/...  an error with status NNN (e400, e401, e404 ...)

usage: echo_server.py   (prints "LISTENING <port> <pid>", stops on SIGTERM)
"""
import base64
import http.server
import json
import re

import serve

# the smallest PNG there is: 1x1, one grey pixel
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")


def echo_of(handler):
    auth = handler.headers.get("Authorization", "")
    decoded = ""
    if auth.startswith("Basic "):
        try:
            decoded = base64.b64decode(auth[6:]).decode("utf-8", "replace")
        except ValueError:
            decoded = "(not base64)"
    return {"authorization": auth, "Authorization": auth, "credentials": decoded,
            "headers": str(handler.headers), "said": "you sent Authorization: " + auth}


def job(jid, echo, status="success"):
    return {"jobId": jid, "status": status, "progress": 1, "jobType": echo["authorization"],
            "metadata": {"assetIds": ["asset_echo1"], "input": {"echo": echo}},
            "billing": {"cuCost": 5, "cuDiscount": 0}, "echo": echo}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def base(self):
        return "http://127.0.0.1:%d/ok" % self.server.server_address[1]

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", self.headers.get("Authorization", "none"))
        self.end_headers()
        self.wfile.write(data)

    def success(self, path, echo):
        m = self.command
        routes = [
            ("POST", r"/generate/.*", lambda: {"job": job("job_echo", echo, "pending"),
                                               "creativeUnitsCost": 5, "echo": echo}),
            ("GET", r"/jobs/([^/]+)", lambda jid: {"job": job(jid, echo)}),
            ("POST", r"/jobs/([^/]+)/action", lambda jid: {"job": job(jid, echo, "canceled")}),
            ("GET", r"/assets/([^/]+)", lambda aid: {"asset": self.asset(aid, echo)}),
            ("POST", r"/assets/get-bulk", lambda: {"assets": [self.asset("asset_echo1", echo)]}),
            ("GET", r"/assets", lambda: {"assets": [self.asset("asset_echo1", echo)], "echo": echo}),
            ("POST", r"/uploads", lambda: {"upload": self.upload(echo, "pending")}),
            ("POST", r"/uploads/[^/]+/action", lambda: {"upload": self.upload(echo, "complete")}),
            ("GET", r"/uploads/[^/]+", lambda: {"upload": self.upload(echo, "complete")}),
        ]
        if m == "GET" and path.startswith("/files/"):
            return self.send(200, PNG, "image/png")
        if m == "PUT" and path.startswith("/parts/"):
            return self.send(200, b"", "text/plain")
        for method, pattern, answer in routes:
            match = re.fullmatch(pattern, path)
            if method == m and match:
                return self.send(200, answer(*match.groups()))
        self.send(200, {"echo": echo})

    def asset(self, aid, echo):
        return {"id": aid, "url": "%s/files/%s.png" % (self.base(), aid), "mimeType": "image/png",
                "kind": "image", "echo": echo}

    def upload(self, echo, status):
        return {"id": "upload_echo", "status": status, "assetId": "asset_echo1",
                "parts": [{"number": 1, "url": self.base() + "/parts/1"}], "echo": echo}

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = self.path.split("?")[0].split("/", 2)
        mode = parts[1] if len(parts) > 1 else ""
        path = "/" + (parts[2] if len(parts) > 2 else "")
        echo = echo_of(self)
        if mode == "ok":
            return self.success(path, echo)
        status = int(mode[1:]) if re.fullmatch(r"e\d{3}", mode) else 400
        self.send(status, {"message": "refused: " + echo["authorization"], "error": echo["said"],
                           "echo": echo})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass


def main():
    serve.run(serve.make(Handler))


if __name__ == "__main__":
    main()
