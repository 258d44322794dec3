"""The inputs[] check of custom models and workflow runs: type,
required.always, min/max, minLength/maxLength, allowedValues."""

from ..util import is_number
from .common import raise_bad, type_ok

ARRAY_ITEM_TYPE = {"file_array": "string", "string_array": "string", "model_array": "string",
                   "number_array": "number", "inputs_array": "object"}


def check_inputs(defs, values):
    """Checks `values` against inputs[] definitions (type, required.always,
    min/max, minLength/maxLength, allowedValues) and raises one 400 listing
    every problem.  A scalar where an array is expected is dropped silently,
    as the API does.  Returns the values kept."""
    kept = dict(values)
    bad = []
    for d in defs:
        if isinstance(d, dict) and isinstance(d.get("name"), str):
            check_input(d, kept, bad)
    raise_bad(bad)
    return kept


def check_input(d, kept, bad):
    """One definition: drops a scalar sent for an array, adds its problems
    to bad."""
    name, typ = d["name"], d.get("type")
    required = isinstance(d.get("required"), dict) and d["required"].get("always") is True
    if typ in ARRAY_ITEM_TYPE and name in kept and not isinstance(kept[name], list):
        del kept[name]  # the API drops it silently (and still bills)
    if kept.get(name) is None:
        if required:
            bad.append((name, "%s is required (%s)" % (name, typ)))
        return
    v = kept[name]
    if typ in ARRAY_ITEM_TYPE:
        if not all(type_ok(x, ARRAY_ITEM_TYPE[typ]) for x in v):
            bad.append((name, "%s must be an array of %ss" % (name, ARRAY_ITEM_TYPE[typ])))
        return
    want = {"file": "string", "model": "string"}.get(typ, typ)
    if want in ("string", "number", "boolean") and not type_ok(v, want):
        bad.append((name, "%s must be a %s (got %s)" % (name, want, type(v).__name__)))
        return
    check_value(d, name, typ, v, bad)


def check_value(d, name, typ, v, bad):
    """The bounds of a value of the right type: min/max, lengths, allowedValues."""
    if typ == "number":
        if is_number(d.get("min")) and v < d["min"]:
            bad.append((name, "%s must be >= %s (got %s)" % (name, d["min"], v)))
        elif is_number(d.get("max")) and v > d["max"]:
            bad.append((name, "%s must be <= %s (got %s)" % (name, d["max"], v)))
    if isinstance(v, str):
        if is_number(d.get("maxLength")) and len(v) > d["maxLength"]:
            bad.append((name, "%s must be at most %d characters" % (name, d["maxLength"])))
        elif is_number(d.get("minLength")) and len(v) < d["minLength"]:
            bad.append((name, "%s must be at least %d characters" % (name, d["minLength"])))
    allowed = d.get("allowedValues")
    if isinstance(allowed, list) and allowed and v not in allowed:
        bad.append((name, "%s must be one of %s" % (name, ", ".join(map(str, allowed)))))
