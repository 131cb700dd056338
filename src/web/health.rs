//! `GET /healthz`: 200 when the database answers, 503 when it does not.

use poem::{handler, http::StatusCode, web::Data};

use crate::startup::AppState;

#[handler]
pub async fn healthz(Data(state): Data<&AppState>) -> (StatusCode, &'static str) {
    match crate::db::ping(&state.db).await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
