//! Routing: is a line the answer to the running command, or an unsolicited result code?
//!
//! Modems interleave URCs with responses, even in the middle of one (`+CSQ: 20,99`,
//! `+CMTI: "ME",3`, `OK`). A URC must go to subscribers and never into a command's result. The
//! hard case is a URC that shares its prefix with an answer: `+CREG: 1,"8BE3","2BAF"` (URC) vs
//! `+CREG: 2,1,"8BE3","2BAF"` (answer to `AT+CREG?`). While `AT+CREG?` runs, a `+CREG:` line is
//! taken as the answer (the modem holds URCs of the same kind during the command, V.250 §5.7.1
//! on buffering); otherwise it is a URC. Typed URC parsing lives in `modem::urc`.

use super::command::Command;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        Command::new(line).unwrap()
    }

    #[test]
    fn creg_during_creg_query_is_the_answer() {
        assert!(!is_unsolicited(
            "+CREG: 2,1,\"8BE3\",\"2BAF\"",
            Some(&cmd("AT+CREG?"))
        ));
        // modem-quirks.md §1: leading zeros and two-digit status are still answers.
        assert!(!is_unsolicited(
            "+CREG:002,001,\"18d8\",\"ffff\"",
            Some(&cmd("AT+CREG?"))
        ));
        assert!(!is_unsolicited(
            "+CEREG: 2,10,\"8d83\",\"671f98a\",7",
            Some(&cmd("AT+CEREG?"))
        ));
    }

    #[test]
    fn a_reg_line_that_cannot_be_an_answer_is_a_urc_even_during_its_query() {
        assert!(is_unsolicited("+CREG: 1", Some(&cmd("AT+CREG?"))));
        // An AT crate failed on this one (modem-quirks.md §1).
        assert!(is_unsolicited(
            "+CREG: 5,\"17E0\",\"00359D48\",6",
            Some(&cmd("AT+CREG?"))
        ));
    }

    #[test]
    fn creg_during_another_command_is_a_urc() {
        assert!(is_unsolicited(
            "+CREG: 1,\"8BE3\",\"2BAF\"",
            Some(&cmd("AT+CSQ"))
        ));
        // TS 27.007: +CGREG answers must not take +CREG URCs.
        assert!(is_unsolicited("+CREG: 5", Some(&cmd("AT+CGREG?"))));
    }

    #[test]
    fn a_cusd_racing_the_ok_of_its_set_command_is_a_urc() {
        // modem-quirks.md §10: +CUSD can arrive before OK.
        assert!(is_unsolicited(
            "+CUSD: 0,\"Balance: 5 MB\",15",
            Some(&cmd("AT+CUSD=1,\"*100#\",15"))
        ));
        assert!(!is_unsolicited("+CUSD: 1", Some(&cmd("AT+CUSD?"))));
    }

    #[test]
    fn new_sms_indication_in_the_middle_of_a_response_is_a_urc() {
        assert!(is_unsolicited("+CMTI: \"ME\",3", Some(&cmd("AT+CSQ"))));
        assert!(!is_unsolicited("+CSQ: 20,99", Some(&cmd("AT+CSQ"))));
    }

    #[test]
    fn unprefixed_lines_are_answers_while_a_command_runs() {
        // ATI / AT+CGMI print bare lines.
        assert!(!is_unsolicited("Quectel", Some(&cmd("AT+CGMI"))));
        assert!(is_unsolicited("Quectel", None));
    }

    #[test]
    fn huawei_noise_is_unsolicited() {
        for l in [
            "^RSSI:18",
            "^HCSQ:\"LTE\",30,19,66,0",
            "^MODE:5,4",
            "^BOOT:12345,0,0,0,72",
        ] {
            assert!(is_unsolicited(l, Some(&cmd("AT+CSQ"))), "{l}");
        }
    }

    #[test]
    fn sms_delivery_urcs_carry_a_pdu_line() {
        assert!(has_pdu_line("+CMT: ,24"));
        assert!(has_pdu_line("+CDS: 25"));
        assert!(!has_pdu_line("+CMTI: \"SM\",1"));
    }
}
