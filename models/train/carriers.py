"""Benign traffic synthesis and attack carriers.

Everything here is generated from templates and local word lists; the same
HTTP carriers (query, path, form, JSON, cookie, header, multipart, XML, raw TCP)
and the same value encodings are used for benign values and for attack
payloads, so the only difference the CNN can learn is the value itself.
"""
import base64
import gzip
import json
import os
import random
import string
import struct
import urllib.parse
import uuid
import zlib

# --------------------------------------------------------------------------
# word lists (read from installed Debian packages; not committed)
# --------------------------------------------------------------------------
DICT_WORDS = "/usr/share/dict/words"                      # Debian wamerican (SCOWL licence)
WFUZZ_COMMON = "/usr/share/wfuzz/wordlist/general/common.txt"  # Debian wfuzz (GPL-2)
WFUZZ_NAMES = "/usr/share/wfuzz/wordlist/others/names.txt"     # Debian wfuzz (GPL-2)


def _read_lines(path, limit=None):
    with open(path, encoding="latin-1") as f:
        out = [l.rstrip("\r\n") for l in f if l.strip() and not l.startswith("#")]
    return out[:limit] if limit else out


class Vocab:
    def __init__(self):
        words = [w for w in _read_lines(DICT_WORDS) if w.isascii() and w.isalpha()]
        # keep it deterministic and reasonably common-looking: short words first
        words.sort(key=lambda w: (len(w), w))
        self.words = [w for w in words if 3 <= len(w) <= 10][:40000]
        self.words_apos = [w for w in _read_lines(DICT_WORDS) if "'" in w][:5000]
        self.paths = [w for w in _read_lines(WFUZZ_COMMON) if w.isascii() and " " not in w]
        self.names = [w for w in _read_lines(WFUZZ_NAMES) if w.isascii() and w.isalpha()]


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
TLDS = ["com", "net", "org", "io", "de", "co.uk", "fr", "nl", "example", "local", "internal", "dev"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "curl/8.{m}.0", "Wget/1.21.{m}", "python-requests/2.{v}.0", "Go-http-client/1.1", "okhttp/4.{m}.0",
    "PostmanRuntime/7.{v}.0", "Apache-HttpClient/4.5.{m} (Java/17.0.{m})", "Debian APT-HTTP/1.3 (2.6.{m})",
    "Prometheus/2.{v}.0", "kube-probe/1.{v}", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
LANGS = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.8", "en-GB,en;q=0.7", "es-ES,es;q=0.9", "*"]
ACCEPTS = ["text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
           "application/json", "application/json, text/plain, */*", "*/*", "image/avif,image/webp,*/*",
           "text/css,*/*;q=0.1", "application/xml"]
PARAM_NAMES = ["q", "query", "search", "s", "id", "item", "page", "p", "sort", "order", "filter", "lang", "category",
               "cat", "name", "user", "username", "email", "comment", "message", "msg", "title", "text", "file",
               "path", "dir", "url", "redirect", "next", "return", "ref", "callback", "cmd", "exec", "host", "ip",
               "action", "type", "format", "view", "template", "doc", "download", "include", "token", "session",
               "limit", "offset", "from", "to", "tag", "tags", "fields", "expand", "debug", "mode", "data",
               "value", "key", "productId", "userId", "orderBy", "dest", "target", "folder", "image", "src"]


def rword(rng, v, n=1, sep=" "):
    return sep.join(rng.choice(v.words) for _ in range(n))


def rhost(rng, v):
    parts = [rng.choice(v.words).lower() for _ in range(rng.choice([1, 1, 2]))]
    pre = rng.choice(["", "", "www.", "api.", "cdn.", "shop.", "mail.", "app.", "static."])
    return pre + "-".join(parts) + "." + rng.choice(TLDS)


def rip(rng, private=None):
    if private is None:
        private = rng.random() < 0.5
    if private:
        return rng.choice(["10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)),
                           "192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)),
                           "172.%d.%d.%d" % (rng.randrange(16, 32), rng.randrange(256), rng.randrange(1, 255))])
    return "%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def ruseragent(rng):
    return rng.choice(USER_AGENTS).format(v=rng.randrange(20, 130), m=rng.randrange(0, 9))


def rtoken(rng, n=None, alphabet=string.ascii_letters + string.digits):
    n = n or rng.randrange(8, 40)
    return "".join(rng.choice(alphabet) for _ in range(n))


def rhex(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def rjwt(rng):
    h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    p = base64.urlsafe_b64encode(json.dumps({"sub": str(rng.randrange(10**6)), "iat": rng.randrange(1.6e9, 1.8e9)}).encode()).rstrip(b"=").decode()
    return h + "." + p + "." + rtoken(rng, 43, string.ascii_letters + string.digits + "-_")


def rpath(rng, v, depth=None):
    depth = depth if depth is not None else rng.choice([1, 1, 2, 2, 3, 4])
    segs = []
    for _ in range(depth):
        r = rng.random()
        if r < 0.55:
            segs.append(rng.choice(v.paths))
        elif r < 0.75:
            segs.append(rng.choice(v.words).lower())
        elif r < 0.85:
            segs.append(str(rng.randrange(1, 100000)))
        elif r < 0.92:
            segs.append(str(uuid.UUID(int=rng.getrandbits(128))))
        else:
            segs.append(rng.choice(["v1", "v2", "api", "static", "assets", "en", "de", "blog", "docs", "admin", "user"]))
    p = "/" + "/".join(segs)
    if rng.random() < 0.3:
        p += rng.choice([".html", ".php", ".js", ".css", ".png", ".jpg", ".json", ".aspx", ".jsp", "/", ".svg", ".woff2", ".txt", ".xml"])
    return p


# Benign free-text values: deliberately contain quotes, angle brackets, slashes,
# SQL/shell-looking words, so that punctuation alone is not a signal.
BENIGN_PHRASES = [
    "O'Reilly {w} book", "Rock & Roll {w}", "5' 11\" tall", "it's {w}", "don't {w} me", "{w} <3 {w}",
    "a < b and c > d", "price > 100", "x <= 5", "select your {w}", "drop off {w}", "union station {w}",
    "insert coin", "update my {w}", "delete account", "cat food {w}", "ls -la explained", "echo dot {w}",
    "how to use grep", "python 'hello world'", "\"{w}\" {w}", "{w}/{w}", "and/or", "1/2 cup {w}",
    "C:\\Users\\{w}\\Documents", "~/projects/{w}", "../ is the parent directory", "sudo apt install {w}",
    "SELECT a {w} plan", "where is {w}", "order by price", "from {w} to {w}", "{w} or {w}", "{w} -- {w}",
    "<b>{w}</b> {w}", "<p>{w}</p>", "<3 {w}", "I <em>love</em> {w}", "{w}; {w}", "{w} | {w}", "{w} && {w}",
    "$5 {w}", "#{w}", "@{w}", "{w}=1", "50% off", "{w} (2024)", "[{w}]", "{{{w}}}", "a+b=c", "f(x) = x*2",
    "script writing {w}", "javascript tutorial", "alert box design", "onload {w}", "iframe {w}", "exec summary",
    "passwd reset help", "/etc/hosts file explained", "wget vs curl", "bash vs zsh", "ping {w}", "the {w} shell",
    "null {w}", "or 1 = 1 in logic", "x' y", "it''s", "\"quoted\"", "'single'", "`{w}`", "{w}'s {w}",
]


def benign_text(rng, v, maxwords=8):
    r = rng.random()
    if r < 0.35:
        return rword(rng, v, rng.randrange(1, maxwords))
    if r < 0.7:
        s = rng.choice(BENIGN_PHRASES)
        while "{w}" in s:
            s = s.replace("{w}", rng.choice(v.words), 1)
        return s
    if r < 0.78:
        return rng.choice(v.words_apos) + " " + rword(rng, v, rng.randrange(0, 4))
    if r < 0.85:
        return rng.choice(v.names) + " " + rng.choice(v.names)
    if r < 0.9:
        return "%s@%s" % (rng.choice(v.names).lower(), rhost(rng, v))
    return rword(rng, v, rng.randrange(1, 4)).title()


def benign_value(rng, v, name=None):
    r = rng.random()
    if r < 0.3:
        return benign_text(rng, v)
    if r < 0.45:
        return str(rng.randrange(0, 10 ** rng.randrange(1, 10)))
    if r < 0.5:
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if r < 0.55:
        return rng.choice(["true", "false", "asc", "desc", "null", "none", "0", "1", "-1", "on", "off"])
    if r < 0.62:
        return "https://" + rhost(rng, v) + rpath(rng, v)
    if r < 0.68:
        return rpath(rng, v)
    if r < 0.72:
        return "%d-%02d-%02d" % (rng.randrange(1990, 2030), rng.randrange(1, 13), rng.randrange(1, 29))
    if r < 0.78:
        return rtoken(rng)
    if r < 0.82:
        return base64.b64encode(os.urandom(0) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(6, 48)))).decode()
    if r < 0.86:
        return ",".join(rng.choice(v.words).lower() for _ in range(rng.randrange(2, 6)))
    if r < 0.9:
        return rng.choice(v.paths) + rng.choice([".pdf", ".txt", ".png", ".docx", ".csv", ".tar.gz", ""])
    if r < 0.94:
        return rip(rng)
    return benign_text(rng, v, 20)


# --------------------------------------------------------------------------
# value encodings (applied identically to benign and attack values)
# --------------------------------------------------------------------------
def _pct_all(s: bytes, upper=True):
    f = "%%%02X" if upper else "%%%02x"
    return "".join(f % b for b in s)


def encode_url_value(rng, s, mode=None):
    """Encode a value for a URL query/form. Returns (encoded_str, mode)."""
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    mode = mode or rng.choices(
        ["raw", "plus", "quote", "quote_plus", "full", "double", "mixed", "unicode"],
        weights=[20, 20, 25, 15, 5, 6, 6, 3])[0]
    b = s.encode("utf-8", "surrogateescape") if not all(ord(c) < 256 for c in s) else s.encode("latin-1")
    if mode == "raw":  # what a careless client sends: only space, CR, LF, '#', '&' fixed
        out = s.replace("%", "%25") if rng.random() < 0.2 else s
        out = out.replace(" ", "%20").replace("\r", "%0d").replace("\n", "%0a").replace("#", "%23")
        out = out.replace("&", "%26") if rng.random() < 0.7 else out
        return out, mode
    if mode == "plus":
        out = s.replace(" ", "+").replace("\r", "%0D").replace("\n", "%0A").replace("#", "%23").replace("&", "%26")
        return out, mode
    if mode == "quote":
        return urllib.parse.quote_from_bytes(b, safe="/:,()*'!" if rng.random() < 0.5 else ""), mode
    if mode == "quote_plus":
        return urllib.parse.quote_plus(b.decode("latin-1"), encoding="latin-1"), mode
    if mode == "full":
        return _pct_all(b, rng.random() < 0.5), mode
    if mode == "double":
        return urllib.parse.quote(urllib.parse.quote_from_bytes(b, safe=""), safe=""), mode
    if mode == "mixed":
        out = []
        for c in b:
            ch = chr(c)
            if ch.isalnum() and rng.random() < 0.8:
                out.append(ch)
            elif rng.random() < 0.6 or ch in " &#\r\n%":
                out.append(("%%%02X" if rng.random() < 0.5 else "%%%02x") % c)
            else:
                out.append(ch)
        return "".join(out), mode
    if mode == "unicode":
        out = []
        for c in b:
            ch = chr(c)
            if ch.isalnum() and rng.random() < 0.7:
                out.append(ch)
            else:
                out.append("%%u%04x" % c)
        return "".join(out), mode
    raise ValueError(mode)


def encode_json_string(rng, s):
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    out = json.dumps(s, ensure_ascii=rng.random() < 0.7)
    if rng.random() < 0.2:
        out = out.replace("<", "\\u003c").replace(">", "\\u003e").replace("'", "\\u0027")
    return out


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --------------------------------------------------------------------------
# HTTP carrier
# --------------------------------------------------------------------------
CARRIERS = ["query", "query", "query", "path", "form", "form", "json", "json", "cookie", "header",
            "multipart", "xml", "raw"]


def http_headers(rng, v, host, extra=(), minimal=False):
    hs = [("Host", host)]
    opt = [
        ("User-Agent", ruseragent(rng)),
        ("Accept", rng.choice(ACCEPTS)),
        ("Accept-Language", rng.choice(LANGS)),
        ("Accept-Encoding", rng.choice(["gzip, deflate, br", "gzip", "identity", "gzip, deflate, br, zstd"])),
        ("Connection", rng.choice(["keep-alive", "close"])),
        ("Referer", "https://%s%s" % (host, rpath(rng, v))),
        ("Cookie", "; ".join("%s=%s" % (rng.choice(["session", "sid", "PHPSESSID", "JSESSIONID", "_ga", "csrftoken", "lang", "theme", "cart"]),
                                         rng.choice([rhex(rng, 32), rtoken(rng), "GA1.2.%d.%d" % (rng.randrange(10**9), rng.randrange(10**9)), "en", "dark"]))
                             for _ in range(rng.randrange(1, 4)))),
        ("Authorization", rng.choice(["Bearer " + rjwt(rng), "Basic " + base64.b64encode(("%s:%s" % (rng.choice(v.names), rtoken(rng, 10))).encode()).decode()])),
        ("X-Requested-With", "XMLHttpRequest"),
        ("Cache-Control", rng.choice(["no-cache", "max-age=0"])),
        ("Upgrade-Insecure-Requests", "1"),
        ("X-Forwarded-For", rip(rng)),
        ("sec-ch-ua", '"Chromium";v="%d", "Not(A:Brand";v="24"' % rng.randrange(100, 130)),
        ("DNT", "1"),
        ("If-None-Match", 'W/"%s"' % rhex(rng, 16)),
        ("X-Request-ID", str(uuid.UUID(int=rng.getrandbits(128)))),
    ]
    k = rng.randrange(0, 4) if minimal else rng.randrange(1, 9)
    hs += rng.sample(opt, k)
    hs += list(extra)
    if rng.random() < 0.3:
        rng.shuffle(hs)
    return hs


def build_http(method, target, headers, body=b"", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + body


def _fields(rng, v, n):
    names = rng.sample(PARAM_NAMES, n)
    return [(nm, benign_value(rng, v, nm)) for nm in names]


def http_carrier(rng, v, value, kind=None, fmt_value=None, keep_in=480):
    """Place `value` (str/bytes) in an HTTP request. Returns (bytes, kind, enc).

    Places the value early enough that it starts before byte `keep_in`, so the
    first 512 bytes contain it (if the first try does not, headers are dropped)."""
    kind = kind or rng.choice(CARRIERS)
    if isinstance(value, bytes):
        value_s = value.decode("latin-1")
    else:
        value_s = value
    for attempt in range(4):
        minimal = attempt > 0
        host = rhost(rng, v)
        enc = "none"
        n_other = rng.randrange(0, 3 if not minimal else 1)
        others = _fields(rng, v, n_other + 1)
        pname = others[0][0]
        others = others[1:]
        pos = rng.randrange(0, len(others) + 1)
        method = "GET"
        body = b""
        extra = []
        marker = None
        if kind == "query":
            ev, enc = encode_url_value(rng, value_s)
            parts = ["%s=%s" % (k, encode_url_value(rng, x, "quote_plus")[0]) for k, x in others]
            parts.insert(pos, "%s=%s" % (pname, ev))
            target = rpath(rng, v) + "?" + "&".join(parts)
            marker = ev
            method = rng.choice(["GET", "GET", "GET", "HEAD", "DELETE"])
        elif kind == "path":
            ev, enc = encode_url_value(rng, value_s, rng.choice(["raw", "raw", "quote", "mixed", "full", "double"]))
            if enc == "quote":
                ev = urllib.parse.quote(value_s, safe="/:,.;=")
            pre = rpath(rng, v, rng.choice([0, 1, 1, 2]))
            pre = "" if pre == "/" else pre.rstrip("/")
            target = pre + "/" + ev.lstrip("/") if rng.random() < 0.8 else pre + "/" + ev
            if rng.random() < 0.3:
                target += "?" + "&".join("%s=%s" % (k, encode_url_value(rng, x, "quote_plus")[0]) for k, x in others)
            marker = ev
        elif kind == "form":
            ev, enc = encode_url_value(rng, value_s, rng.choice(["plus", "quote_plus", "quote_plus", "raw", "quote", "double", "mixed"]))
            parts = ["%s=%s" % (k, encode_url_value(rng, x, "quote_plus")[0]) for k, x in others]
            parts.insert(pos, "%s=%s" % (pname, ev))
            body = "&".join(parts).encode("latin-1", "replace")
            method = rng.choice(["POST", "POST", "PUT", "PATCH"])
            target = rpath(rng, v)
            extra = [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", str(len(body)))]
            marker = ev
        elif kind == "json":
            ev = encode_json_string(rng, value_s)
            enc = "json"
            items = ['"%s": %s' % (k, json.dumps(x)) for k, x in others]
            items.insert(pos, '"%s": %s' % (pname, ev))
            body = ("{" + ", ".join(items) + "}") if rng.random() < 0.8 else ('{"data": {' + ",".join(items) + '}, "v": %d}' % rng.randrange(9))
            body = body.encode("utf-8", "surrogateescape")
            method = rng.choice(["POST", "POST", "PUT", "PATCH"])
            target = rpath(rng, v)
            extra = [("Content-Type", rng.choice(["application/json", "application/json; charset=utf-8"])), ("Content-Length", str(len(body)))]
            marker = ev
        elif kind == "cookie":
            ev, enc = encode_url_value(rng, value_s, rng.choice(["raw", "quote", "quote", "plus", "mixed"]))
            ev = ev.replace(";", "%3B") if enc == "raw" and rng.random() < 0.5 else ev
            target = rpath(rng, v)
            extra = [("Cookie", "%s=%s; %s=%s" % (pname, ev, rng.choice(["sid", "lang", "_ga"]), rtoken(rng)))]
            marker = ev
        elif kind == "header":
            hname = rng.choice(["User-Agent", "Referer", "X-Forwarded-For", "X-Api-Version", "X-Custom-Header",
                                "Accept-Language", "X-Forwarded-Host", "If-Modified-Since", "From"])
            ev = value_s.replace("\r", " ").replace("\n", " ")
            enc = "header"
            target = rpath(rng, v)
            extra = [(hname, ev)]
            marker = ev
        elif kind == "multipart":
            bnd = "----WebKitFormBoundary" + rtoken(rng, 16)
            enc = "multipart"
            parts = []
            for k, x in others:
                parts.append('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (bnd, k, x))
            parts.insert(pos, '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (bnd, pname, value_s))
            body = ("".join(parts) + "--%s--\r\n" % bnd).encode("utf-8", "surrogateescape")
            method = "POST"
            target = rpath(rng, v)
            extra = [("Content-Type", "multipart/form-data; boundary=" + bnd), ("Content-Length", str(len(body)))]
            marker = value_s
        elif kind == "xml":
            ev = xml_escape(value_s) if rng.random() < 0.5 else value_s
            enc = "xml"
            inner = "".join("<%s>%s</%s>" % (k, xml_escape(x), k) for k, x in others)
            tag = pname
            body = ('<?xml version="1.0" encoding="UTF-8"?>' if rng.random() < 0.6 else "")
            body += "<request>%s<%s>%s</%s></request>" % (inner, tag, ev, tag)
            body = body.encode("utf-8", "surrogateescape")
            method = "POST"
            target = rpath(rng, v)
            extra = [("Content-Type", rng.choice(["application/xml", "text/xml"])), ("Content-Length", str(len(body)))]
            marker = ev
        elif kind == "raw":
            enc = "raw"
            b = value_s.encode("utf-8", "surrogateescape") if not all(ord(c) < 256 for c in value_s) else value_s.encode("latin-1")
            r = rng.random()
            if r < 0.4:
                out = b + rng.choice([b"\r\n", b"\n", b""])
            elif r < 0.7:
                out = rng.choice([b"", b"GET ", b"echo ", b"USER ", b"SEARCH ", b"data=", b"q="]) + b + b"\r\n"
            else:
                out = ("%s %s\r\n" % (rng.choice(["CMD", "LOOKUP", "QUERY", "GET", "SET"]), value_s)).encode("latin-1", "replace")
            return out, kind, enc
        else:
            raise ValueError(kind)
        if fmt_value is not None:
            marker = fmt_value
        hs = http_headers(rng, v, host, extra, minimal=minimal)
        req = build_http(method, target, hs, body, rng.choice(["HTTP/1.1"] * 9 + ["HTTP/1.0"]))
        mb = marker.encode("utf-8", "surrogateescape") if not all(ord(c) < 256 for c in marker) else marker.encode("latin-1")
        idx = req.find(mb[:32])
        if 0 <= idx < keep_in:
            return req, kind, enc
    return req, kind, enc


# --------------------------------------------------------------------------
# benign-only families (other protocols / binary data)
# --------------------------------------------------------------------------
def _tls_ext(t, data):
    return struct.pack(">HH", t, len(data)) + data


def tls_client_hello(rng, v, variant):
    host = rhost(rng, v).encode()
    suites_pool = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x00ff]
    rnd = bytes(rng.getrandbits(8) for _ in range(32))
    sid = bytes(rng.getrandbits(8) for _ in range(32)) if variant % 2 == 0 else b""
    suites = suites_pool[: 3 + variant * 2 + rng.randrange(4)]
    if variant == 0:  # GREASE like chrome
        suites = [0x0a0a + 0x1010 * rng.randrange(15)] + suites
    cs = b"".join(struct.pack(">H", s) for s in suites)
    exts = b""
    sni = struct.pack(">BH", 0, len(host)) + host
    exts += _tls_ext(0, struct.pack(">H", len(sni)) + sni)
    exts += _tls_ext(23, b"") + _tls_ext(65281, b"\x00")
    exts += _tls_ext(10, b"\x00\x08\x00\x1d\x00\x17\x00\x18\x00\x19")
    exts += _tls_ext(11, b"\x01\x00")
    if variant != 3:
        alpn = b"".join(bytes([len(p)]) + p for p in rng.choice([[b"h2", b"http/1.1"], [b"http/1.1"], [b"h2"]]))
        exts += _tls_ext(16, struct.pack(">H", len(alpn)) + alpn)
    exts += _tls_ext(13, b"\x00\x10\x04\x03\x08\x04\x04\x01\x05\x03\x08\x05\x05\x01\x08\x06\x06\x01")
    if variant in (0, 1, 2):
        ks = b"\x00\x1d\x00\x20" + bytes(rng.getrandbits(8) for _ in range(32))
        exts += _tls_ext(51, struct.pack(">H", len(ks)) + ks)
        exts += _tls_ext(43, b"\x04\x03\x04\x03\x03")
        exts += _tls_ext(45, b"\x01\x01")
    if variant == 2 and rng.random() < 0.5:  # session ticket
        tk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(100, 200)))
        exts += _tls_ext(35, tk)
    if rng.random() < 0.4:
        exts += _tls_ext(21, b"\x00" * rng.randrange(10, 200))
    body = b"\x03\x03" + rnd + bytes([len(sid)]) + sid + struct.pack(">H", len(cs)) + cs + b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def tls_records(rng, v, variant):
    """Server hello + encrypted records, or client application data (high entropy)."""
    out = b""
    if variant == 0:
        sh = b"\x02\x00\x00\x56\x03\x03" + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x20" + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x13\x01\x00\x00\x2e\x00\x2b\x00\x02\x03\x04\x00\x33\x00\x24\x00\x1d\x00\x20" + bytes(rng.getrandbits(8) for _ in range(32))
        out += b"\x16\x03\x03" + struct.pack(">H", len(sh)) + sh + b"\x14\x03\x03\x00\x01\x01"
    while len(out) < 600:
        n = rng.randrange(20, 400)
        out += bytes([0x17 if variant != 2 else rng.choice([0x17, 0x15])]) + b"\x03\x03" + struct.pack(">H", n) + bytes(rng.getrandbits(8) for _ in range(n))
    return out


def dns_query(rng, v, variant):
    name = rhost(rng, v)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    qtype = rng.choice([1, 28, 15, 16, 33, 12, 65, 2, 5])
    flags = 0x0100 if variant != 2 else 0x8180
    msg = struct.pack(">HHHHHH", rng.randrange(65536), flags, 1, 0 if variant != 2 else rng.randrange(1, 4), 0, 1 if variant == 1 else 0) + q + struct.pack(">HH", qtype, 1)
    if variant == 1:
        msg += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    if variant == 2:
        for _ in range(struct.unpack(">H", msg[6:8])[0]):
            rd = bytes(rng.getrandbits(8) for _ in range(4 if qtype == 1 else 16))
            msg += b"\xc0\x0c" + struct.pack(">HHIH", 1 if qtype == 1 else 28, 1, rng.randrange(60, 86400), len(rd)) + rd
    if variant == 3 or rng.random() < 0.3:  # DNS over TCP
        msg = struct.pack(">H", len(msg)) + msg
    return msg


def ssh_stream(rng, v, variant):
    ver = rng.choice(["OpenSSH_9.2p1 Debian-2+deb12u3", "OpenSSH_8.9p1 Ubuntu-3ubuntu0.6", "OpenSSH_7.4", "dropbear_2022.83", "libssh_0.10.5", "PuTTY_Release_0.78", "Go"])
    out = ("SSH-2.0-%s\r\n" % ver).encode()
    if variant == 0:
        return out
    names = [b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha256,ext-info-c",
             b"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ssh-ed25519,rsa-sha2-512,rsa-sha2-256",
             b"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com",
             b"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com",
             b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1", b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1",
             b"none,zlib@openssh.com", b"none,zlib@openssh.com", b"", b""]
    payload = b"\x14" + bytes(rng.getrandbits(8) for _ in range(16)) + b"".join(struct.pack(">I", len(n)) + n for n in names) + b"\x00\x00\x00\x00\x00"
    pad = 4 + (8 - (len(payload) + 5) % 8) % 8
    pkt = struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad
    if variant == 2:
        return pkt
    return out + pkt


def smtp_session(rng, v, variant):
    h = rhost(rng, v)
    a = "%s@%s" % (rng.choice(v.names).lower(), h)
    b = "%s@%s" % (rng.choice(v.names).lower(), rhost(rng, v))
    if variant == 0:
        lines = ["EHLO " + h, "MAIL FROM:<%s>" % a, "RCPT TO:<%s>" % b, "DATA"]
    elif variant == 1:
        lines = ["From: %s <%s>" % (rng.choice(v.names), a), "To: <%s>" % b, "Subject: %s" % benign_text(rng, v), "Date: Mon, %d Jan 2025 10:%02d:00 +0100" % (rng.randrange(1, 28), rng.randrange(60)),
                 "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", benign_text(rng, v, 20), benign_text(rng, v, 20), "--", rng.choice(v.names)]
    elif variant == 2:
        lines = ["220 %s ESMTP Postfix (Debian/GNU)" % h, "250-%s" % h, "250-PIPELINING", "250-SIZE 10240000", "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250 8BITMIME"]
    else:
        lines = ["AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (a, rtoken(rng, 12))).encode()).decode(), "STARTTLS", "QUIT"]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1", "replace")


def imap_pop_ftp(rng, v, variant):
    t = "a%03d" % rng.randrange(1000)
    if variant == 0:
        lines = [t + " LOGIN %s \"%s\"" % (rng.choice(v.names).lower(), rtoken(rng, 10)), t + " SELECT INBOX", t + " FETCH 1:%d (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])" % rng.randrange(2, 500),
                 t + " UID SEARCH SINCE 1-Jan-2025", t + ' LIST "" "*"']
    elif variant == 1:
        lines = ["USER %s" % rng.choice(v.names).lower(), "PASS %s" % rtoken(rng, 10), "STAT", "LIST", "RETR %d" % rng.randrange(1, 50), "QUIT"]
    elif variant == 2:
        lines = ["USER anonymous", "PASS guest@", "SYST", "PWD", "CWD /pub/%s" % rng.choice(v.paths), "CWD ..", "CDUP", "TYPE I", "PASV",
                 "RETR %s.tar.gz" % rng.choice(v.paths), "LIST -la"]
        lines = lines[: rng.randrange(3, len(lines) + 1)]
    else:
        lines = ["220 (vsFTPd 3.0.3)", "331 Please specify the password.", "230 Login successful.", "257 \"/home/%s\" is the current directory" % rng.choice(v.names).lower(),
                 "227 Entering Passive Mode (10,0,0,%d,%d,%d)." % (rng.randrange(255), rng.randrange(255), rng.randrange(255))]
    return ("\r\n".join(lines) + "\r\n").encode()


def redis_mqtt_misc(rng, v, variant):
    if variant == 0:  # Redis RESP
        cmd = rng.choice([["SET", "user:%d" % rng.randrange(9999), benign_text(rng, v)], ["GET", "session:" + rhex(rng, 16)], ["HSET", "cart:%d" % rng.randrange(999), "qty", str(rng.randrange(9))],
                          ["LPUSH", "queue", json.dumps({"job": rword(rng, v), "id": rng.randrange(999)})], ["PING"], ["INFO"], ["EXPIRE", "k", "60"]])
        return ("*%d\r\n" % len(cmd) + "".join("$%d\r\n%s\r\n" % (len(c.encode()), c) for c in cmd)).encode()
    if variant == 1:  # MQTT CONNECT + PUBLISH
        cid = ("client-" + rtoken(rng, 8)).encode()
        vh = b"\x00\x04MQTT\x04\x02\x00\x3c"
        pl = struct.pack(">H", len(cid)) + cid
        c = b"\x10" + bytes([len(vh) + len(pl)]) + vh + pl
        topic = ("sensors/%s/%s" % (rng.choice(v.words).lower(), rng.choice(["temp", "humidity", "state"]))).encode()
        msg = json.dumps({"v": round(rng.uniform(-20, 40), 2), "ts": rng.randrange(1.7e9, 1.8e9)}).encode()
        p = b"\x30" + bytes([2 + len(topic) + len(msg)]) + struct.pack(">H", len(topic)) + topic + msg
        return c + p
    if variant == 2:  # SMB2 negotiate-ish / NetBIOS
        hdr = b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, 0, 31, 0, 0, rng.randrange(1 << 32), 0xfeff, 0, 0) + b"\x00" * 16
        body = struct.pack("<HHHHI", 36, 5, 1, 0, 0x7f) + bytes(rng.getrandbits(8) for _ in range(16)) + b"\x00" * 8 + b"\x02\x02\x10\x02\x00\x03\x02\x03\x11\x03"
        msg = hdr + body
        return b"\x00" + struct.pack(">I", len(msg))[1:] + msg
    if variant == 3:  # websocket frames (masked client frames, high entropy)
        out = b""
        for _ in range(rng.randrange(1, 4)):
            data = json.dumps({"type": rword(rng, v), "payload": benign_text(rng, v)}).encode()
            mask = bytes(rng.getrandbits(8) for _ in range(4))
            out += b"\x81" + bytes([0x80 | min(len(data), 125)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data[:125]))
        return out
    if variant == 4:  # postgres startup + simple query with a benign SQL statement
        q = rng.choice(["SELECT id, name FROM products WHERE category = $1 ORDER BY name LIMIT 20",
                        "UPDATE sessions SET last_seen = now() WHERE id = $1", "INSERT INTO events (kind, payload) VALUES ($1, $2)",
                        "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'", "BEGIN", "COMMIT",
                        "SELECT * FROM users WHERE email = 'anna@example.org'"])
        params = b"user\x00%s\x00database\x00%s\x00\x00" % (rng.choice(v.names).lower().encode(), rng.choice(v.words).lower().encode())
        st = struct.pack(">II", len(params) + 8, 196608) + params
        qq = q.encode() + b"\x00"
        return st + b"Q" + struct.pack(">I", len(qq) + 4) + qq
    if variant == 5:  # syslog / plain log lines / JSON lines
        lines = []
        for _ in range(rng.randrange(1, 6)):
            lines.append("<%d>%s %s %s[%d]: %s" % (rng.randrange(191), "Jan %2d 10:%02d:%02d" % (rng.randrange(1, 29), rng.randrange(60), rng.randrange(60)),
                                                   rhost(rng, v), rng.choice(["sshd", "nginx", "cron", "systemd", "kernel", "postfix/smtpd"]), rng.randrange(99999), benign_text(rng, v, 15)))
        return ("\n".join(lines) + "\n").encode("latin-1", "replace")
    raise ValueError(variant)


def binary_blob(rng, v, variant):
    """Compressed / media / executable-looking benign content in an HTTP exchange."""
    if variant == 0:
        text = (" ".join(benign_text(rng, v, 12) for _ in range(60))).encode("latin-1", "replace")
        body = gzip.compress(text, mtime=0) if rng.random() < 0.5 else zlib.compress(text)
        hdr = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) if rng.random() < 0.7 else ""
        return hdr.encode() + body
    if variant == 1:  # PNG / JPEG upload
        if rng.random() < 0.5:
            raw = zlib.compress(bytes(rng.getrandbits(8) for _ in range(600)))
            img = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", rng.randrange(16, 2000), rng.randrange(16, 2000), 8, 6, 0, 0, 0) + b"\x00" * 4 + struct.pack(">I", len(raw)) + b"IDAT" + raw
        else:
            img = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00" + bytes(rng.getrandbits(8) for _ in range(700))
        bnd = "----WebKitFormBoundary" + rtoken(rng, 16)
        body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s.%s"\r\nContent-Type: image/%s\r\n\r\n' % (bnd, rng.choice(v.words).lower(), "png", "png")).encode() + img
        return build_http("POST", rpath(rng, v, 1), [("Host", rhost(rng, v)), ("Content-Type", "multipart/form-data; boundary=" + bnd), ("Content-Length", str(len(body)))], body)
    if variant == 2:  # ELF / archive download response
        bins = [p for p in ("/usr/bin/ls", "/usr/bin/cat", "/usr/bin/gzip", "/usr/bin/env", "/usr/bin/id", "/usr/bin/tar", "/usr/bin/grep", "/usr/bin/sed") if os.path.exists(p)]
        with open(rng.choice(bins), "rb") as f:
            f.seek(rng.choice([0, 0, 0x1000 * rng.randrange(1, 8)]))
            data = f.read(700)
        hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % rng.randrange(10000, 999999) if rng.random() < 0.6 else ""
        return hdr.encode() + data
    if variant == 3:  # protobuf / gRPC-ish over h2c-like framing, random binary fields
        body = b""
        for _ in range(rng.randrange(3, 20)):
            fno = rng.randrange(1, 16)
            if rng.random() < 0.5:
                body += bytes([(fno << 3) | 0]) + bytes([rng.randrange(128)])
            else:
                s = (benign_text(rng, v) if rng.random() < 0.6 else "").encode("latin-1", "replace") or bytes(rng.getrandbits(8) for _ in range(rng.randrange(4, 40)))
                body += bytes([(fno << 3) | 2, min(len(s), 127)]) + s[:127]
        grpc = b"\x00" + struct.pack(">I", len(body)) + body
        return build_http("POST", "/%s.%sService/%s" % (rng.choice(v.words).lower(), rng.choice(v.words).title(), rng.choice(v.words).title()),
                          [("Host", rhost(rng, v)), ("Content-Type", "application/grpc"), ("TE", "trailers")], grpc)
    if variant == 4:  # random encrypted/compressed blob (QUIC-like / VPN)
        n = rng.randrange(100, 700)
        return bytes([rng.choice([0xc0, 0xc3, 0x40, 0x45, 0x17, 0x00])]) + bytes(rng.getrandbits(8) for _ in range(n))
    if variant == 5:  # padded binary structure with runs of the same byte (like overflow fillers, but benign)
        out = b""
        while len(out) < 500:
            r = rng.random()
            if r < 0.3:
                out += bytes([rng.choice([0, 0xff, 0x20, 0x41, 0x90])]) * rng.randrange(4, 100)
            elif r < 0.7:
                out += struct.pack("<I", rng.getrandbits(32)) * rng.randrange(1, 4)
            else:
                out += rtoken(rng).encode()
        return out
    raise ValueError(variant)


def http_response(rng, v, variant):
    title = benign_text(rng, v)
    if variant == 0:
        body = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><link rel=\"stylesheet\" href=\"/static/css/main.%s.css\">"
                "<script src=\"/static/js/app.%s.js\" defer></script></head><body><div id=\"root\"><h1>%s</h1><p>%s</p><a href=\"%s\">%s</a></div></body></html>" % (
                    xml_escape(title), rhex(rng, 8), rhex(rng, 8), xml_escape(title), xml_escape(benign_text(rng, v, 20)), rpath(rng, v), rword(rng, v)))
        ct = "text/html; charset=utf-8"
    elif variant == 1:
        body = json.dumps({"items": [{"id": rng.randrange(9999), "name": benign_text(rng, v), "tags": [rword(rng, v)]} for _ in range(rng.randrange(1, 6))], "next": rpath(rng, v)})
        ct = "application/json"
    elif variant == 2:
        body = "<script>window.__INITIAL_STATE__ = %s;</script>" % json.dumps({"user": rng.choice(v.names), "lang": "en", "flags": {"beta": True}})
        ct = "text/html"
    else:
        body = ""
        ct = "text/plain"
    status = rng.choice(["200 OK", "200 OK", "304 Not Modified", "404 Not Found", "301 Moved Permanently", "302 Found", "500 Internal Server Error"])
    hs = ["HTTP/1.1 " + status, "Server: " + rng.choice(["nginx/1.22.1", "Apache/2.4.57 (Debian)", "cloudflare", "gunicorn", "Caddy"]),
          "Date: Mon, 06 Jan 2025 10:%02d:%02d GMT" % (rng.randrange(60), rng.randrange(60)), "Content-Type: " + ct, "Content-Length: %d" % len(body)]
    if rng.random() < 0.5:
        hs.append("Set-Cookie: session=%s; Path=/; HttpOnly; Secure; SameSite=Lax" % rhex(rng, 32))
    if status.startswith("30"):
        hs.append("Location: https://%s%s" % (rhost(rng, v), rpath(rng, v)))
    return ("\r\n".join(hs) + "\r\n\r\n" + body).encode("utf-8", "replace")


def http_benign_rich(rng, v, variant):
    """Benign HTTP requests whose bodies legitimately contain markup, code, paths, SQL-ish and shell-ish words."""
    host = rhost(rng, v)
    if variant == 0:  # CMS rich text with allowed HTML
        html = "<p>%s <strong>%s</strong></p><ul><li>%s</li><li><a href=\"https://%s/\">%s</a></li></ul><img src=\"/uploads/%s.png\" alt=\"%s\">" % (
            xml_escape(benign_text(rng, v)), rword(rng, v), xml_escape(benign_text(rng, v)), rhost(rng, v), rword(rng, v), rtoken(rng, 8), rword(rng, v))
        body = json.dumps({"title": benign_text(rng, v), "content": html, "draft": rng.random() < 0.5}).encode()
        return build_http("POST", "/wp-json/wp/v2/posts" if rng.random() < 0.5 else rpath(rng, v), http_headers(rng, v, host, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], True), body)
    if variant == 1:  # code snippet paste
        snippet = rng.choice(["for f in *.txt; do echo \"$f\"; done", "ls -la | grep '%s'", "SELECT name FROM %s WHERE id = 1;", "if (a < b && c > d) { return 'ok'; }",
                              "cat ~/.ssh/id_ed25519.pub", "const x = document.getElementById('%s');", "git commit -m \"fix %s\"", "<div class=\"%s\"></div>",
                              "import os\nprint(os.path.join('a', '%s'))", "curl -s https://%s/api | jq '.items[]'", "docker run --rm -it debian:12 bash"])
        snippet = snippet.replace("%s", rng.choice(v.words).lower())
        fields = [("title", benign_text(rng, v)), ("lang", rng.choice(["bash", "sql", "javascript", "python", "html"])), ("code", snippet)]
        body = urllib.parse.urlencode(fields).encode() if rng.random() < 0.5 else json.dumps(dict(fields)).encode()
        ct = "application/x-www-form-urlencoded" if body[:1] != b"{" else "application/json"
        return build_http("POST", rpath(rng, v), http_headers(rng, v, host, [("Content-Type", ct), ("Content-Length", str(len(body)))], True), body)
    if variant == 2:  # GraphQL
        q = "query %s($id: ID!) { %s(id: $id) { id name %s { edges { node { id title } } } } }" % (rng.choice(v.words).title(), rng.choice(v.words).lower(), rng.choice(v.words).lower())
        body = json.dumps({"query": q, "variables": {"id": str(rng.randrange(99999))}}).encode()
        return build_http("POST", "/graphql", http_headers(rng, v, host, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], True), body)
    if variant == 3:  # SOAP / XML
        body = ('<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Get%s xmlns="http://%s/ws"><id>%d</id><name>%s</name></Get%s></soap:Body></soap:Envelope>' % (
            rng.choice(v.words).title(), rhost(rng, v), rng.randrange(9999), xml_escape(benign_text(rng, v)), "X")).encode()
        return build_http("POST", "/ws/" + rng.choice(v.paths), http_headers(rng, v, host, [("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", '"urn:%s"' % rword(rng, v)), ("Content-Length", str(len(body)))], True), body)
    if variant == 4:  # search with filter syntax and file paths
        q = rng.choice(['title:"%s" AND year:>2010', "path:/usr/share/%s", "%s -%s", "size>=10MB type:pdf", "\"%s\" OR \"%s\"", "%s (draft)", "from:%s to:me", "C:\\Program Files\\%s"])
        while "%s" in q:
            q = q.replace("%s", rng.choice(v.words).lower(), 1)
        ev, _ = encode_url_value(rng, q)
        return build_http("GET", rpath(rng, v) + "?q=" + ev + ("&page=%d" % rng.randrange(1, 20) if rng.random() < 0.5 else ""), http_headers(rng, v, host))
    if variant == 5:  # static assets, API list, health checks, long query strings
        r = rng.random()
        if r < 0.4:
            tgt = "/static/" + "/".join(rng.choice(v.paths) for _ in range(rng.randrange(1, 4))) + rng.choice([".js", ".css", ".png", ".woff2", ".map", ".svg"]) + ("?v=" + rhex(rng, 8) if rng.random() < 0.5 else "")
        elif r < 0.6:
            tgt = rng.choice(["/healthz", "/metrics", "/robots.txt", "/favicon.ico", "/.well-known/security.txt", "/", "/index.html", "/sitemap.xml"])
        else:
            tgt = rpath(rng, v) + "?" + "&".join("%s=%s" % (k, encode_url_value(rng, x, "quote_plus")[0]) for k, x in _fields(rng, v, rng.randrange(2, 8)))
        return build_http(rng.choice(["GET", "GET", "OPTIONS", "HEAD"]), tgt, http_headers(rng, v, host))
    raise ValueError(variant)


BENIGN_FAMILIES = {
    # family: (function, n_variants, weight)
    "http_carrier": (None, 9, 40),
    "http_rich": (http_benign_rich, 6, 14),
    "http_response": (http_response, 4, 6),
    "tls_hello": (tls_client_hello, 4, 6),
    "tls_records": (tls_records, 3, 4),
    "dns": (dns_query, 4, 4),
    "ssh": (ssh_stream, 3, 3),
    "smtp": (smtp_session, 4, 4),
    "mail_ftp": (imap_pop_ftp, 4, 4),
    "misc_proto": (redis_mqtt_misc, 6, 6),
    "binary": (binary_blob, 6, 9),
}


def benign_sample(rng, v, family, variant):
    """Return (bytes, carrier) for one benign sample of the given family/variant."""
    if family == "http_carrier":
        # same carriers that attacks use, with benign values
        kinds = ["query", "path", "form", "json", "cookie", "header", "multipart", "xml", "raw"]
        kind = kinds[variant]
        if kind == "raw":
            value = rng.choice([benign_text(rng, v, 15), rword(rng, v, 3), json.dumps({"k": benign_value(rng, v)})])
        elif kind == "path":
            value = "/".join(rng.choice(v.paths + v.words) for _ in range(rng.randrange(1, 4)))
            if rng.random() < 0.4:
                value = benign_value(rng, v)
        elif kind == "header":
            value = rng.choice([ruseragent(rng), benign_text(rng, v), "https://" + rhost(rng, v) + rpath(rng, v), rip(rng), "%d" % rng.randrange(1, 5)])
        else:
            value = benign_value(rng, v)
        b, k, e = http_carrier(rng, v, value, kind)
        return b, "http_" + k
    fn, n, _ = BENIGN_FAMILIES[family]
    return fn(rng, v, variant), family


# --------------------------------------------------------------------------
# out-of-distribution benign families: NEVER used for training or threshold
# selection; only to measure the false-positive rate on protocols/templates the
# model has not seen.
# --------------------------------------------------------------------------
def ood_sip(rng, v):
    user, host = rng.choice(v.names).lower(), rhost(rng, v)
    call = rtoken(rng, 20)
    sdp = "v=0\r\no=- %d %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n" % (
        rng.randrange(10**9), rng.randrange(10**9), rip(rng), rip(rng), rng.randrange(10000, 20000))
    return ("INVITE sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:%s@%s:5060>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (
                user, host, rip(rng), rtoken(rng, 10), rng.choice(v.names).lower(), host, rhex(rng, 8), user, host, call, user, rip(rng), len(sdp), sdp)).encode()


def ood_http2(rng, v):
    import struct as st
    pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    settings = b"".join(st.pack(">HI", k, val) for k, val in ((1, 65536), (3, 1000), (4, 6291456), (6, 262144)))
    frames = st.pack(">I", len(settings))[1:] + b"\x04\x00\x00\x00\x00\x00" + settings
    frames += b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + st.pack(">I", rng.randrange(1 << 24))
    hblock = bytes([0x82, 0x87, 0x84, 0x41]) + bytes([len(rhost(rng, v))]) + rhost(rng, v).encode()[:60] + bytes(rng.getrandbits(8) for _ in range(rng.randrange(20, 120)))
    frames += st.pack(">I", len(hblock))[1:] + b"\x01\x25\x00\x00\x00\x01" + hblock
    return pre + frames


def ood_rtsp_memcached(rng, v):
    if rng.random() < 0.5:
        return ("DESCRIBE rtsp://%s:554/%s/stream%d RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\nAccept: application/sdp\r\n\r\n" % (
            rip(rng), rng.choice(v.words).lower(), rng.randrange(4), rng.randrange(1, 9))).encode()
    lines = []
    for _ in range(rng.randrange(1, 5)):
        k = "%s:%d" % (rng.choice(v.words).lower(), rng.randrange(99999))
        if rng.random() < 0.5:
            val = json.dumps({"n": benign_text(rng, v)})
            lines.append("set %s 0 %d %d\r\n%s" % (k, rng.randrange(0, 3600), len(val), val))
        else:
            lines.append("get %s" % k)
    return ("\r\n".join(lines) + "\r\n").encode("latin-1", "replace")


def ood_ldap_ntp_stun(rng, v):
    import struct as st
    r = rng.random()
    if r < 0.34:  # LDAP simple bind (BER)
        dn = ("cn=%s,ou=people,dc=%s,dc=org" % (rng.choice(v.names).lower(), rng.choice(v.words).lower())).encode()
        pw = rtoken(rng, 10).encode()
        bind = b"\x02\x01\x03\x04" + bytes([len(dn)]) + dn + b"\x80" + bytes([len(pw)]) + pw
        op = b"\x60" + bytes([len(bind)]) + bind
        msg = b"\x02\x01" + bytes([rng.randrange(1, 100)]) + op
        return b"\x30" + bytes([len(msg)]) + msg
    if r < 0.67:  # NTP client request
        return b"\x23\x00\x06\x20" + b"\x00" * 36 + st.pack(">II", rng.randrange(1 << 32), rng.randrange(1 << 32))
    attrs = b"\x80\x22\x00\x0c" + b"libnice-0.1" + b"\x00" + b"\x00\x24\x00\x04" + st.pack(">I", rng.randrange(1 << 32))
    return st.pack(">HHI", 1, len(attrs), 0x2112A442) + bytes(rng.getrandbits(8) for _ in range(12)) + attrs


def ood_http_apis(rng, v):
    host = rhost(rng, v)
    r = rng.random()
    if r < 0.25:  # Kubernetes JSON patch
        body = json.dumps([{"op": "replace", "path": "/spec/replicas", "value": rng.randrange(1, 9)},
                           {"op": "add", "path": "/metadata/labels/%s" % rng.choice(v.words).lower(), "value": rword(rng, v).lower()}]).encode()
        return build_http("PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s" % (rng.choice(v.words).lower(), rng.choice(v.words).lower()),
                          [("Host", host), ("Authorization", "Bearer " + rjwt(rng)), ("Content-Type", "application/json-patch+json"), ("Content-Length", str(len(body)))], body)
    if r < 0.5:  # WebDAV / CalDAV
        body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:displayname/><d:getetag/><c:calendar-data/></d:prop></d:propfind>').encode()
        return build_http("PROPFIND", "/remote.php/dav/calendars/%s/personal/" % rng.choice(v.names).lower(), [("Host", host), ("Depth", "1"), ("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body)
    if r < 0.75:  # S3-style signed GET
        return build_http("GET", "/%s/%s/%s.%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F20250106%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20250106T101500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=%s" % (
            rng.choice(v.words).lower(), rng.choice(v.paths), rng.choice(v.words).lower(), rng.choice(["jpg", "pdf", "zip"]), rtoken(rng, 20).upper(), rhex(rng, 64)), [("Host", host)])
    # Elasticsearch query DSL with wildcard/regexp (looks odd, is benign)
    body = json.dumps({"query": {"bool": {"must": [{"match": {"title": benign_text(rng, v)}}, {"wildcard": {"path": "/var/log/*%s*" % rng.choice(v.words).lower()}}],
                                          "filter": {"range": {"@timestamp": {"gte": "now-1d/d"}}}}}, "size": rng.randrange(10, 100)}).encode()
    return build_http("POST", "/%s-*/_search" % rng.choice(v.words).lower(), [("Host", host), ("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)


OOD_FAMILIES = {"sip": ood_sip, "http2": ood_http2, "rtsp_memcached": ood_rtsp_memcached, "ldap_ntp_stun": ood_ldap_ntp_stun, "http_unseen_apis": ood_http_apis}
