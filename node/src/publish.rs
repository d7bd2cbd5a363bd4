//! Publishing the node's descriptor (SPEC 7) to every configured authority
//! (SPEC 8: `POST /mixmailer/v2/descriptor`). The daemon calls
//! [`publish_descriptor`] at start, before its newest published key is
//! needed, and whenever its address changes; each refusal is logged with
//! the authority's one-line reason so the operator can act on it.

use std::time::Duration;

/// The path descriptors are POSTed to, below an authority's base URL.
pub const DESCRIPTOR_PATH: &str = "/mixmailer/v2/descriptor";

/// Connect and whole-exchange timeouts per authority.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// See [`CONNECT_TIMEOUT`].
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest refusal reason kept from an authority's answer.
const MAX_REASON: usize = 300;

/// Why one authority did not store the descriptor.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The authority answered with a refusal (4xx/5xx) and this reason.
    #[error("{url} refused the descriptor ({status}): {reason}")]
    Refused {
        /// The authority's base URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// First line of the authority's answer.
        reason: String,
    },
    /// The authority could not be reached or the exchange failed.
    #[error("{url}: {message}")]
    Unreachable {
        /// The authority's base URL.
        url: String,
        /// What failed.
        message: String,
    },
}

/// POSTs `descriptor` (signed, SPEC 7) to each of `authorities` (base URLs)
/// in turn and returns one result per authority, in the same order. Every
/// outcome is logged: stored at info, refusals and failures at warn.
/// Blocking; the daemon runs it off its packet path.
pub fn publish_descriptor(
    descriptor: &[u8],
    authorities: &[String],
) -> Vec<Result<(), PublishError>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TOTAL_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    authorities
        .iter()
        .map(|url| {
            let result = post(&agent, url, descriptor);
            match &result {
                Ok(()) => tracing::info!(authority = %url, "descriptor stored"),
                Err(e) => tracing::warn!("{e}"),
            }
            result
        })
        .collect()
}

fn post(agent: &ureq::Agent, url: &str, descriptor: &[u8]) -> Result<(), PublishError> {
    let unreachable = |message: String| PublishError::Unreachable {
        url: url.to_owned(),
        message,
    };
    let endpoint = format!("{}{DESCRIPTOR_PATH}", url.trim_end_matches('/'));
    let mut response = agent
        .post(&endpoint)
        .header("Content-Type", "text/plain")
        .send(descriptor)
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_vec()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let reason: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON)
        .collect();
    Err(PublishError::Refused {
        url: url.to_owned(),
        status,
        reason: if reason.is_empty() {
            "(no reason given)".to_owned()
        } else {
            reason
        },
    })
}
