//! Round trip without a pty: each simulator personality answers its profile's init, info and
//! signal commands, the profile builds the modem model from those answers, and every field
//! must equal what the radio was set to — or be `None` where that vendor's commands cannot
//! carry it. Catches an encoder and a parser drifting apart.

mod support;

use simkeep::modem::profile::Declared;
use simkeep::modem::{
    ModemIdentity, NrSignal, Profile, RegState, Registration, Replies, Signal, SimInfo, SimState,
    Tech,
};
use simkeep::sim::radio::{Radio, RadioTech};
use simkeep::sim::{Answer, Personality};

/// What a vendor's commands can report (beyond what every profile gets from 27.007).
struct Can {
    band: bool,
    earfcn: bool,
    pci: bool,
    sinr: bool,
    nr: bool,
}

fn can(p: Personality) -> Can {
    let all = Can {
        band: true,
        earfcn: true,
        pci: true,
        sinr: true,
        nr: true,
    };
    match p {
        Personality::Generic => Can {
            band: false,
            earfcn: false,
            pci: false,
            sinr: false,
            nr: true,
        },
        Personality::HuaweiE3372 => Can {
            band: false,
            nr: false,
            ..all
        },
        Personality::SierraEm7455 => Can {
            pci: false,
            nr: false,
            ..all
        },
        Personality::FibocomL850 => all,
        _ => all,
    }
}

/// What the personality answers to one wire command.
fn answer(p: Personality, radio: &mut Radio, line: &str) -> Result<Vec<String>, String> {
    match p.answer(radio, line) {
        Some(Answer::Ok(lines)) | Some(Answer::Raw(lines)) => Ok(lines),
        Some(Answer::CmeError(n)) => Err(format!("+CME ERROR: {n}")),
        Some(_) | None => Err("ERROR".to_string()),
    }
}

/// Each declared query's wire commands, in order, as the driver sends them; the answer is the
/// read's.
fn ask(p: Personality, radio: &mut Radio, queries: &[Declared], into: &mut Replies) {
    for d in queries {
        let spec = d.query.spec();
        for line in spec.set {
            let _ = answer(p, radio, line);
        }
        into.insert(d.query, answer(p, radio, spec.read));
        for line in spec.restore {
            let _ = answer(p, radio, line);
        }
    }
}

/// Values every format can carry exactly: odd RSSI (CSQ is −113+2n), whole RSRP/RSRQ, even SINR.
fn radio_for(p: Personality, tech: RadioTech) -> Radio {
    let mut r = p.default_radio();
    for (k, v) in support::EXACT_RADIO {
        r.set(k, v).unwrap();
    }
    r.tech = tech;
    if tech == RadioTech::Nr5gSa {
        r.cell_id = 0x1_0007_2000;
        r.tac = 0x11_4000;
        r.band = Some(78);
        r.earfcn = Some(627_264);
    }
    r
}

fn expected_signal(p: Personality, r: &Radio) -> Signal {
    let c = can(p);
    let keep = |ok: bool, v: Option<u32>| if ok { v } else { None };
    let nr = (r.tech == RadioTech::Nr5gNsa && c.nr).then(|| NrSignal {
        rsrp_dbm: r.nr_rsrp_dbm,
        rsrq_db: r.nr_rsrq_db,
        sinr_db: r.nr_sinr_db,
        // The generic profile learns the NR leg from +CESQ only: no band or channel there.
        band: keep(p != Personality::Generic, r.nr_band),
        arfcn: keep(p != Personality::Generic, r.nr_arfcn),
    });
    let sinr_known = c.sinr || (p == Personality::Generic && r.tech == RadioTech::Nr5gSa);
    Signal {
        rssi_dbm: r.rssi_dbm,
        rsrp_dbm: r.rsrp_dbm,
        rsrq_db: r.rsrq_db,
        sinr_db: if sinr_known { r.sinr_db } else { None },
        band: keep(c.band, r.band),
        earfcn: keep(c.earfcn, r.earfcn),
        pci: keep(c.pci, r.pci),
        quality_pct: None,
        nr,
    }
}

fn tech_of(p: Personality, t: RadioTech) -> Tech {
    match (t, can(p).nr) {
        (RadioTech::Lte, _) | (RadioTech::Nr5gNsa, false) | (RadioTech::Nr5gSa, false) => Tech::Lte,
        (RadioTech::Nr5gNsa, true) => Tech::Nr5gNsa,
        (RadioTech::Nr5gSa, true) => Tech::Nr5gSa,
        (RadioTech::Umts, _) => Tech::Umts,
        (RadioTech::Gsm, _) => Tech::Gsm,
    }
}

fn round_trip(p: Personality, tech: RadioTech) {
    let mut radio = radio_for(p, tech);
    let profile = Profile::detect(p.manufacturer(), p.model());
    for line in profile.init_commands() {
        let _ = answer(p, &mut radio, line);
    }
    let mut replies = Replies::new();
    ask(p, &mut radio, &profile.queries(), &mut replies);
    let ctx = format!("{} on {tech:?}", p.name());

    assert_eq!(
        profile.build_identity(&replies),
        ModemIdentity {
            manufacturer: Some(p.manufacturer().into()),
            model: Some(p.model().into()),
            revision: Some(p.revision().into()),
            imei: Some(radio.imei.clone()),
        },
        "{ctx}"
    );
    assert_eq!(
        profile.build_sim(&replies),
        SimInfo {
            state: Some(SimState::Ready),
            iccid: Some(radio.iccid.clone()),
            imsi: Some(radio.imsi.clone()),
            msisdn: Some(radio.msisdn.clone()),
            home_mcc: Some("440".into()),
            home_mnc: Some("20".into()),
        },
        "{ctx}"
    );
    assert_eq!(
        profile.build_registration(&replies),
        Registration {
            state: Some(RegState::Home),
            tech: Some(tech_of(p, tech)),
            operator: Some(radio.operator.clone()),
            mcc: Some(radio.mcc.clone()),
            mnc: Some(radio.mnc.clone()),
            tac: Some(radio.tac),
            cell_id: Some(radio.cell_id),
        },
        "{ctx}"
    );
    let mut got = profile.build_signal(&replies);
    assert!(got.quality_pct.is_some(), "{ctx}: quality");
    got.quality_pct = None;
    assert_eq!(got, expected_signal(p, &radio), "{ctx}");
}

#[test]
fn every_personality_round_trips_identity_sim_registration_and_signal_on_lte() {
    for p in Personality::all() {
        round_trip(*p, RadioTech::Lte);
    }
}

#[test]
fn five_g_nsa_round_trips_the_nr_leg_where_the_vendor_reports_one() {
    for p in [
        Personality::QuectelRm520n,
        Personality::SimcomSim7600,
        Personality::FibocomL850,
        Personality::Generic,
    ] {
        round_trip(p, RadioTech::Nr5gNsa);
    }
}

#[test]
fn five_g_sa_round_trips_the_36_bit_cell_and_nr_values() {
    for p in [
        Personality::QuectelRm520n,
        Personality::SimcomSim7600,
        Personality::FibocomL850,
        Personality::Generic,
    ] {
        round_trip(p, RadioTech::Nr5gSa);
    }
}

#[test]
fn every_personality_is_detected_as_its_own_profile() {
    let want = [
        (Personality::Generic, Profile::Generic),
        (Personality::QuectelEc25, Profile::Quectel),
        (Personality::QuectelRm520n, Profile::Quectel),
        (Personality::HuaweiE3372, Profile::Huawei),
        (Personality::SimcomSim7600, Profile::Simcom),
        (Personality::SierraEm7455, Profile::Sierra),
        (Personality::FibocomL850, Profile::Fibocom),
    ];
    for (p, profile) in want {
        let mut r = p.default_radio();
        let text = |cmd: &str, r: &mut Radio| match p.answer(r, cmd) {
            Some(Answer::Ok(l)) => l.join(" "),
            _ => String::new(),
        };
        let (cgmi, cgmm) = (text("AT+CGMI", &mut r), text("AT+CGMM", &mut r));
        assert_eq!(Profile::detect(&cgmi, &cgmm), profile, "{}", p.name());
    }
}

#[test]
fn unknown_values_come_back_as_null_not_as_numbers() {
    for p in Personality::all() {
        let mut radio = p.default_radio();
        for k in ["rsrp", "rsrq", "sinr", "rssi"] {
            radio.set(k, "unknown").unwrap();
        }
        let profile = Profile::detect(p.manufacturer(), p.model());
        let mut replies = Replies::new();
        ask(*p, &mut radio, &profile.signal_queries(), &mut replies);
        let s = profile.build_signal(&replies);
        assert_eq!(
            (s.rsrp_dbm, s.rsrq_db, s.sinr_db, s.rssi_dbm, s.quality_pct),
            (None, None, None, None, None),
            "{}",
            p.name()
        );
    }
}
