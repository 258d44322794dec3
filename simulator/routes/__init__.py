"""The API handlers, one module per API group. A handler is called as
handler(h, params, query, body, fault) -> (status, obj), h being the HTTP
handler (h.sim the state); it raises errors.ApiError to answer an error.
HANDLERS maps (method, spec path template) to its handler; an operation of
the document with no handler answers 501."""

from . import assets, collections, generate, generate_ops, jobs, models, uploads, workflows

HANDLERS = {}
for _group in (generate, generate_ops, jobs, assets, uploads, models, collections, workflows):
    HANDLERS.update(_group.HANDLERS)
