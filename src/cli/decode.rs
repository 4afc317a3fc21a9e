//! `simkeep decode at|pdu|ussd`: paste a line from a forum post or a log and get the typed
//! result as JSON, read by the same parsers the agent uses. No port, no config, no store.
//!
//! Must not: parse anything itself. Each shape goes to its parser in `modem`, `codec` or
//! `ussd` (URCs: the table in `at::urc`); this file only picks the parser by the line's prefix
//! and writes the JSON.

use serde_json::{json, Value};

use crate::codec::{decode_pdu_hex, decode_ussd_reply, SmsPdu, UserData};
use crate::error::{AppError, ExitKind};
use crate::modem::generic::{
    iccid_text, parse_cesq, parse_cnum, parse_cops, parse_cpin, parse_csq, parse_iccid,
    parse_reg_answer, parse_reg_urc, RegReport,
};
use crate::modem::model::RadioReport;
use crate::modem::urc::{classify, Urc};
use crate::modem::{fibocom, huawei, quectel, sierra, simcom, ParseError};

/// How much input `decode` takes: a few reply lines or one PDU, never a whole log.
const MAX_INPUT: usize = 4096;

fn bad(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::new(ExitKind::Config, format!("cannot decode {what}: {e}"))
}

fn check_size(what: &str, text: &str) -> Result<(), AppError> {
    if text.len() > MAX_INPUT {
        return Err(bad(
            what,
            format!(
                "the input is {} bytes; paste at most {MAX_INPUT} (one reply or one PDU)",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// `simkeep decode at LINE…`: the reply lines of one command (several for multi-line
/// replies such as 5G NSA `+QENG` or `!GSTATUS?`). Prints the JSON.
pub fn decode_at(lines: &[String]) -> Result<(), AppError> {
    println!("{}", decode_at_json(lines)?);
    Ok(())
}

/// The JSON `decode at` prints.
pub fn decode_at_json(lines: &[String]) -> Result<Value, AppError> {
    check_size("the AT reply", &lines.concat())?;
    let lines: Vec<String> = lines
        .iter()
        .flat_map(|l| l.split(['\r', '\n']))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let first = lines.first().ok_or_else(|| {
        bad(
            "the AT reply",
            "it is empty; give a line such as '+CSQ: 24,99'",
        )
    })?;
    let upper = first.to_ascii_uppercase();
    let has = |p: &str| upper.starts_with(p);
    let e = |e: ParseError| bad("the AT reply", e);
    let v = if ["+CREG", "+CGREG", "+CEREG", "+C5GREG"]
        .iter()
        .any(|p| has(&format!("{p}:")) || has(&format!("{p} :")))
    {
        registration(first)?
    } else if has("+COPS") {
        let c = parse_cops(first).map_err(e)?;
        json!({"kind": "operator", "mode": c.mode, "format": c.format, "operator": c.oper,
               "mcc_mnc": c.numeric(), "name": c.name(), "act": c.act, "tech": c.tech()})
    } else if has("+CSQ") {
        json!({"kind": "signal_quality", "rssi_dbm": parse_csq(first).map_err(e)?})
    } else if has("+CESQ") {
        let c = parse_cesq(first).map_err(e)?;
        json!({"kind": "extended_signal_quality", "rssi_dbm": c.rssi_dbm, "rsrp_dbm": c.rsrp_dbm,
               "rsrq_db": c.rsrq_db, "nr_rsrp_dbm": c.nr_rsrp_dbm, "nr_rsrq_db": c.nr_rsrq_db,
               "nr_sinr_db": c.nr_sinr_db})
    } else if has("+CPIN") {
        json!({"kind": "sim_state", "state": parse_cpin(first).map_err(e)?})
    } else if upper.contains("CCID") {
        let iccid = if has("^ICCID") {
            huawei::parse_iccid(&lines)
        } else {
            parse_iccid(&lines)
        };
        json!({"kind": "iccid", "printed": iccid_text(&lines).map_err(e)?, "iccid": iccid.map_err(e)?})
    } else if has("+CNUM") {
        json!({"kind": "own_number", "number": parse_cnum(&lines).map_err(e)?})
    } else if has("+CUSD") {
        cusd(first)?
    } else if has("+QENG") {
        radio(
            "quectel_serving_cell",
            quectel::parse_qeng(&lines).map_err(e)?,
        )
    } else if has("+QNWINFO") {
        radio(
            "quectel_network_info",
            quectel::parse_qnwinfo(&lines).map_err(e)?,
        )
    } else if has("+QCSQ") {
        json!({"kind": "quectel_signal", "signal": quectel::parse_qcsq(&lines).map_err(e)?})
    } else if has("+CPSI") {
        radio(
            "simcom_serving_cell",
            simcom::parse_cpsi(&lines).map_err(e)?,
        )
    } else if has("+GTCCINFO") {
        radio(
            "fibocom_cell_info",
            fibocom::parse_gtccinfo(&lines).map_err(e)?,
        )
    } else if has("!GSTATUS") || upper.contains("CURRENT TIME:") {
        radio("sierra_status", sierra::parse_gstatus(&lines).map_err(e)?)
    } else if has("^SYSINFOEX") {
        let s = huawei::parse_sysinfoex(first).map_err(e)?;
        json!({"kind": "huawei_system_info", "service": s.service, "in_service": s.in_service(),
               "roaming": s.roaming, "sim_state": s.sim_state, "sysmode": s.sysmode,
               "submode": s.submode, "tech": s.tech()})
    } else if has("^MONSC") {
        radio(
            "huawei_serving_cell",
            huawei::parse_monsc(first).map_err(e)?,
        )
    } else if has("^HCSQ") {
        json!({"kind": "huawei_signal", "signal": huawei::parse_hcsq(first).map_err(e)?})
    } else if let Some(urc) = classify(first) {
        let mut v = other_urc(urc);
        // What the agent does about it, from the same URC table the engine routes by.
        let at = crate::at::Urc::new(first.as_str(), None);
        v["urc"] = json!({
            "code": at.code().map(|c| format!("{c:?}")),
            "lifecycle": format!("{:?}", at.lifecycle()),
            "noise": at.is_noise(),
        });
        v
    } else {
        return Err(bad(
            "the AT reply",
            format!(
                "no parser reads lines like \"{}\"; known: +CREG/+CGREG/+CEREG/+C5GREG, +COPS, +CSQ, +CESQ, +CPIN, ICCID forms, +CNUM, +CUSD, +QENG, +QNWINFO, +QCSQ, +CPSI, +GTCCINFO, !GSTATUS, ^SYSINFOEX, ^MONSC, ^HCSQ, +CMTI, +QIND",
                crate::modem::escape(first)
            ),
        ));
    };
    Ok(v)
}

/// A registration line read both ways the agent reads it: as an answer to `AT+CxREG?` and
/// as a URC (the URC form first, falling back to the answer form, as `modem::urc` does).
fn registration(line: &str) -> Result<Value, AppError> {
    let answer = parse_reg_answer(line).ok();
    let urc = parse_reg_urc(line).ok().or_else(|| answer.clone());
    if answer.is_none() && urc.is_none() {
        let err = parse_reg_urc(line).err().map(|e| e.to_string());
        return Err(bad(
            "the AT reply",
            err.unwrap_or_else(|| "not a registration line".into()),
        ));
    }
    let one = |r: &RegReport| {
        json!({"n": r.n, "state": r.state, "area": r.area, "area_hex": r.area.map(|a| format!("{a:X}")),
               "cell_id": r.cell_id, "cell_id_hex": r.cell_id.map(|c| format!("{c:X}")),
               "act": r.act, "tech": r.tech()})
    };
    Ok(json!({
        "kind": "registration",
        "command": answer.as_ref().or(urc.as_ref()).map(|r| r.kind.prefix()),
        "as_answer": answer.as_ref().map(one),
        "as_urc": urc.as_ref().map(one),
    }))
}

fn radio(kind: &str, r: RadioReport) -> Value {
    json!({"kind": kind, "tech": r.tech, "in_service": r.in_service, "mcc": r.mcc, "mnc": r.mnc,
           "tac": r.tac, "cell_id": r.cell_id, "cell_id_hex": r.cell_id.map(|c| format!("{c:X}")),
           "signal": r.signal})
}

fn cusd(line: &str) -> Result<Value, AppError> {
    let c = crate::at::urc::parse_cusd(line.trim()).ok_or_else(|| {
        bad(
            "the +CUSD line",
            "expected +CUSD: <status>[,\"<text>\"[,<dcs>]]",
        )
    })?;
    let text = c.text.as_deref().map(|t| decode_ussd_reply(t, c.dcs));
    Ok(json!({"kind": "ussd", "status": c.status, "raw": c.text, "dcs": c.dcs, "text": text}))
}

fn other_urc(urc: Urc) -> Value {
    match urc {
        Urc::Cmti { mem, index } => json!({"kind": "new_sms", "storage": mem, "index": index}),
        Urc::Qind(q) => json!({"kind": "quectel_indication", "value": format!("{q:?}")}),
        Urc::HuaweiRssi(r) => json!({"kind": "huawei_rssi", "rssi_dbm": r}),
        Urc::Rdy => json!({"kind": "modem_restarted"}),
        other => json!({"kind": "urc", "value": format!("{other:?}")}),
    }
}

/// `simkeep decode pdu HEX`: an SMS PDU as `+CMGR`/`+CMGL`/`+CMT` print it (SMSC first).
pub fn decode_pdu(hex: &str) -> Result<(), AppError> {
    println!("{}", decode_pdu_json(hex)?);
    Ok(())
}

pub fn decode_pdu_json(hex: &str) -> Result<Value, AppError> {
    check_size("the PDU", hex)?;
    let pdu = decode_pdu_hex(hex).map_err(|e| bad("the PDU", e))?;
    Ok(match &pdu {
        SmsPdu::Deliver(d) => json!({
            "type": "deliver", "smsc": d.smsc, "sender": d.sender,
            "sender_toa": format!("{:02X}", d.sender_toa), "time": rfc3339(d.timestamp, d.tz_minutes),
            "timestamp": d.timestamp, "tz_minutes": d.tz_minutes, "pid": d.pid,
            "dcs": dcs(&d.dcs), "status_report_indication": d.status_report_indication,
            "user_data": user_data(&d.user_data),
        }),
        SmsPdu::Submit(s) => json!({
            "type": "submit", "smsc": s.smsc, "destination": s.destination,
            "destination_toa": format!("{:02X}", s.destination_toa),
            "message_reference": s.message_reference, "pid": s.pid, "dcs": dcs(&s.dcs),
            "validity_secs": s.validity.duration_secs(),
            "status_report_request": s.status_report_request,
            "user_data": user_data(&s.user_data),
        }),
        SmsPdu::StatusReport(r) => json!({
            "type": "status_report", "smsc": r.smsc, "message_reference": r.message_reference,
            "recipient": r.recipient, "time": rfc3339(r.timestamp, r.tz_minutes),
            "discharge_time": rfc3339(r.discharge_time, r.discharge_tz_minutes),
            "status": r.status, "outcome": format!("{:?}", r.outcome()).to_lowercase(),
        }),
    })
}

fn dcs(d: &crate::codec::Dcs) -> Value {
    json!({"raw": d.raw, "alphabet": format!("{:?}", d.alphabet).to_lowercase(),
           "class": d.class.map(|c| format!("{c:?}")), "compressed": d.compressed})
}

fn user_data(u: &UserData) -> Value {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    json!({
        "text": u.text,
        "data_hex": (!u.data.is_empty()).then(|| hex(&u.data)),
        "concat": u.concat.map(|c| json!({"reference": c.reference, "part": c.seq, "total": c.total})),
        "other_headers": u.other_ies.iter()
            .map(|ie| json!({"iei": ie.iei, "data_hex": hex(&ie.data)}))
            .collect::<Vec<_>>(),
    })
}

/// Unix seconds plus the sender's zone as RFC 3339 local time (`2026-03-26T08:32:00+08:00`).
fn rfc3339(ts: i64, tz_minutes: i16) -> Option<String> {
    let local = ts.checked_add(i64::from(tz_minutes) * 60)?;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if tz_minutes < 0 { '-' } else { '+' };
    let tz = tz_minutes.unsigned_abs();
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        tz / 60,
        tz % 60
    ))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `simkeep decode ussd HEX|TEXT [--dcs N]`: a `+CUSD` payload, decided by content as the
/// agent does (UCS2 hex, packed GSM-7 hex, hex of ASCII, or text already decoded).
pub fn decode_ussd(payload: &str, dcs: Option<u8>) -> Result<(), AppError> {
    println!("{}", decode_ussd_json(payload, dcs)?);
    Ok(())
}

pub fn decode_ussd_json(payload: &str, dcs: Option<u8>) -> Result<Value, AppError> {
    check_size("the USSD text", payload)?;
    Ok(json!({"raw": payload, "dcs": dcs, "text": decode_ussd_reply(payload, dcs)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lines: &[&str]) -> Value {
        let v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        decode_at_json(&v).unwrap_or_else(|e| panic!("{lines:?}: {}", e.message))
    }

    #[test]
    fn a_cereg_answer_decodes_to_state_area_cell_and_tech() {
        let v = at(&["+CEREG: 2,1,\"1F00\",\"79D903\",7"]);
        assert_eq!(v["kind"], "registration");
        assert_eq!(v["command"], "+CEREG");
        let a = &v["as_answer"];
        assert_eq!(
            (&a["state"], &a["area_hex"], &a["cell_id_hex"], &a["tech"]),
            (
                &json!("home"),
                &json!("1F00"),
                &json!("79D903"),
                &json!("lte")
            )
        );
        // The URC reading falls back to the answer form rather than "searching, cell 0x1F00".
        assert_eq!(v["as_urc"], v["as_answer"]);
    }

    #[test]
    fn urcs_decode_with_what_the_urc_table_says_about_them() {
        let v = at(&["RDY"]);
        assert_eq!(v["kind"], "modem_restarted");
        assert_eq!(v["urc"]["lifecycle"], "Boot");
        let v = at(&["+CMTI: \"SM\",3"]);
        assert_eq!((&v["kind"], &v["index"]), (&json!("new_sms"), &json!(3)));
        assert_eq!(v["urc"]["code"], "Cmti");
        let v = at(&["+QIND: SMS DONE"]);
        assert_eq!(v["urc"]["lifecycle"], "SimReady");
        let v = at(&["^DSFLOWRPT:0000,0,0"]);
        assert_eq!(v["urc"]["noise"], true);
    }

    #[test]
    fn vendor_lines_go_to_their_parsers() {
        // EC25 LTE layout (quectel_tests.rs).
        let v = at(&["+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",222,88,4CAA71F,28,1500,3,3,3,77B8,-84,-9,-56,21,35"]);
        assert_eq!(v["kind"], "quectel_serving_cell");
        assert_eq!(
            (&v["tech"], &v["mcc"], &v["cell_id_hex"], &v["tac"]),
            (
                &json!("lte"),
                &json!("222"),
                &json!("4CAA71F"),
                &json!(0x77B8)
            )
        );
        let v = at(&["^SYSINFOEX:2,4,5,1,,3,WCDMA,41,HSPA+"]);
        assert_eq!(
            (&v["tech"], &v["in_service"]),
            (&json!("umts"), &json!(true))
        );
        let v = at(&["^HCSQ: LTE,33,40,135,11"]);
        assert_eq!(v["signal"]["rsrp_dbm"], -101.0);
    }

    #[test]
    fn a_cusd_line_is_decoded_by_content() {
        // UCS2 hex labelled dcs 72 (modem-quirks.md item 9): "Да".
        let v = at(&["+CUSD: 0,\"04140430\",72"]);
        assert_eq!((&v["status"], &v["text"]), (&json!(0), &json!("Да")));
        let v = decode_ussd_json("AA514C361B01", Some(15)).unwrap();
        assert_eq!(v["text"], "*#123#");
    }

    #[test]
    fn a_deliver_pdu_gives_sender_time_text_and_parts() {
        // ModemManager's test PDUs (`src/tests/test-sms-part-3gpp.c`, also in codec/pdu_tests.rs).
        let v = decode_pdu_json(
            "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442",
        )
        .unwrap();
        assert_eq!(v["type"], "deliver");
        assert_eq!(v["sender"], "InternetSMS");
        assert_eq!(v["user_data"]["text"], "тест");
        assert_eq!(v["time"], "2011-03-29T19:20:04+04:00");
        assert_eq!(v["dcs"]["alphabet"], "ucs2");
        let v = decode_pdu_json("07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D44479741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10").unwrap();
        assert_eq!(
            v["user_data"]["concat"],
            json!({"reference": 0x4C, "part": 2, "total": 2})
        );
    }

    #[test]
    fn unknown_lines_and_huge_input_are_refused_with_the_reason() {
        let e = decode_at_json(&["+FOO: 1".into()]).unwrap_err();
        assert!(
            e.message.contains("no parser reads lines like"),
            "{}",
            e.message
        );
        let e = decode_at_json(&["+CSQ: 1".into()]).unwrap_err();
        assert!(e.message.contains("+CSQ: 1"), "{}", e.message);
        let e = decode_ussd_json(&"A".repeat(5000), None).unwrap_err();
        assert!(e.message.contains("5000 bytes"), "{}", e.message);
        assert!(decode_pdu_json("zz").is_err());
    }
}
