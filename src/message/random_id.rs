//! Random identifiers: the Message-ID of SPEC 6 and MIME boundaries.

/// RFC 4648 section 6 alphabet, lower case (SPEC 6 uses lower case).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32 without padding, lower case.
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    let mut push = |index: u16| {
        let c = BASE32.get(usize::from(index & 31)).copied().unwrap_or(b'a');
        out.push(char::from(c));
    };
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            push(buffer >> bits);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        push(buffer << (5 - bits));
    }
    out
}

/// `<` + base32 of 16 random bytes (26 characters) + `@` + domain + `>`.
pub(crate) fn message_id(random: &[u8; 16], domain: &str) -> String {
    format!("<{}@{}>", base32(random), domain)
}

/// Whether `value` (a field value, folding white space allowed around it)
/// is a Message-ID of the SPEC 6 form for `domain`.
pub(crate) fn is_spec_message_id(value: &[u8], domain: &str) -> bool {
    let trimmed = value.trim_ascii();
    let Some(inner) = trimmed
        .strip_prefix(b"<")
        .and_then(|rest| rest.strip_suffix(b">"))
    else {
        return false;
    };
    let Some(at) = inner.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, at_domain) = inner.split_at(at);
    local.len() == 26
        && local.iter().all(|b| BASE32.contains(b))
        && at_domain
            .get(1..)
            .is_some_and(|d| d.eq_ignore_ascii_case(domain.as_bytes()))
}

/// A MIME boundary of 20 random bytes: `=_` never occurs in
/// quoted-printable text, and 160 bits never occur by chance elsewhere.
pub(crate) fn boundary(random: &[u8; 20]) -> String {
    format!("=_{}", base32(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648_section_10() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn message_ids_have_the_spec_form() {
        let id = message_id(&[0xff; 16], "exit.example");
        assert_eq!(id, "<77777777777777777777777774@exit.example>");
        assert!(is_spec_message_id(id.as_bytes(), "EXIT.example"));
        assert!(is_spec_message_id(
            format!(" {id}\r\n").as_bytes(),
            "exit.example"
        ));
        assert!(!is_spec_message_id(id.as_bytes(), "other.example"));
        assert!(!is_spec_message_id(
            b"<planck.TPE3GK.1CLPX3JXQW6WL@exit.example>",
            "exit.example"
        ));
        assert!(!is_spec_message_id(
            b"<7777777777777777777777777@exit.example>",
            "exit.example"
        ));
    }
}
