#!/usr/bin/env python3
"""Writes the small seed corpora in fuzz/seeds/<target>/ from the repo's own test vectors:
the golden transcripts, the string literals of the parser tests (ModemManager's vectors,
real carrier replies, PDU hex), the example config and a few HTTP requests.

Run from the repo root: python3 fuzz/make_seeds.py. Seeds are committed; the corpora that
libFuzzer grows (fuzz/corpus/) are not. Deterministic: the same tree gives the same files.
"""
import hashlib
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"
MAX_SEEDS = 80  # per target: seeds, not a corpus

LIT = re.compile(r'(?<![A-Za-z0-9_#])(r#*)?"((?:[^"\\]|\\.)*)"', re.S)


def unescape(body, raw):
    if raw:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1] if i + 1 < len(body) else ""
        i += 2
        if n == "n":
            out.append("\n")
        elif n == "r":
            out.append("\r")
        elif n == "t":
            out.append("\t")
        elif n == "0":
            out.append("\0")
        elif n == "x":
            out.append(chr(int(body[i:i + 2], 16)))
            i += 2
        elif n == "u":
            j = body.index("}", i)
            out.append(chr(int(body[i + 1:j], 16)))
            i = j + 1
        elif n == "\n":  # line continuation: skip leading whitespace
            while i < len(body) and body[i] in " \t\n":
                i += 1
        else:
            out.append(n)
    return "".join(out)


def literals(*paths):
    for p in paths:
        text = (ROOT / p).read_text(encoding="utf-8")
        for m in LIT.finditer(text):
            try:
                yield unescape(m.group(2), m.group(1) is not None)
            except (ValueError, IndexError):
                continue


def transcripts():
    """(command, reply bytes) pairs of every golden transcript, in order, per file."""
    for f in sorted((ROOT / "tests" / "transcripts").rglob("*.at")):
        pairs, cmd = [], None
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.startswith("> "):
                cmd = line[2:]
            elif line.startswith("< ") and cmd is not None:
                pairs.append((cmd, unescape(line[2:], False).encode("utf-8")))
        yield f.stem, pairs


def write(target, seeds):
    d = OUT / target
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    seen = set()
    for s in seeds:
        b = s if isinstance(s, bytes) else s.encode("utf-8")
        if not b or b in seen or len(b) > 4096:
            continue
        seen.add(b)
        if len(seen) > MAX_SEEDS:
            break
        (d / hashlib.sha1(b).hexdigest()[:16]).write_bytes(b)


def is_reply_line(s):
    return re.match(r"^\s*[+^!$*#]?[A-Z0-9]{2,}[:?]?", s) is not None and len(s) < 600


def main():
    # digest: each transcript as one byte stream, commands begun inline (0x01 LINE 0x01),
    # a read boundary (0x03) in the middle of every reply; plus the framing quirks.
    digest = []
    for _, pairs in transcripts():
        stream = b""
        for cmd, reply in pairs:
            half = len(reply) // 2
            stream += b"\x01" + cmd.encode() + b"\x01" + cmd.encode() + b"\r" + reply[:half] + b"\x03" + reply[half:]
        digest.append(stream)
    digest += [
        b'\x01AT+CUSD=1,"*100#",15\x01\r\nOK\r\n\r\n+CUSD: 1,"1. Balance\r\n2. Data",15\r\n',
        b"\x01AT+CMGL=4\x01\r\n+CMGL: 1,0,,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8329BFD06\r\n\r\nOK\r\n",
        b"\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8329BFD06\r\n",
        b"\x01AT+CMGS=23\x01\r\n> ",
        b"\r\nOK\r\n\r\nRDY\r\n\r\n+CFUN: 1\r\n\x00\x00\r\nNO CARRIER\r\n",
        b'\x01AT+CEREG?\x01\r\n+CEREG: 2,1,"1A2D","1A2D001",7\r\n+CMTI: "SM",3\r\n+CEREG: 1\r\n\r\nOK\r\n',
        b"\x01AT+CSQ\x01\x02\r\n+CSQ: 20,99\r\n\r\nOK\r\n\xff\xfe\r\n",
    ]
    write("digest", digest)

    # modem_profile: transcripts as `AT…` lines followed by their reply lines.
    profile = []
    for _, pairs in transcripts():
        text = ""
        for cmd, reply in pairs:
            text += cmd + "\n" + reply.decode("utf-8", "replace").replace("\r", "") + "\n"
        profile.append(text)
    write("modem_profile", profile)

    replies = [r.decode("utf-8", "replace") for _, ps in transcripts() for _, r in ps]
    generic = [s for s in literals("tests/mm_vectors.rs", "src/modem/generic_tests.rs",
                                   "src/modem/urc.rs", "src/sms/parse.rs",
                                   "src/at/urc.rs") if is_reply_line(s)]
    write("modem_generic", generic + [r for r in replies if r.strip()])
    vendor = [s for s in literals("src/modem/quectel_tests.rs", "src/modem/huawei_tests.rs",
                                  "src/modem/simcom.rs", "src/modem/sierra.rs",
                                  "src/modem/fibocom.rs") if is_reply_line(s)]
    write("modem_vendor", vendor)

    hexlit = re.compile(r"^[0-9A-Fa-f]{20,}$")
    write("pdu", [s for s in literals("src/codec/pdu_tests.rs", "src/codec/concat_tests.rs",
                                      "tests/sms_ussd.rs") if hexlit.match(s)])

    ussd = []
    for s in literals("src/codec/ussd_tests.rs", "src/at/urc_tests.rs"):
        if s.startswith("+CUSD:") or re.match(r"^[0-9A-Fa-f]{4,}$", s):
            for dcs in (15, 72, 0xFF):
                ussd.append(bytes([dcs]) + s.encode("utf-8"))
    write("ussd", ussd)

    carrier = []
    for s in literals("src/usage/carrier_tests.rs", "src/usage/carrier_real_tests.rs"):
        if len(s) >= 8 and re.search(r"\d", s) and "{" not in s:
            carrier.append(b"\x00" + s.encode("utf-8"))
    carrier.append(b"\x08(?P<amount>[0-9.,]+)\\s*(?P<unit>[KMGT]?B)\nRemaining data: 1,234.5 MB")
    write("carrier", carrier)

    write("http", [
        b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        b"GET /api/v1/usage?limit=50&since=2026-12-01T10:00:00Z HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        b"POST /api/v1/topup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"amount\":\"1GB\"}",
        b"HEAD /metrics HTTP/1.0\r\n\r\n",
        b"GET /api/v1/history?since=1795600800&limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"DELETE /api/v1/sms/3 HTTP/1.1\r\nHost: [::1]\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        # Found by the fuzzer (api/server.rs: a_request_after_an_empty_line_...).
        b"\nPOT ,/ HTTP/1.1\r\ntion: B \n\r\n",
    ])

    config = [(ROOT / "src" / "config" / "example.toml").read_text(encoding="utf-8")]
    # Found by the fuzzer (carrier_api/url.rs, config/keys.rs regression tests).
    config += ['[carrier_api.a]\nbase_url = "https:\ufeff.example"\nauth = "none"\n',
               "[usage]\n" + "x" * 600 + " = 1\n"]
    config += [s for s in literals("src/config.rs", "src/config/api.rs", "src/config/mqtt.rs",
                                   "src/config/topup_tests.rs", "src/config/notify.rs")
               if "[" in s and "=" in s and "\n" in s]
    write("config", config)


if __name__ == "__main__":
    main()
