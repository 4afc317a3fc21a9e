//! Unsolicited result codes, in one place: the table of every URC we know ([`TABLE`]), the
//! routing question (is a line the answer to the running command, or a URC?) and the one parse
//! that turns a routed line into the typed [`Urc`] subscribers receive.
//!
//! Modems interleave URCs with responses, even in the middle of one (`+CSQ: 20,99`,
//! `+CMTI: "ME",3`, `OK`). A URC must go to subscribers and never into a command's result. The
//! hard case is a URC that shares its prefix with an answer: `+CREG: 1,"8BE3","2BAF"` (URC) vs
//! `+CREG: 2,1,"8BE3","2BAF"` (answer to `AT+CREG?`). While `AT+CREG?` runs, a `+CREG:` line is
//! taken as the answer (the modem holds URCs of the same kind during the command, V.250 §5.7.1
//! on buffering); otherwise it is a URC.
//!
//! The fields this layer's subscribers act on (`+CMTI`, `+CUSD`, `+CFUN`, `+CPIN`) are read
//! here; registration and signal reports are read by `modem::urc`, which dispatches on the same
//! [`Code`] (their parsers belong to the modem model, and `at` must not import `modem`).
//!
//! Must not: decide what to do about a URC (policy belongs to its subscriber), or log — a URC
//! flood must not become a log flood (see `ratelimit`).

use super::command::Command;

/// Which unsolicited code a line is: one per row kind of [`TABLE`]. Fieldless, so the table can
/// name it; [`UrcKind`] carries the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]` (TS 27.007 §7.2).
    Creg,
    /// `+CGREG:` (TS 27.007 §10.1.20).
    Cgreg,
    /// `+CEREG:` (TS 27.007 §10.1.22).
    Cereg,
    /// `+C5GREG:` (TS 27.007 §10.1.70).
    C5greg,
    /// `+CMTI: <mem>,<index>`: an SMS was stored (TS 27.005 §3.4.1).
    Cmti,
    /// `+CMT: [<alpha>],<length>` then the PDU line: an SMS routed to us (TS 27.005 §3.4.1).
    Cmt,
    /// `+CDS: <length>` then the PDU line: a status report routed to us (TS 27.005 §3.4.1).
    Cds,
    /// `+CDSI: <mem>,<index>`: a status report was stored (TS 27.005 §3.4.1).
    Cdsi,
    /// `+CBM: <length>` then the PDU line: a cell broadcast (TS 27.005 §3.4.1).
    Cbm,
    /// `+CUSD: <m>[,<str>,<dcs>]` (TS 27.007 §7.15).
    Cusd,
    /// `RING` (V.250 §6.3.4), `+CRING: <type>` (TS 27.007 §6.11).
    Ring,
    /// `+CLIP: <number>,<type>` caller id (TS 27.007 §7.6).
    Clip,
    /// `NO CARRIER` sent unsolicited when a call or data session drops (V.250 §6.3.4).
    NoCarrier,
    /// `+CGEV: …` packet domain events (TS 27.007 §10.1.19).
    Cgev,
    /// Time-zone and network-time reports: `+CTZV`, `+CTZE`, `+CTZEU` (TS 27.007 §8.41),
    /// `+NITZ`, `*PSUTTZ`, `+CTZU`, `DST:`, `*PSNWID` (SIMCom), `^NWTIME` (Huawei), `+QNITZ`.
    NetworkTime,
    /// `+CIEV: <ind>,<value>` indicator events (TS 27.007 §8.10).
    Ciev,
    /// `+CPIN: <code>` arriving unprompted: the SIM's state changed (TS 27.007 §8.3).
    Cpin,
    /// `+CFUN: <fun>` arriving unprompted (Quectel prints `+CFUN: 1` at boot).
    Cfun,
    /// `+PACSP0`/`+PACSP1`: the SIM's PLMN-mode bit (TS 27.007 §7.31, Quectel/SIMCom boot).
    Pacsp,
    /// The modem booted: `RDY` (Quectel, SIMCom), `^SYSSTART` (Cinterion, some Huawei).
    Ready,
    /// SMS storage ready after boot or a SIM restart: `SMS DONE` (SIMCom), `+QIND: SMS DONE`.
    SmsReady,
    /// Phonebook ready: `PB DONE` (SIMCom), `+QIND: PB DONE`.
    PhonebookReady,
    /// `POWERED DOWN` (Quectel, after `AT+QPOWD`).
    PoweredDown,
    /// Quectel `+QIND: …` (`"csq",24,99`, `"act","LTE"`, `"smsfull","SM"`, …).
    Qind,
    /// Quectel `+QUSIM: <n>`: the SIM was (re)loaded.
    Qusim,
    /// Quectel `+QSTAT:`.
    Qstat,
    /// SIMCom `+CPSI:` periodic serving-cell report.
    Cpsi,
    /// SIMCom `+SIMCARD:`, `+STIN:` SIM toolkit and card events.
    SimEvent,
    /// Huawei `^RSSI: <n>` (CSQ scale).
    HuaweiRssi,
    /// Huawei `^HCSQ: <sysmode>,…`.
    HuaweiHcsq,
    /// Huawei `^MODE: <sysmode>[,<submode>]`.
    HuaweiMode,
    /// Huawei `^BOOT: …` heartbeat (repeats every few seconds on E3372 firmware).
    HuaweiBoot,
    /// Huawei periodic status reports with nothing the poll does not already ask (`^DSFLOWRPT`,
    /// `^SRVST`, `^SIMST`, `^CSNR`, …); `AT^CURC=0` stops them.
    HuaweiStatus,
    /// Huawei call and data-session events: `^CEND`, `^ORIG`, `^CONF`, `^CONN`, `^NDISSTAT`.
    HuaweiSession,
}

/// How a table row recognises its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `NAME:` — ASCII case-insensitive, spaces allowed before the colon (`+CREG:002,001`,
    /// `+creg: 1`). `+CMT` does not match `+CMTI:`.
    Colon(&'static str),
    /// The whole line, spaces ignored (`RDY`, `+CFUN: 1` = `+CFUN:1`), case-sensitive: a bare
    /// answer line such as `Ringo` from `ATI` must stay an answer.
    Word(&'static str),
    /// Any line starting with this text (`+PACSP0`, `^SYSSTART AIRPLANE MODE`).
    Starts(&'static str),
}

/// What a URC means for the modem's life: the engine and the SMS inbox both read it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Nothing about the modem's life.
    None,
    /// The modem (re)booted: echo is back on, `+CMEE`, `+CPMS` and `+CNMI` are forgotten
    /// (modem-quirks.md §12, §14). The engine initialises again; the inbox re-applies its
    /// settings.
    Boot,
    /// The SIM or SMS storage (re)loaded (`+CPIN: READY`, `SMS DONE`): no re-init of the port,
    /// but `+CPMS`/`+CNMI` are lost and the storage may hold messages (modem-quirks.md §12).
    SimReady,
}

/// One row of the URC table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub shape: Shape,
    pub code: Code,
    /// A second line (the PDU) follows (TS 27.005 §3.4.1: `+CMT`, `+CDS`, `+CBM` in PDU mode).
    pub pdu: bool,
    pub lifecycle: Lifecycle,
    /// A periodic report nobody needs to act on (logs and decode mark it as such).
    pub noise: bool,
}

const fn row(shape: Shape, code: Code) -> Spec {
    Spec {
        shape,
        code,
        pdu: false,
        lifecycle: Lifecycle::None,
        noise: false,
    }
}
const fn pdu(shape: Shape, code: Code) -> Spec {
    Spec {
        pdu: true,
        ..row(shape, code)
    }
}
const fn life(shape: Shape, code: Code, lifecycle: Lifecycle) -> Spec {
    Spec {
        lifecycle,
        ..row(shape, code)
    }
}
const fn noise(shape: Shape, code: Code) -> Spec {
    Spec {
        noise: true,
        ..row(shape, code)
    }
}

use Code as C;
use Lifecycle::{Boot, SimReady};
use Shape::{Colon, Starts, Word};

/// Every unsolicited result code real modems send (TS 27.007 §6–§10, TS 27.005 §3.4.1, V.250,
/// Quectel/SIMCom/Huawei/Cinterion manuals, shared/reference/modem-quirks.md). The first row
/// that matches wins, so exact lines (`+CFUN: 1`, `+QIND: SMS DONE`) come before their prefix.
///
/// Restarts (`Lifecycle::Boot`): `RDY` is what Quectel and SIMCom print once booted
/// (modem-quirks.md §14; Quectel EC2x AT manual §1.6 "RDY"); `+CFUN: 1` follows it on Quectel
/// and is what a modem reset with `AT+CFUN=1,1` prints; `^SYSSTART` is Cinterion's boot line.
/// `+CPIN: READY` and `SMS DONE` also come after a SIM hot-swap, when the port keeps its
/// settings — so they only tell the inbox its SMS settings may be gone (`SimReady`).
pub static TABLE: &[Spec] = &[
    row(Colon("+CREG"), C::Creg),
    row(Colon("+CGREG"), C::Cgreg),
    row(Colon("+CEREG"), C::Cereg),
    row(Colon("+C5GREG"), C::C5greg),
    row(Colon("+CMTI"), C::Cmti),
    pdu(Colon("+CMT"), C::Cmt),
    row(Colon("+CDSI"), C::Cdsi),
    pdu(Colon("+CDS"), C::Cds),
    pdu(Colon("+CBM"), C::Cbm),
    row(Colon("+CUSD"), C::Cusd),
    row(Word("RING"), C::Ring),
    row(Colon("+CRING"), C::Ring),
    row(Colon("+CLIP"), C::Clip),
    row(Word("NO CARRIER"), C::NoCarrier),
    row(Colon("+CGEV"), C::Cgev),
    row(Colon("+CTZV"), C::NetworkTime),
    row(Colon("+CTZE"), C::NetworkTime),
    row(Colon("+CTZEU"), C::NetworkTime),
    row(Colon("+CTZU"), C::NetworkTime),
    row(Starts("+NITZ"), C::NetworkTime),
    row(Starts("*PSUTTZ"), C::NetworkTime),
    row(Colon("DST"), C::NetworkTime),
    row(Colon("*PSNWID"), C::NetworkTime),
    row(Colon("+QNITZ"), C::NetworkTime),
    noise(Colon("^NWTIME"), C::NetworkTime),
    row(Colon("+CIEV"), C::Ciev),
    life(Word("+CPIN: READY"), C::Cpin, SimReady),
    row(Colon("+CPIN"), C::Cpin),
    life(Word("+CFUN: 1"), C::Cfun, Boot),
    row(Colon("+CFUN"), C::Cfun),
    row(Starts("+PACSP"), C::Pacsp),
    life(Word("RDY"), C::Ready, Boot),
    life(Starts("^SYSSTART"), C::Ready, Boot),
    life(Word("SMS DONE"), C::SmsReady, SimReady),
    life(Word("+QIND: SMS DONE"), C::SmsReady, SimReady),
    row(Word("PB DONE"), C::PhonebookReady),
    row(Word("+QIND: PB DONE"), C::PhonebookReady),
    row(Word("POWERED DOWN"), C::PoweredDown),
    // Quectel's periodic signal report (`AT+QINDCFG="csq",1`).
    noise(Starts("+QIND: \"csq\""), C::Qind),
    row(Colon("+QIND"), C::Qind),
    row(Colon("+QUSIM"), C::Qusim),
    row(Colon("+QSTAT"), C::Qstat),
    noise(Colon("+CPSI"), C::Cpsi),
    row(Colon("+SIMCARD"), C::SimEvent),
    row(Colon("+STIN"), C::SimEvent),
    noise(Colon("^RSSI"), C::HuaweiRssi),
    noise(Colon("^HCSQ"), C::HuaweiHcsq),
    noise(Colon("^MODE"), C::HuaweiMode),
    noise(Colon("^BOOT"), C::HuaweiBoot),
    noise(Colon("^DSFLOWRPT"), C::HuaweiStatus),
    noise(Colon("^SRVST"), C::HuaweiStatus),
    noise(Colon("^SIMST"), C::HuaweiStatus),
    noise(Colon("^CSNR"), C::HuaweiStatus),
    noise(Colon("^RSSILVL"), C::HuaweiStatus),
    noise(Colon("^HRSSILVL"), C::HuaweiStatus),
    noise(Colon("^LTERSRP"), C::HuaweiStatus),
    noise(Colon("^ACTIVEBAND"), C::HuaweiStatus),
    noise(Colon("^STIN"), C::HuaweiStatus),
    noise(Colon("^ECCLIST"), C::HuaweiStatus),
    noise(Colon("^CERSSI"), C::HuaweiStatus),
    noise(Colon("^ANLEVEL"), C::HuaweiStatus),
    row(Colon("^CEND"), C::HuaweiSession),
    row(Colon("^ORIG"), C::HuaweiSession),
    row(Colon("^CONF"), C::HuaweiSession),
    row(Colon("^CONN"), C::HuaweiSession),
    row(Colon("^NDISSTAT"), C::HuaweiSession),
];

impl Shape {
    fn matches(self, line: &str) -> bool {
        match self {
            Colon(name) => after_colon(line, name).is_some(),
            Word(w) => {
                let mut a = line.chars().filter(|c| *c != ' ');
                let mut b = w.chars().filter(|c| *c != ' ');
                loop {
                    match (a.next(), b.next()) {
                        (None, None) => return true,
                        (Some(x), Some(y)) if x == y => {}
                        _ => return false,
                    }
                }
            }
            Starts(s) => line.starts_with(s),
        }
    }
}

/// The text after `name` and its colon, when `line` starts (after any spaces) with `name` (ASCII
/// case-insensitive), optional spaces, then `:`. `+CREG:002,001` and `+CREG: 2,1` both give the
/// fields part. The modem layer's parsers use it as `modem::after_prefix`.
pub fn after_colon<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let line = line.trim_start();
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = line.get(name.len()..)?.trim_start();
    Some(rest.strip_prefix(':')?.trim())
}

/// The table row for `line`, if it is a URC we know.
pub fn lookup(line: &str) -> Option<&'static Spec> {
    let t = line.trim();
    TABLE.iter().find(|s| s.shape.matches(t))
}

/// URCs that carry a second line (the PDU): `+CMT: ,<len>` / `+CDS: <len>` then the PDU,
/// TS 27.005 §3.4.1.
pub fn has_pdu_line(line: &str) -> bool {
    lookup(line).is_some_and(|s| s.pdu)
}

/// True if `line` is a URC in the table.
pub fn is_urc_prefix(line: &str) -> bool {
    lookup(line).is_some()
}

/// Decides where `line` goes while `pending` runs (`None`: nothing on the wire).
///
/// A line with the running command's reply prefix is its answer, with two exceptions real
/// modems force on us: during a *set* command (`AT+CUSD=1,…`, `AT+CREG=2`) a `+CUSD:`/`+CPIN:`/
/// `+CxREG:` line is a URC racing the `OK` (the set command's answer is `OK` alone); and during a
/// registration query a line that cannot be an answer (`+CREG: 1`, `+CREG: 5,"17E0",…` — an
/// answer is `<n>,<stat>[,…]` with an unquoted `<stat>`) is a URC.
pub fn is_unsolicited(line: &str, pending: Option<&Command>) -> bool {
    let Some(cmd) = pending else { return true };
    if let Some(prefix) = cmd.reply_prefix() {
        if line.starts_with(prefix.as_str()) {
            const RACY: &[&str] = &[
                "+CUSD:", "+CPIN:", "+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:",
            ];
            if is_set_command(cmd.line()) && RACY.contains(&prefix.as_str()) {
                return true;
            }
            if REG_PREFIXES.contains(&prefix.as_str()) {
                return !could_be_reg_answer(&line[prefix.len()..]);
            }
            return false;
        }
    }
    // An unprefixed line (ATI, AT+CGMI print bare text) belongs to the command.
    is_urc_prefix(line)
}

const REG_PREFIXES: &[&str] = &["+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:"];

/// `AT+X=…` but not the test form `AT+X=?`.
fn is_set_command(line: &str) -> bool {
    match line.find('=') {
        Some(i) => !line[i..].starts_with("=?"),
        None => false,
    }
}

/// TS 27.007 §7.2: the read answer is `<n>,<stat>[,…]`; the URC `<stat>[,…]`. So an answer has
/// at least two fields and an unquoted integer second field.
fn could_be_reg_answer(rest: &str) -> bool {
    let mut fields = rest.split(',').map(str::trim);
    let n_ok = fields.next().is_some_and(|f| f.parse::<u8>().is_ok());
    let stat_ok = fields.next().is_some_and(|f| f.parse::<u8>().is_ok());
    n_ok && stat_ok
}

/// What a URC says, typed. Subscribers match on this, never on the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrcKind {
    /// `+CMTI: "SM",3` — an SMS stored at `index` in `mem`.
    NewSms { mem: String, index: u32 },
    /// `+CDSI: "SM",4` — a status report stored at `index` in `mem`.
    NewReport { mem: String, index: u32 },
    /// `+CUSD: …` — a network USSD message, text left encoded as received.
    Ussd(Cusd),
    /// `+CPIN: <code>`: `ready` for `READY`, else the SIM wants something or failed.
    Sim { ready: bool },
    /// `+CFUN: <fun>`.
    Functionality(u8),
    /// A code in the table whose fields this layer does not read (registration and signal
    /// reports: `modem::urc` reads them; `+CMT`: the PDU is in [`Urc::pdu`]).
    Plain(Code),
    /// A code in the table whose fields did not read (`+CMTI: "SM"`, `+CUSD: x`).
    Unreadable(Code),
    /// A line routed as unsolicited that is in no table row (bare text with no command on the
    /// wire, a vendor code we have not met).
    Unknown,
}

/// An unsolicited result code as the engine publishes it: typed once, with the raw line kept
/// for logs and `simkeep decode`, and the PDU line that follows `+CMT:`/`+CDS:`/`+CBM:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urc {
    pub kind: UrcKind,
    pub line: String,
    pub pdu: Option<String>,
    spec: Option<&'static Spec>,
}

impl Urc {
    /// Types `line` (and its PDU line): the one parse of a URC.
    pub fn new(line: impl Into<String>, pdu: Option<String>) -> Urc {
        let line = line.into();
        let spec = lookup(&line);
        Urc::with_spec(line, pdu, spec)
    }

    /// [`Urc::new`] for a caller that already looked `line` up in the table (the digester,
    /// which looks each URC line up once).
    pub(crate) fn with_spec(line: String, pdu: Option<String>, spec: Option<&'static Spec>) -> Urc {
        let kind = match spec {
            Some(s) => typed(s.code, line.trim()),
            None => UrcKind::Unknown,
        };
        Urc {
            kind,
            line,
            pdu,
            spec,
        }
    }

    /// The table's code for this line; `None` for [`UrcKind::Unknown`].
    pub fn code(&self) -> Option<Code> {
        self.spec.map(|s| s.code)
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.spec.map_or(Lifecycle::None, |s| s.lifecycle)
    }

    /// The modem (re)booted: echo on, `+CMEE`/`+CPMS`/`+CNMI` forgotten.
    pub fn is_restart(&self) -> bool {
        self.lifecycle() == Lifecycle::Boot
    }

    /// A periodic report nobody needs to act on.
    pub fn is_noise(&self) -> bool {
        self.spec.is_some_and(|s| s.noise)
    }
}

/// The fields of `code` in `line`; `Plain` for codes whose fields are read elsewhere.
fn typed(code: Code, line: &str) -> UrcKind {
    let fields =
        match code {
            Code::Cmti => parse_storage_index(line, "+CMTI")
                .map(|(mem, index)| UrcKind::NewSms { mem, index }),
            Code::Cdsi => parse_storage_index(line, "+CDSI")
                .map(|(mem, index)| UrcKind::NewReport { mem, index }),
            Code::Cusd => parse_cusd(line).map(UrcKind::Ussd),
            Code::Cpin => after_colon(line, "+CPIN").map(|v| UrcKind::Sim {
                ready: v.trim_matches('"').eq_ignore_ascii_case("READY"),
            }),
            Code::Cfun => after_colon(line, "+CFUN")
                .and_then(|v| v.split(',').next()?.trim().parse().ok())
                .map(UrcKind::Functionality),
            other => return UrcKind::Plain(other),
        };
    fields.unwrap_or(UrcKind::Unreadable(code))
}

/// `+CMTI: <mem>,<index>` / `+CDSI: <mem>,<index>` (TS 27.005 §3.4.1). Shapes: `+CMTI: "SM",3`,
/// `+CMTI: "ME", 1`, `+CMTI:"SM",3`.
pub fn parse_storage_index(line: &str, name: &str) -> Option<(String, u32)> {
    let rest = after_colon(line.trim(), name)?;
    let (mem, index) = rest.rsplit_once(',')?;
    let index = index.trim().parse().ok()?;
    Some((mem.trim().trim_matches('"').to_string(), index))
}

/// A parsed `+CUSD:` line (TS 27.007 §7.15); the text still encoded as the modem sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cusd {
    pub status: u8,
    pub text: Option<String>,
    pub dcs: Option<u8>,
}

/// `+CUSD: <m>[,<str>[,<dcs>]]`. Pure and total. Shapes accepted (modem-quirks.md §9–10):
/// `+CUSD: 0,"Balance:633,100r",15` (commas inside the quotes), `+CUSD: 2,"Balance:633,100r"`
/// (no dcs), `+CUSD: 0,""`, `+CUSD: 4` (no text), `+CUSD: 1,"1. Buy\n2. Exit",15` (the digester
/// joins a text that spans lines with `\n`), `+CUSD:1,"00200044",72` (no space), and an
/// unquoted text some modems send.
pub fn parse_cusd(line: &str) -> Option<Cusd> {
    let rest = after_colon(line.trim_start(), "+CUSD")?;
    let (status, rest) = match rest.split_once(',') {
        Some((s, r)) => (s, Some(r)),
        None => (rest, None),
    };
    let status = status.trim().parse().ok()?;
    let Some(rest) = rest.map(str::trim) else {
        return Some(Cusd {
            status,
            text: None,
            dcs: None,
        });
    };
    let (text, tail) = match rest.strip_prefix('"') {
        Some(inner) => match inner.rfind('"') {
            Some(end) => (inner.get(..end)?, inner.get(end + 1..)?),
            // An unterminated quote: take everything after it as the text.
            None => (inner, ""),
        },
        None => match rest.rsplit_once(',') {
            Some((t, d)) if d.trim().parse::<u8>().is_ok() => (t, d),
            _ => (rest, ""),
        },
    };
    let dcs = tail.trim().trim_start_matches(',').trim().parse().ok();
    Some(Cusd {
        status,
        text: Some(text.to_string()),
        dcs,
    })
}

#[cfg(test)]
#[path = "urc_tests.rs"]
mod tests;
