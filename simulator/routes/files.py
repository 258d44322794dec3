"""The simulator's own download routes (no auth): GET /_files/<assetId>.<ext>
(Range, ETag; large uploaded files streamed), GET /_cdn/... (where the
`redirect` faults send downloads). Methods of the HTTP handler."""

import hashlib
import time
import urllib.parse

from ..errors import ApiError


class FileRoutes:
    """Mixin of handler.Handler."""

    def serve_file(self, name, fault):
        aid = name.rsplit(".", 1)[0] if "." in name else name
        sim = self.sim
        with sim.lock:
            a = sim.assets.get(aid)
        if a is None:
            raise ApiError(404, "File %s not found" % name)
        data = a["data"]
        size = len(data)
        etag = (hashlib.md5(data).hexdigest() if isinstance(data, bytes)
                else "%s-%d" % (a["id"], size))
        headers = [("Accept-Ranges", "bytes"),
                   ("ETag", '"%s"' % etag),
                   ("Cache-Control", "private, max-age=3600")]
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a_, _, b_ = rng[6:].partition("-")
            try:
                if a_ == "":
                    start, end = max(0, size - int(b_)), size - 1
                else:
                    start = int(a_)
                    end = min(int(b_), size - 1) if b_ else size - 1
            except ValueError:
                start, end = 0, size - 1
            if start >= size or start > end:
                return self.send(416, b"", None,
                                 headers + [("Content-Range", "bytes */%d" % size)], fault)
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
            status = 206
        if isinstance(data, bytes):
            return self.send(status, data[start:end + 1], a["mime"], headers, fault)
        return self.send_blob(status, data, start, end + 1, a["mime"], headers, fault)

    def send_blob(self, status, blob, start, end, ctype, headers, fault):
        """Stream bytes [start, end) of a large uploaded file."""
        self.status_sent = status
        headers = [("Content-Type", ctype)] + list(headers)
        length = end - start
        self.wfile.write(self.head_bytes(status, headers, length))
        if self.command == "HEAD":
            return
        stop = end
        if fault is not None and fault.get("reset_body"):
            stop = start + length // 2
        elif fault is not None and fault.get("delay_body") is not None:
            time.sleep(fault.get("delay_body"))
        pos = start
        while pos < stop:
            n = min(1024 * 1024, stop - pos)
            self.wfile.write(blob.read(pos, pos + n))
            pos += n
        if stop < end:
            time.sleep(0.05)
            self.abort()

    def redirect_file(self, name, fault):
        """Faults `redirect` / `redirect_other_host`: 302 to /_cdn/<name>, on
        this host or on `localhost` (another host name for the same server)."""
        base = self.sim.base_url()
        if fault.get("redirect_other_host"):
            base = "http://localhost:%d" % self.sim.port
        split = urllib.parse.urlsplit(self.path)
        loc = "%s/_cdn/%s" % (base, urllib.parse.quote(name))
        if split.query:
            loc += "?" + split.query
        return self.send(302, b"", None, [("Location", loc)])
