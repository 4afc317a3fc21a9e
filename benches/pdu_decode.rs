// Decoding speed of SMS PDUs as the modem prints them: a mix of single GSM-7 (with extension
// characters), UCS2 with an alphanumeric sender, and multipart GSM-7 with 8- and 16-bit
// concatenation headers (PDUs from ModemManager's src/tests/test-sms-part-3gpp.c).
//
// Run: `cargo bench --bench pdu_decode`. Plain `Instant` timing for about 2 s, no harness.

use std::hint::black_box;
use std::time::{Duration, Instant};

use simkeep::codec::pdu::decode_pdu_hex;

const PDUS: [&str; 6] = [
    // GSM-7, single part, with [ { } ] escapes.
    "07912104442961F4040B916171957291F800001120821105050A6AC8B2BC7C9A83C220F6DB7D2ECB41EDF27C1E3E97411BDE06754FD3D1A0F9BB5D0695F1F4B29B5C2683C6E8B03C3CA697E5F34D6AE303D1D1F2F7DD0D4ABB59A0797D8C0685E7A00028EC26832A960B28EC2683BE6050780EBA97D96C17",
    // UCS2 from the alphanumeric sender "InternetSMS".
    "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442",
    // Multipart GSM-7, 8-bit reference, part 1 and 2.
    "07912160130320F5440B916171056429F5000021405291650569A00500034C0201A9E8F41C949E83C2207B599E07B1DFEE33885E9ED341E4F23C7D7697C920FA1B54C697E5E3F4BC0C6AD7D9F434081E96D341E3303C2C4EB3D3F4BC0B94A483E6E8779D4D06CDD1EF3BA80E0785E7A0B7BB0C6A97E7F3F0B9CC02B9DF7450780EA2DFDF2C50780EA2A3CBA0BA9B5C96B3F369F71954768FDFE4B4FB0C9297E1F2F2BCECA6CF41",
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D44479741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10",
    // Multipart GSM-7, 16-bit reference (KPN welcome message).
    "07911356131313F64004850120390011609232239180A006080400100201D7327BFD6EB340E2321BF46E83EA7790F59D1E97DBE1341B442F83C465763D3DA797E56537C81D0ECB41AB59CC1693C16031D96C064241E5656838AF03A96230982A269BCD462917C8FA4E8FCBED709A0D7ABBE9F6B0FB5C7683D27350984D4FABC9A0B33C4C4FCF5D20EBFB2D079DCB62793DBD06D9C36E50FB2D4E97D9A0B49B5E96BBCB",
    // UCS2 Chinese SUBMIT as stored by the phone.
    "002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60",
];

fn main() {
    // Every PDU must decode, or the figure would measure the error path.
    for pdu in PDUS {
        if let Err(e) = decode_pdu_hex(pdu) {
            eprintln!("pdu_decode: sample does not decode: {e}");
            std::process::exit(1);
        }
    }
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut decoded: u64 = 0;
    let mut text_bytes: usize = 0;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            for pdu in PDUS {
                if let Ok(p) = decode_pdu_hex(black_box(pdu)) {
                    text_bytes = text_bytes.wrapping_add(p.text().len());
                }
                decoded = decoded.saturating_add(1);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    black_box(text_bytes);
    println!(
        "pdu_decode: {decoded} PDUs in {secs:.2} s = {:.0} messages/s ({:.2} µs each, {} kinds of PDU)",
        decoded as f64 / secs,
        secs * 1e6 / decoded as f64,
        PDUS.len()
    );
}
