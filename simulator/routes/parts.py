"""The simulator's own part upload route (no auth): PUT
/_uploads/<uploadId>/<n>?gen=..&expires=.., the presigned part URLs of
POST /uploads. Methods of the HTTP handler."""

import hashlib
import time

from ..blob import spool
from ..errors import ApiError


class PartRoutes:
    """Mixin of handler.Handler."""

    def find_part_upload(self, params):
        sim = self.sim
        with sim.lock:
            up = sim.uploads.get(params["uploadId"])
        if up is None:
            raise ApiError(404, "Upload %s not found" % params["uploadId"])
        return up

    def expire_part(self, params, fault):
        """Fault `expired`: this part URL and every URL handed out so far for
        the upload answer 403 until fresh ones are fetched (GET /uploads/{id})."""
        sim = self.sim
        with sim.lock:
            up = sim.uploads.get(params["uploadId"])
            if up is not None:
                up["expired_gen"] = max(up["expired_gen"], up["url_gen"])
        raise ApiError(403, "Request has expired: the part URL is no longer valid",
                       code="FORBIDDEN")

    def put_part(self, params, query, body, fault):
        sim = self.sim
        up = self.find_part_upload(params)
        try:
            n = int(params["partNumber"])
        except ValueError:
            n = -1
        if self.headers.get("Authorization"):
            raise ApiError(400, "Only one auth mechanism allowed: a presigned part URL "
                                "carries its own signature, send no Authorization header",
                           infos={"field": "Authorization"})
        if not 1 <= n <= up["parts_count"]:
            raise ApiError(400, "Part number must be between 1 and %d" % up["parts_count"],
                           infos={"field": "partNumber"})
        gen, expires = query.get("gen"), query.get("expires")
        try:
            stale = gen is not None and int(gen) <= up["expired_gen"]
            stale = stale or (expires is not None and float(expires) <= time.time())
        except ValueError:
            stale = True
        if stale:
            raise ApiError(403, "Request has expired: the part URL is no longer valid",
                           code="FORBIDDEN")
        if up["completed_at"] is not None or up["failed"]:
            raise ApiError(409, "Upload %s is already completed" % up["id"])
        piece = spool(body)
        with sim.lock:
            old = up["parts_data"].get(n)
            up["parts_data"][n] = piece
            up["part_puts"][n] = up["part_puts"].get(n, 0) + 1
            up["updated"] = time.time()
        if old is not None and not isinstance(old, bytes):
            old[0].close()
        return self.send(200, b"", None, [("ETag", '"%s"' % hashlib.md5(body).hexdigest())], fault)
