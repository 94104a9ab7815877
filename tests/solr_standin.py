"""A loopback stand-in for the Apache Solr core that CKAN 2.12 talks to through pysolr.

THIS IS TEST INFRASTRUCTURE, NOT A SEARCH ENGINE.

CKAN indexes every dataset in Solr inside ``package_create`` (and rolls the dataset back when that
fails), reads ``package_show`` from the index when it can, and answers ``package_search`` and
``organization_show`` from it. No Solr can be installed on the machines this project runs on, so the
CKAN test harness (``tests/ckan_stack.py``) starts this small HTTP server on 127.0.0.1 instead.

It keeps the documents CKAN sends in memory and answers the handful of calls CKAN makes:

* ``GET  /solr/<core>/schema`` (``wt=schema.xml`` or JSON) and ``/solr/<core>/admin/file?file=schema.xml``:
  a schema whose name is ``ckan-2.12``, which is what CKAN checks at start-up;
* ``POST /solr/<core>/update``: a JSON list of documents (or JSON commands), or XML ``<add>``,
  ``<delete>`` (by ``<id>`` or ``<query>``), ``<commit/>`` and ``<optimize/>``; documents replace
  one another by the unique key ``index_id``, and are visible at once (a commit is a no-op);
* ``GET|POST /solr/<core>/select``: ``q`` and ``fq`` in a small subset of the Lucene syntax
  (``*:*``, ``field:value``, ``field:"phrase"``, ``field:(a OR b)``, ``field:*``, ``[a TO b]``
  ranges, ``+``/``-``/``NOT``/``AND``/``OR`` and parentheses; bare words are looked up as
  case-insensitive substrings of the text fields), ``rows``/``start``, ``sort``, ``fl`` and
  ``facet.field`` counts;
* ``GET /solr/<core>/admin/ping``.

What it is not: there is no analysis, no tokenising, no stemming and no scoring (every match scores
1.0, so ``score desc`` keeps insertion order and the next sort key decides). The tests of this project
must never assert anything about search relevance or ranking against it; they use it only so that a
real CKAN can create, show, patch and list datasets. Anything it does not understand is answered with
HTTP 400 and a message that names the stand-in, rather than with a silently wrong result.

Run it in-process (``SolrStandIn().start()`` ... ``.stop()``, a daemon thread) or as a process::

    python tests/solr_standin.py --port 0 --port-file /tmp/x/solr.port [--parent-pid PID]

which serves until SIGTERM/SIGINT (or until the parent process is gone). It only ever binds to a
loopback address.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

SCHEMA_NAME = "ckan-2.12"
SCHEMA_VERSION = "1.6"
UNIQUE_KEY = "index_id"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Field kinds of CKAN's Solr schema (names only; they decide how a value is compared).
_STRING_FIELDS = {
    "index_id", "id", "site_id", "entity_type", "dataset_type", "state", "name", "revision_id",
    "version", "url", "ckan_url", "download_url", "license", "license_id", "tags", "groups",
    "organization", "capacity", "permission_labels", "res_format", "res_url", "res_type",
    "title_string", "data_dict", "validated_data_dict", "_version_",
}
_TEXT_FIELDS = {
    "title", "notes", "author", "author_email", "maintainer", "maintainer_email", "res_name",
    "res_description", "text", "urls", "title_ngram", "name_ngram", "depends_on", "dependency_of",
    "derives_from", "has_derivation", "links_to", "linked_from", "child_of", "parent_of",
}
_NOT_STORED = {
    "permission_labels", "text", "urls", "depends_on", "dependency_of", "derives_from",
    "has_derivation", "links_to", "linked_from", "child_of", "parent_of", "views_total",
    "views_recent", "resources_accessed_total", "resources_accessed_recent", "title_string",
}
_STORED = (_STRING_FIELDS | _TEXT_FIELDS | {"metadata_created", "metadata_modified", "indexed_ts"}) - _NOT_STORED
_STORED_PREFIXES = ("extras_", "res_extras_", "vocab_")
# copyField sources of the catch-all `text` field and of `urls`.
_TEXT_SOURCES = ("name", "title", "notes", "license", "tags", "groups", "organization", "res_name",
                 "res_description", "maintainer", "author", "url", "ckan_url", "download_url", "res_url")
_URL_SOURCES = ("url", "ckan_url", "download_url", "res_url")


class SolrQueryError(ValueError):
    """A request the stand-in cannot answer faithfully; sent back as HTTP 400."""


def _is_stored(field: str) -> bool:
    return field in _STORED or field.startswith(_STORED_PREFIXES) or field.endswith("_date")


def _is_text(field: str) -> bool:
    return field in _TEXT_FIELDS or field.startswith(("extras_", "res_extras_"))


def _values(doc: dict[str, Any], field: str) -> list[Any]:
    """The values a (possibly virtual) field has in a document, as a flat list."""
    if field == "text":
        out: list[Any] = []
        for src in _TEXT_SOURCES:
            out.extend(_values(doc, src))
        for key in doc:
            if key.startswith(("extras_", "res_extras_", "vocab_")):
                out.extend(_values(doc, key))
        return out
    if field == "urls":
        return [v for src in _URL_SOURCES for v in _values(doc, src)]
    if field in ("title_ngram", "name_ngram"):
        return _values(doc, field[: -len("_ngram")])
    value = doc.get(field)
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------------
# A small Lucene-syntax parser and matcher
# --------------------------------------------------------------------------------------------------

MUST, SHOULD, MUST_NOT = "+", "", "-"


class _Node:
    def matches(self, doc: dict[str, Any]) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


class _All(_Node):
    def matches(self, doc: dict[str, Any]) -> bool:
        return True


class _Bool(_Node):
    def __init__(self, clauses: list[list[Any]]):
        self.clauses = clauses  # [occur, node]

    def matches(self, doc: dict[str, Any]) -> bool:
        musts = [n for o, n in self.clauses if o == MUST]
        shoulds = [n for o, n in self.clauses if o == SHOULD]
        nots = [n for o, n in self.clauses if o == MUST_NOT]
        if any(n.matches(doc) for n in nots):
            return False
        if not all(n.matches(doc) for n in musts):
            return False
        if shoulds and not musts:
            return any(n.matches(doc) for n in shoulds)
        return True


class _Term(_Node):
    def __init__(self, fields: list[str], value: str, *, phrase: bool = False, wildcard: bool = False):
        self.fields, self.value, self.phrase, self.wildcard = fields, value, phrase, wildcard

    def _one(self, field: str, value: Any) -> bool:
        text = _as_text(value)
        if _is_text(field):
            if self.wildcard:
                pattern = self.value.lower()
                return any(fnmatch.fnmatchcase(tok, pattern) for tok in re.split(r"\W+", text.lower()))
            return self.value.lower() in text.lower()
        if self.wildcard:
            return fnmatch.fnmatchcase(text, self.value)
        return text == self.value

    def matches(self, doc: dict[str, Any]) -> bool:
        return any(self._one(f, v) for f in self.fields for v in _values(doc, f))


class _Exists(_Node):
    def __init__(self, field: str):
        self.field = field

    def matches(self, doc: dict[str, Any]) -> bool:
        return any(_as_text(v) != "" for v in _values(doc, self.field))


class _Range(_Node):
    def __init__(self, field: str, low: str | None, high: str | None, incl_low: bool, incl_high: bool):
        self.field, self.low, self.high = field, low, high
        self.incl_low, self.incl_high = incl_low, incl_high

    @staticmethod
    def _key(value: Any) -> tuple[int, Any]:
        text = _as_text(value)
        try:
            return (0, float(text))
        except ValueError:
            return (1, text)

    def matches(self, doc: dict[str, Any]) -> bool:
        for v in _values(doc, self.field):
            k = self._key(v)
            if self.low is not None:
                lo = self._key(self.low)
                if k < lo or (k == lo and not self.incl_low):
                    continue
            if self.high is not None:
                hi = self._key(self.high)
                if k > hi or (k == hi and not self.incl_high):
                    continue
            return True
        return False


_DATE_MATH = re.compile(r"^NOW(?:([+-])(\d+)(SECOND|MINUTE|HOUR|DAY|WEEK)S?)?$")


def _resolve_range_bound(text: str) -> str | None:
    if text == "*":
        return None
    m = _DATE_MATH.match(text)
    if m:
        now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        if m.group(1):
            delta = _dt.timedelta(**{m.group(3).lower() + "s": int(m.group(2))})
            now = now + delta if m.group(1) == "+" else now - delta
        return now.isoformat(timespec="milliseconds") + "Z"
    if text.startswith("NOW"):
        raise SolrQueryError(f"solr stand-in: date math {text!r} is not supported")
    return text


class _Parser:
    """Recursive descent over a subset of the Lucene/Solr standard query syntax."""

    _SPECIAL = set('()"[]{}^~')

    def __init__(self, text: str, default_fields: list[str], default_op: str = "OR"):
        self.s, self.i = text, 0
        self.default_fields = default_fields
        self.and_default = default_op.upper() == "AND"

    # ---- helpers
    def _eof(self) -> bool:
        return self.i >= len(self.s)

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _skip_ws(self) -> None:
        while not self._eof() and self.s[self.i].isspace():
            self.i += 1

    def _word_op(self, *words: str) -> str | None:
        for w in words:
            end = self.i + len(w)
            if self.s[self.i:end] == w and (end >= len(self.s) or self.s[end].isspace() or self.s[end] in "(\""):
                self.i = end
                return w
        return None

    def _error(self, msg: str) -> SolrQueryError:
        return SolrQueryError(f"solr stand-in: cannot parse query {self.s!r} at {self.i}: {msg}")

    # ---- grammar
    def parse(self) -> _Node:
        node = self._query(None, closing=False)
        self._skip_ws()
        if not self._eof():
            raise self._error("unexpected text")
        return node

    def _add(self, clauses: list[list[Any]], conj: str | None, mods: str | None, node: _Node) -> None:
        # Mirrors the classic Lucene QueryParser's handling of AND/OR and +/-/NOT.
        if clauses and conj == "AND" and clauses[-1][0] != MUST_NOT:
            clauses[-1][0] = MUST
        if clauses and self.and_default and conj == "OR" and clauses[-1][0] != MUST_NOT:
            clauses[-1][0] = SHOULD
        prohibited = mods == "NOT"
        if self.and_default:
            required = not prohibited and conj != "OR"
        else:
            required = mods == "REQ" or (conj == "AND" and not prohibited)
        occur = MUST_NOT if prohibited else (MUST if required else SHOULD)
        clauses.append([occur, node])

    def _query(self, field: str | None, closing: bool) -> _Node:
        clauses: list[list[Any]] = []
        conj: str | None = None
        while True:
            self._skip_ws()
            if self._eof():
                if closing:
                    raise self._error("missing ')'")
                break
            if closing and self._peek() == ")":
                break
            op = self._word_op("AND", "&&", "OR", "||")
            if op:
                conj = "AND" if op in ("AND", "&&") else "OR"
                continue
            mods = None
            if self._peek() == "+":
                mods, self.i = "REQ", self.i + 1
            elif self._peek() in "-!":
                mods, self.i = "NOT", self.i + 1
            elif self._word_op("NOT"):
                mods = "NOT"
            self._skip_ws()
            node = self._clause(field)
            self._add(clauses, conj, mods, node)
            conj = None
        if len(clauses) == 1 and clauses[0][0] != MUST_NOT:
            return clauses[0][1]
        return _Bool(clauses)

    def _skip_suffixes(self) -> None:
        while self._peek() in ("^", "~"):
            self.i += 1
            while not self._eof() and (self.s[self.i].isdigit() or self.s[self.i] == "."):
                self.i += 1

    def _clause(self, field: str | None) -> _Node:
        ch = self._peek()
        if ch == "(":
            self.i += 1
            node = self._query(field, closing=True)
            self.i += 1  # ')'
            self._skip_suffixes()
            return node
        if ch == '"':
            return self._phrase(field)
        if ch in "[{":
            if field is None:
                raise self._error("a range needs a field")
            return self._range(field)
        if ch == "" or ch == ")":
            raise self._error("expected a term")
        if field is None:
            m = re.match(r"((?:[A-Za-z0-9_.\-]|\\.)+|\*):", self.s[self.i:])
            if m:
                name = m.group(1).replace("\\", "")
                self.i += m.end()
                if name == "*":
                    value = self._raw_term()
                    if value != "*":
                        raise self._error("only *:* is supported for the field '*'")
                    return _All()
                nxt = self._peek()
                if nxt == "" or nxt.isspace():
                    raise self._error(f"no value for field {name!r}")
                return self._clause(name)
        raw = self._raw_term()
        if raw == "*" and field is not None:
            return _Exists(field)
        if raw == "*":
            return _All()
        value = re.sub(r"\\(.)", r"\1", raw)
        wildcard = bool(re.search(r"(?<!\\)[*?]", raw))
        if wildcard:
            value = re.sub(r"\\(.)", lambda m: "[" + m.group(1) + "]" if m.group(1) in "*?[" else m.group(1), raw)
        return _Term([field] if field else self.default_fields, value, wildcard=wildcard)

    def _raw_term(self) -> str:
        start = self.i
        while not self._eof():
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c.isspace() or c in self._SPECIAL:
                break
            self.i += 1
        raw = self.s[start:self.i]
        self._skip_suffixes()
        if not raw:
            raise self._error("empty term")
        return raw

    def _phrase(self, field: str | None) -> _Node:
        self.i += 1
        out = []
        while True:
            if self._eof():
                raise self._error("unterminated phrase")
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            self.i += 1
            if c == '"':
                break
            out.append(c)
        self._skip_suffixes()
        return _Term([field] if field else self.default_fields, "".join(out), phrase=True)

    def _range(self, field: str) -> _Node:
        incl_low = self._peek() == "["
        close = self.s.find("]" if incl_low else "}", self.i)
        alt = self.s.find("}" if incl_low else "]", self.i)
        ends = [e for e in (close, alt) if e != -1]
        if not ends:
            raise self._error("unterminated range")
        end = min(ends)
        incl_high = self.s[end] == "]"
        body = self.s[self.i + 1:end].strip()
        self.i = end + 1
        parts = re.split(r"\s+TO\s+", body)
        if len(parts) != 2:
            raise self._error("a range must be [low TO high]")
        low, high = (_resolve_range_bound(p.strip().strip('"')) for p in parts)
        return _Range(field, low, high, incl_low, incl_high)


def parse_query(text: str, default_fields: list[str], default_op: str = "OR") -> _Node:
    """Parse `text`; bare words match `default_fields`."""
    return _Parser(text, default_fields, default_op).parse()


# --------------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------------


class _Index:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cores: dict[str, dict[str, dict[str, Any]]] = {}
        self.version = 0

    def docs(self, core: str) -> dict[str, dict[str, Any]]:
        return self.cores.setdefault(core, {})

    def add(self, core: str, docs: Iterable[dict[str, Any]]) -> int:
        n = 0
        with self.lock:
            store = self.docs(core)
            for doc in docs:
                if not isinstance(doc, dict):
                    raise SolrQueryError("solr stand-in: a document must be a JSON object")
                if UNIQUE_KEY not in doc:
                    raise SolrQueryError(f"solr stand-in: document is missing required key {UNIQUE_KEY}")
                doc = {k: v for k, v in doc.items() if v is not None}
                self.version += 1
                doc["_version_"] = str(self.version)
                doc.setdefault("indexed_ts", _dt.datetime.now(_dt.timezone.utc)
                               .replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z")
                key = str(doc[UNIQUE_KEY])
                store.pop(key, None)  # a replaced document moves to the end, as a new one would
                store[key] = doc
                n += 1
        return n

    def delete_ids(self, core: str, ids: Iterable[str]) -> None:
        with self.lock:
            store = self.docs(core)
            for i in ids:
                store.pop(str(i), None)

    def delete_query(self, core: str, query: str) -> None:
        node = parse_query(query, ["text"], "OR")
        with self.lock:
            store = self.docs(core)
            for key in [k for k, d in store.items() if node.matches(d)]:
                del store[key]

    def snapshot(self, core: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.docs(core).values())


def _sort_docs(docs: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    keys = [part.split() for part in sort.split(",") if part.strip()]
    out = list(docs)
    for spec in reversed(keys):
        if len(spec) != 2 or spec[1].lower() not in ("asc", "desc"):
            raise SolrQueryError(f"solr stand-in: Can't determine a Sort Order (asc or desc) in sort spec {sort!r}")
        field, direction = spec[0], spec[1].lower()
        if field == "score":
            continue  # every match scores the same
        present = [d for d in out if _values(d, field)]
        missing = [d for d in out if not _values(d, field)]

        def key(d: dict[str, Any], field: str = field) -> tuple[int, Any]:
            return _Range._key(_values(d, field)[0])

        present.sort(key=key, reverse=direction == "desc")
        out = present + missing  # missing values sort last, as sortMissingLast does
    return out


_FACET_PARAMS = ("facet.field", "facet.limit", "facet.mincount", "facet.sort")
_UNSUPPORTED_PREFIXES = ("group", "hl", "stats", "cursorMark", "mlt", "spellcheck", "expand", "json.")


def _select(index: _Index, core: str, params: dict[str, list[str]]) -> dict[str, Any]:
    def one(name: str, default: str | None = None) -> str | None:
        vals = params.get(name)
        return vals[-1] if vals else default

    wt = one("wt", "json")
    if wt not in ("json", None):
        raise SolrQueryError(f"solr stand-in: only wt=json is supported, not {wt!r}")
    q = one("q", "")
    q_op = one("q.op", "OR") or "OR"
    def_type = one("defType", "lucene")
    if def_type in ("dismax", "edismax"):
        default_fields = [f.split("^")[0] for f in (one("qf", "text") or "text").split()] or ["text"]
    else:
        default_fields = [one("df", "text") or "text"]
    for name in params:
        unsupported_facet = name.startswith("facet.") and name not in _FACET_PARAMS
        if (unsupported_facet or name.startswith(_UNSUPPORTED_PREFIXES)) and one(name) != "false":
            raise SolrQueryError(f"solr stand-in: parameter {name!r} is not supported")

    docs = index.snapshot(core)
    if q.strip():
        node = parse_query(q, default_fields, q_op)
        docs = [d for d in docs if node.matches(d)]
    else:
        docs = []
    for fq in params.get("fq", []):
        if fq.strip():
            node = parse_query(fq, ["text"], q_op)
            docs = [d for d in docs if node.matches(d)]

    docs = _sort_docs(docs, one("sort", "score desc") or "score desc")
    start = int(one("start", "0") or 0)
    rows = int(one("rows", "10") or 10)
    page = docs[start:start + max(rows, 0)]

    fl_raw = " ".join(params.get("fl", [])) or "*"
    fl = [f for f in re.split(r"[\s,]+", fl_raw) if f]
    want_all = "*" in fl or not fl
    out_docs = []
    for d in page:
        shown = {k: v for k, v in d.items() if _is_stored(k) and (want_all or k in fl)}
        for f in fl:
            if "*" in f and f != "*":
                shown.update({k: v for k, v in d.items() if _is_stored(k) and fnmatch.fnmatchcase(k, f)})
        if "score" in fl:
            shown["score"] = 1.0
        out_docs.append(shown)

    result: dict[str, Any] = {
        "responseHeader": {"status": 0, "QTime": 0,
                           "params": {k: (v[0] if len(v) == 1 else v) for k, v in params.items()}},
        "response": {"numFound": len(docs), "start": start, "numFoundExact": True, "docs": out_docs},
    }
    if (one("facet", "false") or "false").lower() == "true":
        limit = int(one("facet.limit", "100") or 100)
        mincount = int(one("facet.mincount", "0") or 0)
        order = one("facet.sort", "count" if limit > 0 else "index")
        fields: dict[str, list[Any]] = {}
        for field in params.get("facet.field", []):
            counts: dict[str, int] = {}
            for d in docs:
                for v in set(_as_text(x) for x in _values(d, field)):
                    counts[v] = counts.get(v, 0) + 1
            if mincount <= 0:
                for d in index.snapshot(core):
                    for v in _values(d, field):
                        counts.setdefault(_as_text(v), 0)
            items = [(v, c) for v, c in counts.items() if c >= mincount]
            if order == "index":
                items.sort(key=lambda vc: vc[0])
            else:
                items.sort(key=lambda vc: (-vc[1], vc[0]))
            if limit >= 0:
                items = items[:limit]
            fields[field] = [x for vc in items for x in vc]
        result["facet_counts"] = {"facet_queries": {}, "facet_fields": fields, "facet_ranges": {},
                                  "facet_intervals": {}, "facet_heatmaps": {}}
    return result


def _xml_update(index: _Index, core: str, body: bytes) -> None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise SolrQueryError(f"solr stand-in: update XML does not parse: {e}") from e
    elements = list(root) if root.tag == "update" else [root]
    for el in elements:
        if el.tag == "add":
            docs = []
            for doc_el in el.findall("doc"):
                doc: dict[str, Any] = {}
                for f in doc_el.findall("field"):
                    name, text = f.get("name"), f.text or ""
                    if name in doc:
                        doc[name] = (doc[name] if isinstance(doc[name], list) else [doc[name]]) + [text]
                    else:
                        doc[name] = text
                docs.append(doc)
            index.add(core, docs)
        elif el.tag == "delete":
            ids = [i.text or "" for i in el.findall("id")]
            if ids:
                index.delete_ids(core, ids)
            for q in el.findall("query"):
                index.delete_query(core, q.text or "")
        elif el.tag in ("commit", "optimize", "rollback"):
            pass
        else:
            raise SolrQueryError(f"solr stand-in: unsupported update command <{el.tag}>")


def _json_update(index: _Index, core: str, payload: Any) -> None:
    if isinstance(payload, list):
        index.add(core, payload)
        return
    if not isinstance(payload, dict):
        raise SolrQueryError("solr stand-in: a JSON update must be a list of documents or an object")
    for command, arg in payload.items():
        if command == "add":
            items = arg if isinstance(arg, list) else [arg]
            index.add(core, [a.get("doc", a) if isinstance(a, dict) else a for a in items])
        elif command == "delete":
            items = arg if isinstance(arg, list) else [arg]
            for a in items:
                if isinstance(a, dict) and "query" in a:
                    index.delete_query(core, a["query"])
                elif isinstance(a, dict) and "id" in a:
                    index.delete_ids(core, [a["id"]])
                else:
                    index.delete_ids(core, [a])
        elif command in ("commit", "optimize", "rollback"):
            pass
        else:
            raise SolrQueryError(f"solr stand-in: unsupported JSON update command {command!r}")


def _schema_xml() -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<schema name="{SCHEMA_NAME}" version="{SCHEMA_VERSION}">\n'
        f'  <!-- served by tests/solr_standin.py: test infrastructure, not a search engine -->\n'
        f'  <uniqueKey>{UNIQUE_KEY}</uniqueKey>\n'
        '</schema>\n'
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "solr-standin/1"
    protocol_version = "HTTP/1.1"
    index: _Index  # set on the subclass made per server
    log_fn: Callable[[str], None] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.log_fn:
            self.log_fn("%s %s" % (self.address_string(), format % args))

    def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"))

    def _error(self, status: int, msg: str) -> None:
        self._json(status, {"responseHeader": {"status": status, "QTime": 0},
                            "error": {"msg": msg, "code": status,
                                      "metadata": ["error-class", "org.apache.solr.common.SolrException"]}})

    def _route(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        segs = [s for s in parts.path.split("/") if s]
        if len(segs) < 3 or segs[0] != "solr":
            raise LookupError(parts.path)
        return segs[1], "/".join(segs[2:]), parse_qs(parts.query, keep_blank_values=True)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._handle(b"")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(b"")

    def do_POST(self) -> None:  # noqa: N802
        self._handle(self._body())

    def _handle(self, body: bytes) -> None:
        try:
            core, handler, params = self._route()
        except LookupError:
            self._error(404, f"solr stand-in: no handler for {self.path}")
            return
        try:
            if handler in ("schema", "schema/name"):
                if (params.get("wt") or [""])[-1] == "schema.xml":
                    self._send(200, _schema_xml(), "application/xml; charset=utf-8")
                elif handler == "schema/name":
                    self._json(200, {"responseHeader": {"status": 0, "QTime": 0}, "name": SCHEMA_NAME})
                else:
                    self._json(200, {"responseHeader": {"status": 0, "QTime": 0},
                                     "schema": {"name": SCHEMA_NAME, "version": float(SCHEMA_VERSION),
                                                "uniqueKey": UNIQUE_KEY}})
            elif handler == "admin/file":
                self._send(200, _schema_xml(), "application/xml; charset=utf-8")
            elif handler == "admin/ping":
                self._json(200, {"responseHeader": {"status": 0, "QTime": 0}, "status": "OK"})
            elif handler == "select":
                if body:
                    ctype = self.headers.get("Content-Type", "")
                    if "x-www-form-urlencoded" not in ctype:
                        raise SolrQueryError(f"solr stand-in: a POSTed select must be form-encoded, not {ctype!r}")
                    for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
                        params.setdefault(k, []).extend(v)
                self._json(200, _select(self.index, core, params))
            elif handler == "update" or handler == "update/json":
                if self.command != "POST":
                    raise SolrQueryError("solr stand-in: update needs POST")
                ctype = self.headers.get("Content-Type", "")
                stripped = body.lstrip()
                if "json" in ctype or handler == "update/json" or stripped[:1] in (b"[", b"{"):
                    try:
                        payload = json.loads(body.decode("utf-8")) if stripped else []
                    except ValueError as e:
                        raise SolrQueryError(f"solr stand-in: update JSON does not parse: {e}") from e
                    _json_update(self.index, core, payload)
                elif stripped:
                    _xml_update(self.index, core, body)
                self._json(200, {"responseHeader": {"status": 0, "QTime": 0}})
            else:
                self._error(404, f"solr stand-in: no handler {handler!r} for core {core!r}")
        except SolrQueryError as e:
            self._error(400, str(e))
        except (ValueError, TypeError, KeyError) as e:
            self._error(400, f"solr stand-in: bad request: {e!r}")


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that can close its open (keep-alive) connections when it stops."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SolrStandIn:
    """The stand-in server; `start()` serves from a daemon thread, `stop()` shuts it down."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 log: Callable[[str], None] | None = None) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the Solr stand-in only binds to loopback, not {host!r}")
        self.index = _Index()
        handler = type("Handler", (_Handler,), {"index": self.index, "log_fn": staticmethod(log) if log else None})
        self.httpd = _Server((host, port), handler)
        self.host, self.port = host, self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The `solr_url` to give CKAN."""
        return f"http://{self.host}:{self.port}/solr/ckan"

    def start(self) -> "SolrStandIn":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="solr-standin", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.close_connections()
        self.httpd.server_close()

    def __enter__(self) -> "SolrStandIn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    global SCHEMA_NAME  # read by the handlers; one stand-in process serves one CKAN
    ap = argparse.ArgumentParser(description="Loopback Solr stand-in for CKAN tests (not a search engine).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    ap.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    ap.add_argument("--quiet", action="store_true", help="do not log requests")
    ap.add_argument("--schema-name", default=SCHEMA_NAME,
                    help=f"the schema name CKAN checks at start-up, ckan-<major.minor> (default {SCHEMA_NAME})")
    args = ap.parse_args(argv)
    SCHEMA_NAME = args.schema_name

    def log(line: str) -> None:
        sys.stderr.write(time.strftime("%H:%M:%S ") + line + "\n")
        sys.stderr.flush()

    server = SolrStandIn(args.host, args.port, log=None if args.quiet else log)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.port))
        os.replace(tmp, args.port_file)
    log(f"solr stand-in listening on {server.url} (pid {os.getpid()})")

    stopping = threading.Event()

    def shutdown(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    if args.parent_pid:
        def watch() -> None:
            while not stopping.wait(1.0):
                try:
                    os.kill(args.parent_pid, 0)
                except ProcessLookupError:
                    log("parent process is gone; stopping")
                    shutdown()
                except PermissionError:
                    pass

        threading.Thread(target=watch, daemon=True).start()

    server.serve_forever()
    server.httpd.close_connections()
    server.httpd.server_close()
    log("solr stand-in stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
