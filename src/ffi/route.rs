//! `mixmailer_route`: one node per layer, chosen at random or by name.

use super::args::{arg_array, arg_ref, arg_str, free_handle, into_handle, out};
use super::directory::mixmailer_directory;
use super::failure::Failure;
use super::status::mixmailer_status;
use crate::route::Route;
use crate::sphinx::TableCache;
use crate::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::ffi::{c_char, CString};
use std::sync::Arc;

/// A route through the mixnet (opaque). Immutable: it may be shared
/// between threads.
pub struct mixmailer_route {
    pub(crate) inner: Route,
    /// The precomputation cache of the directory it was made from.
    pub(crate) tables: Arc<TableCache>,
    /// NUL-terminated mailboxes of the hops, for `mixmailer_route_hop_address`.
    addresses: Vec<CString>,
}

impl mixmailer_route {
    fn new(inner: Route, directory: &mixmailer_directory) -> Result<Self, Failure> {
        let addresses = inner
            .hops()
            .iter()
            .map(|hop| c_string(hop.address(), "a hop address"))
            .collect::<Result<_, _>>()?;
        Ok(mixmailer_route {
            inner,
            tables: Arc::clone(&directory.tables),
            addresses,
        })
    }
}

/// `text` as a C string; the directory forbids NUL in addresses, so this
/// fails only if that rule is ever broken.
pub(crate) fn c_string(text: &str, what: &str) -> Result<CString, Failure> {
    CString::new(text).map_err(|_| {
        Failure::new(
            mixmailer_status::InvalidArgument,
            format!("{what} contains a NUL byte and cannot be passed to C"),
        )
    })
}

/// Chooses a random route from `directory` (one node per layer, uniformly,
/// using the operating system's randomness). Choose a new route for every
/// message.
///
/// Ownership: borrows `directory` for the call. On success `*route`
/// receives a new handle the caller owns and frees with
/// `mixmailer_route_free`; it does not borrow `directory`.
///
/// # Safety
/// `directory` is NULL or live; `route` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_route_random(
    directory: *const mixmailer_directory,
    route: *mut *mut mixmailer_route,
) -> mixmailer_status {
    ffi_boundary!({
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let route = unsafe { out(route, "route") }?;
        let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng)
            .map_err(|e| Failure::from(Error::Randomness(e)))?;
        let inner = directory.inner.random_route(&mut rng)?;
        route.set(into_handle(mixmailer_route::new(inner, directory)?));
        Ok(())
    })
}

/// The route through the nodes named `nicknames` (an array of `count`
/// NUL-terminated UTF-8 strings), which must be of layers 1, 2, ... h in
/// that order.
///
/// Ownership: `nicknames` is only read during the call. On success
/// `*route` receives a new handle the caller owns and frees with
/// `mixmailer_route_free`.
///
/// # Safety
/// `directory` is NULL or live; `nicknames` points to `count` pointers to
/// NUL-terminated strings; `route` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_route_from_nicknames(
    directory: *const mixmailer_directory,
    nicknames: *const *const c_char,
    count: usize,
    route: *mut *mut mixmailer_route,
) -> mixmailer_status {
    ffi_boundary!({
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let pointers = unsafe { arg_array(nicknames, count, "nicknames") }?;
        let route = unsafe { out(route, "route") }?;
        let names = pointers
            .iter()
            .enumerate()
            .map(|(i, &p)| unsafe { arg_str(p, &format!("nicknames[{i}]")) })
            .collect::<Result<Vec<&str>, _>>()?;
        let inner = directory.inner.route(&names)?;
        route.set(into_handle(mixmailer_route::new(inner, directory)?));
        Ok(())
    })
}

/// The number of hops of `route` into `*hops`.
///
/// Ownership: borrows `route` for the call; `hops` is the caller's.
///
/// # Safety
/// `route` is NULL or live; `hops` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_route_hops(
    route: *const mixmailer_route,
    hops: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let route = unsafe { arg_ref(route, "route") }?;
        let hops = unsafe { out(hops, "hops") }?;
        hops.set(route.addresses.len());
        Ok(())
    })
}

/// The mailbox of hop `index` (0 is the first hop, hops - 1 the exit) as
/// a NUL-terminated string into `*address`.
///
/// Ownership: `*address` is borrowed from `route` and valid until
/// `mixmailer_route_free(route)`; do not free it.
///
/// # Safety
/// `route` is NULL or live; `address` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_route_hop_address(
    route: *const mixmailer_route,
    index: usize,
    address: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let route = unsafe { arg_ref(route, "route") }?;
        let address = unsafe { out(address, "address") }?;
        let hop = route
            .addresses
            .get(index)
            .ok_or_else(|| Failure::index("index", index, route.addresses.len()))?;
        address.set(hop.as_ptr());
        Ok(())
    })
}

/// Frees `route`; NULL is fine. Onion lists made with it stay usable.
///
/// Ownership: takes `route` back from the caller.
///
/// # Safety
/// `route` is NULL or a live handle not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_route_free(route: *mut mixmailer_route) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(route) };
        Ok(())
    })
}

#[cfg(all(test, feature = "sample"))]
mod tests {
    use super::*;
    use crate::ffi::{mixmailer_directory_free, mixmailer_directory_parse};
    use crate::sample::{SampleNetwork, SampleSpec};
    use std::ptr::null_mut;
    use std::time::UNIX_EPOCH;

    /// Issue 12: one table cache per directory handle, shared by every
    /// route made from it and outliving the handle.
    #[test]
    fn routes_share_their_directory_s_table_cache() {
        let net = SampleNetwork::generate(&SampleSpec::default()).unwrap();
        let trusted = net.authority.public_key();
        let now = net.now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut directory = null_mut();
        let status = unsafe {
            mixmailer_directory_parse(
                net.directory_text.as_ptr(),
                net.directory_text.len(),
                trusted.as_ptr(),
                1,
                1,
                now,
                &mut directory,
            )
        };
        assert_eq!(status, mixmailer_status::Ok);
        let (mut random, mut named) = (null_mut(), null_mut());
        let names = [c"L1N1".as_ptr(), c"L2N1".as_ptr(), c"L3N1".as_ptr()];
        unsafe {
            assert_eq!(
                mixmailer_route_random(directory, &mut random),
                mixmailer_status::Ok
            );
            assert_eq!(
                mixmailer_route_from_nicknames(directory, names.as_ptr(), 3, &mut named),
                mixmailer_status::Ok
            );
            let cache = &(*directory).tables;
            assert!(Arc::ptr_eq(cache, &(*random).tables));
            assert!(Arc::ptr_eq(cache, &(*named).tables));
            mixmailer_directory_free(directory);
            // The routes keep the cache alive after the directory is gone.
            assert_eq!(Arc::strong_count(&(*random).tables), 2);
            mixmailer_route_free(random);
            assert_eq!(Arc::strong_count(&(*named).tables), 1);
            mixmailer_route_free(named);
        }
    }
}
