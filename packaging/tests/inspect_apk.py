#!/usr/bin/env python3
"""Read an .apk the way apk-tools' v2 reader does and print what it finds, as JSON.

  inspect_apk.py PACKAGE.apk

apk-tools (src/extract_v2.c) reads a v2 package as consecutive gzip streams: the control
stream (a tar cut before its end-of-archive blocks, .PKGINFO first, then .post-install etc.)
and the data stream, whose sha256 over the *compressed* bytes must equal .PKGINFO's datahash.
apk 3 refuses data files without a PAX "APK-TOOLS.checksum.SHA1" header. This script checks
none of that itself: it reports the facts, and tests/packaging.rs asserts on them.
Standard library only.
"""

import hashlib
import io
import json
import sys
import tarfile
import zlib


def gzip_members(blob):
    """[(compressed bytes, decompressed bytes)] for each concatenated gzip stream."""
    out = []
    rest = blob
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        plain = d.decompress(rest)
        if not d.eof:
            raise SystemExit("truncated gzip stream")
        used = len(rest) - len(d.unused_data)
        out.append((rest[:used], plain))
        rest = d.unused_data
    return out


def main():
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    members = gzip_members(blob)
    report = {"gzip_streams": len(members)}
    control_raw = members[0][1]
    report["control_len_multiple_of_512"] = len(control_raw) % 512 == 0
    report["control_ends_with_zero_block"] = control_raw[-512:] == b"\0" * 512
    ctl = tarfile.open(fileobj=io.BytesIO(control_raw + b"\0" * 1024))
    report["control_members"] = []
    pkginfo = {}
    for m in ctl.getmembers():
        report["control_members"].append({"name": m.name, "mode": m.mode})
        if m.name == ".PKGINFO":
            text = ctl.extractfile(m).read().decode()
            for line in text.splitlines():
                if line.startswith("#") or " = " not in line:
                    continue
                k, v = line.split(" = ", 1)
                pkginfo.setdefault(k, v)
        elif m.isfile():
            report.setdefault("scripts", {})[m.name] = ctl.extractfile(m).read().decode()
    report["pkginfo"] = pkginfo
    if len(members) > 1:
        data_gz, data_raw = members[1]
        report["data_sha256"] = hashlib.sha256(data_gz).hexdigest()
        data = tarfile.open(fileobj=io.BytesIO(data_raw))
        files = []
        for m in data.getmembers():
            entry = {"name": m.name, "mode": m.mode, "uid": m.uid, "gid": m.gid,
                     "type": "dir" if m.isdir() else "file" if m.isfile() else "other"}
            if m.isfile():
                content = data.extractfile(m).read()
                entry["size"] = len(content)
                entry["sha1"] = hashlib.sha1(content).hexdigest()
                entry["pax_sha1"] = m.pax_headers.get("APK-TOOLS.checksum.SHA1")
                if m.name.endswith((".list", ".conffiles", ".conffiles_static", "keep.d/simkeep")):
                    entry["text"] = content.decode()
            files.append(entry)
        report["data"] = files
    json.dump(report, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
