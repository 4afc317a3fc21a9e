//! The vendor parsers: Quectel (`+QENG`, `+QCSQ`, `+QNWINFO`, `+QIND`), Huawei (`^HCSQ`,
//! `^SYSINFOEX`, `^MONSC`, `^ICCID`, `^RSSI`), SIMCom (`+CPSI`), Sierra (`!GSTATUS?`) and
//! Fibocom (`+GTCCINFO`), each fed the same arbitrary reply lines. Invariant: a value or an
//! error, never a panic (an overflow is a panic: the fuzz build keeps overflow checks on, as
//! router builds do).
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::modem::{fibocom, huawei, quectel, sierra, simcom};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .take(64)
        .collect();
    let _ = quectel::parse_qeng(&lines);
    let _ = quectel::parse_qcsq(&lines);
    let _ = quectel::parse_qnwinfo(&lines);
    let _ = simcom::parse_cpsi(&lines);
    let _ = sierra::parse_gstatus(&lines);
    let _ = fibocom::parse_gtccinfo(&lines);
    let _ = huawei::parse_iccid(&lines);
    for line in &lines {
        let l = line.as_str();
        let _ = quectel::parse_qind(l);
        let _ = quectel::band_number(l);
        let _ = huawei::parse_hcsq(l);
        if let Ok(s) = huawei::parse_sysinfoex(l) {
            let _ = (s.tech(), s.in_service());
        }
        let _ = huawei::parse_monsc(l);
        let _ = huawei::luhn_ok(l);
        let _ = huawei::parse_rssi_urc(l);
    }
});
