//! Fibocom (L850-GL, FM150, FM350) `AT+GTCCINFO?`: serving and neighbour cells, one row each,
//! after a `+GTCCINFO:` header and (on L8-family firmware) section titles such as
//! `LTE service cell:`. ICCID comes from `AT+ICCID` (`+ICCID: …`, generic parser).
//!
//! Pure. Row layout from the Fibocom FM150/FM350 AT command manual (§ +GTCCINFO) and public
//! FM350 captures: `<IsServiceCell>,<rat>,<mcc>,<mnc>,<tac hex>,<cellid hex>,<earfcn>,<pci>,
//! <band>,<bandwidth>,<sinr>,<rxlev>,<rsrp>,<rsrq>`. rat 4 = LTE, 9 = NR. Band codes: LTE
//! 100+n, NR 5000+n (`5078` = n78). Indices use the 3GPP reporting tables (TS 36.133 §9.1,
//! TS 38.133 §10.1), 255 = unknown; LTE `<sinr>` is whole dB, NR `<sinr>` an SS-SINR index.

use super::model::{round1, NrSignal, RadioReport, Signal, Tech};
use super::profile::{Declared, Feeds, Params, Query, Rate, Reads, Spec, CELL, GENERIC, QUICK};
use super::{after_prefix, fields, opt_hex, opt_int, ParseError};

// ------------------------------------------------------------------ profile declaration

/// Fibocom L8x0, FM150/FM350, NL668, FG150: what differs from the 3GPP profile.
pub const PARAMS: Params = Params {
    maker: "fibocom",
    models: &["L850", "L860", "FM150", "FM350", "NL668", "FG150"],
    iccid: Some(Query::FibocomIccid),
    cell: &[Declared::new(
        Query::FibocomCellInfo,
        Rate::EveryPoll,
        Feeds::RegistrationAndSignal,
    )],
    ..GENERIC
};

/// `AT+ICCID` answers `+ICCID: <iccid>`.
pub const ICCID: Spec = Spec::one("AT+ICCID", QUICK, Reads::Iccid(super::generic::parse_iccid));
pub const CELL_INFO: Spec = Spec::one(
    "AT+GTCCINFO?",
    CELL,
    Reads::Cell(|l| parse_gtccinfo(l).ok()),
);

/// One serving-cell row.
#[derive(Debug, Clone, Default, PartialEq)]
struct Row {
    nr: bool,
    mcc: Option<String>,
    mnc: Option<String>,
    tac: Option<u32>,
    cell_id: Option<u64>,
    signal: Signal,
}

/// `AT+GTCCINFO?` → radio report. LTE row alone → LTE; NR row alone → 5G SA; both → NSA with
/// the NR row as the NR leg.
pub fn parse_gtccinfo(lines: &[String]) -> Result<RadioReport, ParseError> {
    let mut lte: Option<Row> = None;
    let mut nr: Option<Row> = None;
    let mut header = false;
    for line in lines {
        let mut text = line.trim();
        if let Some(rest) = after_prefix(text, "+GTCCINFO") {
            header = true;
            text = rest;
        }
        if text.is_empty() || text.ends_with(':') {
            continue; // blank, or a section title such as "LTE service cell:"
        }
        let f = fields(text);
        if f.first() != Some(&"1") {
            continue; // neighbour cell
        }
        let row = parse_row(&f, line)?;
        let slot = if row.nr { &mut nr } else { &mut lte };
        if slot.is_none() {
            *slot = Some(row);
        }
    }
    if !header && lte.is_none() && nr.is_none() {
        return Err(ParseError::Missing { what: "+GTCCINFO" });
    }
    let mut r = RadioReport::default();
    match (lte, nr) {
        (Some(l), nr) => {
            r.tech = Some(if nr.is_some() {
                Tech::Nr5gNsa
            } else {
                Tech::Lte
            });
            camp(&mut r, &l);
            r.signal = l.signal;
            r.signal.nr = nr.map(|n| NrSignal {
                rsrp_dbm: n.signal.rsrp_dbm,
                rsrq_db: n.signal.rsrq_db,
                sinr_db: n.signal.sinr_db,
                band: n.signal.band,
                arfcn: n.signal.earfcn,
            });
        }
        (None, Some(n)) => {
            r.tech = Some(Tech::Nr5gSa);
            camp(&mut r, &n);
            r.signal = n.signal;
        }
        (None, None) => r.in_service = Some(false),
    }
    Ok(r)
}

fn camp(r: &mut RadioReport, row: &Row) {
    r.in_service = Some(true);
    r.mcc = row.mcc.clone();
    r.mnc = row.mnc.clone();
    r.tac = row.tac;
    r.cell_id = row.cell_id;
}

fn parse_row(f: &[&str], line: &str) -> Result<Row, ParseError> {
    let bad = |reason| ParseError::malformed("serving cell", line, reason);
    if f.len() < 14 {
        return Err(bad("serving cell row is truncated"));
    }
    let int = |i: usize| opt_int(f.get(i)).map_err(|_| bad("a numeric field holds text"));
    // All-F ids are "not available" (the NR row of an NSA connection carries no TAC/cell).
    let hex = |i: usize| -> Result<Option<u64>, ParseError> {
        let all_f = f
            .get(i)
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b == b'F' || b == b'f'));
        if all_f {
            return Ok(None);
        }
        opt_hex(f.get(i)).map_err(|_| bad("a hex field holds text"))
    };
    let index = |i: usize, max: i64| -> Result<Option<f64>, ParseError> {
        match int(i)? {
            None | Some(255) => Ok(None),
            Some(v) if (0..=max).contains(&v) => Ok(Some(v as f64)),
            Some(_) => Err(bad("index out of range")),
        }
    };
    let plmn = |i: usize| -> Option<String> {
        f.get(i)
            .filter(|s| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| s.to_string())
    };
    let nr = match int(1)? {
        Some(4) => false,
        Some(9) => true,
        _ => return Err(bad("unknown access technology")),
    };
    let mut s = Signal {
        earfcn: int(6)?.and_then(|v| u32::try_from(v).ok()),
        pci: int(7)?.and_then(|v| u32::try_from(v).ok()),
        band: int(8)?.and_then(|code| band_from_code(code, nr)),
        ..Signal::default()
    };
    if nr {
        s.sinr_db = index(10, 127)?.map(|n| round1(n / 2.0 - 23.5));
        s.rsrp_dbm = index(12, 126)?.map(|n| n - 157.0);
        s.rsrq_db = index(13, 127)?.map(|n| round1(n / 2.0 - 43.5));
    } else {
        s.sinr_db = int(10)?
            .filter(|v| (-20..=40).contains(v))
            .map(|v| v as f64);
        s.rsrp_dbm = index(12, 97)?.map(|n| n - 141.0);
        s.rsrq_db = index(13, 34)?.map(|n| round1(n / 2.0 - 20.0));
    }
    Ok(Row {
        nr,
        mcc: plmn(2),
        mnc: plmn(3),
        tac: hex(4)?.and_then(|t| u32::try_from(t).ok()),
        cell_id: hex(5)?.filter(|c| *c < 1 << 36),
        signal: s,
    })
}

/// Fibocom band code → band number: LTE `1nn`, NR `50nn`/`5nn`.
fn band_from_code(code: i64, nr: bool) -> Option<u32> {
    let n = match (nr, code) {
        (false, 101..=199) => code - 100,
        (true, 5001..=5999) => code - 5000,
        (true, 501..=599) => code - 500,
        _ => return None,
    };
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    //! Rows: public FM350-GL captures (serving LTE, NSA with an NR row, empty reply) and the
    //! L8-family sectioned layout.
    use super::*;
    use proptest::prelude::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lte_serving_row_with_neighbours_gives_the_serving_cell_only() {
        let r = parse_gtccinfo(&v(&[
            "+GTCCINFO: ",
            "1,4,001,01,ABCD,00ABCDEF0,1850,123,103,100,4,44,44,13",
            "",
            "2,4,,,FFFF,00FFFFFFF,9460,71,,43,43,10",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.mcc.as_deref(), r.mnc.as_deref()),
            (Some(Tech::Lte), Some("001"), Some("01"))
        );
        assert_eq!((r.tac, r.cell_id), (Some(0xABCD), Some(0x00AB_CDEF0)));
        let s = &r.signal;
        assert_eq!((s.earfcn, s.pci, s.band), (Some(1850), Some(123), Some(3)));
        assert_eq!(
            (s.sinr_db, s.rsrp_dbm, s.rsrq_db),
            (Some(4.0), Some(-97.0), Some(-13.5))
        );
    }

    #[test]
    fn nsa_has_an_lte_row_and_an_nr_row_without_ids() {
        let r = parse_gtccinfo(&v(&[
            "+GTCCINFO:",
            "1,4,001,01,ABCD,00ABCDEF0,1850,123,103,100,4,44,44,13",
            "1,9,,,FFFFFFF,00FFFFFFF,645312,130,5078,400,2,49,49,69",
            "2,4,,,FFFF,00FFFFFFF,1850,137,,41,41,71",
        ]))
        .unwrap();
        assert_eq!((r.tech, r.tac), (Some(Tech::Nr5gNsa), Some(0xABCD)));
        let nr = r.signal.nr.unwrap();
        assert_eq!(
            (nr.band, nr.arfcn, nr.rsrp_dbm, nr.rsrq_db, nr.sinr_db),
            (
                Some(78),
                Some(645312),
                Some(-108.0),
                Some(-9.0),
                Some(-22.5)
            )
        );
    }

    #[test]
    fn l8_family_section_titles_are_skipped_and_empty_fields_are_unknown() {
        let r = parse_gtccinfo(&v(&[
            "+GTCCINFO:",
            "LTE service cell:",
            "1,4,262,2,1A2B,0012345AB,100,42,,,-7,29,29,4",
            "LTE neighbor cell:",
            "2,4,,,FFFF,00FFFFFFF,6300,207,,42,42,15",
        ]))
        .unwrap();
        assert_eq!(
            (
                r.signal.band,
                r.signal.sinr_db,
                r.signal.rsrp_dbm,
                r.signal.rsrq_db
            ),
            (None, Some(-7.0), Some(-112.0), Some(-18.0))
        );
    }

    #[test]
    fn an_empty_reply_means_no_service() {
        let r = parse_gtccinfo(&v(&["+GTCCINFO: "])).unwrap();
        assert_eq!((r.in_service, r.tech), (Some(false), None));
    }

    #[test]
    fn truncated_rows_and_bad_values_are_errors() {
        for row in [
            "1,4,001,01,ABCD",
            "1,4,001,01,ZZZZ,00ABCDEF0,1850,123,103,100,4,44,44,13",
            "1,7,001,01,ABCD,1,1,1,1,1,1,1,1,1",
            "1,4,001,01,ABCD,1,1850,123,103,100,4,44,99,13",
        ] {
            assert!(parse_gtccinfo(&v(&["+GTCCINFO:", row])).is_err(), "{row}");
        }
        assert!(parse_gtccinfo(&[]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic_gtccinfo(a in "\\PC{0,120}", b in "1,[49],[-0-9A-F,]{0,80}") {
            let _ = parse_gtccinfo(&["+GTCCINFO:".to_string(), a.clone(), b.clone()]);
            let _ = parse_gtccinfo(&[format!("+GTCCINFO: {a}")]);
        }
    }
}
