#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod carrier;
pub mod delay;
pub mod descriptor;
pub mod directory;
mod error;
pub mod ffi;
pub mod keys;
pub mod message;
pub mod node;
pub mod period;
pub mod route;
// Behind a feature: keys made from a known seed stay out of the C library.
#[cfg(feature = "sample")]
pub mod sample;
pub mod sphinx;
pub mod time;
pub mod wrap;

pub use descriptor::{Descriptor, DescriptorError};
pub use directory::{Directory, DirectoryError, NodeEntry};
pub use error::Error;
pub use node::{MixNode, Outcome};
pub use route::{Route, RouteError};
pub use wrap::{mix_wrap, mix_wrap_with, Onion, WrapOptions};
