"""Writes the copy of api/openapi.json that `prism mock` serves.

Requests are validated against the document as it is; only Prism's own mock
answers need this copy. The document has defects that make Prism's mock
answer invalid against the same document (so --errors turns them into 500):

- a `default` outside its own `enum` (`optimizeFor` default "undefined" with
  enum ["likeness"]): the default is dropped;
- a number with an exclusive minimum of 0 (`learningRateTextEncoder`,
  `learningRateUnet`, ...), for which Prism's mock invents a value outside the
  bounds: an `example` inside the bounds is added.

usage: mock_document.py IN.json OUT.json   (prints what it changed)
"""
import json
import sys


def fix(node, path, changes):
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "default" in node and node["default"] not in enum:
            changes.append("%s: dropped default %r outside enum" % (path, node["default"]))
            del node["default"]
        if node.get("type") in ("number", "integer") and node.get("exclusiveMinimum") is True \
                and "example" not in node:
            lo = node.get("minimum", 0)
            hi = node.get("maximum", lo + 2)
            node["example"] = (lo + hi) / 2 if node.get("type") == "number" else lo + 1
            changes.append("%s: example %r inside (%r, %r]" % (path, node["example"], lo, hi))
        for k, v in node.items():
            fix(v, path + "/" + k, changes)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            fix(v, "%s/%d" % (path, i), changes)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        doc = json.load(f)
    changes = []
    fix(doc.get("components", {}), "#/components", changes)
    fix(doc.get("paths", {}), "#/paths", changes)
    with open(dst, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for c in changes:
        print(c)


if __name__ == "__main__":
    main()
