//! Asking the carrier for the balance: the configured USSD code, or an SMS to the carrier's
//! short code and its reply. Returns the reply text for `accounting` to parse.

use crate::at::AtClient;
use crate::config::UsageConfig;

/// Runs the configured balance query; `None` when none is configured or it failed (logged).
pub async fn ask_carrier(
    at: &AtClient,
    usage: Option<&UsageConfig>,
    profile: Option<String>,
) -> Option<String> {
    let carrier = usage?.carrier.as_ref()?;
    let _ = (at, profile, carrier);
    // Wired to the USSD session and SMS inbox once they land (issue 4).
    None
}
