#!/usr/bin/env python3
"""Cross-checks our message declarations (net/protocol/api/*.api) against
Kafka's JSON message specs, for every version we declare.

    check_specs.py --specs ../shared/kafka-protocol/messages [--decls net/protocol/api]

For each declared API it checks the api key, that our version range lies
inside Kafka's valid versions (and leaves out a `latestVersionUnstable` top
version), the flexible versions, and then for every declared version, struct
by struct: the positional field sequence (snake_case names, types, struct type
names, nullability in that version), the tagged fields (tag, name, type,
nullability) and every field's default. Exit codes: 0 all match, 1 a mismatch
(each one printed), 2 a usage or parse error, 77 when the specs folder is
absent (ctest's SKIP_RETURN_CODE: the specs are not part of this repository).

The JSON files are read only here, never by the build: our declarations are
our own, and this test keeps them honest.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apidecl  # noqa: E402
from apidecl import INTEGERS, Versions, snake_case  # noqa: E402

SKIP = 77


def strip_comments(text):
    """Removes // comments outside JSON strings."""
    out = []
    i, n = 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
            out.append(c)
            i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def load_spec(path):
    with open(path, encoding="utf-8") as fh:
        return json.loads(strip_comments(fh.read()))


class KField:
    """A field of Kafka's spec, normalised to our vocabulary."""

    def __init__(self, j, commons, where):
        self.kafka_name = j["name"]
        self.name = snake_case(j["name"])
        self.versions = Versions.parse(j.get("versions", "none"), where)
        self.nullable = Versions.parse(j.get("nullableVersions", "none"), where)
        self.tagged_versions = Versions.parse(j.get("taggedVersions", "none"), where)
        self.tag = j.get("tag")
        self.default = j.get("default")
        self.field_flexible = j.get("flexibleVersions")
        t = j["type"]
        self.raw_type = t
        is_array = t.startswith("[]")
        elem = t[2:] if is_array else t
        self.struct_fields = None
        if elem not in apidecl.PRIMITIVES:
            if "fields" in j:
                sub = j["fields"]
            elif elem in commons:
                sub = commons[elem]
            else:
                raise ValueError("%s: struct %s has no fields" % (where, elem))
            self.struct_fields = [KField(s, commons, where) for s in sub]
            elem = snake_case(elem)
        self.type = ("[]" if is_array else "") + elem

    def present(self, v):
        return apidecl.contains(self.versions, v)

    def tagged(self, v):
        return self.present(v) and apidecl.contains(self.tagged_versions, v)

    def positional(self, v):
        return self.present(v) and not self.tagged(v)

    def kind(self):
        if self.type.startswith("[]"):
            return "array"
        if self.type in apidecl.PRIMITIVES:
            return self.type
        return "struct"


def norm_default(kind, value, nullable_somewhere):
    """A comparable default: Kafka's rules for an absent default included."""
    if value is not None and not isinstance(value, str):
        value = json.dumps(value)  # an int or bool written without quotes
    if kind in INTEGERS:
        return int(value, 0) if value not in (None, "") else 0
    if kind == "bool":
        return (value or "false") == "true"
    if kind == "float64":
        return float(value) if value not in (None, "") else 0.0
    if kind == "string":
        if value == "null":
            return None
        return value or ""
    if kind in ("bytes", "array"):
        return None if value == "null" else "empty"
    if kind == "records":
        return None
    if kind == "uuid":
        return value or "zero"
    return "struct"


def our_default(f):
    d = f.default
    if d is None:
        return norm_default(f.kind, None, f.nullable is not None)
    if f.kind == "string" and d != "null":
        return norm_default("string", json.loads(d), True)  # the quoted literal
    return norm_default(f.kind, d, f.nullable is not None)


class Checker:
    def __init__(self):
        self.errors = []
        self.notes = []
        self.checked_versions = 0

    def error(self, where, msg):
        self.errors.append("%s: %s" % (where, msg))

    def check_api(self, api, specs_dir):
        for msg in api.messages():
            kind = msg.kind
            spec_name = "%s%s.json" % (api.kafka_name, kind.capitalize())
            path = os.path.join(specs_dir, spec_name)
            where = "%s (%s)" % (msg.name, spec_name)
            if not os.path.exists(path):
                self.error(where, "no such Kafka spec")
                continue
            spec = load_spec(path)
            if spec.get("apiKey") != api.key:
                self.error(where, "api key %s, Kafka says %s" % (api.key, spec.get("apiKey")))
            if spec.get("type") != kind:
                self.error(where, "type %s, Kafka says %s" % (kind, spec.get("type")))
            valid = Versions.parse(spec["validVersions"], path)
            top = valid.hi
            if spec.get("latestVersionUnstable"):
                top -= 1
            if api.versions.lo < valid.lo or api.versions.hi > top:
                self.error(where, "versions %s outside Kafka's usable %d-%d%s" % (
                    api.versions, valid.lo, top,
                    " (the top version is unstable)" if top != valid.hi else ""))
            elif api.versions.lo != valid.lo or api.versions.hi != top:
                self.notes.append("%s: declares %s of Kafka's %d-%d" % (
                    where, api.versions, valid.lo, top))
            flex = Versions.parse(spec.get("flexibleVersions", "none"), path)
            ours_flex = api.flexible
            if (flex is None) != (ours_flex is None) or (
                    flex is not None and (flex.lo != ours_flex.lo or flex.hi != ours_flex.hi)):
                self.error(where, "flexible %s, Kafka says %s" % (
                    ours_flex or "none", spec.get("flexibleVersions")))
            commons = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
            try:
                kfields = [KField(j, commons, path) for j in spec["fields"]]
            except (ValueError, apidecl.DeclError) as e:
                self.error(where, "cannot read spec: %s" % e)
                continue
            self.check_defaults(msg.name, msg.body.fields, kfields)
            for v in api.all_versions():
                self.checked_versions += 1
                self.check_struct("%s v%d" % (msg.name, v), msg.body.fields, kfields, v)

    def check_defaults(self, where, ours, kafka):
        by_name = {k.name: k for k in kafka}
        for f in ours:
            k = by_name.get(f.name)
            if k is None:
                continue  # reported by the positional check
            if k.kind() != "struct" and f.kind == k.kind():
                theirs = norm_default(k.kind(), k.default, k.nullable is not None)
                if our_default(f) != theirs:
                    self.error("%s.%s" % (where, f.name), "default %s, Kafka says %r" % (
                        f.default if f.default is not None else "(none)", k.default))
            if f.fields and k.struct_fields is not None:
                self.check_defaults("%s.%s" % (where, f.element), f.fields, k.struct_fields)

    def check_struct(self, where, ours, kafka, v):
        for k in kafka:
            if k.field_flexible is not None and k.present(v):
                self.error("%s.%s" % (where, k.name),
                           "Kafka overrides flexibleVersions on this field; unsupported")
        mine = [f for f in ours if f.positional(v)]
        theirs = [k for k in kafka if k.positional(v)]
        for i in range(max(len(mine), len(theirs))):
            f = mine[i] if i < len(mine) else None
            k = theirs[i] if i < len(theirs) else None
            if f is None:
                self.error(where, "field #%d: missing, Kafka has %s %s" % (i, k.name, k.type))
                break
            if k is None:
                self.error(where, "field #%d: %s is not in Kafka's spec" % (i, f.name))
                break
            if not self.same_field("%s.%s" % (where, f.name), f, k, v):
                break  # later positions would only repeat the shift
            self.recurse(where, f, k, v)
        mine_t = {f.tag: f for f in ours if f.tagged(v)}
        theirs_t = {k.tag: k for k in kafka if k.tagged(v)}
        for tag in sorted(set(mine_t) | set(theirs_t)):
            f, k = mine_t.get(tag), theirs_t.get(tag)
            if f is None:
                self.error(where, "tag %d (%s) missing" % (tag, k.name))
            elif k is None:
                self.error(where, "tag %d (%s) is not in Kafka's spec" % (tag, f.name))
            elif self.same_field("%s.%s" % (where, f.name), f, k, v):
                self.recurse(where, f, k, v)

    def same_field(self, where, f, k, v):
        ok = True
        if f.name != k.name:
            self.error(where, "name %s, Kafka has %s (%s)" % (f.name, k.name, k.kafka_name))
            ok = False
        if f.type != k.type:
            self.error(where, "type %s, Kafka says %s (%s)" % (f.type, k.type, k.raw_type))
            ok = False
        if f.nullable_in(v) != apidecl.contains(k.nullable, v):
            self.error(where, "%snullable in v%d, Kafka says the opposite" %
                       ("" if f.nullable_in(v) else "not ", v))
        return ok

    def recurse(self, where, f, k, v):
        if f.fields and k.struct_fields is not None:
            self.check_struct("%s.%s" % (where, f.element), f.fields, k.struct_fields, v)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="Check our .api declarations against Kafka's specs.")
    p.add_argument("--specs", required=True, help="Kafka's message JSON folder")
    p.add_argument("--decls", default=os.path.join(here, "..", "api"),
                   help="folder of our .api files")
    p.add_argument("-v", "--verbose", action="store_true", help="also print notes")
    args = p.parse_args(argv)
    if not os.path.isdir(args.specs):
        print("SKIPPED: no specs (%s is absent)" % args.specs)
        return SKIP
    try:
        apis = apidecl.parse_dir(args.decls)
    except apidecl.DeclError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    c = Checker()
    for api in apis:
        c.check_api(api, args.specs)
    if args.verbose:
        for n in c.notes:
            print("note: %s" % n)
    for e in c.errors:
        print("MISMATCH %s" % e)
    if c.errors:
        print("FAILED: %d mismatches in %d declarations" % (len(c.errors), len(apis)))
        return 1
    print("ok: %d APIs, %d message versions match Kafka's specs%s" % (
        len(apis), c.checked_versions,
        "" if not c.notes else " (%d narrower ranges, -v lists them)" % len(c.notes)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
