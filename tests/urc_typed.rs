//! Issue 13 §1: URCs come out of the engine typed, from the one table in `at::urc`, through a
//! real pty to the simulated modem; a burst of restart lines re-initialises the modem once.

mod support;

use std::time::Duration;

use simkeep::at::urc::Cusd;
use simkeep::at::{Lifecycle, Urc, UrcCode, UrcKind};
use simkeep::sim::{Fault, Personality};
use support::{eventually, Rig};
use tokio::sync::broadcast;

async fn next(urcs: &mut broadcast::Receiver<Urc>) -> Urc {
    tokio::time::timeout(Duration::from_secs(3), urcs.recv())
        .await
        .expect("a URC within 3 s")
        .expect("the engine runs")
}

#[tokio::test(flavor = "current_thread")]
async fn subscribers_receive_typed_urcs_with_the_raw_line_kept() {
    let rig = Rig::new(Personality::QuectelEc25);
    let at = rig.engine().await;
    let mut urcs = at.subscribe();
    for line in [
        "+CMTI: \"ME\",7",
        "+CUSD: 0,\"Balance: 5.00 EUR\",15",
        "+QIND: \"csq\",23,99",
        "+QIND: SMS DONE",
        "+ZZUNKNOWN: 1",
    ] {
        rig.sim.fault(Fault::Urc(line.into()));
    }
    let u = next(&mut urcs).await;
    assert_eq!(
        u.kind,
        UrcKind::NewSms {
            mem: "ME".into(),
            index: 7
        }
    );
    assert_eq!(u.line, "+CMTI: \"ME\",7");
    let u = next(&mut urcs).await;
    assert_eq!(
        u.kind,
        UrcKind::Ussd(Cusd {
            status: 0,
            text: Some("Balance: 5.00 EUR".into()),
            dcs: Some(15)
        })
    );
    let u = next(&mut urcs).await;
    assert_eq!(u.code(), Some(UrcCode::Qind));
    assert!(u.is_noise());
    let u = next(&mut urcs).await;
    assert_eq!(u.code(), Some(UrcCode::SmsReady));
    assert_eq!(u.lifecycle(), Lifecycle::SimReady);
    let u = next(&mut urcs).await;
    assert_eq!(u.kind, UrcKind::Unknown);
    assert_eq!(u.line, "+ZZUNKNOWN: 1");
}

#[tokio::test(flavor = "current_thread")]
async fn a_burst_of_restart_lines_reinitialises_once_and_commands_still_work() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let inits = |rig: &Rig| {
        rig.sim
            .commands_seen()
            .iter()
            .filter(|c| *c == "ATE0")
            .count()
    };
    assert_eq!(inits(&rig), 1);
    // A real reboot: `RDY`, echo back on, and the boot burst after it.
    rig.sim.fault(Fault::Reboot);
    for _ in 0..30 {
        rig.sim.fault(Fault::Urc("RDY".into()));
        rig.sim.fault(Fault::Urc("+CFUN: 1".into()));
    }
    assert!(
        eventually(Duration::from_secs(5), || inits(&rig) >= 2).await,
        "initialised again after the restart"
    );
    // A command in between is answered even before the re-init (the digester skips echo).
    assert!(at.run("AT+CSQ").await.unwrap().lines[0].starts_with("+CSQ:"));
    // Nothing more may follow: wait past the settle time (a negative needs a wait).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        inits(&rig),
        2,
        "61 restart lines in one burst: one re-init, not one each"
    );
}
