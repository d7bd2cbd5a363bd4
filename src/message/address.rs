//! What counts as an envelope address: the bare `local@domain` that goes
//! into a `rcpt` line and an SMTP `RCPT TO:<...>` without any quoting.

/// RFC 5321 4.5.3.1.3: a path is at most 256 octets including `<>`.
pub(crate) const MAX_ADDRESS_LEN: usize = 254;
/// RFC 5321 4.5.3.1.1.
const MAX_LOCAL_LEN: usize = 64;
/// RFC 5321 4.5.3.1.2.
const MAX_DOMAIN_LEN: usize = 255;

/// Checks that `address` is a plain ASCII mailbox; the reason says what is wrong.
///
/// The local part must be a dot-atom (RFC 5322 3.2.3): a quoted local part
/// would need its quotes in the SMTP envelope, and no mail system a pEp
/// user writes to needs one. The domain is a host name of letters, digits
/// and hyphens, or an address literal in brackets.
pub(crate) fn check_mailbox(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("empty address");
    }
    if !address.is_ascii() {
        return Err("not ASCII");
    }
    if address.len() > MAX_ADDRESS_LEN {
        return Err("longer than 254 octets");
    }
    if address
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err("contains white space or a control character");
    }
    if address.contains(['<', '>']) {
        return Err("contains < or >");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("no @");
    };
    check_local(local)?;
    check_domain(domain)
}

fn check_local(local: &str) -> Result<(), &'static str> {
    if local.is_empty() {
        return Err("empty local part");
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err("local part longer than 64 octets");
    }
    let is_atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    if local.split('.').any(str::is_empty) {
        return Err("local part has an empty dot-separated part");
    }
    if !local.bytes().all(|b| b == b'.' || is_atext(b)) {
        return Err("local part is not a dot-atom (quoted or special characters)");
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() {
        return Err("empty domain");
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Err("domain longer than 255 octets");
    }
    if let Some(literal) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let ok = !literal.is_empty()
            && literal
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"[]\\".contains(&b));
        return if ok {
            Ok(())
        } else {
            Err("invalid address literal")
        };
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("domain has an empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err("domain label is not letters, digits and inner hyphens");
        }
    }
    Ok(())
}

/// Two addresses name the same mailbox when their local parts are equal
/// and their domains equal ignoring case (RFC 5321 2.4: local parts may
/// be case-sensitive, domains are not).
pub(crate) fn same_mailbox(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => a == b,
    }
}

/// A key equal for two addresses exactly when [`same_mailbox`] says they
/// name the same mailbox, so that de-duplicating needs a set, not a scan.
pub(crate) fn mailbox_key(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mailboxes_are_accepted() {
        for ok in [
            "bob@example.net",
            "first.last+tag@sub.example.org",
            "a!#$%&'*+-/=?^_`{|}~@x-y.z",
            "postmaster@[192.0.2.1]",
            "x@localhost",
        ] {
            assert_eq!(check_mailbox(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn mailboxes_unfit_for_an_envelope_are_refused() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        let long_total = format!("a@{}.org", vec!["b".repeat(60); 5].join("."));
        for bad in [
            "",
            "bob",
            "@example.net",
            "bob@",
            "bob smith@example.net",
            "bob@example.net\r\nrcpt x@y",
            "<bob@example.net>",
            "\"bob\"@example.net",
            "bö@example.net",
            "a..b@example.net",
            ".a@example.net",
            "a@-example.net",
            "a@example..net",
            "a@[]",
            long_local.as_str(),
            long_total.as_str(),
        ] {
            assert!(check_mailbox(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_compare_without_case_but_local_parts_with() {
        assert!(same_mailbox("Bob@Example.NET", "Bob@example.net"));
        assert!(!same_mailbox("bob@example.net", "Bob@example.net"));
    }

    #[test]
    fn mailbox_keys_agree_with_same_mailbox() {
        let addresses = [
            "Bob@Example.NET",
            "Bob@example.net",
            "bob@example.net",
            "a@b@C.d",
            "a@b@c.d",
            "a@B@c.d",
            "nodomain",
        ];
        for a in addresses {
            for b in addresses {
                assert_eq!(
                    mailbox_key(a) == mailbox_key(b),
                    same_mailbox(a, b),
                    "{a} {b}"
                );
            }
        }
    }
}
