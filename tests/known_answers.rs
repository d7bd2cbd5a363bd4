//! Known answers: bytes produced once from fixed inputs and checked forever,
//! so that a dependency update (sphinx-packet, the curve, the ciphers, the
//! erasure code) or a refactoring that changes a single output byte fails
//! here instead of splitting the network.
//!
//! The expected values are SHA-256 digests of the outputs, recorded when
//! this file was written (with sphinx-packet 0.8.0, curve25519-dalek 5.0.0,
//! reed-solomon-simd 3.1.0). If one fails, the behaviour changed: that is a
//! wire-format change, to be made on purpose (SPEC) and never by updating a
//! digest to make the test pass.

use mixmailer::keys::NodeSecretKey;
use mixmailer::message::{fragment_body, reassemble, Fragment, Redundancy};
use mixmailer::sphinx::{
    build_packet_reference, build_packet_to, build_packet_with_padding, final_padding_len,
    process_packet, InitialSecret, PacketHop, Processed, HEADER_LEN,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Fixed node `i` of the vectors: secret key `[0x40 + i; 32]`, id
/// SHA-256 of the public key.
struct Node {
    secret: [u8; 32],
    key: [u8; 32],
    id: [u8; 32],
}

fn node(i: u8) -> Node {
    let secret = [0x40 + i; 32];
    let key = NodeSecretKey::from_bytes(secret).public_key();
    Node {
        secret,
        key,
        id: Sha256::digest(key).into(),
    }
}

/// One vector: `hops` nodes 1..=hops, delays of 1, 2, ... minutes, the
/// initial secret `[secret; 32]`, and a plaintext of `plaintext_len` bytes
/// `0, 1, 2, ...` (mod 251).
struct Vector {
    hops: u8,
    payload_size: usize,
    secret: u8,
    plaintext_len: usize,
    /// SHA-256 of the packet `build_packet_to` makes (padding derived from the secret).
    packet: &'static str,
    /// SHA-256 of the packet made with the final-hop padding `0xa5...`.
    with_padding: &'static str,
    /// SHA-256 of alpha (header bytes 0..32) and the payload: the parts of a
    /// packet that do not depend on the padding, so that sphinx-packet's own
    /// builder (which draws its padding at random) must give them too.
    alpha_and_payload: &'static str,
}

const VECTORS: [Vector; 4] = [
    Vector {
        hops: 1,
        payload_size: 1024,
        secret: 0x01,
        plaintext_len: 0,
        packet: "3e5e853aa80971a98984bd21870b17e61d7443e69de86cf91be38864268e5d12",
        with_padding: "c7ba113ab9e0e3e1ca859ed093c92bd425c788bce9ae86af9a07d924fe962d10",
        alpha_and_payload: "487a94d5b28a18150bb90639ef9e89d4646c505cbae99cc76430a5497436592c",
    },
    Vector {
        hops: 3,
        payload_size: 1024,
        secret: 0x02,
        plaintext_len: 500,
        packet: "bcfc0b9953d9e784164805d53a134d35d7c7ff606443d17a1469cee495f4a497",
        with_padding: "8f7ef274d733a407b8905a574f93ed68b0016c8321ebd43299fb7df2610658ae",
        alpha_and_payload: "0ce17d73237b9489ede785df2f541b1b06c62f877d926648f21bd3bb727ea14c",
    },
    Vector {
        hops: 5,
        payload_size: 2048,
        secret: 0x03,
        plaintext_len: 2048 - 17,
        packet: "da572a123fb0a9f0e9978cb40eb784bc0e035cc109f58b94fd68e6bf4cc1021c",
        with_padding: "798d725ff65b8f6c5aeabdca16b05c50d2627ee21604a988e5761aba4a574b82",
        alpha_and_payload: "d5c79f2cb0fa1b692c8ca0788749c2ba2236b24f65732d379095482a9f767754",
    },
    Vector {
        hops: 5,
        payload_size: 33,
        secret: 0x04,
        plaintext_len: 16,
        packet: "872566bf697bd55c1612874d6f84ebf587133af9ba63063b684142fdee649ef9",
        with_padding: "ddaa2f806c7b76e753e0f2488562948c7c58d91ffa6972db696e6addbd638449",
        alpha_and_payload: "18d4fd9b7f34832d36f7d0d4aabf5daa6a4d316d9a338712f96eb4a4a6d701f0",
    },
];

impl Vector {
    fn nodes(&self) -> Vec<Node> {
        (1..=self.hops).map(node).collect()
    }
    fn delays(&self) -> Vec<Duration> {
        (1..=u64::from(self.hops))
            .map(|m| Duration::from_secs(60 * m))
            .collect()
    }
    fn plaintext(&self) -> Vec<u8> {
        (0..self.plaintext_len).map(|i| (i % 251) as u8).collect()
    }
    fn secret(&self) -> InitialSecret {
        InitialSecret::from_bytes([self.secret; 32])
    }
}

fn hops(nodes: &[Node]) -> Vec<PacketHop<'_>> {
    nodes
        .iter()
        .map(|n| PacketHop {
            id: &n.id,
            key: &n.key,
            table: None,
        })
        .collect()
}

fn alpha_and_payload(packet: &[u8]) -> Vec<u8> {
    let mut parts = packet[..32].to_vec();
    parts.extend_from_slice(&packet[HEADER_LEN..]);
    parts
}

/// Every digest that differs, as `name: got` lines (empty when all agree),
/// so that one run shows every changed vector at once.
fn mismatches(checks: &[(String, &str, String)]) -> String {
    checks
        .iter()
        .filter(|(_, expected, got)| expected != got)
        .map(|(name, expected, got)| format!("{name}: expected {expected}, got {got}\n"))
        .collect()
}

#[test]
fn packets_for_fixed_inputs_are_the_recorded_bytes() {
    let mut checks = Vec::new();
    for (n, v) in VECTORS.iter().enumerate() {
        let nodes = v.nodes();
        let hops = hops(&nodes);
        let packet = build_packet_to(
            &v.secret(),
            &hops,
            v.payload_size,
            &v.delays(),
            &v.plaintext(),
        )
        .unwrap();
        assert_eq!(packet.len(), HEADER_LEN + v.payload_size);
        let padding = vec![0xa5; final_padding_len(hops.len())];
        let with_padding = build_packet_with_padding(
            &v.secret(),
            &hops,
            v.payload_size,
            &v.delays(),
            &v.plaintext(),
            &padding,
        )
        .unwrap();
        assert_eq!(
            alpha_and_payload(&packet),
            alpha_and_payload(&with_padding),
            "vector {n}: the padding reaches only the routing information and its MACs"
        );
        checks.push((format!("vector {n} packet"), v.packet, sha256(&packet)));
        checks.push((
            format!("vector {n} with_padding"),
            v.with_padding,
            sha256(&with_padding),
        ));
        checks.push((
            format!("vector {n} alpha_and_payload"),
            v.alpha_and_payload,
            sha256(&alpha_and_payload(&packet)),
        ));
    }
    let wrong = mismatches(&checks);
    assert!(wrong.is_empty(), "packet bytes changed:\n{wrong}");
}

#[test]
fn sphinx_packets_own_builder_gives_the_recorded_alpha_and_payload() {
    for (n, v) in VECTORS.iter().enumerate() {
        let nodes = v.nodes();
        let reference = build_packet_reference(
            &v.secret(),
            &hops(&nodes),
            v.payload_size,
            &v.delays(),
            &v.plaintext(),
        )
        .unwrap();
        assert_eq!(
            sha256(&alpha_and_payload(&reference)),
            v.alpha_and_payload,
            "vector {n}"
        );
    }
}

#[test]
fn the_recorded_packets_travel_their_route_to_the_plaintext() {
    for (n, v) in VECTORS.iter().enumerate() {
        let nodes = v.nodes();
        let mut packet = build_packet_to(
            &v.secret(),
            &hops(&nodes),
            v.payload_size,
            &v.delays(),
            &v.plaintext(),
        )
        .unwrap();
        for (i, node) in nodes.iter().enumerate() {
            let key = NodeSecretKey::from_bytes(node.secret);
            match process_packet(&key, &packet, v.payload_size).unwrap() {
                Processed::Forward {
                    next_id,
                    delay,
                    packet: next,
                    ..
                } => {
                    assert_eq!(next_id, nodes[i + 1].id, "vector {n} hop {i}");
                    assert_eq!(delay, v.delays()[i], "vector {n} hop {i}");
                    packet = next;
                }
                Processed::Final { plaintext, .. } => {
                    assert_eq!(i + 1, nodes.len(), "vector {n}: exit at the last hop");
                    assert_eq!(plaintext, v.plaintext(), "vector {n}");
                }
            }
        }
    }
}

/// A fixed 5000-byte body cut for 1 KiB payloads with the default
/// redundancy: the data fragments and the Reed-Solomon parity.
const FRAGMENT_PAYLOAD_SIZE: usize = 1024;
const FRAGMENTS: [&str; 8] = [
    "28741bad63c27a5d04775d011615feb7047763fbd683cddc0362c0ffc611ddf9",
    "42a7fd8fdcd34d0699a1942b4280ce0c0f951bc48036f6b853db24bb176f7bbd",
    "cb2cd6ca0e97332a65d235b452b8418632c7679eef43ca17086890ffb949146f",
    "39afba1b6cd79939c75f319b562fc02c284d452f25f0688ebb0d8c807e064951",
    "2001970812252a365a255f090fe19f94ababa5bc5f9effad6b94f1503016565a",
    "771810be41877d05f7f926e7ec04fee3ca10adf27d6da0984a2c739f6e8de9bc",
    "ad678b27ebb12fa2f3123ea507c6b95f9f8a06a56a5e7dacc54c35d516ad3682",
    "32307555b4d194180cd868b606d556ce98fee430733a9e49bc82a496335e56bf",
];

fn fixed_body() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn erasure_coded_fragments_of_a_fixed_body_are_the_recorded_bytes() {
    let fragments = fragment_body(
        &fixed_body(),
        [0x33; 16],
        FRAGMENT_PAYLOAD_SIZE,
        Redundancy::Default,
    )
    .unwrap();
    let got: Vec<String> = fragments
        .iter()
        .map(|f| sha256(&f.to_plaintext(FRAGMENT_PAYLOAD_SIZE)))
        .collect();
    assert_eq!(got, FRAGMENTS, "fragment bytes changed");
}

#[test]
fn the_recorded_parity_alone_restores_the_body() {
    let fragments = fragment_body(
        &fixed_body(),
        [0x33; 16],
        FRAGMENT_PAYLOAD_SIZE,
        Redundancy::Default,
    )
    .unwrap();
    // Drop as many data fragments as there are parity fragments: the body
    // must come back from what is left.
    let parity = fragments.iter().filter(|f| f.index >= f.k).count();
    assert!(parity > 0, "the default redundancy adds parity");
    let kept: Vec<Fragment> = fragments.into_iter().skip(parity).collect();
    assert_eq!(reassemble(&kept).unwrap(), fixed_body());
}
