//! The node side of SPEC 8 (`mixmailer_node::publish`, which the daemon
//! runs under `[join]`): a descriptor POSTed to every configured
//! authority, refusals reported with the authority's one-line reason.

mod common;

use common::*;
use mixmailer::descriptor::Role;
use mixmailer_node::publish::{publish_descriptor, PublishError};
use std::time::SystemTime;

#[test]
fn a_descriptor_reaches_every_authority_and_refusals_carry_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut auths = authorities(dir.path(), 2, 1, 60, &[]);
    for a in auths.iter_mut() {
        a.start();
    }
    let dead = format!("http://127.0.0.1:{}", free_port());
    let urls = vec![
        auths[0].url.clone(),
        dead.clone(),
        format!("{}/", auths[1].url),
    ];
    let good = descriptor(0, Role::Exit, SystemTime::now());

    let results = publish_descriptor(&good, &urls);
    assert_eq!(results[0], Ok(()));
    assert!(matches!(&results[1], Err(PublishError::Unreachable { url, .. }) if *url == dead));
    assert_eq!(results[2], Ok(()));

    let other = descriptor_with(1, Role::Mix, SystemTime::now(), "othernet", KEY_PERIOD);
    let results = publish_descriptor(&other, &urls[..1]);
    match &results[0] {
        Err(PublishError::Refused { status, reason, .. }) => {
            assert_eq!(*status, 400);
            assert!(
                reason.starts_with("descriptor is for network othernet"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
