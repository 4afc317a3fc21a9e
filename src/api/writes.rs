//! Write endpoints: `POST /api/v1/ussd`, `POST /api/v1/sms`, `DELETE /api/v1/sms/{id}`,
//! `POST /api/v1/balance/refresh`, `POST /api/v1/reload`, `POST /api/v1/at` (only with
//! `http.allow_raw_at = true`). All need the API token.

use super::http::{Reply, Request};
use super::ApiContext;

/// True for the (method, path) pairs this module answers.
pub fn serves(_req: &Request) -> bool {
    false
}

/// Serves one write.
pub async fn serve(_req: &Request, _ctx: &ApiContext) -> Reply {
    Reply::error(404, "not found", "no such endpoint")
}
