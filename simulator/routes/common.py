"""Helpers of the API handlers: the JSON body, query lists, type checks, the
400 that lists every bad field, and pagination."""

import base64
import binascii
import json
import random

from ..errors import ApiError
from ..util import is_integer, is_number


def parse_json_body(body, required=True):
    if not body.strip():
        if required:
            raise ApiError(400, "A JSON request body is required", infos={"field": "body"})
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON", infos={"field": "body"}) from None


def truthy(v):
    return str(v).lower() in ("1", "true", "yes")


def csv(query, *names):
    for n in names:
        if query.get(n):
            return set(x for x in query[n].split(",") if x)
    return set()


def string_list(data, key, limit=None, required=True):
    ids = data.get(key) if isinstance(data, dict) else None
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "%s must be an array of strings" % key, infos={"field": key})
    if limit and len(ids) > limit:
        raise ApiError(400, "%s accepts at most %d ids" % (key, limit), infos={"field": key})
    return ids


def type_ok(v, t):
    if t == "string":
        return isinstance(v, str)
    if t == "number":
        return is_number(v)
    if t == "integer":
        return is_integer(v)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return True


def raise_bad(bad):
    if bad:
        fields = [b[0] for b in bad]
        raise ApiError(400, "; ".join(b[1] for b in bad),
                       infos={"field": fields[0], "fields": fields,
                              "errors": [{"field": f, "message": m} for f, m in bad]})


def random_seed():
    return str(random.randint(0, 2 ** 31 - 1))


def parse_page(query, max_size, default=50):
    size = default
    raw = query.get("pageSize")
    if raw is not None:
        try:
            size = int(raw)
        except ValueError:
            size = -1
        if not 1 <= size <= max_size:
            raise ApiError(400, "pageSize must be an integer between 1 and %d" % max_size,
                           infos={"field": "pageSize"})
    after = None
    tok = query.get("paginationToken")
    if tok:
        try:
            dec = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
            kind, _, n = dec.partition(":")
            if kind != "seq":
                raise ValueError
            after = int(n)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ApiError(400, "Invalid paginationToken", infos={"field": "paginationToken"}) from None
    return size, after


def paginate(items, query, max_size, default=50, ascending=False):
    """items: records with 'seq'.  Newest first unless ascending."""
    size, after = parse_page(query, max_size, default)
    items = sorted(items, key=lambda r: r["seq"], reverse=not ascending)
    if after is not None:
        items = [r for r in items if (r["seq"] > after if ascending else r["seq"] < after)]
    page = items[:size]
    nxt = None
    if len(items) > size:
        nxt = base64.urlsafe_b64encode(("seq:%d" % page[-1]["seq"]).encode()).decode().rstrip("=")
    return page, nxt


# --------------------------------------------------------------------------
