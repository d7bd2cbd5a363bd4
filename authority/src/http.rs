//! The HTTP paths (SPEC 8 and docs/authority.md section 3). Handlers hand
//! the blocking work (store, fsync) to tokio's blocking pool.

use crate::authority::Authority;
use crate::intake::unix;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mixmailer::descriptor::MAX_DESCRIPTOR_SIZE;
use mixmailer::time::parse_directory_time;
use std::sync::Arc;
use std::time::SystemTime;

/// The authority's routes.
pub fn router(authority: Arc<Authority>) -> Router {
    Router::new()
        .route("/mixmailer/v2/descriptor", post(post_descriptor))
        .route("/mixmailer/v2/directory/current", get(current))
        .route("/mixmailer/v2/directory/{valid_after}", get(directory))
        .route("/mixmailer/v2/vote/{valid_after}", get(vote))
        .route("/mixmailer/v2/signature/{valid_after}", get(signature))
        .with_state(authority)
}

fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn line(status: StatusCode, reason: &str) -> Response {
    text(status, format!("{reason}\n"))
}

/// Runs `f` on the blocking pool; `None` if it panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

fn internal_error() -> Response {
    line(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn post_descriptor(State(a): State<Arc<Authority>>, body: Body) -> Response {
    // Stop reading one byte past the limit: enough to know it is too large.
    let bytes = match axum::body::to_bytes(body, MAX_DESCRIPTOR_SIZE + 1).await {
        Ok(b) if b.len() <= MAX_DESCRIPTOR_SIZE => b,
        _ => {
            let reason = format!("descriptor larger than {MAX_DESCRIPTOR_SIZE} bytes");
            tracing::info!("descriptor refused: {reason}");
            return line(StatusCode::PAYLOAD_TOO_LARGE, &reason);
        }
    };
    match blocking(move || a.post_descriptor(&bytes, SystemTime::now())).await {
        Some(Ok(what)) => line(StatusCode::OK, what),
        Some(Err(refusal)) => {
            tracing::info!("descriptor refused: {}", refusal.reason);
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            line(status, &refusal.reason)
        }
        None => internal_error(),
    }
}

async fn current(State(a): State<Arc<Authority>>) -> Response {
    match blocking(move || a.current(SystemTime::now())).await {
        Some(Some(doc)) => text(StatusCode::OK, doc),
        Some(None) => line(StatusCode::NOT_FOUND, "no published document is valid now"),
        None => internal_error(),
    }
}

fn time_arg(valid_after: &str) -> Option<u64> {
    parse_directory_time(valid_after).map(unix)
}

fn bad_time() -> Response {
    line(
        StatusCode::BAD_REQUEST,
        "not a time of the form YYYY-MM-DDTHH:MM:SSZ",
    )
}

async fn directory(State(a): State<Arc<Authority>>, Path(valid_after): Path<String>) -> Response {
    let Some(va) = time_arg(&valid_after) else {
        return bad_time();
    };
    match blocking(move || a.published(va)).await {
        Some(Some(doc)) => text(StatusCode::OK, doc),
        Some(None) => line(
            StatusCode::NOT_FOUND,
            "no published document with that valid-after",
        ),
        None => internal_error(),
    }
}

async fn vote(State(a): State<Arc<Authority>>, Path(valid_after): Path<String>) -> Response {
    let Some(va) = time_arg(&valid_after) else {
        return bad_time();
    };
    match blocking(move || a.own_vote(va)).await {
        Some(Some(v)) => text(StatusCode::OK, v),
        Some(None) => line(StatusCode::NOT_FOUND, "no vote for that valid-after yet"),
        None => internal_error(),
    }
}

async fn signature(State(a): State<Arc<Authority>>, Path(valid_after): Path<String>) -> Response {
    let Some(va) = time_arg(&valid_after) else {
        return bad_time();
    };
    match blocking(move || a.own_signature(va)).await {
        Some(Some(s)) => text(StatusCode::OK, s),
        Some(None) => line(
            StatusCode::NOT_FOUND,
            "no consensus for that valid-after yet",
        ),
        None => internal_error(),
    }
}
