//! Vendor profiles: which vendor a modem is, what it is asked (declared, typed queries with
//! their wire commands, timeouts, parsers and rates), and how its vendor replies combine with
//! the TS 27.007 ones into the modem model.
//!
//! Pure: no I/O. The driver sends what a profile declares and files each answer under its
//! [`Query`]; the builders here read answers by query, never by command text. Per-vendor
//! differences live in one [`Params`] per vendor file (`quectel::PARAMS`, …), like
//! ublox-cellular-rs's `ModuleParams`: each vendor states only what differs from
//! [`GENERIC`].
//!
//! The rule for combining: the vendor's serving-cell command wins (it is the most precise
//! source), the generic replies fill whatever it left unknown. A reply that does not parse
//! contributes nothing (the field stays `None`); it never aborts the whole model.

use std::time::Duration;

use super::generic::{
    parse_cesq, parse_cnum, parse_cops, parse_cpin, parse_csq, parse_iccid, parse_imei, parse_imsi,
    parse_info_text, parse_reg_answer, sim_state_from_error, Cops, RegKind, RegReport,
};
use super::model::{
    fill, home_network, ModemIdentity, NrSignal, RadioReport, RegState, Registration, Signal,
    SimInfo, Tech,
};
use super::{after_prefix, fibocom, huawei, quectel, sierra, simcom, ParseError, Replies};
use crate::usage::Traffic;

/// A modem family with its own commands and quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Generic,
    Quectel,
    Huawei,
    Simcom,
    Sierra,
    Fibocom,
}

/// `modem.profile` named something we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown modem.profile {value:?}: use one of auto, generic, quectel, huawei, simcom, sierra, fibocom")]
pub struct ProfileError {
    pub value: String,
}

// ------------------------------------------------------------------ timeouts

/// Quick reads answered from the modem's own state (identity, IMSI, ICCID, own number,
/// `+CxREG?`, `+CSQ`, `+CESQ`): the Quectel EC25 AT manual gives "Maximum Response Time:
/// 300 ms". We allow ten times that — USB serial and a modem busy with a reselection add
/// latency, and a timeout aborts the poll — but still well under the engine's 5 s default, so
/// a hung modem is noticed sooner.
pub const QUICK: Duration = Duration::from_secs(3);
/// `AT+CPIN?`: the EC25 manual gives 5 s (the modem may be reading the SIM).
pub const SIM: Duration = Duration::from_secs(5);
/// Vendor serving-cell and engineering reads (`+QENG`, `^MONSC`, `+CPSI?`, `!GSTATUS?`,
/// `+GTCCINFO?`): computed by the firmware from the radio; manuals give 300 ms where they say
/// anything, firmware on a loaded modem takes longer. The engine default.
pub const CELL: Duration = Duration::from_secs(5);
/// `AT+COPS?` and `AT+COPS=3,<format>`: the EC25 manual gives 180 s for `+COPS` "determined
/// by network" — that is the scan (`AT+COPS=?`, which a poll never sends); reading and setting
/// the format answer from the modem, and 30 s covers a modem that blocks them mid-search.
pub const NETWORK: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ queries

/// A question the driver asks the modem, typed. Answers are filed under it ([`Replies`]) and
/// the builders read them by it; what goes on the wire is its [`Spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Query {
    /// `AT+CGMI` (TS 27.007 §5.1).
    Manufacturer,
    /// `AT+CGMM` (§5.2).
    Model,
    /// `AT+CGMR` (§5.3).
    Revision,
    /// `AT+CGSN` (§5.4).
    Imei,
    /// `AT+CPIN?` (§8.3).
    SimState,
    /// `AT+CIMI` (§5.6).
    Imsi,
    /// `AT+CCID`: not in 27.007, but most modems have it; the fallback for a vendor ICCID read.
    Iccid,
    /// `AT+CNUM` (§7.1).
    OwnNumber,
    /// `AT+CREG?`, `AT+CGREG?`, `AT+CEREG?`, `AT+C5GREG?` (§7.2, §10.1.19, .22, .70).
    Registration(RegKind),
    /// `AT+COPS?` in the numeric format, which the init commands set once per connection
    /// (§7.3).
    Operator,
    /// The operator's name: `AT+COPS=3,0`, `AT+COPS?`, then `AT+COPS=3,2` to put the numeric
    /// format back — three wire commands, one question.
    OperatorName,
    /// `AT+CESQ` (§8.69).
    Cesq,
    /// `AT+CSQ` (§8.5).
    Csq,
    /// `AT+QCCID`.
    QuectelIccid,
    /// `AT+QENG="servingcell"`.
    QuectelServingCell,
    /// `AT+QCSQ`.
    QuectelSignal,
    /// `AT+QNWINFO`.
    QuectelNetworkInfo,
    /// `AT+QGDCNT?`.
    QuectelDataCounters,
    /// `AT^ICCID?`.
    HuaweiIccid,
    /// `AT^HCSQ?`.
    HuaweiSignal,
    /// `AT^MONSC`.
    HuaweiServingCell,
    /// `AT^SYSINFOEX`.
    HuaweiSystemInfo,
    /// `AT^DSFLOWQRY`.
    HuaweiDataCounters,
    /// `AT+CICCID`.
    SimcomIccid,
    /// `AT+CPSI?`.
    SimcomServingCell,
    /// `AT!ICCID?`.
    SierraIccid,
    /// `AT!GSTATUS?`.
    SierraStatus,
    /// `AT+ICCID`.
    FibocomIccid,
    /// `AT+GTCCINFO?`.
    FibocomCellInfo,
}

/// How a query's answer is read.
#[derive(Debug, Clone, Copy)]
pub enum Reads {
    /// A TS 27.007 answer: the builders below know its parser by its [`Query`].
    Standard,
    /// An ICCID in the vendor's form.
    Iccid(fn(&[String]) -> Result<String, ParseError>),
    /// A vendor serving-cell or signal report; `None` when the reply does not parse.
    Cell(fn(&[String]) -> Option<RadioReport>),
    /// The modem's own data counters.
    Counters(fn(&[String]) -> Option<Traffic>),
}

/// What a query puts on the wire and how long each command may take. The engine sends one
/// command at a time; a query that needs the modem in a mode first says so in `set` (and how
/// to leave it in `restore`) instead of a `;`-joined line split up again by hand.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Sent first, in order; a refusal is the query's answer (nothing is read).
    pub set: &'static [&'static str],
    /// The command whose information lines are the answer.
    pub read: &'static str,
    /// Sent after the read whatever it answered; a refusal here is only logged.
    pub restore: &'static [&'static str],
    /// For each command of the query.
    pub timeout: Duration,
    pub reads: Reads,
}

impl Spec {
    /// A query that is one command.
    pub const fn one(read: &'static str, timeout: Duration, reads: Reads) -> Spec {
        Spec {
            set: &[],
            read,
            restore: &[],
            timeout,
            reads,
        }
    }

    /// Every command of the query, in the order they go out.
    pub fn wire(&self) -> impl Iterator<Item = &'static str> {
        self.set
            .iter()
            .copied()
            .chain(std::iter::once(self.read))
            .chain(self.restore.iter().copied())
    }
}

/// `AT+COPS=3,2`: `+COPS?` answers with the numeric PLMN from now on (TS 27.007 §7.3). In
/// every profile's init commands, and sent again when a modem answers with a name.
pub const COPS_FORMAT_NUMERIC: &str = "AT+COPS=3,2";

impl Query {
    /// The wire form, timeout and parser of this query. Vendor queries are declared in their
    /// vendor file.
    pub fn spec(self) -> Spec {
        use Reads::Standard;
        match self {
            Query::Manufacturer => Spec::one("AT+CGMI", QUICK, Standard),
            Query::Model => Spec::one("AT+CGMM", QUICK, Standard),
            Query::Revision => Spec::one("AT+CGMR", QUICK, Standard),
            Query::Imei => Spec::one("AT+CGSN", QUICK, Standard),
            Query::SimState => Spec::one("AT+CPIN?", SIM, Standard),
            Query::Imsi => Spec::one("AT+CIMI", QUICK, Standard),
            Query::Iccid => Spec::one("AT+CCID", QUICK, Reads::Iccid(parse_iccid)),
            Query::OwnNumber => Spec::one("AT+CNUM", QUICK, Standard),
            Query::Registration(k) => Spec::one(k.query(), QUICK, Standard),
            Query::Operator => Spec::one("AT+COPS?", NETWORK, Standard),
            Query::OperatorName => Spec {
                set: &["AT+COPS=3,0"],
                read: "AT+COPS?",
                restore: &[COPS_FORMAT_NUMERIC],
                timeout: NETWORK,
                reads: Standard,
            },
            Query::Cesq => Spec::one("AT+CESQ", QUICK, Standard),
            Query::Csq => Spec::one("AT+CSQ", QUICK, Standard),
            Query::QuectelIccid => quectel::ICCID,
            Query::QuectelServingCell => quectel::SERVING_CELL,
            Query::QuectelSignal => quectel::SIGNAL,
            Query::QuectelNetworkInfo => quectel::NETWORK_INFO,
            Query::QuectelDataCounters => quectel::DATA_COUNTERS,
            Query::HuaweiIccid => huawei::ICCID,
            Query::HuaweiSignal => huawei::SIGNAL,
            Query::HuaweiServingCell => huawei::SERVING_CELL,
            Query::HuaweiSystemInfo => huawei::SYSTEM_INFO,
            Query::HuaweiDataCounters => huawei::DATA_COUNTERS,
            Query::SimcomIccid => simcom::ICCID,
            Query::SimcomServingCell => simcom::SERVING_CELL,
            Query::SierraIccid => sierra::ICCID,
            Query::SierraStatus => sierra::STATUS,
            Query::FibocomIccid => fibocom::ICCID,
            Query::FibocomCellInfo => fibocom::CELL_INFO,
        }
    }

    /// Whether the answer is an ICCID (the vendor's read or `AT+CCID`).
    pub fn is_iccid(self) -> bool {
        matches!(self.spec().reads, Reads::Iccid(_))
    }
}

/// How often a query is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Every poll (SIM state, ICCID, registration, signal).
    EveryPoll,
    /// Once per connection: who the modem is does not change while it stays plugged in.
    PerConnection,
    /// Once per SIM (IMSI, own number): replayed while the same ICCID stays ready, re-read
    /// every `driver::SIM_RECHECK_POLLS` polls.
    PerSim,
    /// Only when what it describes changes: the operator name, when the PLMN changes.
    OnChange,
}

/// Which part of the modem model a query feeds: `info` asks the first four, `signal` the last
/// two, a full poll all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feeds {
    Identity,
    Sim,
    Registration,
    Signal,
    /// A serving-cell read: cell, area and technology, and the signal.
    RegistrationAndSignal,
}

impl Feeds {
    pub fn info(self) -> bool {
        self != Feeds::Signal
    }

    pub fn signal(self) -> bool {
        matches!(self, Feeds::Signal | Feeds::RegistrationAndSignal)
    }
}

/// A query in a profile's declaration: what, how often, for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub query: Query,
    pub rate: Rate,
    pub feeds: Feeds,
}

impl Declared {
    pub const fn new(query: Query, rate: Rate, feeds: Feeds) -> Declared {
        Declared { query, rate, feeds }
    }
}

/// How USSD requests are written for a modem (`AT+CUSD=1,<str>,15`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UssdText {
    /// The code as text, in the modem's character set.
    Plain,
    /// GSM-7 packed and hex-encoded (Huawei firmware; ModemManager's huawei plugin does the
    /// same).
    PackedGsm7,
}

/// What one vendor does differently from [`GENERIC`]. Each vendor file declares its own
/// (`quectel::PARAMS`, …) with `..GENERIC` for the rest.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Lower-case text in `AT+CGMI` that names the vendor (empty: never matched).
    pub maker: &'static str,
    /// Upper-case model-name fragments, for firmware whose `+CGMI` names a chipset vendor
    /// ("Qualcomm") or nothing useful.
    pub models: &'static [&'static str],
    /// Init commands after the 27.007 ones, once per connection; refusals are harmless.
    pub init: &'static [&'static str],
    /// The vendor's ICCID read, asked before `AT+CCID` (which is asked only if it fails).
    pub iccid: Option<Query>,
    /// Serving-cell and signal reads, most precise first.
    pub cell: &'static [Declared],
    /// The modem's own data counters.
    pub counters: Option<Query>,
    pub ussd: UssdText,
}

/// The 3GPP-only profile, and the defaults every vendor starts from.
pub const GENERIC: Params = Params {
    maker: "",
    models: &[],
    init: &[],
    iccid: None,
    cell: &[],
    counters: None,
    ussd: UssdText::Plain,
};

/// With `<n>`=2 the `+CxREG?` answers carry the area code and cell id (TS 27.007 §7.2); the
/// numeric `+COPS` format makes the every-poll `AT+COPS?` give the PLMN.
const INIT_27007: &[&str] = &[
    "AT+CREG=2",
    "AT+CGREG=2",
    "AT+CEREG=2",
    "AT+C5GREG=2",
    COPS_FORMAT_NUMERIC,
];

/// Identity, SIM, operator and registration questions every profile asks (vendor ICCID and
/// cell reads are added from [`Params`]).
const IDENTITY: [Declared; 4] = [
    Declared::new(Query::Manufacturer, Rate::PerConnection, Feeds::Identity),
    Declared::new(Query::Model, Rate::PerConnection, Feeds::Identity),
    Declared::new(Query::Revision, Rate::PerConnection, Feeds::Identity),
    Declared::new(Query::Imei, Rate::PerConnection, Feeds::Identity),
];

const SIM_QUERIES: [Declared; 3] = [
    Declared::new(Query::SimState, Rate::EveryPoll, Feeds::Sim),
    Declared::new(Query::Imsi, Rate::PerSim, Feeds::Sim),
    Declared::new(Query::OwnNumber, Rate::PerSim, Feeds::Sim),
];

const NETWORK_QUERIES: [Declared; 6] = [
    Declared::new(Query::Operator, Rate::EveryPoll, Feeds::Registration),
    Declared::new(Query::OperatorName, Rate::OnChange, Feeds::Registration),
    Declared::new(
        Query::Registration(RegKind::C5greg),
        Rate::EveryPoll,
        Feeds::Registration,
    ),
    Declared::new(
        Query::Registration(RegKind::Cereg),
        Rate::EveryPoll,
        Feeds::Registration,
    ),
    Declared::new(
        Query::Registration(RegKind::Cgreg),
        Rate::EveryPoll,
        Feeds::Registration,
    ),
    Declared::new(
        Query::Registration(RegKind::Creg),
        Rate::EveryPoll,
        Feeds::Registration,
    ),
];

const SIGNAL_QUERIES: [Declared; 2] = [
    Declared::new(Query::Cesq, Rate::EveryPoll, Feeds::Signal),
    Declared::new(Query::Csq, Rate::EveryPoll, Feeds::Signal),
];

/// Whether USSD requests should go GSM-7 packed for a profile or model name (`huawei`,
/// `huawei-e3372`, `E3372h-153`, `ME906s`, `quectel`…): the profile that name detects as says.
pub fn ussd_packed_for(hint: &str) -> bool {
    Profile::detect(hint, hint).params().ussd == UssdText::PackedGsm7
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::Generic,
        Profile::Quectel,
        Profile::Huawei,
        Profile::Simcom,
        Profile::Sierra,
        Profile::Fibocom,
    ];

    /// Lower-case name as used in config and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Generic => "generic",
            Profile::Quectel => "quectel",
            Profile::Huawei => "huawei",
            Profile::Simcom => "simcom",
            Profile::Sierra => "sierra",
            Profile::Fibocom => "fibocom",
        }
    }

    /// This profile's declaration.
    pub fn params(self) -> &'static Params {
        match self {
            Profile::Generic => &GENERIC,
            Profile::Quectel => &quectel::PARAMS,
            Profile::Huawei => &huawei::PARAMS,
            Profile::Simcom => &simcom::PARAMS,
            Profile::Sierra => &sierra::PARAMS,
            Profile::Fibocom => &fibocom::PARAMS,
        }
    }

    /// Vendor from the `AT+CGMI` and `AT+CGMM` (or `ATI`) text; unknown → `Generic`.
    /// Model names are a second chance for firmware that prints a chipset vendor
    /// ("Qualcomm") or nothing useful as manufacturer.
    pub fn detect(cgmi: &str, cgmm: &str) -> Profile {
        let maker = cgmi.to_ascii_lowercase();
        let model = cgmm.to_ascii_uppercase();
        let vendors = || Profile::ALL.into_iter().filter(|p| *p != Profile::Generic);
        if let Some(p) = vendors().find(|p| {
            let m = p.params().maker;
            !m.is_empty() && maker.contains(m)
        }) {
            return p;
        }
        vendors()
            .find(|p| p.params().models.iter().any(|k| model.contains(k)))
            .unwrap_or(Profile::Generic)
    }

    /// `modem.profile` from config: `"auto"` → `None` (detect), a profile name → that profile.
    pub fn from_config(value: &str) -> Result<Option<Profile>, ProfileError> {
        let v = value.trim().to_ascii_lowercase();
        if v == "auto" {
            return Ok(None);
        }
        Profile::ALL
            .iter()
            .find(|p| p.name() == v)
            .map(|p| Some(*p))
            .ok_or_else(|| ProfileError {
                value: value.to_string(),
            })
    }

    /// Run once per connection, after echo/CMEE set-up. Refusals are harmless.
    pub fn init_commands(self) -> Vec<&'static str> {
        INIT_27007
            .iter()
            .chain(self.params().init)
            .copied()
            .collect()
    }

    /// The ICCID reads in the order they are tried: the vendor's, then `AT+CCID`.
    pub fn iccid_queries(self) -> Vec<Query> {
        self.params()
            .iccid
            .into_iter()
            .chain(std::iter::once(Query::Iccid))
            .collect()
    }

    /// Everything a poll may ask, each question once, with its rate: identity, SIM, ICCID,
    /// operator and registration, then the vendor's cell reads, then `+CESQ` and `+CSQ`.
    pub fn queries(self) -> Vec<Declared> {
        let iccid = self
            .iccid_queries()
            .into_iter()
            .map(|q| Declared::new(q, Rate::EveryPoll, Feeds::Sim));
        IDENTITY
            .into_iter()
            .chain(SIM_QUERIES)
            .chain(iccid)
            .chain(NETWORK_QUERIES)
            .chain(self.params().cell.iter().copied())
            .chain(SIGNAL_QUERIES)
            .collect()
    }

    /// Identity, SIM and registration queries.
    pub fn info_queries(self) -> Vec<Declared> {
        self.queries()
            .into_iter()
            .filter(|d| d.feeds.info())
            .collect()
    }

    /// Signal queries: the vendor's cell reads, then `AT+CESQ` and `AT+CSQ`.
    pub fn signal_queries(self) -> Vec<Declared> {
        self.queries()
            .into_iter()
            .filter(|d| d.feeds.signal())
            .collect()
    }

    /// The vendor serving-cell reports found in `replies`, most precise first.
    pub fn vendor_reports(&self, r: &Replies) -> Vec<RadioReport> {
        self.params()
            .cell
            .iter()
            .filter_map(|d| match d.query.spec().reads {
                Reads::Cell(parse) => r.get(d.query).and_then(parse),
                _ => None,
            })
            .collect()
    }

    /// All vendor reports folded into one (earlier ones win).
    fn vendor(&self, r: &Replies) -> RadioReport {
        let mut merged = RadioReport::default();
        for rep in self.vendor_reports(r) {
            fill(&mut merged.tech, rep.tech);
            fill(&mut merged.in_service, rep.in_service);
            fill(&mut merged.mcc, rep.mcc);
            fill(&mut merged.mnc, rep.mnc);
            fill(&mut merged.tac, rep.tac);
            fill(&mut merged.cell_id, rep.cell_id);
            merged.signal.fill_from(&rep.signal);
        }
        merged
    }

    pub fn build_identity(&self, r: &Replies) -> ModemIdentity {
        let text = |q: Query, prefix: &str| r.get(q).and_then(|l| parse_info_text(l, prefix));
        ModemIdentity {
            manufacturer: text(Query::Manufacturer, "+CGMI"),
            model: text(Query::Model, "+CGMM"),
            revision: text(Query::Revision, "+CGMR"),
            imei: r.get(Query::Imei).and_then(|l| parse_imei(l).ok()),
        }
    }

    pub fn build_sim(&self, r: &Replies) -> SimInfo {
        let state = match r.get(Query::SimState) {
            Some(lines) => lines.iter().find_map(|l| parse_cpin(l).ok()),
            None => r.error(Query::SimState).and_then(sim_state_from_error),
        };
        let iccid = self
            .iccid_queries()
            .into_iter()
            .find_map(|q| read_iccid(q, r));
        let imsi = r.get(Query::Imsi).and_then(|l| parse_imsi(l).ok());
        let home = imsi.as_deref().and_then(home_network);
        SimInfo {
            state,
            iccid,
            imsi,
            msisdn: r
                .get(Query::OwnNumber)
                .and_then(|l| parse_cnum(l).ok())
                .flatten(),
            home_mcc: home.as_ref().map(|h| h.0.clone()),
            home_mnc: home.map(|h| h.1),
        }
    }

    pub fn build_registration(&self, r: &Replies) -> Registration {
        let vendor = self.vendor(r);
        let reports: Vec<RegReport> = RegKind::ALL
            .iter()
            .filter_map(|k| {
                r.get(Query::Registration(*k))?
                    .iter()
                    .find_map(|l| parse_reg_answer(l).ok())
            })
            .collect();
        // 5GS, then EPS, then GPRS, then CS: the first that says registered describes the
        // serving network; failing that, the first answer at all.
        let chosen = reports
            .iter()
            .find(|x| x.state.is_registered())
            .or_else(|| reports.first());
        let cops: Vec<Cops> = [Query::Operator, Query::OperatorName]
            .iter()
            .filter_map(|q| r.get(*q)?.iter().find_map(|l| parse_cops(l).ok()))
            .collect();
        let numeric = cops.iter().find_map(Cops::numeric);
        // Legacy domains say "not registered" on LTE/NR (modem-quirks.md item 2:
        // `+CREG: 2,0` next to `+COPS: 0,0,"T-Mobile",11`). When no domain says registered
        // but the modem names the operator it is on, home or roaming is unknown — not "no".
        let camped = cops.iter().any(|c| c.oper.is_some() && c.act.is_some());
        let state = match chosen.map(|c| c.state) {
            Some(s) if s.is_registered() => Some(s),
            _ if camped => Some(RegState::Unknown),
            other => other,
        };
        let mut reg = Registration {
            state,
            tech: vendor.tech,
            operator: cops.iter().find_map(|c| c.name().map(str::to_string)),
            // The registered PLMN as COPS prints it keeps MCC/MNC zero-padded; vendor
            // cell reports sometimes drop the zeros ("1","01" for 001/01).
            mcc: numeric.as_ref().map(|n| n.0.clone()),
            mnc: numeric.map(|n| n.1),
            tac: vendor.tac,
            cell_id: vendor.cell_id,
        };
        fill(&mut reg.tech, cops.iter().find_map(Cops::tech));
        fill(&mut reg.tech, chosen.and_then(RegReport::tech));
        fill(&mut reg.mcc, vendor.mcc);
        fill(&mut reg.mnc, vendor.mnc);
        fill(&mut reg.tac, chosen.and_then(|c| c.area));
        fill(&mut reg.cell_id, chosen.and_then(|c| c.cell_id));
        reg
    }

    pub fn build_signal(&self, r: &Replies) -> Signal {
        let vendor = self.vendor(r);
        let mut s = vendor.signal;
        if let Some(c) = r
            .get(Query::Cesq)
            .and_then(|l| l.iter().find_map(|x| parse_cesq(x).ok()))
        {
            let nr = NrSignal {
                rsrp_dbm: c.nr_rsrp_dbm,
                rsrq_db: c.nr_rsrq_db,
                sinr_db: c.nr_sinr_db,
                ..NrSignal::default()
            };
            let sa = vendor.tech == Some(Tech::Nr5gSa)
                || (vendor.tech.is_none() && c.rsrp_dbm.is_none());
            let mut generic = Signal {
                rssi_dbm: c.rssi_dbm,
                rsrp_dbm: c.rsrp_dbm,
                rsrq_db: c.rsrq_db,
                ..Signal::default()
            };
            if sa {
                fill(&mut generic.rsrp_dbm, nr.rsrp_dbm);
                fill(&mut generic.rsrq_db, nr.rsrq_db);
                fill(&mut generic.sinr_db, nr.sinr_db);
            } else if !nr.is_empty() {
                generic.nr = Some(nr);
            }
            s.fill_from(&generic);
        }
        // +CSQ only stands in for RSSI where nothing better exists; on LTE it often says 99.
        let csq = r
            .get(Query::Csq)
            .and_then(|l| first_with(l, "+CSQ"))
            .and_then(|l| parse_csq(l).ok())
            .flatten();
        fill(&mut s.rssi_dbm, csq);
        s.with_quality()
    }

    /// The modem's own data counters from `replies`, where the profile has them.
    pub fn build_counters(&self, r: &Replies) -> Option<Traffic> {
        let q = self.params().counters?;
        match q.spec().reads {
            Reads::Counters(parse) => r.get(q).and_then(parse),
            _ => None,
        }
    }
}

/// The ICCID in `q`'s answer, read by `q`'s own parser.
pub(super) fn read_iccid(q: Query, r: &Replies) -> Option<String> {
    match q.spec().reads {
        Reads::Iccid(parse) => r.get(q).and_then(|l| parse(l).ok()),
        _ => None,
    }
}

/// The first of `lines` that carries `prefix`: modems put URC noise (Huawei `^RSSI`) beside
/// one-line answers.
pub(crate) fn first_with<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|l| after_prefix(l, prefix).is_some())
        .map(String::as_str)
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
