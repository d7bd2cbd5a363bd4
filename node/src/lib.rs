//! `mixmailer-node`: a MixMailer mix node that runs behind a real MTA.
//!
//! The MTA (Postfix, through a `pipe(8)` transport) hands each carrier
//! email to `mixmailer-node receive`, which passes it over a Unix socket to
//! the daemon (`mixmailer-node run`). The daemon processes it with the
//! library's [`mixmailer::MixNode`], commits the result to its redb store in
//! one transaction, and only then lets `receive` exit 0; any failure exits
//! with EX_TEMPFAIL so the MTA keeps the mail and retries. When a packet's
//! time comes the daemon submits it through the MTA's `sendmail`, and
//! removes it only after `sendmail` succeeded.
#![deny(missing_docs)]

pub mod config;
pub mod daemon;
pub mod directory_file;
pub mod keyfile;
pub mod protocol;
pub mod receive;
pub mod send;
pub mod status;
pub mod store;
pub mod submit;
