//! One-shot commands right after the modem powers up: the SIM answers `+CME ERROR: 14` (SIM
//! busy, TS 27.007 §9.2.1) or `+CPIN: NOT READY` for a few seconds while it boots, and `info`
//! printed `busy` with no ICCID. ModemManager waits this out (it retries the SIM questions for
//! about 10 s, `mm-base-modem` "SIM busy" handling); so do we, for one-shot commands only — the
//! daemon's poll simply asks again on its next tick.
//!
//! Must not: wait on anything but a busy SIM (a missing SIM, a PIN or PUK request are answers,
//! shown at once), or wait longer than the limit it is given.

use std::time::Duration;

use tokio::time::Instant;

use super::driver::Driver;
use super::model::{ModemIdentity, Registration, SimInfo, SimState};
use crate::at::AtError;
use crate::modem::driver::ModemEvent;

/// How long a one-shot command waits for a busy SIM (ModemManager's figure).
pub const SIM_BUSY_WAIT: Duration = Duration::from_secs(10);
/// How often the SIM is asked again meanwhile.
pub const SIM_BUSY_RETRY: Duration = Duration::from_millis(700);

type Info = (ModemIdentity, SimInfo, Registration, Vec<ModemEvent>);

/// [`Driver::info`], asked again every [`SIM_BUSY_RETRY`] while the SIM says it is busy, for at
/// most `limit`. After the limit the last (busy) answer is returned as it is.
pub async fn info_when_sim_ready(d: &mut Driver, limit: Duration) -> Result<Info, AtError> {
    let deadline = Instant::now() + limit;
    loop {
        let info = d.info().await?;
        if info.1.state != Some(SimState::Busy) || Instant::now() + SIM_BUSY_RETRY > deadline {
            return Ok(info);
        }
        tracing::debug!("the SIM is busy (still starting); asking again");
        tokio::time::sleep(SIM_BUSY_RETRY).await;
    }
}
