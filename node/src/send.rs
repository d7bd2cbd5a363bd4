//! `mixmailer-node send`: what a pEp client does, for operators and tests:
//! wrap a message with the library and submit each carrier email to the
//! first hop through the local MTA.

use crate::submit::{Sendmail, SubmitError};
use mixmailer::{mix_wrap, Directory, Error};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::Path;

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Routing or wrapping failed.
    #[error("{0}")]
    Wrap(#[from] Error),
    /// The MTA refused a carrier.
    #[error("submitting carrier {index}: {source}")]
    Submit {
        /// 1-based carrier number.
        index: usize,
        /// Why.
        source: SubmitError,
    },
    /// A copy could not be saved.
    #[error("saving a copy to {path}: {source}")]
    Save {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Wraps `message` for a route through `route` (nicknames, one per layer)
/// or a random route, and submits each carrier from `from`. Copies of the
/// carriers go to `save_dir` when given (to test replay protection).
/// Returns how many carriers were sent.
pub fn send(
    directory: &Directory,
    route: Option<&[&str]>,
    message: &[u8],
    from: &str,
    sendmail: &Sendmail,
    save_dir: Option<&Path>,
) -> Result<usize, SendError> {
    let route = match route {
        Some(names) => directory.route(names).map_err(Error::from)?,
        None => {
            let mut rng =
                ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng).map_err(Error::Randomness)?;
            directory.random_route(&mut rng).map_err(Error::from)?
        }
    };
    let from_box = mixmailer::message::Mailbox::parse(from).map_err(Error::from)?;
    let onions = mix_wrap(message, &route)?;
    for (i, onion) in onions.onions().iter().enumerate() {
        let email = onion.to_email(&from_box);
        if let Some(dir) = save_dir {
            let path = dir.join(format!("carrier-{}.eml", i + 1));
            std::fs::write(&path, &email).map_err(|source| SendError::Save {
                path: path.display().to_string(),
                source,
            })?;
        }
        sendmail
            .submit(from, &[onion.first_hop().to_owned()], &email, false)
            .map_err(|source| SendError::Submit {
                index: i + 1,
                source,
            })?;
    }
    Ok(onions.onions().len())
}
