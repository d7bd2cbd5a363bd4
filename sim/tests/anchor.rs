//! The CI scenario: the Loopix/MiXiM anchor, coarsely. Sender entropy at
//! 0.5 s and 2 s mean latency within one bit of the published 11.6 and
//! 14.2 bits, and rising with latency (`mixmailer-sim ci` runs the same).

#[test]
fn loopix_anchor_trend_holds() {
    let rows = mixmailer_sim::scenarios::ci_check().unwrap();
    assert_eq!(rows.len(), 2);
}
