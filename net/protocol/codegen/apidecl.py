"""Parser and model of our Kafka message declarations (net/protocol/api/*.api).

Shared by generate.py (C++ codecs) and check_specs.py (cross-check against
Kafka's JSON specs). Standard library only. The format is described in
docs/protocol.md; in short:

    # comment
    api Produce key 0 versions 0-11 flexible 9+
    option views request

    request
      transactional_id  string   3+  nullable 3+  default null
      topic_data        []topic_produce_data  0+
        name            string   0+
        partition_data  []partition_produce_data  0+
          index         int32    0+
          records       records  0+  nullable 0+

    response
      ...

A field line is `name type versions [nullable R] [tag N] [default V]`.
Indentation nests a struct's fields under the field that declares it.
Every error names the file and line.
"""

import os
import re

PRIMITIVES = {
    "bool": 1, "int8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
    "int64": 8, "float64": 8, "uuid": 16,
    "string": None, "bytes": None, "records": None,
}
INTEGERS = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
}
NULLABLE_KINDS = ("string", "bytes", "records", "array")

CPP_KEYWORDS = set("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast requires return
short signed sizeof static static_assert static_cast struct switch template this thread_local
throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
xor xor_eq
""".split())

# Names the generated message structs use for themselves.
RESERVED_MEMBERS = {"api_key", "min_version", "max_version", "flexible_from", "decode", "encode"}

MAX_VERSION = 0x7fff


class DeclError(Exception):
    pass


def snake_case(name):
    """Kafka's PascalCase (or camelCase) name in snake_case:
    ThrottleTimeMs -> throttle_time_ms, timeoutMs -> timeout_ms,
    ISRNodes -> isr_nodes."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


class Versions:
    """An inclusive version range; hi None means open-ended ("3+")."""

    def __init__(self, lo, hi):
        self.lo = lo
        self.hi = hi

    @staticmethod
    def parse(text, where):
        text = text.strip()
        if text == "none":
            return None
        m = re.fullmatch(r"(\d+)\+", text)
        if m:
            return Versions(int(m.group(1)), None)
        m = re.fullmatch(r"(\d+)-(\d+)", text)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise DeclError("%s: empty version range %s" % (where, text))
            return Versions(lo, hi)
        m = re.fullmatch(r"(\d+)", text)
        if m:
            return Versions(int(m.group(1)), int(m.group(1)))
        raise DeclError("%s: bad version range %r (want N+, N-M or N)" % (where, text))

    def contains(self, v):
        return v >= self.lo and (self.hi is None or v <= self.hi)

    def top(self):
        return MAX_VERSION if self.hi is None else self.hi

    def __str__(self):
        if self.hi is None:
            return "%d+" % self.lo
        if self.hi == self.lo:
            return "%d" % self.lo
        return "%d-%d" % (self.lo, self.hi)


def contains(vr, v):
    return vr is not None and vr.contains(v)


class Field:
    def __init__(self, name, type_, versions, where):
        self.name = name
        self.type = type_  # "int32", "string", "[]int32", "[]foo", "foo"
        self.versions = versions
        self.nullable = None  # Versions or None
        self.tag = None
        self.default = None  # raw token, or None
        self.fields = []  # children when the type is a struct
        self.where = where
        self.struct = None  # the Struct when the type is one

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def element(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def element_is_struct(self):
        return self.element not in PRIMITIVES

    @property
    def kind(self):
        """'array', 'struct', or the primitive name."""
        if self.is_array:
            return "array"
        if self.type in PRIMITIVES:
            return self.type
        return "struct"

    def present(self, v):
        return self.versions.contains(v)

    def positional(self, v):
        return self.present(v) and self.tag is None

    def tagged(self, v):
        return self.present(v) and self.tag is not None

    def nullable_in(self, v):
        return contains(self.nullable, v)


class Struct:
    """A struct type: the message body itself or a nested struct."""

    def __init__(self, name, fields, where):
        self.name = name  # snake_case type name as declared
        self.fields = fields
        self.where = where
        self.cpp_name = name  # may gain a suffix to avoid clashes (generate.py)


class Message:
    def __init__(self, api, kind, fields, where):
        self.api = api
        self.kind = kind  # "request" or "response"
        self.name = "%s_%s" % (api.name, kind)
        self.body = Struct(self.name, fields, where)
        self.structs = []  # nested structs, innermost first (declaration order)


class Api:
    def __init__(self, path):
        self.path = path
        self.kafka_name = None
        self.name = None  # snake_case, also the file name
        self.key = None
        self.versions = None
        self.flexible = None  # Versions or None (never flexible)
        self.view_messages = set()  # "request"/"response": strings and bytes are views
        self.request = None
        self.response = None

    def is_flexible(self, v):
        return contains(self.flexible, v)

    @property
    def flexible_from(self):
        return self.flexible.lo if self.flexible is not None else None

    def all_versions(self):
        return range(self.versions.lo, self.versions.hi + 1)

    def messages(self):
        return [self.request, self.response]


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')


def _tokens(line):
    out = []
    for t in _TOKEN.findall(line):
        if t.startswith("#"):
            break
        out.append(t)
    return out


def _parse_default(tok, field):
    kind = field.kind
    where = field.where
    if tok == "null":
        if not (kind in NULLABLE_KINDS and field.nullable is not None):
            raise DeclError("%s: default null on a field that is never nullable" % where)
        return tok
    if kind in INTEGERS:
        try:
            v = int(tok, 0)
        except ValueError:
            raise DeclError("%s: default %r is not an integer" % (where, tok))
        lo, hi = INTEGERS[kind]
        if not lo <= v <= hi:
            raise DeclError("%s: default %s out of range for %s" % (where, tok, kind))
        return tok
    if kind == "bool":
        if tok not in ("true", "false"):
            raise DeclError("%s: bool default must be true or false" % where)
        return tok
    if kind == "float64":
        try:
            float(tok)
        except ValueError:
            raise DeclError("%s: default %r is not a number" % (where, tok))
        return tok
    if kind == "string":
        if not (tok.startswith('"') and tok.endswith('"') and len(tok) >= 2):
            raise DeclError("%s: string default must be quoted or null" % where)
        return tok
    raise DeclError("%s: a %s field takes no default (only null)" % (where, kind))


def _parse_field(toks, where):
    if len(toks) < 3:
        raise DeclError("%s: want `name type versions [nullable R] [tag N] [default V]`" % where)
    name, type_, vers = toks[0], toks[1], toks[2]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise DeclError("%s: field name %r is not snake_case" % (where, name))
    if name in CPP_KEYWORDS:
        raise DeclError("%s: field name %r is a C++ keyword" % (where, name))
    elem = type_[2:] if type_.startswith("[]") else type_
    if elem not in PRIMITIVES and not re.fullmatch(r"[a-z][a-z0-9_]*", elem):
        raise DeclError("%s: bad type %r" % (where, type_))
    if type_.startswith("[]") and elem == "records":
        raise DeclError("%s: arrays of records are not a Kafka type" % where)
    versions = Versions.parse(vers, where)
    if versions is None:
        raise DeclError("%s: a field present in no version" % where)
    f = Field(name, type_, versions, where)
    rest = toks[3:]
    default_tok = None
    i = 0
    while i < len(rest):
        key = rest[i]
        if i + 1 >= len(rest):
            raise DeclError("%s: %r needs a value" % (where, key))
        val = rest[i + 1]
        if key == "nullable":
            f.nullable = Versions.parse(val, where)
        elif key == "tag":
            if not val.isdigit():
                raise DeclError("%s: tag must be a number" % where)
            f.tag = int(val)
        elif key == "default":
            default_tok = val
        else:
            raise DeclError("%s: unknown attribute %r" % (where, key))
        i += 2
    if f.nullable is not None and f.kind not in NULLABLE_KINDS:
        raise DeclError("%s: only strings, bytes, records and arrays may be nullable "
                        "(nullable structs are not supported)" % where)
    if default_tok is not None:
        f.default = _parse_default(default_tok, f)
    return f


def parse_file(path):
    api = Api(path)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    section = None  # "request" / "response"
    roots = {"request": [], "response": []}
    stack = []  # (indent, Field)
    for lineno, raw in enumerate(lines, 1):
        where = "%s:%d" % (path, lineno)
        if "\t" in raw:
            raise DeclError("%s: tabs are not allowed; indent with spaces" % where)
        toks = _tokens(raw)
        if not toks:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            stack = []
            head = toks[0]
            if head == "api":
                _parse_api_line(api, toks, where)
            elif head == "option":
                if len(toks) < 3 or toks[1] != "views" or \
                        any(t not in ("request", "response") for t in toks[2:]):
                    raise DeclError("%s: unknown option (known: option views request|response)"
                                    % where)
                api.view_messages.update(toks[2:])
            elif head in ("request", "response"):
                if len(toks) != 1:
                    raise DeclError("%s: `%s` stands alone on its line" % (where, head))
                if api.key is None:
                    raise DeclError("%s: the api line comes first" % where)
                if roots[head]:
                    raise DeclError("%s: second %s section" % (where, head))
                section = head
                roots[head] = []
            else:
                raise DeclError("%s: unexpected %r at the start of a line" % (where, head))
            continue
        if section is None:
            raise DeclError("%s: a field outside a request/response section" % where)
        f = _parse_field(toks, where)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            parent = stack[-1][1]
            if not parent.element_is_struct:
                raise DeclError("%s: %s has type %s and cannot have fields" %
                                (where, parent.name, parent.type))
            parent.fields.append(f)
        else:
            roots[section].append(f)
        stack.append((indent, f))
    if api.key is None:
        raise DeclError("%s: no api line" % path)
    for kind in ("request", "response"):
        if not roots[kind]:
            raise DeclError("%s: no %s section (or it is empty)" % (path, kind))
        msg = Message(api, kind, roots[kind], path)
        _finish(api, msg)
        setattr(api, kind, msg)
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem != api.name:
        raise DeclError("%s: file name should be %s.api for api %s" % (path, api.name,
                                                                       api.kafka_name))
    return api


def _parse_api_line(api, toks, where):
    if len(toks) != 8 or toks[2] != "key" or toks[4] != "versions" or toks[6] != "flexible":
        raise DeclError("%s: want `api Name key N versions A-B flexible N+|none`" % where)
    if api.key is not None:
        raise DeclError("%s: second api line" % where)
    api.kafka_name = toks[1]
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", api.kafka_name):
        raise DeclError("%s: api name is Kafka's PascalCase name" % where)
    api.name = snake_case(api.kafka_name)
    if not toks[3].isdigit():
        raise DeclError("%s: api key must be a number" % where)
    api.key = int(toks[3])
    api.versions = Versions.parse(toks[5], where)
    if api.versions is None or api.versions.hi is None:
        raise DeclError("%s: versions must be a closed range (A-B or N)" % where)
    api.flexible = Versions.parse(toks[7], where)
    if api.flexible is not None and api.flexible.hi is not None:
        raise DeclError("%s: flexible versions are open-ended (N+) or none" % where)


def _finish(api, msg):
    """Checks one message and collects its nested structs (innermost first)."""
    seen = {}

    def visit(fields, owner):
        names = set()
        tags = set()
        for f in fields:
            if f.name in names:
                raise DeclError("%s: duplicate field %s in %s" % (f.where, f.name, owner))
            names.add(f.name)
            if f.tag is not None:
                if api.flexible is None or f.versions.lo < api.flexible.lo:
                    raise DeclError("%s: tagged field %s in a non-flexible version" %
                                    (f.where, f.name))
                if f.versions.hi is not None:
                    raise DeclError("%s: a tagged field's versions are open-ended" % f.where)
                if f.tag in tags:
                    raise DeclError("%s: duplicate tag %d in %s" % (f.where, f.tag, owner))
                tags.add(f.tag)
            if f.element_is_struct:
                if not f.fields:
                    raise DeclError("%s: struct %s declares no fields" % (f.where, f.element))
                if f.element in seen:
                    raise DeclError("%s: struct %s is declared twice in %s (first at %s)" %
                                    (f.where, f.element, msg.name, seen[f.element].where))
                visit(f.fields, f.element)
                s = Struct(f.element, f.fields, f.where)
                seen[f.element] = s
                f.struct = s
                msg.structs.append(s)
            elif f.fields:
                raise DeclError("%s: %s is not a struct type" % (f.where, f.type))

    visit(msg.body.fields, msg.name)
    for f in msg.body.fields:
        if f.name in RESERVED_MEMBERS:
            raise DeclError("%s: %s is reserved in a message struct" % (f.where, f.name))


def parse_dir(directory):
    apis = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".api"):
            apis.append(parse_file(os.path.join(directory, name)))
    keys = {}
    for a in apis:
        if a.key in keys:
            raise DeclError("%s: api key %d also declared by %s" % (a.path, a.key, keys[a.key]))
        keys[a.key] = a.path
    return apis
