//! Modem work the owner asks for through the API (`POST /api/v1/ussd`, `/sms`, `/at`,
//! `/balance/refresh`, `/reload`): sent to the agent loop, which serialises it with its own
//! polls, balance queries and top-ups.

/// One request from the owner, with the channel its answer goes back on.
#[derive(Debug)]
pub enum OwnerOp {}
