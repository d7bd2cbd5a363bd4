//! `mixmailer-node`: a MixMailer mix node that runs behind a real MTA.
//!
//! The MTA (Postfix's `lmtp` client) delivers carrier emails over LMTP to
//! a Unix socket of the daemon (`mixmailer-node run`); alternatively a
//! `pipe(8)` transport runs `mixmailer-node receive` per carrier. The
//! daemon processes carriers with the library's [`mixmailer::MixNode`],
//! commits the results to its redb store (carriers that arrive together in
//! one transaction), and only then answers 250 per recipient (or lets
//! `receive` exit 0); any failure is a temporary one, so the MTA keeps the
//! mail and retries. When a packet's time comes the daemon submits it over
//! SMTP to the local MTA (or with its `sendmail`), and removes it only
//! after the MTA accepted it.
#![deny(missing_docs)]

pub mod atomic_file;
pub mod config;
pub mod daemon;
pub mod descriptor;
pub mod directory_file;
pub mod keyfile;
pub mod lmtp;
pub mod protocol;
pub mod publication;
pub mod publish;
pub mod receive;
pub mod send;
pub mod status;
pub mod store;
pub mod submit;
#[cfg(test)]
mod testnet;
// The shared test network names the library so from both sides.
#[cfg(test)]
extern crate self as mixmailer_node;
