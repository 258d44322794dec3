"""Uploads: their status over time, the part URLs, the file made into an asset
(or a model) once imported, and their API JSON."""

import time

from ..blob import BLOB_INLINE
from ..png import sniff_mime
from ..util import iso, new_id

UPLOAD_KINDS = ["3d", "asset", "audio", "avatar", "image", "model", "video"]
ASSET_KIND_OF_UPLOAD = {"3d": "3d", "asset": "image", "audio": "audio",
                        "avatar": "image", "image": "image", "video": "video"}


class Uploads:
    """Sim's uploads (a mixin of state.Sim)."""

    def upload_state(self, up, now):
        if up["failed"]:
            return "failed"
        if up["completed_at"] is None:
            return "pending"
        d = self.upload_duration if self.upload_duration is not None else self.job_duration / 2
        el = now - up["completed_at"]
        if up["fail_validation"] and el >= d / 2:
            return "failed"
        if el >= d:
            return "imported"
        if el >= d / 2:
            return "validated"
        return "validating"

    def part_url(self, up, n):
        return "%s/_uploads/%s/%d?gen=%d&expires=%d" % (
            self.base_url(), up["id"], n, up["url_gen"], int(up["urls_expire"]))

    def upload_json(self, up, now=None):
        now = time.time() if now is None else now
        status = self.upload_state(up, now)
        self.upload_progress(up, status, now)
        out = {
            "id": up["id"],
            "fileName": up["file_name"],
            "originalFileName": up["file_name"],
            "kind": up["kind"],
            "source": "multipart",
            "status": status,
            "authorId": "sim-user",
            "ownerId": "sim-project",
            "createdAt": iso(up["created"]),
            "updatedAt": iso(up["updated"]),
            "fileSize": up["file_size"],
            "partsCount": up["parts_count"],
            "contentType": up["content_type"],
        }
        if status == "pending":
            out["parts"] = [{"number": n, "url": self.part_url(up, n),
                             "expires": iso(up["urls_expire"])}
                            for n in range(1, up["parts_count"] + 1)]
        if up["entity_id"]:
            out["entityId"] = up["entity_id"]
        if up["failed"]:
            out["errorMessage"] = up["failed"]
        return out

    def upload_progress(self, up, status, now):
        """What the upload's status brings about: the asset (or model) once
        imported, the failure once validated, fresh part URLs once expired."""
        with self.lock:
            if status == "imported" and up["entity_id"] is None:
                up["entity_id"] = self.import_upload(up)
                up["updated"] = now
            if status == "failed" and up["fail_validation"] and not up["failed"]:
                up["failed"] = up["fail_validation"]
                up["updated"] = now
            if status == "pending" and (up["url_gen"] <= up["expired_gen"]
                                        or up["urls_expire"] <= now):
                # expired URLs: hand out fresh ones
                up["url_gen"] = max(up["url_gen"], up["expired_gen"]) + 1
                up["urls_expire"] = now + self.part_url_ttl

    def import_upload(self, up):
        """The id of the model or asset made of an imported upload."""
        blob = up["blob"]
        if up["kind"] == "model":
            m = self.add_model(new_id("model_"), up["file_name"], "custom",
                               custom=True, status="trained", source="other")
            return m["id"]
        head = blob.read(0, 16)
        mime = up["content_type"] or sniff_mime(head)
        data = blob if len(blob) > BLOB_INLINE else blob.read(0, len(blob))
        a = self.add_asset(data, mime, ASSET_KIND_OF_UPLOAD.get(up["kind"], "image"),
                           "uploaded", "uploaded", name=up["file_name"])
        return a["id"]
