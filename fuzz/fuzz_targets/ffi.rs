//! The C API driven as a C caller would, but by the fuzzer: a program of
//! calls on a few handle slots, with arbitrary bytes, lengths, indices,
//! strings and NULL pointers wherever the API allows a caller to pass them.
//! Lengths never exceed the buffer they describe: lying about a length is
//! undefined behaviour by the API's contract, not an input to survive.
//!
//! Every call must return a status other than PANIC, leave its
//! out-parameters untouched unless it returns OK, and leave a detail
//! message that fits its buffer and ends in NUL.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mixmailer::ffi::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

/// Bytes as C might pass them.
#[derive(Arbitrary, Debug)]
enum Buffer {
    /// The sample's own (directory text, message, carrier).
    Sample,
    /// The sample with one byte changed.
    Mutated { at: usize, xor: u8 },
    /// Anything.
    Raw(Vec<u8>),
    /// A prefix of the sample: a length shorter than the data.
    Prefix(usize),
    /// NULL with a length (valid only with 0).
    Null(usize),
}

impl Buffer {
    /// The bytes to point at, or None for NULL, and the length to pass.
    fn resolve(&self, sample: &[u8]) -> (Option<Vec<u8>>, usize) {
        match self {
            Buffer::Sample => (Some(sample.to_vec()), sample.len()),
            Buffer::Mutated { at, xor } => {
                let mut bytes = sample.to_vec();
                if let Some(b) = bytes.get_mut(at % sample.len().max(1)) {
                    *b ^= xor;
                }
                let len = bytes.len();
                (Some(bytes), len)
            }
            Buffer::Raw(bytes) => (Some(bytes.clone()), bytes.len()),
            Buffer::Prefix(len) => (Some(sample.to_vec()), len % (sample.len() + 1)),
            Buffer::Null(len) => (None, *len),
        }
    }
}

fn ptr_of(bytes: &Option<Vec<u8>>) -> *const u8 {
    bytes.as_ref().map_or(null(), |b| b.as_ptr())
}

/// A C string: NULL, one of the sample's, or arbitrary (cut at any NUL).
#[derive(Arbitrary, Debug)]
enum Text {
    Null,
    Nickname(u8),
    Any(Vec<u8>),
}

impl Text {
    fn resolve(&self) -> Option<CString> {
        match self {
            Text::Null => None,
            Text::Nickname(i) => {
                let names = ["L1N1", "L2N1", "L3N1", "nobody"];
                CString::new(names[usize::from(*i) % names.len()]).ok()
            }
            Text::Any(bytes) => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                CString::new(&bytes[..end]).ok()
            }
        }
    }
}

fn cstr_ptr(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(null(), |t| t.as_ptr())
}

/// The time passed as `now_unix`: inside the sample's validity, or anything.
#[derive(Arbitrary, Debug)]
enum Time {
    Valid,
    Any(u64),
}

impl Time {
    fn unix(&self) -> u64 {
        match self {
            Time::Valid => fixtures::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Time::Any(t) => *t,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Call {
    DirectoryParse {
        text: Buffer,
        trusted: u8,
        threshold: u8,
        now: Time,
        null_out: bool,
    },
    DirectoryInfo,
    DirectoryFree,
    RouteRandom {
        null_out: bool,
    },
    RouteFromNicknames {
        names: Vec<Text>,
        null_array: bool,
    },
    RouteInfo {
        index: usize,
    },
    RouteFree,
    NodeNew {
        key: u8,
        /// Arbitrary identity, periods and keys instead of the sample's.
        raw: Option<(Vec<u8>, Vec<u64>, Vec<u8>)>,
        null_out: bool,
    },
    NodeAddKey {
        key: u8,
        period: u8,
        raw: Option<Vec<u8>>,
    },
    NodeRotate {
        now: Time,
        null_out: bool,
    },
    NodeProcess {
        carrier: Buffer,
        now: Time,
        null_out: bool,
    },
    NodeExpire {
        now: Time,
    },
    NodeAddress,
    NodeFree,
    MixWrap {
        message: Buffer,
        now: Time,
        null_out: bool,
    },
    AddDate {
        message: Buffer,
        now: Time,
    },
    Onions {
        index: usize,
        from: Text,
    },
    OnionsFree,
    Outcome {
        index: usize,
        from: Text,
    },
    OutcomeFree,
    BytesFree,
    LastError {
        len: u16,
        null_buf: bool,
    },
    StatusStr(u32),
}

/// Handles live between calls, as in a C program.
struct Slots {
    directory: *mut mixmailer_directory,
    route: *mut mixmailer_route,
    node: *mut mixmailer_node,
    onions: *mut mixmailer_onion_list,
    outcome: *mut mixmailer_outcome,
    bytes: *mut mixmailer_bytes,
    /// The carrier email of the last onion asked for, fed to nodes.
    carrier: Vec<u8>,
}

impl Drop for Slots {
    fn drop(&mut self) {
        unsafe {
            check(mixmailer_bytes_free(self.bytes));
            check(mixmailer_outcome_free(self.outcome));
            check(mixmailer_onion_list_free(self.onions));
            check(mixmailer_node_free(self.node));
            check(mixmailer_route_free(self.route));
            check(mixmailer_directory_free(self.directory));
        }
    }
}

/// The one rule of every call: no panic crosses (or is caught at) the boundary.
fn check(status: mixmailer_status) -> bool {
    assert_ne!(status, mixmailer_status::Panic, "{}", last_error());
    status == mixmailer_status::Ok
}

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 1024];
    let mut written = 0usize;
    let status = unsafe { mixmailer_last_error_message(buf.as_mut_ptr(), buf.len(), &mut written) };
    assert_eq!(status, mixmailer_status::Ok);
    let detail = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(detail.to_bytes().len(), written);
    detail.to_string_lossy().into_owned()
}

/// Calls `f` with an out-parameter preset to `sentinel`; a failed call must leave it so.
fn with_out<T: Copy + PartialEq + std::fmt::Debug>(
    sentinel: T,
    null: bool,
    f: impl FnOnce(*mut T) -> mixmailer_status,
) -> Option<T> {
    let mut value = sentinel;
    let ptr = if null {
        null_mut()
    } else {
        &mut value as *mut T
    };
    let ok = check(f(ptr));
    if null {
        assert!(!ok, "a NULL out-parameter was accepted");
        return None;
    }
    if ok {
        Some(value)
    } else {
        assert_eq!(value, sentinel, "out-parameter written on failure");
        None
    }
}

fuzz_target!(|calls: Vec<Call>| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    let net = fixtures::network();
    let keys: Vec<u8> = [
        fixtures::authority().public_key(),
        net.authority.public_key(),
    ]
    .concat();
    let message = fixtures::pep_message("Hello\r\n");
    let mut slots = Slots {
        directory: null_mut(),
        route: null_mut(),
        node: null_mut(),
        onions: null_mut(),
        outcome: null_mut(),
        bytes: null_mut(),
        carrier: Vec::new(),
    };
    for call in calls.iter().take(32) {
        unsafe { run(call, &mut slots, &keys, &message) };
    }
});

unsafe fn run(call: &Call, s: &mut Slots, keys: &[u8], message: &[u8]) {
    let net = fixtures::network();
    match call {
        Call::DirectoryParse {
            text,
            trusted,
            threshold,
            now,
            null_out,
        } => {
            let (bytes, len) = text.resolve(&net.directory_text);
            // 0, 1 or 2 trusted keys: the fixture authority's, then the network's.
            let count = usize::from(trusted % 3);
            let trusted_ptr = if trusted & 4 == 0 {
                keys.as_ptr()
            } else {
                null()
            };
            let parsed = with_out(null_mut(), *null_out, |out| unsafe {
                mixmailer_directory_parse(
                    ptr_of(&bytes),
                    len,
                    trusted_ptr,
                    count,
                    usize::from(*threshold % 4),
                    now.unix(),
                    out,
                )
            });
            if let Some(directory) = parsed {
                assert!(!directory.is_null());
                check(unsafe { mixmailer_directory_free(s.directory) });
                s.directory = directory;
            }
        }
        Call::DirectoryInfo => unsafe {
            let count = with_out(usize::MAX, false, |o| {
                mixmailer_directory_node_count(s.directory, o)
            });
            let hops = with_out(usize::MAX, false, |o| {
                mixmailer_directory_hops(s.directory, o)
            });
            let size = with_out(usize::MAX, false, |o| {
                mixmailer_directory_payload_size(s.directory, o)
            });
            assert_eq!(count.is_some(), !s.directory.is_null());
            assert_eq!(hops.is_some(), size.is_some());
        },
        Call::DirectoryFree => unsafe {
            check(mixmailer_directory_free(s.directory));
            s.directory = null_mut();
        },
        Call::RouteRandom { null_out } => {
            if let Some(route) = with_out(null_mut(), *null_out, |o| unsafe {
                mixmailer_route_random(s.directory, o)
            }) {
                check(unsafe { mixmailer_route_free(s.route) });
                s.route = route;
            }
        }
        Call::RouteFromNicknames { names, null_array } => {
            let names: Vec<Option<CString>> = names.iter().take(8).map(Text::resolve).collect();
            let ptrs: Vec<*const c_char> = names.iter().map(cstr_ptr).collect();
            let array = if *null_array { null() } else { ptrs.as_ptr() };
            if let Some(route) = with_out(null_mut(), false, |o| unsafe {
                mixmailer_route_from_nicknames(s.directory, array, ptrs.len(), o)
            }) {
                check(unsafe { mixmailer_route_free(s.route) });
                s.route = route;
            }
        }
        Call::RouteInfo { index } => unsafe {
            let hops = with_out(usize::MAX, false, |o| mixmailer_route_hops(s.route, o));
            let address = with_out(null(), false, |o| {
                mixmailer_route_hop_address(s.route, *index, o)
            });
            assert_eq!(address.is_some(), hops.is_some_and(|h| *index < h));
            if let Some(address) = address {
                assert!(!CStr::from_ptr(address).to_bytes().is_empty());
            }
        },
        Call::RouteFree => unsafe {
            check(mixmailer_route_free(s.route));
            s.route = null_mut();
        },
        Call::NodeNew { key, raw, null_out } => {
            let index = usize::from(*key) % net.node_keys.len();
            let (identity, periods, secrets): (Vec<u8>, Vec<u64>, Vec<u8>) = match raw {
                Some(raw) => raw.clone(),
                None => (
                    net.node_identities[index].public_key().to_vec(),
                    net.node_keys[index].iter().map(|(p, _)| *p).collect(),
                    net.node_keys[index]
                        .iter()
                        .flat_map(|(_, k)| *k.to_bytes())
                        .collect(),
                ),
            };
            // The count is that of the periods: never more than the array holds.
            if let Some(node) = with_out(null_mut(), *null_out, |o| unsafe {
                mixmailer_node_new(
                    identity.as_ptr(),
                    identity.len(),
                    periods.as_ptr(),
                    secrets.as_ptr(),
                    secrets.len(),
                    periods.len(),
                    s.directory,
                    o,
                )
            }) {
                check(unsafe { mixmailer_node_free(s.node) });
                s.node = node;
            }
        }
        Call::NodeProcess {
            carrier,
            now,
            null_out,
        } => {
            let sample = if s.carrier.is_empty() {
                fixtures::pep_message("")
            } else {
                s.carrier.clone()
            };
            let (bytes, len) = carrier.resolve(&sample);
            if let Some(outcome) = with_out(null_mut(), *null_out, |o| unsafe {
                mixmailer_node_process(s.node, ptr_of(&bytes), len, now.unix(), o)
            }) {
                check(unsafe { mixmailer_outcome_free(s.outcome) });
                s.outcome = outcome;
            }
        }
        Call::NodeAddKey { key, period, raw } => {
            let keys = &net.node_keys[usize::from(*key) % net.node_keys.len()];
            let (period, secret) = match raw {
                Some(raw) => (u64::from(*period), raw.clone()),
                None => {
                    let (p, k) = &keys[usize::from(*period) % keys.len()];
                    (*p, k.to_bytes().to_vec())
                }
            };
            check(unsafe { mixmailer_node_add_key(s.node, period, secret.as_ptr(), secret.len()) });
        }
        Call::NodeRotate { now, null_out } => {
            let mut tags = u64::MAX;
            if with_out(usize::MAX, *null_out, |o| unsafe {
                mixmailer_node_rotate(s.node, now.unix(), o, &mut tags)
            })
            .is_none()
            {
                assert_eq!(tags, u64::MAX, "out-parameter written on failure");
            }
        }
        Call::NodeExpire { now } => {
            with_out(usize::MAX, false, |o| unsafe {
                mixmailer_node_expire(s.node, now.unix(), o)
            });
        }
        Call::NodeAddress => {
            if let Some(address) = with_out(null(), false, |o| unsafe {
                mixmailer_node_address(s.node, o)
            }) {
                assert!(unsafe { CStr::from_ptr(address) }
                    .to_bytes()
                    .contains(&b'@'));
            }
        }
        Call::NodeFree => unsafe {
            check(mixmailer_node_free(s.node));
            s.node = null_mut();
        },
        Call::MixWrap {
            message: m,
            now,
            null_out,
        } => {
            let (bytes, len) = m.resolve(message);
            if let Some(onions) = with_out(null_mut(), *null_out, |o| unsafe {
                mixmailer_mix_wrap_at(ptr_of(&bytes), len, s.route, now.unix(), o)
            }) {
                check(unsafe { mixmailer_onion_list_free(s.onions) });
                s.onions = onions;
            }
        }
        Call::AddDate { message: m, now } => {
            let (bytes, len) = m.resolve(message);
            if let Some(dated) = with_out(null_mut(), false, |o| unsafe {
                mixmailer_add_date(ptr_of(&bytes), len, now.unix(), o)
            }) {
                let mut data: *const u8 = null();
                let mut dated_len = 0usize;
                assert!(check(unsafe {
                    mixmailer_bytes_data(dated, &mut data, &mut dated_len)
                }));
                let text = unsafe { std::slice::from_raw_parts(data, dated_len) };
                // The Date field, then the message exactly as given.
                let given = bytes.as_deref().map_or(&[][..], |b| &b[..len]);
                assert!(text.starts_with(b"Date: "));
                assert!(dated_len > len && text.ends_with(given));
                check(unsafe { mixmailer_bytes_free(dated) });
            }
        }
        Call::Onions { index, from } => unsafe {
            let count = with_out(usize::MAX, false, |o| {
                mixmailer_onion_list_count(s.onions, o)
            });
            let index = count.map_or(*index, |c| index % (c + 1));
            let hop = with_out(null(), false, |o| {
                mixmailer_onion_list_first_hop(s.onions, index, o)
            });
            let id = with_out(null(), false, |o| {
                mixmailer_onion_list_message_id(s.onions, o)
            });
            let period = with_out(u64::MAX, false, |o| {
                mixmailer_onion_list_period(s.onions, o)
            });
            assert_eq!(id.is_some(), count.is_some());
            assert_eq!(period.is_some(), count.is_some());
            if let Some(id) = id {
                let id = CStr::from_ptr(id).to_bytes();
                assert!(id.starts_with(b"<") && id.ends_with(b">"));
            }
            assert_eq!(hop.is_some(), count.is_some_and(|c| index < c));
            let mut packet: *const u8 = null();
            let mut len = usize::MAX;
            if check(mixmailer_onion_list_packet(
                s.onions,
                index,
                &mut packet,
                &mut len,
            )) {
                assert_eq!(len, mixmailer::sphinx::packet_len(1024));
                assert!(!packet.is_null());
            } else {
                assert_eq!((packet, len), (null(), usize::MAX));
            }
            let from = from.resolve();
            if let Some(email) = with_out(null_mut(), false, |o| {
                mixmailer_onion_list_carrier_email(s.onions, index, cstr_ptr(&from), o)
            }) {
                keep_bytes(s, email);
            }
        },
        Call::OnionsFree => unsafe {
            check(mixmailer_onion_list_free(s.onions));
            s.onions = null_mut();
        },
        Call::Outcome { index, from } => unsafe { outcome_accessors(s, *index, from) },
        Call::OutcomeFree => unsafe {
            check(mixmailer_outcome_free(s.outcome));
            s.outcome = null_mut();
        },
        Call::BytesFree => unsafe {
            check(mixmailer_bytes_free(s.bytes));
            s.bytes = null_mut();
        },
        Call::LastError { len, null_buf } => {
            let mut buf = vec![0x55 as c_char; usize::from(*len)];
            let ptr = if *null_buf {
                null_mut()
            } else {
                buf.as_mut_ptr()
            };
            let mut written = usize::MAX;
            if check(unsafe { mixmailer_last_error_message(ptr, buf.len(), &mut written) }) {
                assert!(written < buf.len());
                assert_eq!(buf[written], 0);
                assert!(!buf[..written].contains(&0));
            } else {
                assert_eq!(written, usize::MAX);
            }
        }
        Call::StatusStr(code) => {
            let text = mixmailer_status_str(*code);
            assert!(!text.is_null());
            assert!(!unsafe { CStr::from_ptr(text) }.to_bytes().is_empty());
        }
    }
}

/// Keeps a carrier email the library returned: its bytes feed later node calls.
unsafe fn keep_bytes(s: &mut Slots, email: *mut mixmailer_bytes) {
    let mut data: *const u8 = null();
    let mut len = 0usize;
    assert!(check(unsafe {
        mixmailer_bytes_data(email, &mut data, &mut len)
    }));
    s.carrier = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
    check(unsafe { mixmailer_bytes_free(s.bytes) });
    s.bytes = email;
}

/// Every accessor on the current outcome: the one of its kind succeeds,
/// the others say WRONG_OUTCOME_KIND (or NULL_PARAMETER without an outcome).
unsafe fn outcome_accessors(s: &mut Slots, index: usize, from: &Text) {
    let o = s.outcome;
    let kind = with_out(mixmailer_outcome_kind::Forward, false, |k| unsafe {
        mixmailer_outcome_get_kind(o, k)
    });
    let is = |wanted: mixmailer_outcome_kind| kind == Some(wanted);
    unsafe {
        let address = with_out(null(), false, |a| mixmailer_outcome_forward_address(o, a));
        let delay = with_out(u64::MAX, false, |d| {
            mixmailer_outcome_forward_delay_ms(o, d)
        });
        assert_eq!(address.is_some(), is(mixmailer_outcome_kind::Forward));
        assert_eq!(delay.is_some(), is(mixmailer_outcome_kind::Forward));
        let any_delay = with_out(u64::MAX, false, |d| mixmailer_outcome_delay_ms(o, d));
        assert_eq!(
            any_delay.is_some(),
            is(mixmailer_outcome_kind::Forward) || is(mixmailer_outcome_kind::Deliver)
        );
        if delay.is_some() {
            assert_eq!(any_delay, delay);
        }
        let from = from.resolve();
        if let Some(email) = with_out(null_mut(), false, |e| {
            mixmailer_outcome_forward_carrier(o, cstr_ptr(&from), e)
        }) {
            keep_bytes(s, email);
        }
        let count = with_out(usize::MAX, false, |c| {
            mixmailer_outcome_deliver_recipient_count(o, c)
        });
        assert_eq!(count.is_some(), is(mixmailer_outcome_kind::Deliver));
        let recipient = with_out(null(), false, |a| {
            mixmailer_outcome_deliver_recipient(o, index, a)
        });
        assert_eq!(recipient.is_some(), count.is_some_and(|c| index < c));
        let mut message: *const u8 = null();
        let mut len = usize::MAX;
        let delivered = check(mixmailer_outcome_deliver_message(o, &mut message, &mut len));
        assert_eq!(delivered, is(mixmailer_outcome_kind::Deliver));
        let mut have = usize::MAX;
        let mut need = usize::MAX;
        let held = check(mixmailer_outcome_fragments(o, &mut have, &mut need));
        assert_eq!(held, is(mixmailer_outcome_kind::FragmentHeld));
        if held {
            assert!(have < need);
        }
        let reason = with_out(mixmailer_drop_reason::Replay, false, |r| {
            mixmailer_outcome_drop_reason(o, r)
        });
        assert_eq!(reason.is_some(), is(mixmailer_outcome_kind::Dropped));
    }
}
