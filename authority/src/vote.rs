//! Votes (docs/authority.md section 3): writing, signing, and reading a
//! peer's vote with every rule checked, so that garbage from a peer is
//! refused whole with a one-line reason.

use crate::consensus::{Listing, VotedNode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use mixmailer::time::format_directory_time;
use std::time::SystemTime;

/// Largest vote accepted from a peer.
pub const MAX_VOTE_SIZE: usize = 16 << 20;
/// Most `node` lines in a vote (the directory's own limit).
pub const MAX_VOTE_NODES: usize = 10_000;

/// The shared parameters and the document a vote is for; a peer's vote
/// must name exactly these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// Network name.
    pub network: String,
    /// The document's valid-after.
    pub valid_after: SystemTime,
    /// The document's valid-until.
    pub valid_until: SystemTime,
    /// Layers.
    pub hops: u8,
    /// Sphinx payload size.
    pub payload_size: usize,
    /// Mean per-hop delay, seconds.
    pub mean_delay: u64,
    /// Key period, seconds.
    pub key_period: u64,
}

impl Terms {
    fn header_lines(&self) -> [String; 7] {
        [
            format!("network {}", self.network),
            format!("valid-after {}", format_directory_time(self.valid_after)),
            format!("valid-until {}", format_directory_time(self.valid_until)),
            format!("hops {}", self.hops),
            format!("payload-size {}", self.payload_size),
            format!("mean-delay {}", self.mean_delay),
            format!("key-period {}", self.key_period),
        ]
    }
}

/// One node line: what the consensus uses, and the descriptor it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteEntry {
    /// Identity, previous layer and listing.
    pub node: VotedNode,
    /// The descriptor, verbatim.
    pub descriptor: Vec<u8>,
}

/// A vote read and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The voter.
    pub authority: [u8; 32],
    /// Node lines, increasing identity.
    pub entries: Vec<VoteEntry>,
}

/// Why a vote was refused: one line, with the line number when there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct VoteError {
    /// 1-based line, if the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

fn err(line: Option<usize>, reason: impl Into<String>) -> VoteError {
    VoteError {
        line,
        reason: reason.into(),
    }
}

/// Writes and signs a vote. `entries` are sorted here by identity; an
/// identity given twice keeps its first entry.
pub fn write(terms: &Terms, key: &SigningKey, entries: &[VoteEntry]) -> Vec<u8> {
    let mut sorted: Vec<&VoteEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.node.identity);
    sorted.dedup_by_key(|e| e.node.identity);
    let mut text = String::from("mixmailer-vote 1\n");
    for line in terms.header_lines() {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!(
        "authority {}\n",
        B64.encode(key.verifying_key().to_bytes())
    ));
    for e in sorted {
        text.push_str(&format!(
            "node {} {}\n",
            e.node.previous_layer,
            B64.encode(&e.descriptor)
        ));
    }
    let signature = key.sign(text.as_bytes());
    text.push_str(&format!("signature {}\n", B64.encode(signature.to_bytes())));
    text.into_bytes()
}

/// Reads a vote by `authority` for `terms`. `read_descriptor` turns a
/// descriptor into its identity and listing for the document's periods, or
/// says why it cannot be used (it applies SPEC 7 and section 6's rules).
pub fn parse(
    text: &[u8],
    terms: &Terms,
    authority: &[u8; 32],
    read_descriptor: impl Fn(&[u8]) -> Result<([u8; 32], Listing), String>,
) -> Result<Vote, VoteError> {
    if text.len() > MAX_VOTE_SIZE {
        return Err(err(None, format!("vote larger than {MAX_VOTE_SIZE} bytes")));
    }
    let text = std::str::from_utf8(text).map_err(|_| err(None, "vote is not UTF-8"))?;
    if text.contains('\r') {
        return Err(err(None, "vote contains a CR"));
    }
    let Some(body) = text.strip_suffix('\n') else {
        return Err(err(None, "vote does not end in LF"));
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let expected_header: Vec<String> = std::iter::once("mixmailer-vote 1".to_owned())
        .chain(terms.header_lines())
        .chain(std::iter::once(format!(
            "authority {}",
            B64.encode(authority)
        )))
        .collect();
    for (i, want) in expected_header.iter().enumerate() {
        match lines.get(i) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(err(
                    Some(i + 1),
                    format!("expected `{want}`, found `{}`", cut(got)),
                ))
            }
            None => return Err(err(None, format!("vote ends before `{want}`"))),
        }
    }
    let Some((last, node_lines)) = lines[expected_header.len()..].split_last() else {
        return Err(err(None, "vote has no signature line"));
    };
    let sig_line = lines.len();
    let sig_text = last
        .strip_prefix("signature ")
        .ok_or_else(|| err(Some(sig_line), "last line is not `signature <sig>`"))?;
    let sig: [u8; 64] = B64
        .decode(sig_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err(Some(sig_line), "signature is not 64 bytes of base64"))?;
    let signed_len = text.len() - last.len() - 1;
    let key = VerifyingKey::from_bytes(authority)
        .map_err(|_| err(None, "the peer's configured key is not a valid Ed25519 key"))?;
    key.verify_strict(&text.as_bytes()[..signed_len], &Signature::from_bytes(&sig))
        .map_err(|_| {
            err(
                Some(sig_line),
                "signature does not verify under the peer's key",
            )
        })?;
    if node_lines.len() > MAX_VOTE_NODES {
        return Err(err(None, format!("more than {MAX_VOTE_NODES} node lines")));
    }
    let mut entries: Vec<VoteEntry> = Vec::with_capacity(node_lines.len());
    for (i, line) in node_lines.iter().enumerate() {
        let number = Some(expected_header.len() + i + 1);
        let fields: Vec<&str> = line.split(' ').collect();
        let [keyword, layer, descriptor] = fields[..] else {
            return Err(err(number, "expected `node <layer> <descriptor>`"));
        };
        if keyword != "node" {
            return Err(err(number, format!("unexpected line `{}`", cut(keyword))));
        }
        let previous_layer: u8 = match layer.parse() {
            Ok(l) if l <= terms.hops && (l == 0 || !layer.starts_with('0')) => l,
            _ => {
                return Err(err(
                    number,
                    format!("layer `{}` is not in 0..={}", cut(layer), terms.hops),
                ))
            }
        };
        let descriptor = B64
            .decode(descriptor)
            .map_err(|_| err(number, "descriptor is not base64"))?;
        let (identity, listing) = read_descriptor(&descriptor)
            .map_err(|reason| err(number, format!("descriptor: {reason}")))?;
        if let Some(prev) = entries.last() {
            if prev.node.identity >= identity {
                return Err(err(
                    number,
                    "node lines are not in increasing identity order",
                ));
            }
        }
        entries.push(VoteEntry {
            node: VotedNode {
                identity,
                previous_layer,
                listing,
            },
            descriptor,
        });
    }
    Ok(Vote {
        authority: *authority,
        entries,
    })
}

fn cut(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn terms() -> Terms {
        let valid_after = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        Terms {
            network: "test".into(),
            valid_after,
            valid_until: valid_after + Duration::from_secs(3600),
            hops: 3,
            payload_size: 2048,
            mean_delay: 0,
            key_period: 3600,
        }
    }

    /// A stand-in descriptor format for the vote's own tests: `<id byte>`.
    /// The real reader (SPEC 7) is tested with the authority's processes.
    fn reader(d: &[u8]) -> Result<([u8; 32], Listing), String> {
        let [id] = d[..] else {
            return Err("not one byte".into());
        };
        Ok((
            [id; 32],
            Listing {
                nickname: format!("n{id}"),
                address: format!("n{id}@example.org"),
                exit: false,
                keys: vec![(500_000, [id; 32])],
            },
        ))
    }

    fn entry(id: u8, layer: u8) -> VoteEntry {
        let (identity, listing) = reader(&[id]).unwrap();
        VoteEntry {
            node: VotedNode {
                identity,
                previous_layer: layer,
                listing,
            },
            descriptor: vec![id],
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    #[test]
    fn a_written_vote_reads_back_sorted() {
        let text = write(&terms(), &key(), &[entry(3, 2), entry(1, 0)]);
        let vote = parse(&text, &terms(), &key().verifying_key().to_bytes(), reader).unwrap();
        assert_eq!(vote.entries, vec![entry(1, 0), entry(3, 2)]);
    }

    #[test]
    fn a_vote_by_another_key_or_for_other_terms_is_refused() {
        let text = write(&terms(), &key(), &[entry(1, 0)]);
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key().to_bytes();
        let e = parse(&text, &terms(), &other, reader).unwrap_err();
        assert!(e.reason.contains("expected `authority"), "{e}");
        let mut later = terms();
        later.valid_after += Duration::from_secs(3600);
        let e = parse(&text, &later, &key().verifying_key().to_bytes(), reader).unwrap_err();
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn a_changed_byte_breaks_the_signature() {
        let mut text = write(&terms(), &key(), &[entry(1, 0), entry(2, 1)]);
        let at = text.windows(6).position(|w| w == b"node 1").unwrap();
        text[at + 5] = b'2';
        let e = parse(&text, &terms(), &key().verifying_key().to_bytes(), reader).unwrap_err();
        assert!(e.reason.contains("does not verify"), "{e}");
    }

    #[test]
    fn garbage_gets_a_one_line_reason() {
        let k = key().verifying_key().to_bytes();
        for garbage in [
            &b""[..],
            b"\xff\xfe\n",
            b"hello\r\n",
            b"mixmailer-vote 1\n",
            b"<html>error</html>",
        ] {
            let e = parse(garbage, &terms(), &k, reader).unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_descriptor_the_reader_refuses_refuses_the_vote() {
        let mut bad = entry(1, 0);
        bad.descriptor = vec![1, 2];
        let text = write(&terms(), &key(), &[bad]);
        let e = parse(&text, &terms(), &key().verifying_key().to_bytes(), reader).unwrap_err();
        assert_eq!(e.to_string(), "line 10: descriptor: not one byte");
    }
}
