//! Fragments (SPEC 3), structure-aware: arbitrary plaintexts through the
//! parser, arbitrary fragment values through reassembly, and bodies cut
//! into fragments of which any n-k are lost and the rest must rebuild them.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{fragment_body, reassemble, shard_size, Fragment, Redundancy};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Payload plaintexts read at payload size 41 + `payload`, each cut or
    /// zero-padded to the capacity C when `fit` says so.
    Plaintexts {
        payload: u16,
        plaintexts: Vec<(bool, Vec<u8>)>,
    },
    /// Fragments as any caller of the public API could make them.
    Fragments(Vec<ArbitraryFragment>),
    /// A body cut at payload size 41 + `payload`; `lost` picks fragments to drop.
    RoundTrip {
        body: Vec<u8>,
        payload: u16,
        parity: Option<u8>,
        lost: Vec<u8>,
        reverse: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct ArbitraryFragment {
    id: u8,
    k: u8,
    n: u8,
    index: u8,
    body_len: u32,
    shard: Vec<u8>,
}

fuzz_target!(|input: Input| match input {
    Input::Plaintexts {
        payload,
        plaintexts,
    } => {
        let payload_size = 41 + usize::from(payload);
        let capacity = payload_size - 17;
        let fragments: Vec<Fragment> = plaintexts
            .into_iter()
            .filter_map(|(fit, mut plaintext)| {
                if fit {
                    plaintext.resize(capacity, 0);
                }
                let fragment = Fragment::from_plaintext(&plaintext, payload_size).ok()?;
                // A parsed fragment writes back to the same plaintext.
                assert_eq!(fragment.to_plaintext(payload_size), plaintext);
                Some(fragment)
            })
            .collect();
        let _ = reassemble(&fragments);
    }
    Input::Fragments(fragments) => {
        let fragments: Vec<Fragment> = fragments
            .into_iter()
            .map(|f| Fragment {
                message_id: [f.id; 16],
                k: f.k,
                n: f.n,
                index: f.index,
                body_len: f.body_len,
                shard: f.shard,
            })
            .collect();
        if let Ok(body) = reassemble(&fragments) {
            assert_eq!(body.len() as u64, u64::from(fragments[0].body_len));
        }
    }
    Input::RoundTrip {
        body,
        payload,
        parity,
        lost,
        reverse,
    } => {
        let payload_size = 41 + usize::from(payload % 4096);
        let redundancy = parity.map_or(Redundancy::Default, Redundancy::Parity);
        let Ok(mut fragments) = fragment_body(&body, [3; 16], payload_size, redundancy) else {
            return;
        };
        let (k, n) = (usize::from(fragments[0].k), fragments.len());
        assert_eq!(n, usize::from(fragments[0].n));
        assert!(fragments
            .iter()
            .all(|f| f.shard.len() == shard_size(payload_size)));
        // Lose at most n-k fragments, chosen by the input.
        for pick in lost.iter().take(n - k) {
            let at = usize::from(*pick) % fragments.len();
            fragments.remove(at);
        }
        if reverse {
            fragments.reverse();
        }
        assert_eq!(reassemble(&fragments), Ok(body));
    }
});
