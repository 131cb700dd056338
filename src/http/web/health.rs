//! `GET /healthz`: 200 when the database answers, 503 (with `Retry-After`)
//! when it does not; the request's log line says why.

use poem::{IntoResponse, Response, handler, http::StatusCode, web::Data};

use crate::{http::middleware::ServerFailure, state::AppState};

#[handler]
pub async fn healthz(Data(state): Data<&AppState>) -> Response {
    match state.accounts.database_answers().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            let failure = ServerFailure::Unavailable(format!("database unavailable: {}", e));
            let mut resp =
                (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
            failure.mark(&mut resp);
            resp
        }
    }
}
