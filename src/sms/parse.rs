//! The SMS lines of TS 27.005 as modems print them in PDU mode (`+CMTI:`, §3.4.1, is read in
//! `at::urc` with the other URCs): `+CMGL:` (§3.4.2) and `+CMGR:` (§3.4.3) headers followed by a PDU line, `+CMGS: <mr>` (§3.5.1) and
//! the `+CPMS` counts (§3.2.2), and the meaning of `+CMS ERROR` codes (§3.2.5).
//!
//! Pure and total: any line gives a value or `None`, never a panic. Shapes accepted:
//! `+CMGL: 17,3,35` · `+CMGL: 1,0,"",24` · `+CMGR: 0,"",50`
//! · `+CMGR: 1,,24` · `+CMGS: 12` · `+CMGS: 12,"26/11/27,09:00:00+36"` ·
//! `+CPMS: "SM",10,10,"SM",10,10,"SM",10,10` · `+CPMS: 3,10,3,10,3,10`.

/// One message of a `+CMGL` answer (or the `+CMGR` answer, with `index` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub index: u32,
    /// `<stat>`: 0 unread, 1 read, 2 unsent, 3 sent.
    pub stat: u8,
    pub pdu: String,
}

/// Pairs `+CMGL:` headers with the PDU lines that follow them. A header without a PDU line
/// (the answer was cut) is dropped; stray lines are skipped.
pub fn parse_cmgl(lines: &[String]) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut it = lines.iter().peekable();
    while let Some(line) = it.next() {
        let Some(rest) = line.strip_prefix("+CMGL:") else {
            continue;
        };
        let mut f = rest.split(',').map(str::trim);
        let (Some(index), Some(stat)) = (f.next(), f.next()) else {
            continue;
        };
        let (Ok(index), Ok(stat)) = (index.parse::<u32>(), stat.parse::<u8>()) else {
            continue;
        };
        if let Some(pdu) = it.next_if(|l| !l.starts_with("+CMGL:")) {
            out.push(Listed {
                index,
                stat,
                pdu: pdu.trim().to_string(),
            });
        }
    }
    out
}

/// The `<stat>` and PDU of a `+CMGR` answer.
pub fn parse_cmgr(lines: &[String]) -> Option<(u8, String)> {
    let pos = lines.iter().position(|l| l.starts_with("+CMGR:"))?;
    let header = lines.get(pos)?.strip_prefix("+CMGR:")?;
    let stat = header.split(',').next()?.trim().parse().ok()?;
    let pdu = lines.get(pos.checked_add(1)?)?.trim().to_string();
    Some((stat, pdu))
}

/// The message reference of `+CMGS: <mr>[,<scts>|<ackpdu>]`.
pub fn parse_cmgs(value: &str) -> Option<u8> {
    value.split(',').next()?.trim().parse().ok()
}

/// `(used, total)` of the first memory in a `+CPMS` answer, with or without memory names.
pub fn parse_cpms(value: &str) -> Option<(u32, u32)> {
    let mut nums = value
        .split(',')
        .map(str::trim)
        .filter(|f| !f.starts_with('"'))
        .map(|f| f.parse::<u32>());
    match (nums.next()?, nums.next()?) {
        (Ok(used), Ok(total)) => Some((used, total)),
        _ => None,
    }
}

/// What a `+CMS ERROR` code means (TS 27.005 §3.2.5), for messages a user reads.
pub fn cms_meaning(code: u16) -> &'static str {
    match code {
        1 => "unassigned number — check the recipient",
        8 => "operator determined barring — the SIM may not send SMS",
        10 => "call barred",
        21 => "short message transfer rejected by the network",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        38 => "network out of order",
        41 => "temporary network failure — try again later",
        42 => "network congestion — try again later",
        300 => "modem failure",
        301 => "SMS service of the modem reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy — try again in a few seconds",
        320 => "memory failure",
        321 => "invalid memory index — no message there",
        322 => "memory full — delete messages from the modem",
        330 => "SMSC address unknown — set it with AT+CSCA",
        331 => "no network service",
        332 => "network timeout",
        500 => "unknown error",
        _ => "see TS 27.005 §3.2.5",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmgl_headers_without_and_with_an_alpha_field_pair_with_their_pdus() {
        // modem-quirks.md §11: `+CMGL: 17,3,35` (no alpha) and an empty alpha `""`.
        let l = lines(&[
            "+CMGL: 17,3,35",
            "0011AA",
            "+CMGL: 1,0,\"\",24",
            "07911326",
            "+CMGL: 2,0,,9",
        ]);
        assert_eq!(
            parse_cmgl(&l),
            [
                Listed {
                    index: 17,
                    stat: 3,
                    pdu: "0011AA".into()
                },
                Listed {
                    index: 1,
                    stat: 0,
                    pdu: "07911326".into()
                },
            ]
        );
    }

    #[test]
    fn cmgr_with_an_empty_alpha_and_cmgs_with_a_time_stamp() {
        assert_eq!(
            parse_cmgr(&lines(&["+CMGR: 0,\"\",50", "07AB"])),
            Some((0, "07AB".into()))
        );
        assert_eq!(parse_cmgr(&lines(&["+CMGR: 1,,24"])), None);
        assert_eq!(parse_cmgs("12"), Some(12));
        assert_eq!(parse_cmgs("12,\"26/11/27,09:00:00+36\""), Some(12));
        assert_eq!(parse_cmgs("300"), None);
    }

    #[test]
    fn cpms_counts_with_and_without_memory_names() {
        // modem-quirks.md §12 (full SIM storage) and the set-command answer form.
        assert_eq!(
            parse_cpms("\"SM\",10,10,\"SM\",10,10,\"SM\",10,10"),
            Some((10, 10))
        );
        assert_eq!(parse_cpms("3,10,3,10,3,10"), Some((3, 10)));
        assert_eq!(parse_cpms("\"SM\""), None);
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(a in "\\PC*", b in "\\PC*") {
            let _ = parse_cmgs(&a);
            let _ = parse_cpms(&a);
            let l = vec![a.clone(), b.clone(), format!("+CMGL: {a}"), b];
            let _ = parse_cmgl(&l);
            let _ = parse_cmgr(&l);
        }
    }
}
