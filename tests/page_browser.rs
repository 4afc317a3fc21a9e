//! The status page in a real browser: Debian's headless Chromium loads `GET /` from the agent
//! running on the modem simulator, lets the page's script fetch and draw, and the test reads the
//! rendered DOM at phone (390 px) and laptop (1280 px) widths. Then the simulator is driven to a
//! weak signal and the line to almost no data, and the page must say so; then the modem is
//! unplugged and the page must grey its readings and say how old they are. Screenshots of each
//! state are kept under `target/page-screens/` for a person to look at.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`). With `SIMKEEP_BROWSER_TESTS=1` (CI) a
//! missing browser fails the test; without it the test runs when a browser is there and says it
//! was skipped when not.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::{Fault, Personality};
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An SMS whose text is markup: the page must show it as text.
const HOSTILE_SMS: &str = "Bonus <b>1 GB</b> <img src=x onerror=alert(1)> & more";

fn browser() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The browser, or `None` after saying why the test is skipped; panics when CI asked for it.
fn browser_or_skip() -> Option<PathBuf> {
    let required = std::env::var("SIMKEEP_BROWSER_TESTS").is_ok_and(|v| v == "1");
    match browser() {
        Some(b) => Some(b),
        None if required => panic!(
            "SIMKEEP_BROWSER_TESTS=1 but no Chromium at /usr/bin/chromium: \
             run `apt-get install chromium` (Debian) and try again"
        ),
        None => {
            eprintln!(
                "page_browser: skipped, no Chromium (apt-get install chromium; \
                 SIMKEEP_BROWSER_TESTS=1 makes this a failure)"
            );
            None
        }
    }
}

fn screens_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("page-screens");
    std::fs::create_dir_all(&dir).expect("create target/page-screens");
    dir
}

struct Browser {
    exe: PathBuf,
    profile: PathBuf,
}

impl Browser {
    /// Runs headless Chromium once with a fresh profile per run (no state between runs, so the
    /// token only comes from the URL given). Virtual time lets the page's fetches and timers
    /// run before the DOM is dumped or the picture taken.
    fn run(&self, width: u32, height: u32, url: &str, mode: &str) -> String {
        let profile = tempfile::tempdir_in(&self.profile).expect("profile dir");
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                &format!("--user-data-dir={}", profile.path().display()),
                &format!("--window-size={width},{height}"),
                "--virtual-time-budget=5000",
                mode,
                url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The fragment may hold the API token: keep it out of the message.
                    let shown = url.split('#').next().unwrap_or(url);
                    panic!("chromium did not finish {mode} {shown} within 90 s");
                }
            }
        }
        reader.join().unwrap_or_default()
    }

    fn dom(&self, width: u32, url: &str) -> String {
        let dom = self.run(width, 900, url, "--dump-dom");
        assert!(
            dom.contains("id=\"hd\""),
            "no page in chromium's DOM: {dom}"
        );
        dom
    }

    fn screenshot(&self, width: u32, height: u32, url: &str, name: &str) -> PathBuf {
        let path = screens_dir().join(name);
        let _ = std::fs::remove_file(&path);
        self.run(
            width,
            height,
            url,
            &format!("--screenshot={}", path.display()),
        );
        let png = std::fs::read(&path).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "no screenshot at {}",
            path.display()
        );
        path
    }
}

/// The text inside the element with this id (its first text run; the ids the test reads hold
/// plain text). `None` when the element is not in the DOM.
fn text_of(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let open_end = at + dom[at..].find('>')? + 1;
    let rest = &dom[open_end..];
    // Chromium writes U+00A0 as `&nbsp;`; the page uses it to keep numbers with their units.
    Some(rest[..rest.find('<').unwrap_or(rest.len())].replace("&nbsp;", " "))
}

/// The opening tag of the element with this id (to read its class and hidden attribute).
fn tag_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom.find(&format!("id=\"{id}\"")).expect(id);
    let start = dom[..at].rfind('<').expect("tag start");
    &dom[start..at + dom[at..].find('>').expect("tag end")]
}

async fn status(addr: SocketAddr) -> Value {
    get(addr, "/api/v1/status", None).await
}

/// One GET on its own connection; the body as JSON, or Null.
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Value {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return Value::Null;
    };
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let _ = s
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes())
        .await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

async fn wait_status(addr: SocketAddr, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = status(addr).await;
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed {what}; last: {v}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn write_counters(root: &Path, rx: u64, tx: u64) {
    let dir = root.join("wwan0/statistics");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rx_bytes"), format!("{rx}\n")).unwrap();
    std::fs::write(dir.join("tx_bytes"), format!("{tx}\n")).unwrap();
}

/// A blocking browser run off the runtime's thread: the agent serves the page meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("browser task")
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_shows_signal_operator_and_data_then_the_warning_in_a_real_browser() {
    let Some(exe) = browser_or_skip() else {
        return;
    };
    let rig = Rig::new(Personality::QuectelEc25);
    for (k, v) in [
        ("rsrp", "-97"),
        ("operator", "SoftBank"),
        ("balance_mb", "700"),
    ] {
        rig.sim.set(k, v).unwrap();
    }
    let dir = rig.dir.path().to_path_buf();
    let sys = dir.join("sys");
    write_counters(&sys, 1_000, 2_000);
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg_path = dir.join("config.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
             [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\ntoken_file = \"{tok}\"\n\
             [usage]\ninterface = \"wwan0\"\nsysfs_root = \"{sys}\"\nquota = \"1GB\"\nunit_base = 1000\n\
             timezone = \"UTC\"\n[usage.carrier]\nussd = \"*100#\"\ninterval = \"1h\"\n",
            port = rig.link().display(),
            lock = rig.lock_dir().display(),
            db = dir.join("simkeep.db").display(),
            tok = dir.join("api-token").display(),
            sys = sys.display(),
        ),
    )
    .unwrap();
    let agent = support::run_agent(Config::load(&cfg_path).expect("test config")).await;
    let addr = agent.addr;
    let token = std::fs::read_to_string(dir.join("api-token"))
        .expect("the agent wrote its token")
        .trim()
        .to_string();
    rig.sim
        .set("deliver_sms", &format!("+818012345678|{HOSTILE_SMS}"))
        .unwrap();
    wait_status(addr, "the carrier's 700 MB and a signal reading", |v| {
        v["usage"]["remaining_bytes"] == 700_000_000u64
            && v["last_poll"]["signal"]["rsrp_dbm"] == -97.0
    })
    .await;
    // The inbox stores the message; the page reads it back through the API.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(addr, "/api/v1/sms?limit=1", Some(&token)).await[0]["text"] != HOSTILE_SMS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SMS was never stored"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    let b = std::sync::Arc::new(Browser {
        exe,
        profile: dir.clone(),
    });
    let page = format!("http://{addr}/");
    let with_token = format!("http://{addr}/#token={token}");

    // --- all well: phone width, with the token given once through the link ---
    let dom = blocking({
        let (b, u) = (b.clone(), with_token.clone());
        move || b.dom(390, &u)
    })
    .await;
    let nums = text_of(&dom, "sig-nums").unwrap_or_default();
    assert!(nums.contains("RSRP -97 dBm"), "signal figures: {nums:?}");
    assert_eq!(text_of(&dom, "sig-word").as_deref(), Some("Fair"));
    assert_eq!(text_of(&dom, "sig-op").as_deref(), Some("SoftBank"));
    let net = text_of(&dom, "sig-net").unwrap_or_default();
    assert!(net.contains("home network"), "network words: {net:?}");
    let left = text_of(&dom, "d-left").unwrap_or_default();
    assert!(
        left.contains("700 MB") && left.contains("of 1"),
        "data left: {left:?}"
    );
    assert_eq!(text_of(&dom, "g-pct").as_deref(), Some("70%"));
    assert!(
        tag_of(&dom, "hd").contains("class=\"ok\""),
        "header: {}",
        tag_of(&dom, "hd")
    );
    let sim = text_of(&dom, "dv-sim").unwrap_or_default();
    assert!(sim.starts_with("SIM ready · ICCID "), "SIM line: {sim:?}");
    // The SMS is text, not markup, and the token was taken from the link and used.
    assert!(
        !tag_of(&dom, "sms-body").contains("hidden"),
        "last SMS not shown: {}",
        text_of(&dom, "tok-note").unwrap_or_default()
    );
    let shown = text_of(&dom, "sms-text").unwrap_or_default();
    assert_eq!(
        shown,
        "Bonus &lt;b&gt;1 GB&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt; &amp; more"
    );
    assert!(!dom.contains("<img src=\"x\""), "the SMS became markup");
    assert!(text_of(&dom, "asof").is_some_and(|t| t.starts_with("as of ")));
    // The signal history drew a line (the polls so far), and the chart is not the empty note.
    assert!(
        dom.contains("<path class=\"line\""),
        "no signal line in the chart"
    );
    assert!(tag_of(&dom, "sc-empty").contains("hidden"));

    // --- a wrong token: the page asks again instead of showing the message ---
    let dom = blocking({
        let u = format!("http://{addr}/#token=not-the-token");
        let b = b.clone();
        move || b.dom(390, &u)
    })
    .await;
    assert!(!tag_of(&dom, "tok").contains("hidden"), "no token form");
    assert!(tag_of(&dom, "sms-body").contains("hidden"));
    assert!(text_of(&dom, "tok-note").is_some_and(|t| t.contains("refused")));

    // The laptop layout renders the same figures.
    let wide = blocking({
        let (b, u) = (b.clone(), page.clone());
        move || b.dom(1280, &u)
    })
    .await;
    assert_eq!(text_of(&wide, "sig-op").as_deref(), Some("SoftBank"));
    assert!(text_of(&wide, "d-left").is_some_and(|t| t.contains("700 MB")));
    let shots = [
        blocking({
            let (b, u) = (b.clone(), with_token.clone());
            move || b.screenshot(390, 1900, &u, "ok-390.png")
        })
        .await,
        blocking({
            let (b, u) = (b.clone(), with_token.clone());
            move || b.screenshot(1280, 1000, &u, "ok-1280.png")
        })
        .await,
    ];

    // --- weak signal and almost no data left ---
    rig.sim.set("rsrp", "-118").unwrap();
    // 660 MB through the interface since the carrier said 700 MB: 40 MB left, 4 % of the plan.
    write_counters(&sys, 1_000 + 400_000_000, 2_000 + 260_000_000);
    wait_status(addr, "weak signal and 40 MB left", |v| {
        v["usage"]["remaining_bytes"] == 40_000_000u64
            && v["last_poll"]["signal"]["rsrp_dbm"] == -118.0
    })
    .await;
    let v = wait_status(addr, "something that needs attention", |v| {
        v["attention"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    for width in [390, 1280] {
        let dom = blocking({
            let (b, u) = (b.clone(), page.clone());
            move || b.dom(width, &u)
        })
        .await;
        let header = tag_of(&dom, "hd");
        assert!(
            header.contains("class=\"warning\"") || header.contains("class=\"critical\""),
            "at {width} px the header is not a warning: {header}; status: {v}"
        );
        assert!(
            dom.contains("<ul id=\"att\""),
            "attention list missing at {width} px"
        );
        let items = dom.split("<ul id=\"att\"").nth(1).unwrap_or("");
        let items = &items[..items.find("</ul>").unwrap_or(0)];
        assert!(
            items.contains("<li"),
            "no attention sentence at {width} px: {items}"
        );
        assert_eq!(text_of(&dom, "sig-word").as_deref(), Some("Poor"));
        let nums = text_of(&dom, "sig-nums").unwrap_or_default();
        assert!(nums.contains("RSRP -118 dBm"), "{nums:?}");
        assert!(text_of(&dom, "d-left").is_some_and(|t| t.contains("40 MB")));
        assert_eq!(text_of(&dom, "g-pct").as_deref(), Some("4%"));
        // The 660 MB went through the interface today: the daily chart has it.
        let daily = text_of(&dom, "uc-note").unwrap_or_default();
        assert!(daily.contains("660 MB"), "daily usage note: {daily:?}");
        assert!(
            tag_of(&dom, "c-data").contains("g-warning")
                || tag_of(&dom, "c-data").contains("g-critical")
        );
    }
    let shots_warn = [
        blocking({
            let (b, u) = (b.clone(), with_token.clone());
            move || b.screenshot(390, 1900, &u, "warning-390.png")
        })
        .await,
        blocking({
            let (b, u) = (b.clone(), with_token.clone());
            move || b.screenshot(1280, 1000, &u, "warning-1280.png")
        })
        .await,
    ];

    // --- the modem goes away: the readings stay, greyed, with their time ---
    rig.sim.fault(Fault::Unplug(Duration::from_secs(30)));
    wait_status(addr, "stale readings", |v| v["stale"] == true).await;
    let dom = blocking({
        let (b, u) = (b.clone(), page.clone());
        move || b.dom(390, &u)
    })
    .await;
    assert!(
        tag_of(&dom, "c-signal").contains("stale"),
        "signal not greyed: {}",
        tag_of(&dom, "c-signal")
    );
    assert!(text_of(&dom, "sig-asof").is_some_and(|t| t.starts_with("as of ")));
    assert!(text_of(&dom, "sig-nums").is_some_and(|t| t.contains("RSRP -118 dBm")));
    let stale_shot = blocking({
        let (b, u) = (b.clone(), page.clone());
        move || b.screenshot(390, 1900, &u, "stale-390.png")
    })
    .await;
    for s in shots.iter().chain(&shots_warn).chain([&stale_shot]) {
        eprintln!("page_browser: screenshot {}", s.display());
    }
    agent.stop().await;
}
