"""libinjection baseline (PyPI libinjection-python, BSD) on the same test rows.

Two modes:
  * "parsed": a generous mini-WAF front end -- the HTTP request is parsed, every path segment,
    query/form/JSON/multipart value, XML text node, cookie and header value is URL-decoded (up to
    twice) and each value is checked separately; a payload that is not an HTTP request is checked
    line by line. This is libinjection's best case: it is designed
    to run on decoded parameter values.
  * "raw": the whole payload (as latin-1 text) checked as one string.
"""
import json
import re
import urllib.parse

import libinjection

_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ")


def _decodes(s):
    out = [s]
    cur = s
    for _ in range(2):
        try:
            nxt = urllib.parse.unquote_plus(cur)
        except Exception:
            break
        if nxt == cur:
            break
        out.append(nxt)
        cur = nxt
    return out


def _json_strings(obj, out):
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.append(str(k))
            _json_strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _json_strings(v, out)
    elif obj is not None:
        out.append(str(obj))


def extract_values(data: bytes):
    text = data.decode("latin-1")
    if not data.startswith(_METHODS) or b"\r\n" not in data:
        # not an HTTP request (raw TCP, other protocols, responses): each line is a value
        vals = [l for l in re.split(r"[\r\n]+", text) if l] or [text]
        return [d for v in vals for d in _decodes(v)]
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    target = " ".join(parts[1:-1]) if len(parts) >= 3 else (parts[1] if len(parts) > 1 else "")
    path, _, query = target.partition("?")
    vals = [seg for seg in path.split("/") if seg] + [path]
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        vals.append(v)
    if query and "=" not in query:
        vals.append(query)
    ctype = ""
    for h in lines[1:]:
        name, _, value = h.partition(":")
        value = value.strip()
        lname = name.strip().lower()
        if lname == "content-type":
            ctype = value.lower()
        if lname == "cookie":
            for c in value.split(";"):
                vals.append(c.partition("=")[2])
        elif lname not in ("host", "content-length", "content-type", "accept", "accept-encoding", "connection"):
            vals.append(value)
    if body:
        if "json" in ctype:
            try:
                _json_strings(json.loads(body), vals)
            except Exception:
                vals.append(body)
        elif "x-www-form-urlencoded" in ctype:
            vals += [v for _, v in urllib.parse.parse_qsl(body, keep_blank_values=True)]
        elif "multipart" in ctype:
            for part in re.split(r"--[-\w]+\r\n", body):
                vals.append(part.partition("\r\n\r\n")[2].rstrip("\r\n"))
        elif "xml" in ctype:
            vals += [m for m in re.findall(r">([^<]+)<", body)]  # text nodes, not the markup itself
        else:
            vals.append(body)
    out = []
    for v in vals:
        if v:
            out += _decodes(v)
    return out


def check(values):
    sqli = xss = False
    for v in values:
        if not sqli and libinjection.is_sql_injection(v)["is_sqli"]:
            sqli = True
        if not xss and libinjection.is_xss(v)["is_xss"]:
            xss = True
        if sqli and xss:
            break
    return sqli, xss


def run(rows):
    """rows: iterable of bytes -> list of dicts {parsed: (sqli, xss), raw: (sqli, xss)}"""
    out = []
    for data in rows:
        out.append({"parsed": check(extract_values(data)), "raw": check([data.decode("latin-1")])})
    return out
