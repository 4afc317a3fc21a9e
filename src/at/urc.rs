//! Routing: is a line the answer to the running command, or an unsolicited result code?
//!
//! Modems interleave URCs with responses, even in the middle of one (`+CSQ: 20,99`,
//! `+CMTI: "ME",3`, `OK`). A URC must go to subscribers and never into a command's result. The
//! hard case is a URC that shares its prefix with an answer: `+CREG: 1,"8BE3","2BAF"` (URC) vs
//! `+CREG: 2,1,"8BE3","2BAF"` (answer to `AT+CREG?`). While `AT+CREG?` runs, a `+CREG:` line is
//! taken as the answer (the modem holds URCs of the same kind during the command, V.250 §5.7.1
//! on buffering); otherwise it is a URC. Typed URC parsing lives in `modem::urc`.

/// Prefixes of unsolicited result codes real modems send (TS 27.007 §7–§10, TS 27.005 §3.4.1,
/// Huawei/Quectel/SIMCom manuals).
const URC_PREFIXES: &[&str] = &[
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+C5GREG:",
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CDSI:",
    "+CBM:",
    "+CUSD:",
    "RING",
    "+CRING:",
    "+CLIP:",
    "+CGEV:",
    "+CTZV:",
    "+CTZE:",
    "+CIEV:",
    "+CPIN:",
    "+CFUN:",
    "+PACSP",
    "+NITZ",
    "*PSUTTZ",
    "^RSSI:",
    "^HCSQ:",
    "^MODE:",
    "^BOOT:",
    "^SRVST:",
    "^SIMST:",
    "^DSFLOWRPT:",
    "^RSSILVL:",
    "^STIN:",
    "^NWTIME:",
    "^CEND:",
    "^ORIG:",
    "^CONF:",
    "^CONN:",
    "^SYSSTART",
    "^NDISSTAT:",
    "+QIND:",
    "+QUSIM:",
    "+QSTAT:",
    "RDY",
    "SMS DONE",
    "PB DONE",
    "+CPSI:",
    "+SIMCARD:",
    "+CTZU:",
    "DST:",
    "*PSNWID:",
    "+STIN:",
    "NO CARRIER",
];

/// URCs that carry a second line (the PDU): `+CMT: ,<len>` / `+CDS: <len>` then the PDU,
/// TS 27.005 §3.4.1.
pub fn has_pdu_line(line: &str) -> bool {
    line.starts_with("+CMT:") || line.starts_with("+CDS:") || line.starts_with("+CBM:")
}

/// True if `line` matches a known URC prefix.
pub fn is_urc_prefix(line: &str) -> bool {
    URC_PREFIXES.iter().any(|p| line.starts_with(p))
}

/// Decides where `line` goes. `pending_prefix` is the running command's reply prefix (see
/// [`super::command::reply_prefix`]), `None` when the command has none or nothing is running.
pub fn is_unsolicited(line: &str, command_running: bool, pending_prefix: Option<&str>) -> bool {
    if let Some(prefix) = pending_prefix {
        if line.starts_with(prefix) {
            return false;
        }
        // `AT+CPSI?` answers `+CPSI:`; `AT+CGREG?` must not swallow `+CREG:`. starts_with above
        // is exact, so nothing more to do here.
    }
    if is_urc_prefix(line) {
        return true;
    }
    // An unknown line with no command running cannot be an answer; hand it to subscribers.
    !command_running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creg_during_creg_query_is_the_answer() {
        assert!(!is_unsolicited(
            "+CREG: 2,1,\"8BE3\",\"2BAF\"",
            true,
            Some("+CREG:")
        ));
    }

    #[test]
    fn creg_during_another_command_is_a_urc() {
        assert!(is_unsolicited(
            "+CREG: 1,\"8BE3\",\"2BAF\"",
            true,
            Some("+CSQ:")
        ));
        // TS 27.007: +CGREG answers must not take +CREG URCs.
        assert!(is_unsolicited("+CREG: 5", true, Some("+CGREG:")));
    }

    #[test]
    fn new_sms_indication_in_the_middle_of_a_response_is_a_urc() {
        assert!(is_unsolicited("+CMTI: \"ME\",3", true, Some("+CSQ:")));
        assert!(!is_unsolicited("+CSQ: 20,99", true, Some("+CSQ:")));
    }

    #[test]
    fn unprefixed_lines_are_answers_while_a_command_runs() {
        // ATI / AT+CGMI print bare lines.
        assert!(!is_unsolicited("Quectel", true, None));
        assert!(is_unsolicited("Quectel", false, None));
    }

    #[test]
    fn huawei_noise_is_unsolicited() {
        for l in [
            "^RSSI:18",
            "^HCSQ:\"LTE\",30,19,66,0",
            "^MODE:5,4",
            "^BOOT:12345,0,0,0,72",
        ] {
            assert!(is_unsolicited(l, true, Some("+CSQ:")), "{l}");
        }
    }

    #[test]
    fn sms_delivery_urcs_carry_a_pdu_line() {
        assert!(has_pdu_line("+CMT: ,24"));
        assert!(has_pdu_line("+CDS: 25"));
        assert!(!has_pdu_line("+CMTI: \"SM\",1"));
    }
}
