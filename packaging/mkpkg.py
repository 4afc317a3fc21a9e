#!/usr/bin/env python3
"""Wrap a cross-built simkeep binary into OpenWrt packages without the SDK.

  mkpkg.py --bin PATH --arch OPENWRT_ARCH [--arch ...] --version X.Y.Z --release N --out DIR
           [--url URL] [--files DIR]

Writes, into DIR, for every --arch (the same binary under each label):
  simkeep_X.Y.Z-N_ARCH.ipk    for opkg (OpenWrt <= 24.10), laid out as OpenWrt's
                              scripts/ipkg-build does: a gzip'd tar of ./debian-binary,
                              ./control.tar.gz and ./data.tar.gz, every owner 0.
  simkeep-X.Y.Z-rN_ARCH.apk   for apk-tools 3 (OpenWrt 25.12), in the v2 package layout apk 3
                              still reads (install with --allow-untrusted): gzip(control tar
                              without end-of-archive blocks) + gzip(data tar, PAX, each regular
                              file carrying APK-TOOLS.checksum.SHA1), .PKGINFO's datahash being
                              the sha256 of the second gzip stream (apk-tools src/extract_v2.c).

Both hold the same files, with the modes OpenWrt's package-pack.mk would give them, and the
same install scripts it generates (default_postinst/default_prerm from /lib/functions.sh,
which enable+start / stop+disable every /etc/init.d script listed in the package's file list).

Timestamps come from SOURCE_DATE_EPOCH (default 0), so the same inputs give the same bytes.
Only the standard library is used.
"""

import argparse
import gzip
import hashlib
import io
import os
import sys
import tarfile

NAME = "simkeep"
DESCRIPTION = (
    "simkeep watches an LTE/5G modem over its AT port, tracks the data left on a prepaid SIM,\n"
    "tops it up within a budget, keeps history in SQLite and serves its status over HTTP."
)
LICENSE = "MIT OR Apache-2.0"
MAINTAINER = "simkeep developers"
# The binary is static; libc is what every OpenWrt package depends on (the SDK adds it too).
DEPENDS = "libc"
CONFFILES = ["/etc/simkeep/config.toml"]
# Not shipped, but kept across sysupgrade: package-pack.mk writes conffiles that a package
# does not contain into /lib/upgrade/keep.d/<pkg>; we do the same by hand.
KEEP = ["/etc/simkeep/simkeep.db", "/etc/simkeep/usb-ids"]

IPK_POSTINST = """#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
IPK_PRERM = """#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""
APK_POSTINST = """#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
export root="${IPKG_INSTROOT}"
export pkgname="simkeep"
add_group_and_user
default_postinst
"""
APK_PREDEINSTALL = """#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
export root="${IPKG_INSTROOT}"
export pkgname="simkeep"
default_prerm
"""


def payload(binary, files_dir):
    """(path, mode, bytes) for every file the package installs, paths without a leading /."""
    def read(p):
        with open(p, "rb") as f:
            return f.read()

    return [
        ("usr/bin/simkeep", 0o755, read(binary)),
        ("usr/libexec/simkeep-port", 0o755, read(os.path.join(files_dir, "simkeep-port"))),
        ("etc/init.d/simkeep", 0o755, read(os.path.join(files_dir, "simkeep.init"))),
        # 0600 like the SDK's INSTALL_CONF: the config may hold the SIM PIN.
        ("etc/simkeep/config.toml", 0o600, read(os.path.join(files_dir, "config.toml"))),
        ("etc/hotplug.d/tty/30-simkeep", 0o644, read(os.path.join(files_dir, "30-simkeep"))),
        ("lib/upgrade/keep.d/simkeep", 0o644, "".join(k + "\n" for k in KEEP).encode()),
    ]


def parent_dirs(paths):
    dirs = set()
    for p in paths:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def tar_info(name, mode, size, mtime, kind=tarfile.REGTYPE):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def gz(data, mtime):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=mtime, compresslevel=9) as g:
        g.write(data)
    return buf.getvalue()


def tar_bytes(entries, mtime, fmt, prefix="", pax_sha1=False, end_blocks=True):
    """entries: (path, mode, bytes or None for a directory). Returns the tar as bytes."""
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=fmt)
    for path, mode, data in entries:
        if data is None:
            tf.addfile(tar_info(prefix + path + "/", mode, 0, mtime, tarfile.DIRTYPE))
            continue
        ti = tar_info(prefix + path, mode, len(data), mtime)
        if pax_sha1:
            ti.pax_headers = {"APK-TOOLS.checksum.SHA1": hashlib.sha1(data).hexdigest()}
        tf.addfile(ti, io.BytesIO(data))
    if end_blocks:
        tf.close()
        return buf.getvalue()
    # apk's control segment is a tar cut before its end-of-archive blocks (abuild-tar --cut):
    # the data segment's tar continues the same stream.
    # So the TarFile is not closed: everything up to tf.offset is complete member data.
    return buf.getvalue()[: tf.offset]


def with_dirs(files):
    entries = [(d, 0o755, None) for d in parent_dirs([f[0] for f in files])]
    return sorted(entries + list(files), key=lambda e: e[0])


def installed_size(files):
    return sum(len(data) for _, _, data in files)


def build_ipk(files, arch, version, release, out, mtime, url):
    full_version = f"{version}-{release}"
    control = (
        f"Package: {NAME}\n"
        f"Version: {full_version}\n"
        f"Depends: {DEPENDS}\n"
        f"Source: packaging/openwrt\n"
        f"SourceName: {NAME}\n"
        f"License: {LICENSE}\n"
        f"Section: net\n"
        f"Maintainer: {MAINTAINER}\n"
        + (f"URL: {url}\n" if url else "")
        + f"Architecture: {arch}\n"
        f"Installed-Size: {installed_size(files)}\n"
        f"Description: " + DESCRIPTION.replace("\n", "\n ") + "\n"
    )
    ctrl_entries = [
        ("", 0o755, None),
        ("control", 0o644, control.encode()),
        ("conffiles", 0o644, "".join(c + "\n" for c in CONFFILES).encode()),
        ("postinst", 0o755, IPK_POSTINST.encode()),
        ("prerm", 0o755, IPK_PRERM.encode()),
    ]
    # ipkg-build tars with `-C dir .`, so members are named ./x; the root is ./
    def dot(entries):
        return [("." if p == "" else "./" + p, m, d) for p, m, d in entries]

    control_tgz = gz(tar_bytes(dot(ctrl_entries), mtime, tarfile.GNU_FORMAT), mtime)
    data_entries = [("", 0o755, None)] + with_dirs(files)
    data_tgz = gz(tar_bytes(dot(data_entries), mtime, tarfile.GNU_FORMAT), mtime)
    outer = tar_bytes(
        [
            ("./debian-binary", 0o644, b"2.0\n"),
            ("./control.tar.gz", 0o644, control_tgz),
            ("./data.tar.gz", 0o644, data_tgz),
        ],
        mtime,
        tarfile.GNU_FORMAT,
    )
    path = os.path.join(out, f"{NAME}_{full_version}_{arch}.ipk")
    with open(path, "wb") as f:
        f.write(gz(outer, mtime))
    return path


def build_apk(files, arch, version, release, out, mtime, url):
    full_version = f"{version}-r{release}"
    listed = sorted("/" + p for p, _, _ in files)
    listed.append(f"/lib/apk/packages/{NAME}.list")
    listed.append(f"/lib/apk/packages/{NAME}.conffiles")
    listed.append(f"/lib/apk/packages/{NAME}.conffiles_static")
    by_path = {"/" + p: data for p, _, data in files}
    static = "".join(f"{c} {hashlib.sha256(by_path[c]).hexdigest()}\n" for c in CONFFILES)
    # What package-pack.mk adds for apk: the file list default_postinst reads to find init
    # scripts, and the conffiles list sysupgrade and `apk audit` use.
    apk_files = list(files) + [
        (f"lib/apk/packages/{NAME}.list", 0o644, "".join(p + "\n" for p in sorted(listed)).encode()),
        (f"lib/apk/packages/{NAME}.conffiles", 0o644, "".join(c + "\n" for c in CONFFILES).encode()),
        (f"lib/apk/packages/{NAME}.conffiles_static", 0o644, static.encode()),
    ]
    data_tgz = gz(tar_bytes(with_dirs(apk_files), mtime, tarfile.PAX_FORMAT, pax_sha1=True), mtime)
    pkginfo = (
        f"# Generated by simkeep packaging/mkpkg.py\n"
        f"pkgname = {NAME}\n"
        f"pkgver = {full_version}\n"
        f"pkgdesc = {DESCRIPTION.replace(chr(10), ' ')}\n"
        + (f"url = {url}\n" if url else "")
        + f"builddate = {mtime}\n"
        # apk 3 reads `maintainer` (src/package.c); `packager` is abuild's and apk ignores it.
        f"maintainer = {MAINTAINER}\n"
        f"size = {installed_size(apk_files)}\n"
        f"arch = {arch}\n"
        f"origin = {NAME}\n"
        f"license = {LICENSE}\n"
        f"depend = {DEPENDS}\n"
        f"datahash = {hashlib.sha256(data_tgz).hexdigest()}\n"
    )
    ctrl_entries = [
        (".PKGINFO", 0o644, pkginfo.encode()),
        (".post-install", 0o755, APK_POSTINST.encode()),
        (".post-upgrade", 0o755, ("#!/bin/sh\nexport PKG_UPGRADE=1\n" + APK_POSTINST.split("\n", 1)[1]).encode()),
        (".pre-deinstall", 0o755, APK_PREDEINSTALL.encode()),
    ]
    control_gz = gz(tar_bytes(ctrl_entries, mtime, tarfile.USTAR_FORMAT, end_blocks=False), mtime)
    path = os.path.join(out, f"{NAME}-{full_version}_{arch}.apk")
    with open(path, "wb") as f:
        f.write(control_gz + data_tgz)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", required=True, help="the simkeep binary to package")
    ap.add_argument("--arch", required=True, action="append",
                    help="OpenWrt package arch, e.g. aarch64_cortex-a53 (repeat for more labels)")
    ap.add_argument("--url", default="", help="project home page, for URL: / url =")
    ap.add_argument("--version", required=True, help="x.y.z")
    ap.add_argument("--release", default="1", help="package release number (default 1)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--files", default=os.path.join(here, "openwrt", "files"))
    ap.add_argument("--format", choices=["ipk", "apk", "both"], default="both")
    a = ap.parse_args()

    v = a.version.split(".")
    if len(v) != 3 or not all(x.isdigit() for x in v):
        sys.exit(f"mkpkg.py: version {a.version!r} is not x.y.z (numbers only)")
    if not a.release.isdigit():
        sys.exit(f"mkpkg.py: release {a.release!r} must be a number")
    try:
        files = payload(a.bin, a.files)
    except OSError as e:
        sys.exit(f"mkpkg.py: cannot read {e.filename}: {e.strerror}")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    os.makedirs(a.out, exist_ok=True)
    for arch in a.arch:
        if not arch or any(c.isspace() or c == "/" for c in arch):
            sys.exit(f"mkpkg.py: arch {arch!r} is not an OpenWrt package arch")
        if a.format in ("ipk", "both"):
            print(build_ipk(files, arch, a.version, a.release, a.out, mtime, a.url))
        if a.format in ("apk", "both"):
            print(build_apk(files, arch, a.version, a.release, a.out, mtime, a.url))


if __name__ == "__main__":
    main()
