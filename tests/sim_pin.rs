//! SIM PIN handling against the simulator: the PIN is sent once per SIM, a wrong one is never
//! retried (each try burns one of three attempts), and a SIM asking for its PUK gets nothing.

mod support;

use simkeep::modem::driver::{Driver, ModemEvent};
use simkeep::sim::{Personality, SimOptions};
use support::Rig;

fn rig_with_pin(pin: &str) -> Rig {
    let mut opts = SimOptions::new(Personality::QuectelEc25);
    opts.radio.set("sim", "pin").unwrap();
    opts.radio.set("pin", pin).unwrap();
    Rig::with(opts)
}

fn cpin_sent(rig: &Rig) -> usize {
    rig.sim
        .commands_seen()
        .iter()
        .filter(|c| c.starts_with("AT+CPIN="))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn the_right_pin_is_sent_once_and_unlocks_the_sim() {
    let rig = rig_with_pin("4321");
    let at = rig.engine().await;
    let mut d = Driver::new(at, None, Some("4321".into()));
    let (_, sim, _, events) = d.info().await.unwrap();
    assert_eq!(
        sim.state.map(|s| format!("{s:?}")),
        Some("PinRequired".into())
    );
    assert!(events.contains(&ModemEvent::PinSent), "{events:?}");
    let (_, sim, _, _) = d.info().await.unwrap();
    assert_eq!(sim.state.map(|s| format!("{s:?}")), Some("Ready".into()));
    assert_eq!(cpin_sent(&rig), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_wrong_pin_is_tried_once_and_never_again() {
    let rig = rig_with_pin("4321");
    let at = rig.engine().await;
    let mut d = Driver::new(at, None, Some("1111".into()));
    for _ in 0..4 {
        let _ = d.info().await.unwrap();
    }
    assert_eq!(cpin_sent(&rig), 1, "{:?}", rig.sim.commands_seen());
    let (_, _, _, events) = d.info().await.unwrap();
    assert!(
        events.iter().any(
            |e| matches!(e, ModemEvent::SimNeedsAttention(m) if m.contains("not sending it again"))
        ),
        "{events:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_sim_asking_for_its_puk_gets_nothing() {
    let mut opts = SimOptions::new(Personality::Generic);
    opts.radio.set("sim", "puk").unwrap();
    let rig = Rig::with(opts);
    let at = rig.engine().await;
    let mut d = Driver::new(at, None, Some("1234".into()));
    let (_, _, _, events) = d.info().await.unwrap();
    assert_eq!(cpin_sent(&rig), 0);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ModemEvent::SimNeedsAttention(m) if m.contains("PUK"))),
        "{events:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_sim_swap_is_reported_by_iccid() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let mut d = Driver::new(at, None, None);
    let (_, first, _, events) = d.info().await.unwrap();
    assert!(
        matches!(&events[..], [ModemEvent::SimChanged { from: None, .. }]),
        "{events:?}"
    );
    rig.sim.set("iccid", "8944500000000000001").unwrap();
    let (_, _, _, events) = d.info().await.unwrap();
    assert_eq!(
        events,
        vec![ModemEvent::SimChanged {
            from: first.iccid.clone(),
            to: "8944500000000000001".into()
        }]
    );
}
