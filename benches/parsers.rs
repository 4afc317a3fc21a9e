//! Parse throughput of the vendor serving-cell parsers (QENG, HCSQ, CPSI), in reply lines per
//! second. Run with `cargo bench --bench parsers`; each parser runs for about 1.5 s over a mix
//! of real reply layouts (LTE, the multi-line 5G NSA form, 5G SA, unknown markers).

use std::hint::black_box;
use std::time::{Duration, Instant};

use simkeep::modem::{huawei, quectel, simcom};

const RUN_FOR: Duration = Duration::from_millis(1500);

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Calls `parse` on each reply in turn until `RUN_FOR` has passed; returns lines per second.
fn measure(replies: &[Vec<String>], mut parse: impl FnMut(&[String]) -> bool) -> f64 {
    let per_round: usize = replies.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut rounds: u64 = 0;
    let mut ok: u64 = 0;
    while start.elapsed() < RUN_FOR {
        for _ in 0..256 {
            for r in replies {
                ok += u64::from(parse(black_box(r)));
            }
            rounds += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert!(ok > 0, "no reply parsed");
    (rounds as f64 * per_round as f64) / secs
}

fn main() {
    let qeng = vec![
        lines(&["+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",222,88,4CAA71F,28,1500,3,3,3,77B8,-84,-9,-56,21,35"]),
        lines(&[
            "+QENG: \"servingcell\",\"NOCONN\"",
            "+QENG: \"LTE\",\"FDD\",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-",
            "+QENG:\"NR5G-NSA\",515,03,832,-76,21,-11,528030,41,8,1",
        ]),
        lines(&["+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",\"TDD\", 515,66,100072000,538,114000,620640,78,12,-109,-12,14,1,-"]),
    ];
    let hcsq = vec![
        lines(&["^HCSQ:\"LTE\",30,19,66,0"]),
        lines(&["^HCSQ: LTE,33,40,135,11"]),
        lines(&["^HCSQ: \"LTE\",255,255,255,255"]),
        lines(&["^HCSQ: NOSERVICE"]),
    ];
    let cpsi = vec![
        lines(&[
            "+CPSI: LTE,Online,404-45,0x21F9,322642,453,EUTRAN-BAND40,39275,4,4,-168,-1126,-773,7",
        ]),
        lines(&[
            "+CPSI: LTE,Online,460-11,0x5A1E,187214780,257,EUTRAN-BAND3,1850,5,5,-94,-850,-545,15",
            "+CPSI: NR5G_NSA,644,NR5G_BAND78,627264,-960,-120,95",
        ]),
        lines(&[
            "+CPSI: NR5G_SA,Online,460-00,0x6F4700,29022764,697,NR5G_BAND78,627264,-940,-110,95",
        ]),
    ];

    let results = [
        (
            "QENG (quectel::parse_qeng)",
            measure(&qeng, |l| quectel::parse_qeng(l).is_ok()),
        ),
        (
            "HCSQ (huawei::parse_hcsq)",
            measure(&hcsq, |l| l.iter().all(|x| huawei::parse_hcsq(x).is_ok())),
        ),
        (
            "CPSI (simcom::parse_cpsi)",
            measure(&cpsi, |l| simcom::parse_cpsi(l).is_ok()),
        ),
    ];
    for (name, rate) in results {
        println!("{name:<28} {:>12.0} lines/s", rate);
    }
}
