//! The OpenWrt packages and scripts, checked with the tools a router owner has: tar, gzip,
//! python3 and a POSIX shell.
//!
//! Builds an .ipk and an .apk per router arch with `packaging/build-packages.sh` from a small
//! stand-in binary (no cross toolchain needed), unpacks them and checks layout, control
//! fields, owners and modes; drives the hotplug port helper against a fake sysfs; and runs the
//! real `simkeep check-config` on the shipped default config.
//! It must not need network, root-only paths or a cross compiler.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The Rust targets `packaging/build-packages.sh` takes; each binary is packaged under every
/// label `--list-arches` prints for it.
const TARGETS: &[&str] = &[
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-musleabihf",
    "x86_64-unknown-linux-musl",
    "mipsel-unknown-linux-musl",
    "mips-unknown-linux-musl",
];

/// OpenWrt target/subtarget → package arch, as OpenWrt's own sources define it: the label is
/// `$(ARCH)_$(CPU_TYPE)[_$(CPU_SUBTYPE)]` (x86_64: just `$(ARCH)`), from the board's
/// `target/linux/<board>/Makefile` or its `<subtarget>/target.mk`; an aarch64 target without
/// CPU_TYPE gets `CPU_TYPE ?= generic` from `include/target.mk`. Read from openwrt/openwrt with
/// the search tool's file index, which holds one version per file, not one tree: the commit
/// given is the one that version of that file was stored at.
///   mediatek/filogic   target/linux/mediatek/filogic/target.mk   @ 09fe06f74ad14086489550bd3e7ad2189af6681f
///   mediatek/mt7622    target/linux/mediatek/mt7622/target.mk    @ 4df77295307dd91c0e69bf0377390c1052cadead
///   qualcommax/*       target/linux/qualcommax/Makefile          @ 2bbe5c86caaf387d64d73574f7bcdcb526065364
///   rockchip/armv8     target/linux/rockchip/armv8/target.mk     @ 4629312c86d86f19e27fc29d39c42ec10195c491 (no CPU_TYPE)
///   bcm27xx/bcm2711    target/linux/bcm27xx/bcm2711/target.mk    (index excerpt, CPU_TYPE:=cortex-a72; commit not shown)
///   bcm27xx/bcm2712    target/linux/bcm27xx/bcm2712/target.mk    @ 1185395c0bc812bd315970ac284fd58656dfc510
///   mvebu/cortexa72    target/linux/mvebu/cortexa72/target.mk    @ 727c3df5bb017e32e05258e31348d45187177347
///   ipq40xx/generic    target/linux/ipq40xx/Makefile             @ 001139f7d94ae3ff694df77929111f2988ca5e66
///   mediatek/mt7623    target/linux/mediatek/mt7623/target.mk    @ 778c62e5ffaee6b23dca0e6160d5fd187bb7b7af
///   mediatek/mt7629    target/linux/mediatek/mt7629/target.mk    (index excerpt: CPU_TYPE:=cortex-a7, no CPU_SUBTYPE)
///                      target/linux/mediatek/mt7629/config-6.12  @ 16c1e1b9ba162f28aea45d41359120e28996984f: "# CONFIG_VFP is not set"
///   mvebu/cortexa9     target/linux/mvebu/cortexa9/target.mk     (index excerpt: CPU_TYPE:=cortex-a9, CPU_SUBTYPE:=vfpv3-d16)
///   ipq806x/generic    target/linux/ipq806x/Makefile             (index excerpt: CPU_TYPE:=cortex-a15, CPU_SUBTYPE:=neon-vfpv4)
///   ramips/mt7621      target/linux/ramips/mt7621/target.mk      @ 046666aa5f2201cf40567234b82cc6109c471819
///   ramips/mt76x8      target/linux/ramips/mt76x8/target.mk      @ 127eb89d84a60fd1cce6f30b5ab0c6b3db97d8dc
///   ath79/*            target/linux/ath79/Makefile               @ 0bffaff7480a8fba3cbd941dc7e696bbbd2bd48e
///   x86/64             target/linux/x86/64/target.mk             @ 196fb76a4c43692fb27e99586d2b4b9f6ef5ff55
const OPENWRT: &[(&str, &str)] = &[
    ("mediatek/filogic", "aarch64_cortex-a53"),
    ("mediatek/mt7622", "aarch64_cortex-a53"),
    ("qualcommax/ipq807x", "aarch64_cortex-a53"),
    ("qualcommax/ipq60xx", "aarch64_cortex-a53"),
    ("rockchip/armv8", "aarch64_generic"),
    ("bcm27xx/bcm2711", "aarch64_cortex-a72"),
    ("mvebu/cortexa72", "aarch64_cortex-a72"),
    ("bcm27xx/bcm2712", "aarch64_cortex-a76"),
    ("ipq40xx/generic", "arm_cortex-a7_neon-vfpv4"),
    ("mediatek/mt7623", "arm_cortex-a7_neon-vfpv4"),
    ("mediatek/mt7629", "arm_cortex-a7"),
    ("mvebu/cortexa9", "arm_cortex-a9_vfpv3-d16"),
    ("ipq806x/generic", "arm_cortex-a15_neon-vfpv4"),
    ("ramips/mt7621", "mipsel_24kc"),
    ("ramips/mt76x8", "mipsel_24kc"),
    ("ath79/generic", "mips_24kc"),
    ("x86/64", "x86_64"),
];

/// Whether the binary for `target` runs on every CPU an OpenWrt `label` stands for: the same
/// ISA and byte order, and every feature the Rust target assumes (rustc's target specs).
fn runs_on(target: &str, label: &str) -> bool {
    match target {
        // ARMv8-A with FP + AdvSIMD: every Cortex-A core; `generic` is OpenWrt's -mcpu=generic.
        "aarch64-unknown-linux-musl" => label.starts_with("aarch64_"),
        // +v7,+vfp3,-d32,+thumb2: an ARMv7-A core with at least VFPv3-D16. A label without an
        // FPU subtype is built soft-float and its kernel may have VFP off (mt7629 does).
        "armv7-unknown-linux-musleabihf" => {
            let mut parts = label.splitn(3, '_');
            let (isa, cpu, fpu) = (parts.next(), parts.next(), parts.next());
            isa == Some("arm")
                && cpu.is_some_and(|c| {
                    [
                        "cortex-a5",
                        "cortex-a7",
                        "cortex-a8",
                        "cortex-a9",
                        "cortex-a15",
                    ]
                    .contains(&c)
                })
                && fpu.is_some_and(|f| f.contains("vfpv3") || f.contains("vfpv4"))
        }
        "x86_64-unknown-linux-musl" => label == "x86_64",
        // MIPS32r2 soft-float: 24kc/24kec/74kc/1004kc, not mips32 (r1) labels.
        "mipsel-unknown-linux-musl" => label == "mipsel_24kc",
        "mips-unknown-linux-musl" => label == "mips_24kc",
        _ => false,
    }
}

/// The labels build-packages.sh packages a `target` binary under.
fn labels(target: &str) -> Vec<String> {
    stdout(
        Command::new("bash")
            .arg(Path::new(ROOT).join("packaging/build-packages.sh"))
            .args([target, "--list-arches"]),
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// Every (target, label) pair the packaging produces.
fn produced() -> Vec<(&'static str, String)> {
    TARGETS
        .iter()
        .flat_map(|t| labels(t).into_iter().map(move |l| (*t, l)))
        .collect()
}

const URL: &str = "https://example.org/simkeep";

/// Path in the package → mode it must have.
const MODES: &[(&str, u32)] = &[
    ("usr/bin/simkeep", 0o755),
    ("usr/libexec/simkeep-port", 0o755),
    ("etc/init.d/simkeep", 0o755),
    ("etc/simkeep/config.toml", 0o600),
    ("etc/hotplug.d/tty/30-simkeep", 0o644),
    ("lib/upgrade/keep.d/simkeep", 0o644),
];

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}

/// A stand-in for the cross-built binary: an ELF magic and some bytes, deliberately 0644 so
/// the test sees the packager set 0755 itself.
fn stand_in(dir: &Path, arch: &str) -> PathBuf {
    let p = dir.join(format!("simkeep-{arch}"));
    let mut bytes = b"\x7fELF stand-in for ".to_vec();
    bytes.extend_from_slice(arch.as_bytes());
    bytes.extend((0..4096u32).map(|i| (i % 251) as u8));
    fs::write(&p, bytes).expect("write stand-in");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod stand-in");
    p
}

/// Runs build-packages.sh for one label; returns (ipk, apk).
fn build(target: &str, arch: &str, bin: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let text = stdout(
        Command::new("bash")
            .arg(Path::new(ROOT).join("packaging/build-packages.sh"))
            .args([target, "--arch", arch, "--url", URL])
            .args(["--version", "1.2.3", "--release", "4", "--bin"])
            .arg(bin)
            .arg("--out")
            .arg(out)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let path = |ext: &str| {
        let line = text.lines().find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with(ext))
        });
        let line = line.unwrap_or_else(|| panic!("no {ext} in build-packages output:\n{text}"));
        PathBuf::from(line.split_whitespace().next().unwrap_or_default())
    };
    (path(".ipk"), path(".apk"))
}

fn control_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn files_size(root: &Path) -> u64 {
    let mut total = 0;
    for entry in fs::read_dir(root).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            files_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

#[test]
fn ipk_for_every_router_arch_has_opkg_layout_fields_owners_and_modes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (target, arch) in &produced() {
        let arch = arch.as_str();
        let bin = stand_in(tmp.path(), arch);
        let (ipk, _) = build(target, arch, &bin, &tmp.path().join(arch));
        assert_eq!(
            ipk.file_name().and_then(|n| n.to_str()),
            Some(format!("simkeep_1.2.3-4_{arch}.ipk").as_str())
        );
        // Outer: a gzip'd tar, members in ipkg-build's order.
        let listing = stdout(Command::new("tar").arg("-tzf").arg(&ipk));
        assert_eq!(
            listing.lines().collect::<Vec<_>>(),
            ["./debian-binary", "./control.tar.gz", "./data.tar.gz"]
        );
        let x = tmp.path().join(format!("{arch}-ipk"));
        let (ctl, data) = (x.join("control"), x.join("data"));
        for d in [&x, &ctl, &data] {
            fs::create_dir_all(d).expect("mkdir");
        }
        run(Command::new("tar").arg("-xzf").arg(&ipk).arg("-C").arg(&x));
        assert_eq!(
            fs::read_to_string(x.join("debian-binary")).expect("debian-binary"),
            "2.0\n"
        );
        for (tgz, dir) in [("control.tar.gz", &ctl), ("data.tar.gz", &data)] {
            let owners = stdout(
                Command::new("tar")
                    .args(["--numeric-owner", "-tvzf"])
                    .arg(x.join(tgz)),
            );
            for line in owners.lines() {
                assert!(
                    line.split_whitespace().nth(1) == Some("0/0"),
                    "{tgz}: not owned by 0/0: {line}"
                );
            }
            run(Command::new("tar")
                .arg("-xpzf")
                .arg(x.join(tgz))
                .arg("-C")
                .arg(dir));
        }

        let fields = control_fields(&fs::read_to_string(ctl.join("control")).expect("control"));
        assert_eq!(fields.get("Package").map(String::as_str), Some("simkeep"));
        assert_eq!(fields.get("Version").map(String::as_str), Some("1.2.3-4"));
        assert_eq!(fields.get("Architecture").map(String::as_str), Some(arch));
        assert_eq!(
            fields.get("Maintainer").map(String::as_str),
            Some("simkeep developers")
        );
        assert_eq!(
            fields.get("License").map(String::as_str),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(fields.get("URL").map(String::as_str), Some(URL));
        assert!(
            fields.get("Depends").is_some_and(|d| !d.is_empty()),
            "Depends missing"
        );
        assert!(fields.contains_key("Description"));
        assert_eq!(
            fields.get("Installed-Size"),
            Some(&files_size(&data).to_string())
        );
        assert_eq!(
            fs::read_to_string(ctl.join("conffiles")).expect("conffiles"),
            "/etc/simkeep/config.toml\n"
        );
        for (script, call) in [("postinst", "default_postinst"), ("prerm", "default_prerm")] {
            let p = ctl.join(script);
            assert_eq!(mode(&p), 0o755, "{script} mode");
            let text = fs::read_to_string(&p).expect("script");
            assert!(
                text.starts_with("#!/bin/sh\n") && text.contains(call),
                "{script}: {text}"
            );
        }

        for (path, want) in MODES {
            assert_eq!(mode(&data.join(path)), *want, "{arch}: mode of {path}");
        }
        assert_eq!(
            fs::read(data.join("usr/bin/simkeep")).ok(),
            fs::read(&bin).ok(),
            "binary changed"
        );
        let keep = fs::read_to_string(data.join("lib/upgrade/keep.d/simkeep")).expect("keep.d");
        assert!(
            keep.lines().any(|l| l == "/etc/simkeep/simkeep.db"),
            "history not kept: {keep}"
        );
    }
}

#[test]
fn apk_for_every_router_arch_is_a_v2_package_that_apk_tools_3_accepts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (target, arch) in &produced() {
        let arch = arch.as_str();
        let bin = stand_in(tmp.path(), arch);
        let (_, apk) = build(target, arch, &bin, &tmp.path().join(arch));
        assert_eq!(
            apk.file_name().and_then(|n| n.to_str()),
            Some(format!("simkeep-1.2.3-r4_{arch}.apk").as_str())
        );
        let report: serde_json::Value = serde_json::from_str(&stdout(
            Command::new("python3")
                .arg(Path::new(ROOT).join("packaging/tests/inspect_apk.py"))
                .arg(&apk),
        ))
        .expect("inspect_apk.py prints JSON");

        assert_eq!(report["gzip_streams"], 2, "control stream + data stream");
        assert_eq!(report["control_len_multiple_of_512"], true);
        assert_eq!(
            report["control_ends_with_zero_block"], false,
            "control tar must be cut before EOF blocks"
        );
        assert_eq!(report["control_members"][0]["name"], ".PKGINFO");
        let info = &report["pkginfo"];
        assert_eq!(info["pkgname"], "simkeep");
        assert_eq!(info["pkgver"], "1.2.3-r4");
        assert_eq!(info["arch"], arch);
        // apk 3 reads maintainer/url/license (apk-tools src/package.c); `packager` it ignores.
        assert_eq!(info["maintainer"], "simkeep developers");
        assert_eq!(info["url"], URL);
        assert_eq!(info["license"], "MIT OR Apache-2.0");
        assert!(info.get("packager").is_none(), "{info}");
        assert!(info["depend"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(
            info["datahash"], report["data_sha256"],
            "datahash is the data stream's sha256"
        );
        let post = report["scripts"][".post-install"]
            .as_str()
            .unwrap_or_default();
        assert!(
            post.contains("default_postinst") && post.contains("pkgname=\"simkeep\""),
            "{post}"
        );
        assert!(report["scripts"][".pre-deinstall"]
            .as_str()
            .is_some_and(|s| s.contains("default_prerm")));

        let data = report["data"].as_array().expect("data members");
        let mut size = 0;
        for m in data {
            let name = m["name"].as_str().unwrap_or_default();
            assert!(
                !name.starts_with('/') && !name.starts_with("./"),
                "apk paths are relative: {name}"
            );
            assert_eq!(
                (m["uid"].as_u64(), m["gid"].as_u64()),
                (Some(0), Some(0)),
                "{name} owner"
            );
            if m["type"] == "file" {
                assert_eq!(
                    m["pax_sha1"], m["sha1"],
                    "{name}: APK-TOOLS.checksum.SHA1 missing or wrong"
                );
                size += m["size"].as_u64().unwrap_or_default();
            }
        }
        assert_eq!(
            info["size"],
            size.to_string(),
            ".PKGINFO size = sum of file sizes"
        );
        let by_name = |n: &str| {
            data.iter()
                .find(|m| m["name"] == n)
                .unwrap_or_else(|| panic!("{arch}: no {n}"))
        };
        for (path, want) in MODES {
            assert_eq!(
                by_name(path)["mode"].as_u64(),
                Some(u64::from(*want)),
                "{arch}: mode of {path}"
            );
        }
        let list = by_name("lib/apk/packages/simkeep.list")["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            list.lines().any(|l| l == "/etc/init.d/simkeep"),
            "default_postinst finds the init script via {list}"
        );
        let conf = by_name("lib/apk/packages/simkeep.conffiles_static")["text"]
            .as_str()
            .unwrap_or_default();
        assert!(conf.starts_with("/etc/simkeep/config.toml "), "{conf}");

        // Standard tools read the concatenated streams as one tar, and the binary is intact.
        let x = tmp.path().join(format!("{arch}-apk"));
        fs::create_dir_all(&x).expect("mkdir");
        run(Command::new("sh")
            .arg("-c")
            .arg("gzip -dc \"$1\" | tar -x --warning=no-unknown-keyword -C \"$2\"")
            .args(["sh"])
            .arg(&apk)
            .arg(&x));
        assert!(x.join(".PKGINFO").is_file());
        assert_eq!(
            fs::read(x.join("usr/bin/simkeep")).ok(),
            fs::read(&bin).ok(),
            "binary changed"
        );
    }
}

#[test]
fn real_cross_built_binaries_in_dist_package_within_the_2_mib_budget() {
    // Only when cross/build.sh has run here; CI without cross toolchains skips the body.
    let tmp = tempfile::tempdir().expect("tempdir");
    for (target, arch) in &produced() {
        let arch = arch.as_str();
        let bin = Path::new(ROOT).join("dist").join(target).join("simkeep");
        if !bin.is_file() {
            continue;
        }
        let (ipk, apk) = build(target, arch, &bin, &tmp.path().join(arch));
        for p in [&ipk, &apk] {
            let size = fs::metadata(p).expect("package").len();
            assert!(
                size <= 2 * 1024 * 1024,
                "{} is {size} bytes, over 2 MiB",
                p.display()
            );
        }
        let x = tmp.path().join(format!("{arch}-x"));
        fs::create_dir_all(&x).expect("mkdir");
        run(Command::new("sh")
            .arg("-c")
            .arg("tar -xzOf \"$1\" ./data.tar.gz | tar -xz -C \"$2\" ./usr/bin/simkeep")
            .arg("sh")
            .arg(&ipk)
            .arg(&x));
        assert_eq!(
            fs::read(x.join("usr/bin/simkeep")).ok(),
            fs::read(&bin).ok()
        );
    }
}

#[test]
fn packages_are_byte_for_byte_reproducible() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = stand_in(tmp.path(), "mipsel_24kc");
    let (ipk1, apk1) = build("mipsel", "mipsel_24kc", &bin, &tmp.path().join("a"));
    let (ipk2, apk2) = build("mipsel", "mipsel_24kc", &bin, &tmp.path().join("b"));
    assert_eq!(fs::read(ipk1).ok(), fs::read(ipk2).ok());
    assert_eq!(fs::read(apk1).ok(), fs::read(apk2).ok());
}

#[test]
fn build_packages_refuses_bad_input_and_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = stand_in(tmp.path(), "x86_64");
    let script = Path::new(ROOT).join("packaging/build-packages.sh");
    let cases: &[(&[&str], &str)] = &[
        (&["x86_64", "--version", "1.2", "--bin"], "x.y.z"),
        (&["sparc64", "--bin"], "unknown target"),
        (&["x86_64", "--release", "r1", "--bin"], "must be a number"),
        (&["armv7", "--arch", "arm_cortex-a7", "--bin"], "not one a"),
    ];
    for (args, says) in cases {
        let out = Command::new("bash")
            .arg(&script)
            .args(*args)
            .arg(&bin)
            .arg("--out")
            .arg(tmp.path())
            .output();
        let out = out.expect("run build-packages.sh");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{args:?}: {err}"
        );
    }
    let out = Command::new("bash")
        .arg(&script)
        .args(["aarch64", "--bin", "/nonexistent/simkeep"])
        .output();
    let out = out.expect("run build-packages.sh");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cross/build.sh"),
        "should say how to get a binary"
    );
}

/// A fake sysfs with one USB modem: `ifaces` are (number, class, protocol, tty name).
struct FakeModem {
    dir: tempfile::TempDir,
}

impl FakeModem {
    fn new(vid: &str, pid: &str, ifaces: &[(&str, &str, &str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = dir.path().join("sys/devices/platform/usb1/1-1");
        fs::create_dir_all(dir.path().join("sys/class/tty")).expect("mkdir");
        fs::create_dir_all(dir.path().join("dev")).expect("mkdir");
        fs::create_dir_all(&dev).expect("mkdir");
        fs::write(dev.join("idVendor"), format!("{vid}\n")).expect("write");
        fs::write(dev.join("idProduct"), format!("{pid}\n")).expect("write");
        for (num, class, proto, tty) in ifaces {
            let iface = dev.join(format!("1-1:1.{}", num.trim_start_matches('0').max("0")));
            let node = iface.join(tty).join("tty").join(tty);
            fs::create_dir_all(&node).expect("mkdir");
            fs::write(iface.join("bInterfaceNumber"), format!("{num}\n")).expect("write");
            fs::write(iface.join("bInterfaceClass"), format!("{class}\n")).expect("write");
            fs::write(iface.join("bInterfaceProtocol"), format!("{proto}\n")).expect("write");
            std::os::unix::fs::symlink(&node, dir.path().join("sys/class/tty").join(tty))
                .expect("symlink");
            fs::write(dir.path().join("dev").join(tty), "").expect("write");
        }
        FakeModem { dir }
    }

    fn devpath(&self, tty: &str) -> String {
        let class = self.dir.path().join("sys/class/tty").join(tty);
        let real = fs::read_link(class).expect("readlink");
        let sys = self.dir.path().join("sys");
        format!("/{}", real.strip_prefix(&sys).expect("under sys").display())
    }

    /// Runs simkeep-port with busybox's ash when present (OpenWrt's shell), else sh.
    fn port(&self, args: &[&str]) {
        let script = Path::new(ROOT).join("packaging/openwrt/files/simkeep-port");
        let busybox = Command::new("busybox")
            .arg("true")
            .output()
            .is_ok_and(|o| o.status.success());
        let mut cmd = if busybox {
            Command::new("busybox")
        } else {
            Command::new("sh")
        };
        if busybox {
            cmd.arg("sh");
        }
        run(cmd
            .arg(script)
            .args(args)
            .env("SIMKEEP_SYSFS", self.dir.path().join("sys"))
            .env("SIMKEEP_DEV", self.dir.path().join("dev"))
            .env("SIMKEEP_LINK_DIR", self.dir.path().join("run"))
            .env("SIMKEEP_EXTRA_IDS", self.dir.path().join("usb-ids")));
    }

    fn link(&self) -> Option<String> {
        let target = fs::read_link(self.dir.path().join("run/modem")).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }
}

const QUECTEL_EC25: &[(&str, &str, &str, &str)] = &[
    ("00", "ff", "ff", "ttyUSB0"),
    ("01", "ff", "00", "ttyUSB1"),
    ("02", "ff", "00", "ttyUSB2"),
    ("03", "ff", "00", "ttyUSB3"),
];

#[test]
fn hotplug_links_the_quectel_at_interface_and_ignores_diag_and_gps() {
    let m = FakeModem::new("2c7c", "0125", QUECTEL_EC25);
    for tty in ["ttyUSB0", "ttyUSB1", "ttyUSB3"] {
        m.port(&["add", tty, &m.devpath(tty)]);
        assert_eq!(
            m.link(),
            None,
            "{tty} is not the EC25's AT port (interface 2)"
        );
    }
    m.port(&["add", "ttyUSB2", &m.devpath("ttyUSB2")]);
    assert_eq!(m.link().as_deref(), Some("ttyUSB2"));
    // Removing another port leaves the link; removing the AT port drops it.
    m.port(&["remove", "ttyUSB0", &m.devpath("ttyUSB0")]);
    assert_eq!(m.link().as_deref(), Some("ttyUSB2"));
    m.port(&["remove", "ttyUSB2", &m.devpath("ttyUSB2")]);
    assert_eq!(m.link(), None);
}

#[test]
fn hotplug_scan_finds_a_modem_that_was_there_before_boot() {
    let m = FakeModem::new(
        "1e0e",
        "9001",
        &[("01", "ff", "00", "ttyUSB1"), ("02", "ff", "00", "ttyUSB2")],
    );
    m.port(&["scan"]);
    assert_eq!(
        m.link().as_deref(),
        Some("ttyUSB2"),
        "SIMCom SIM7600 AT port is interface 2"
    );
}

#[test]
fn hotplug_finds_huawei_pcui_by_protocol_whatever_its_interface_number() {
    let m = FakeModem::new(
        "12d1",
        "15c1",
        &[("00", "ff", "10", "ttyUSB0"), ("03", "ff", "12", "ttyUSB1")],
    );
    m.port(&["scan"]);
    assert_eq!(
        m.link().as_deref(),
        Some("ttyUSB1"),
        "protocol 0x12 is PCUI"
    );
}

#[test]
fn hotplug_leaves_unknown_modems_alone_unless_the_owner_lists_them() {
    let m = FakeModem::new("2c7c", "0620", &[("02", "ff", "00", "ttyUSB2")]);
    m.port(&["scan"]);
    assert_eq!(m.link(), None);
    fs::write(
        m.dir.path().join("usb-ids"),
        "# mine\n2c7c:0620:02 Quectel EM160R\n",
    )
    .expect("write");
    m.port(&["scan"]);
    assert_eq!(m.link().as_deref(), Some("ttyUSB2"));
}

#[test]
fn shell_scripts_parse() {
    let files = Path::new(ROOT).join("packaging/openwrt/files");
    for f in ["simkeep.init", "simkeep-port", "30-simkeep"] {
        run(Command::new("sh").arg("-n").arg(files.join(f)));
    }
    for f in [
        "cross/build.sh",
        "cross/size-report.sh",
        "packaging/build-packages.sh",
    ] {
        run(Command::new("bash").arg("-n").arg(Path::new(ROOT).join(f)));
    }
    let init = fs::read_to_string(files.join("simkeep.init")).expect("init");
    assert!(init.starts_with("#!/bin/sh /etc/rc.common\n"));
    for needle in [
        "USE_PROCD=1",
        "procd_set_param command \"$PROG\" run --config \"$CONFIG\"",
        "procd_set_param respawn",
        "procd_set_param file \"$CONFIG\"",
        "procd_set_param stdout 1",
        "procd_set_param stderr 1",
        "check-config --config \"$CONFIG\"",
        "procd_send_signal simkeep '*' HUP",
    ] {
        assert!(init.contains(needle), "init script lacks {needle}");
    }
}

#[test]
fn the_shipped_config_passes_simkeep_check_config() {
    let config = Path::new(ROOT).join("packaging/openwrt/files/config.toml");
    let out = run(Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .arg("check-config")
        .arg("--config")
        .arg(&config));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    // Every key it documents (commented out) is one simkeep knows: uncommented, the config may
    // be rejected for its example values, but never for an unknown key.
    let uncommented: String = fs::read_to_string(&config)
        .expect("config")
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest)
                if rest.starts_with('[')
                    || rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => l,
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all-keys.toml");
    fs::write(&all, &uncommented).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .arg("check-config")
        .arg("--config")
        .arg(&all)
        .output();
    let out = out.expect("run simkeep");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("unknown field") && !said.contains("unknown key"),
        "the shipped config documents a key simkeep rejects: {said}"
    );
    assert!(
        uncommented.contains("\n[usage.carrier]\n") && uncommented.contains("\nquota = "),
        "{uncommented}"
    );
    // And it keeps the hotplug link as the port, which a user may override.
    let text = fs::read_to_string(&config).expect("config");
    assert!(text
        .lines()
        .any(|l| l == "port = \"/var/run/simkeep/modem\""));
}

#[test]
fn every_label_packaged_is_an_openwrt_label_its_binary_runs_on_and_none_is_left_out() {
    for target in TARGETS {
        let made = labels(target);
        assert!(!made.is_empty(), "{target}: no labels");
        for label in &made {
            assert!(
                OPENWRT.iter().any(|(_, l)| l == label),
                "{target}: {label} is no OpenWrt target's package arch"
            );
            assert!(
                runs_on(target, label),
                "{target}: packaged as {label}, whose CPUs may lack what it needs"
            );
        }
        for (board, label) in OPENWRT {
            if runs_on(target, label) {
                assert!(
                    made.iter().any(|l| l == label),
                    "{target} runs on {board} ({label}) but is not packaged for it"
                );
            }
        }
    }
    // The issue's list, less arm_cortex-a7 (mt7629: soft-float label, kernel without VFP).
    let all: Vec<String> = produced().into_iter().map(|(_, l)| l).collect();
    for want in [
        "aarch64_generic",
        "aarch64_cortex-a53",
        "aarch64_cortex-a72",
        "aarch64_cortex-a76",
        "arm_cortex-a7_neon-vfpv4",
        "arm_cortex-a9_vfpv3-d16",
        "arm_cortex-a15_neon-vfpv4",
        "mipsel_24kc",
        "mips_24kc",
        "x86_64",
    ] {
        assert!(all.iter().any(|l| l == want), "no {want} package");
    }
    assert!(!all.iter().any(|l| l == "arm_cortex-a7"));
}

#[test]
fn one_build_packages_the_same_binary_under_every_label() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = stand_in(tmp.path(), "aarch64");
    let text = stdout(
        Command::new("bash")
            .arg(Path::new(ROOT).join("packaging/build-packages.sh"))
            .args(["aarch64", "--version", "1.2.3", "--bin"])
            .arg(&bin)
            .arg("--out")
            .arg(tmp.path()),
    );
    let made: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let labels = labels("aarch64");
    assert_eq!(made.len(), 2 * labels.len(), "{text}");
    for label in &labels {
        for suffix in [format!("_{label}.ipk"), format!("_{label}.apk")] {
            assert!(made.iter().any(|p| p.ends_with(&suffix)), "no *{suffix}");
        }
    }
}

/// The rows `| \`board/subtarget\` | \`label\` | ... |` of a markdown file.
fn readme_table(path: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let target = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let label = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            // An OpenWrt target/subtarget and an arch label: `ramips/mt7621` | `mipsel_24kc`
            // (not an API path such as `GET /api/v1/…` in another table).
            let is_target = target.contains('/') && !target.contains(' ');
            let is_label = label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            (is_target && is_label).then(|| (target.to_string(), label.to_string()))
        })
        .collect()
}

#[test]
fn readme_install_table_matches_openwrt_and_names_the_unsupported_targets() {
    let all: Vec<String> = produced().into_iter().map(|(_, l)| l).collect();
    let want: Vec<(String, String)> = OPENWRT
        .iter()
        .filter(|(_, l)| all.iter().any(|a| a == l))
        .map(|(b, l)| (b.to_string(), l.to_string()))
        .collect();
    for file in ["README.md", "packaging/README-openwrt.md"] {
        let path = Path::new(ROOT).join(file);
        assert_eq!(readme_table(&path), want, "{file}: install table");
        let text = fs::read_to_string(&path).expect("readme");
        for (board, label) in OPENWRT.iter().filter(|(_, l)| !all.iter().any(|a| a == l)) {
            assert!(
                text.contains(&format!("Not supported: `{board}` (`{label}`)")),
                "{file} does not say {board} is unsupported"
            );
        }
    }
    // packaging/README-openwrt.md is README.md's install section, word for word.
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let start = readme
        .find("## Install on OpenWrt")
        .expect("install section");
    let end = readme
        .find("### Building the packages")
        .expect("building section");
    let copy = fs::read_to_string(Path::new(ROOT).join("packaging/README-openwrt.md"))
        .expect("README-openwrt");
    assert_eq!(readme[start..end].trim_end(), copy.trim_end());
}

#[test]
fn mt7629_is_not_called_a_neon_vfpv4_router_anywhere() {
    for file in [
        "README.md",
        "cross/README.md",
        "packaging/README-openwrt.md",
        "packaging/build-packages.sh",
    ] {
        let text = fs::read_to_string(Path::new(ROOT).join(file)).expect("read");
        for line in text.lines().filter(|l| l.contains("mt7629")) {
            assert!(
                !line.contains("arm_cortex-a7_neon-vfpv4") || line.contains("not for mt7629"),
                "{file}: {line}"
            );
        }
    }
}

fn cargo_version() -> String {
    let cargo = fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).expect("Cargo.toml");
    let line = cargo.lines().find(|l| l.starts_with("version"));
    let line = line.expect("Cargo.toml [package] version");
    line.split('"').nth(1).expect("quoted version").to_string()
}

#[test]
fn sdk_makefile_version_is_cargo_toml_version() {
    let mk = fs::read_to_string(Path::new(ROOT).join("packaging/openwrt/Makefile")).expect("mk");
    let pkg_version = mk.lines().find_map(|l| l.strip_prefix("PKG_VERSION:="));
    assert_eq!(
        pkg_version,
        Some(cargo_version().as_str()),
        "packaging/openwrt/Makefile and Cargo.toml disagree: bump both"
    );
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        cargo_version(),
        "the version parse"
    );
}

#[test]
fn build_packages_refuses_when_the_sdk_makefile_version_differs() {
    // A copy of the repo's packaging/ with a Cargo.toml one version ahead.
    let tmp = tempfile::tempdir().expect("tempdir");
    run(Command::new("cp")
        .arg("-r")
        .arg(Path::new(ROOT).join("packaging"))
        .arg(tmp.path()));
    fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"simkeep\"\nversion = \"9.9.9\"\n",
    )
    .expect("write");
    let bin = stand_in(tmp.path(), "x86_64");
    let out = Command::new("bash")
        .arg(tmp.path().join("packaging/build-packages.sh"))
        .arg("x86_64")
        .arg("--bin")
        .arg(&bin)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output();
    let out = out.expect("run build-packages.sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("PKG_VERSION") && err.contains("9.9.9"),
        "{err}"
    );
}
