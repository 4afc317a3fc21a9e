//! The SIM/PIN decision (issue 3 item 4) and SIM swap detection, as pure functions.
//!
//! The rule that matters: a SIM allows three PIN attempts, then wants its PUK. A PIN from the
//! config is therefore sent at most once per SIM; if the SIM still asks for it afterwards, the
//! configured PIN is wrong and we stop — never retry. `SIM PUK` always stops. This module
//! decides; it must not send anything (the driver does).

use super::model::SimState;

/// What the driver should do about the SIM now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimAction {
    /// Nothing: the SIM is usable.
    Ready,
    /// Send `AT+CPIN="<pin>"` once, then record it with [`PinLedger::record_sent`].
    SendPin,
    /// SIM busy (`+CME ERROR: 14`, `+CPIN: NOT READY`) after boot: ask again later.
    WaitBusy,
    /// The SIM is blocked; only the owner can enter the PUK. Send nothing.
    StopPukRequired,
    /// The SIM wants a PIN and either none is configured or the one we sent was refused.
    StopPinWrongOrMissing,
    /// No SIM in the slot.
    NotInserted,
    /// SIM failure / wrong SIM / personalisation lock: needs the owner.
    StopSimError,
}

/// Which SIMs we already sent the PIN to, keyed by ICCID (`None` = ICCID unreadable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinLedger {
    sent: Vec<Option<String>>,
}

impl PinLedger {
    pub fn new() -> PinLedger {
        PinLedger::default()
    }

    /// True when the PIN already went to this SIM. With an unknown ICCID we cannot tell two
    /// SIMs apart, so any earlier send to an unknown SIM counts: never risk a second attempt.
    pub fn already_sent(&self, iccid: Option<&str>) -> bool {
        self.sent
            .iter()
            .any(|k| k.as_deref() == iccid || k.is_none())
    }

    pub fn record_sent(&mut self, iccid: Option<&str>) {
        if !self.sent.iter().any(|k| k.as_deref() == iccid) {
            self.sent.push(iccid.map(str::to_string));
        }
    }
}

/// Decides from the `+CPIN?` state (or the state its error implied).
pub fn decide(state: SimState, pin_configured: bool, pin_already_sent: bool) -> SimAction {
    match state {
        SimState::Ready => SimAction::Ready,
        SimState::Busy => SimAction::WaitBusy,
        SimState::NotInserted => SimAction::NotInserted,
        SimState::PukRequired => SimAction::StopPukRequired,
        SimState::Error => SimAction::StopSimError,
        SimState::PinRequired if pin_configured && !pin_already_sent => SimAction::SendPin,
        SimState::PinRequired => SimAction::StopPinWrongOrMissing,
    }
}

/// A different SIM is in the slot than at the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapEvent {
    pub from: String,
    pub to: String,
}

/// A swap is two different known ICCIDs. An unreadable ICCID (busy SIM, removed SIM) is not a
/// swap: insertion and removal show in the SIM state instead, and a transient read failure
/// must not log a swap.
pub fn detect_swap(previous_iccid: Option<&str>, current_iccid: Option<&str>) -> Option<SwapEvent> {
    let (from, to) = (previous_iccid?.trim(), current_iccid?.trim());
    if from.is_empty() || to.is_empty() || from.eq_ignore_ascii_case(to) {
        return None;
    }
    Some(SwapEvent {
        from: from.to_string(),
        to: to.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_pin_is_sent_once_and_never_again_for_the_same_sim() {
        let mut ledger = PinLedger::new();
        let iccid = Some("89811000221524672214");
        assert_eq!(
            decide(SimState::PinRequired, true, ledger.already_sent(iccid)),
            SimAction::SendPin
        );
        ledger.record_sent(iccid);
        assert_eq!(
            decide(SimState::PinRequired, true, ledger.already_sent(iccid)),
            SimAction::StopPinWrongOrMissing
        );
    }

    #[test]
    fn a_new_sim_gets_its_own_single_attempt() {
        let mut ledger = PinLedger::new();
        ledger.record_sent(Some("8981100022152467221"));
        assert!(!ledger.already_sent(Some("8944500000000000001")));
    }

    #[test]
    fn an_attempt_on_an_unknown_sim_blocks_every_later_attempt() {
        let mut ledger = PinLedger::new();
        ledger.record_sent(None);
        assert!(ledger.already_sent(Some("8944500000000000001")));
        assert!(ledger.already_sent(None));
    }

    #[test]
    fn puk_busy_missing_and_absent_sims_never_send_the_pin() {
        assert_eq!(
            decide(SimState::PukRequired, true, false),
            SimAction::StopPukRequired
        );
        assert_eq!(decide(SimState::Busy, true, false), SimAction::WaitBusy);
        assert_eq!(
            decide(SimState::PinRequired, false, false),
            SimAction::StopPinWrongOrMissing
        );
        assert_eq!(
            decide(SimState::NotInserted, true, false),
            SimAction::NotInserted
        );
        assert_eq!(
            decide(SimState::Error, true, false),
            SimAction::StopSimError
        );
        assert_eq!(decide(SimState::Ready, true, true), SimAction::Ready);
    }

    #[test]
    fn only_two_different_known_iccids_are_a_swap() {
        assert_eq!(
            detect_swap(Some("8981100022152467221"), Some("8944500000000000001")),
            Some(SwapEvent {
                from: "8981100022152467221".into(),
                to: "8944500000000000001".into()
            })
        );
        assert_eq!(
            detect_swap(Some("8981100022152467221"), Some("8981100022152467221")),
            None
        );
        assert_eq!(detect_swap(None, Some("8981100022152467221")), None);
        assert_eq!(detect_swap(Some("8981100022152467221"), None), None);
    }
}
