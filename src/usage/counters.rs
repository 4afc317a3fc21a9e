//! Local byte counters: the kernel's interface statistics and the modem's own counters
//! (Quectel `+QGDCNT`, Huawei `^DSFLOWQRY`), and a tracker that turns successive raw readings
//! into an accumulated byte count that survives counter resets and 32-bit wraps.
//!
//! Must not: talk to the modem (the AT layer sends the command and hands us the reply text), or
//! do any I/O other than `read_iface_counters`, which reads two small sysfs files.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bytes received and sent as one reading of a counter pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Traffic {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// One reading of a network interface's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceCounters {
    pub traffic: Traffic,
    /// The interface's ifindex when readable: a new value means the interface was re-created,
    /// so its counters restarted from zero whatever their values say.
    pub ifindex: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("interface name {name:?} is not valid: use the name `ip link` shows, e.g. wwan0 (usage.interface)")]
    BadInterface { name: String },
    #[error("cannot read {path}: {source}; is the interface up and usage.interface / usage.sysfs_root right?")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds {text:?}, not a byte count")]
    Parse { path: PathBuf, text: String },
}

/// Reads `<sysfs_root>/<iface>/statistics/{rx,tx}_bytes` (and `ifindex` if present).
/// `sysfs_root` is `/sys/class/net` on a router; tests point it at a temporary directory.
pub fn read_iface_counters(sysfs_root: &Path, iface: &str) -> Result<IfaceCounters, CounterError> {
    // IFNAMSIZ is 16 including the NUL (linux/if.h); '/' or a dot-name would escape the root.
    let valid = !iface.is_empty()
        && iface.len() < 16
        && iface != "."
        && iface != ".."
        && !iface.contains(['/', '\0'])
        && !iface.chars().any(char::is_whitespace);
    if !valid {
        return Err(CounterError::BadInterface {
            name: iface.to_owned(),
        });
    }
    let dir = sysfs_root.join(iface);
    let rx_bytes = read_number(&dir.join("statistics").join("rx_bytes"))?;
    let tx_bytes = read_number(&dir.join("statistics").join("tx_bytes"))?;
    let ifindex = read_number(&dir.join("ifindex")).ok();
    Ok(IfaceCounters {
        traffic: Traffic { rx_bytes, tx_bytes },
        ifindex,
    })
}

fn read_number(path: &Path) -> Result<u64, CounterError> {
    let text = std::fs::read_to_string(path).map_err(|source| CounterError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.trim().parse::<u64>().map_err(|_| CounterError::Parse {
        path: path.to_owned(),
        text: text.chars().take(40).collect(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModemCounterError {
    #[error("modem counter reply {reply:?} is not {expected}: {reason}")]
    Malformed {
        reply: String,
        expected: &'static str,
        reason: &'static str,
    },
}

/// Parses a Quectel `AT+QGDCNT?` answer: `+QGDCNT: <bytes_sent>,<bytes_recv>` (Quectel EC2x
/// AT Commands Manual, AT+QGDCNT; sent first, as public EM12 field notes confirm: "Fields:
/// tx_bytes, rx_bytes"). The reply may include the echo and `OK` around the line. Some scripts
/// read the order the other way round; `+QGDNRCNT` (5G) is a different command, not parsed here.
pub fn parse_qgdcnt(reply: &str) -> Result<Traffic, ModemCounterError> {
    const EXPECTED: &str = "+QGDCNT: <sent>,<received>";
    let fields = fields_after(reply, "+QGDCNT:")
        .ok_or_else(|| malformed(reply, EXPECTED, "no +QGDCNT: line"))?;
    let [sent, recv] = fields.as_slice() else {
        return Err(malformed(reply, EXPECTED, "expected two numbers"));
    };
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| malformed(reply, EXPECTED, "a field is not a decimal number"))
    };
    Ok(Traffic {
        tx_bytes: num(sent)?,
        rx_bytes: num(recv)?,
    })
}

/// A Huawei `AT^DSFLOWQRY` answer. All fields are fixed-length upper-case hexadecimal ("HUAWEI
/// UMTS M2M Module V100R001 AT Command Interface Specification" issue 18, §9.3 DSFLOWQRY):
/// `last_*` cover the current (or last) connection, `total_*` everything since the counters
/// were last cleared (§9.2 DSFLOWCLR). We also accept lower case and unpadded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsFlow {
    pub last_ds_secs: u64,
    pub last: Traffic,
    pub total_ds_secs: u64,
    pub total: Traffic,
}

/// Parses `^DSFLOWQRY: <last_ds_time>,<last_tx_flow>,<last_rx_flow>,<total_ds_time>,
/// <total_tx_flow>,<total_rx_flow>`; the values may follow the colon on the next line.
pub fn parse_dsflowqry(reply: &str) -> Result<DsFlow, ModemCounterError> {
    const EXPECTED: &str = "^DSFLOWQRY: six hex fields";
    let fields = fields_after(reply, "^DSFLOWQRY:")
        .ok_or_else(|| malformed(reply, EXPECTED, "no ^DSFLOWQRY: line"))?;
    let [last_time, last_tx, last_rx, total_time, total_tx, total_rx] = fields.as_slice() else {
        return Err(malformed(reply, EXPECTED, "expected six fields"));
    };
    let hex = |s: &str| {
        if s.is_empty() || s.len() > 16 {
            return Err(malformed(reply, EXPECTED, "a field is not 1-16 hex digits"));
        }
        u64::from_str_radix(s, 16)
            .map_err(|_| malformed(reply, EXPECTED, "a field is not hexadecimal"))
    };
    Ok(DsFlow {
        last_ds_secs: hex(last_time)?,
        last: Traffic {
            tx_bytes: hex(last_tx)?,
            rx_bytes: hex(last_rx)?,
        },
        total_ds_secs: hex(total_time)?,
        total: Traffic {
            tx_bytes: hex(total_tx)?,
            rx_bytes: hex(total_rx)?,
        },
    })
}

/// The comma-separated fields after `prefix`, skipping whitespace (including a line break) after
/// it and stopping at the end of that line.
fn fields_after<'a>(reply: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let start = reply.find(prefix)? + prefix.len();
    let rest = reply.get(start..)?.trim_start();
    let line = rest.split(['\r', '\n']).next().unwrap_or("");
    Some(line.split(',').map(str::trim).collect())
}

fn malformed(reply: &str, expected: &'static str, reason: &'static str) -> ModemCounterError {
    ModemCounterError::Malformed {
        reply: reply.escape_debug().take(120).collect(),
        expected,
        reason,
    }
}

/// Fastest plausible traffic on one counter: 300 MB/s (2.4 Gbit/s, the peak downlink of the
/// fastest 5G router modules such as Quectel RM520N-GL). Used only to judge counter wraps.
pub const MAX_BYTES_PER_SEC: u64 = 300_000_000;

/// What one observation did to the accumulated count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// First reading (or first after a re-baseline): nothing counted.
    Baseline,
    /// The counter grew by this much.
    Delta(u64),
    /// A 32-bit counter passed 2^32 and restarted; this much was counted across the wrap.
    Wrapped(u64),
    /// The counter restarted (interface re-created, modem rebooted, counters cleared); its new
    /// value is what was used since.
    Reset(u64),
}

impl Step {
    pub fn bytes(self) -> u64 {
        match self {
            Step::Baseline => 0,
            Step::Delta(b) | Step::Wrapped(b) | Step::Reset(b) => b,
        }
    }
}

/// Turns raw readings of one monotonically growing counter into an accumulated total.
///
/// When a reading is lower than the previous one, the counter either wrapped (a 32-bit
/// counter: `unsigned long` statistics on 32-bit kernels and drivers without
/// `ndo_get_stats64`, or modem firmware with 32-bit fields) or restarted. We call it a wrap only
/// if all of these hold, otherwise a restart:
/// 1. the counter has never been seen above 2^32 − 1 (a 64-bit counter never wraps in
///    practice: 2^64 bytes is 58 years at 10 GB/s);
/// 2. the bytes implied by a wrap, 2^32 − previous + new, are under 2^31 — the serial-number
///    rule of RFC 1982 §3.2: a step of half the range or more is not read as "forward";
/// 3. and they are possible at `MAX_BYTES_PER_SEC` in the time since the previous reading.
///
/// A restart then counts the new value from 0. The two cases are only confused when a counter
/// restarts right after being near 2^32, and then the error is at most the 2^32 − previous
/// bytes a wrap would add. Callers that know better (the ifindex changed, the modem printed
/// `RDY`) pass a new `generation`, which forces a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterTracker {
    last_raw: Option<u64>,
    last_at: Option<i64>,
    /// Set once a reading above u32::MAX was seen: this counter is 64-bit.
    wide: bool,
    total: u64,
}

impl CounterTracker {
    pub fn new() -> CounterTracker {
        CounterTracker::default()
    }

    /// Bytes accumulated since this tracker was created.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Forgets the previous reading: the next one is a new baseline (e.g. after switching the
    /// counted interface).
    pub fn rebaseline(&mut self) {
        self.last_raw = None;
    }

    /// Feeds one raw reading taken at `now` (unix seconds); `restarted` forces a restart (the
    /// caller knows the counter was reset).
    pub fn observe(&mut self, raw: u64, now: i64, restarted: bool) -> Step {
        let step = match self.last_raw {
            None => Step::Baseline,
            Some(_) if restarted => Step::Reset(raw),
            Some(prev) if raw >= prev => Step::Delta(raw - prev),
            Some(prev) => self.classify_drop(prev, raw, now),
        };
        if raw > u64::from(u32::MAX) {
            self.wide = true;
        }
        self.total = self.total.saturating_add(step.bytes());
        self.last_raw = Some(raw);
        self.last_at = Some(now);
        step
    }

    fn classify_drop(&self, prev: u64, raw: u64, now: i64) -> Step {
        let range = 1u64 << 32;
        if self.wide || prev >= range {
            return Step::Reset(raw);
        }
        let wrapped = (range - prev).saturating_add(raw);
        let elapsed = self.last_at.map_or(1, |t| now.saturating_sub(t)).max(1);
        let possible = MAX_BYTES_PER_SEC.saturating_mul(u64::try_from(elapsed).unwrap_or(1));
        if wrapped < (1u64 << 31) && wrapped <= possible {
            Step::Wrapped(wrapped)
        } else {
            Step::Reset(raw)
        }
    }
}

/// Trackers for a receive/transmit pair plus the counter's generation (ifindex, modem boot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTracker {
    rx: CounterTracker,
    tx: CounterTracker,
    generation: Option<u64>,
}

impl TrafficTracker {
    pub fn new() -> TrafficTracker {
        TrafficTracker::default()
    }

    /// Feeds one reading; returns the bytes (rx + tx) it added. A `generation` different from the
    /// previous one (None = unknown, never a change) means both counters restarted.
    pub fn observe(&mut self, traffic: Traffic, generation: Option<u64>, now: i64) -> u64 {
        let restarted = matches!((self.generation, generation), (Some(a), Some(b)) if a != b);
        if generation.is_some() {
            self.generation = generation;
        }
        let rx = self.rx.observe(traffic.rx_bytes, now, restarted);
        let tx = self.tx.observe(traffic.tx_bytes, now, restarted);
        rx.bytes().saturating_add(tx.bytes())
    }

    /// Bytes (rx + tx) accumulated since creation.
    pub fn total(&self) -> u64 {
        self.rx.total().saturating_add(self.tx.total())
    }

    /// See `CounterTracker::rebaseline`.
    pub fn rebaseline(&mut self) {
        self.rx.rebaseline();
        self.tx.rebaseline();
    }
}

#[cfg(test)]
#[path = "counters_tests.rs"]
mod tests;
