//! `mixmailer-sim`: a discrete-event simulator of a whole MixMailer network
//! that measures the sender anonymity a global passive observer leaves each
//! delivered message, and a long-term statistical disclosure attack.
//! Routes, delays and fragment counts come from the library itself; see
//! `docs/anonymity.md` for the model, its validation and the results.

pub mod engine;
pub mod network;
pub mod plot;
pub mod run;
pub mod scenarios;
pub mod sda;
pub mod workload;
