//! The send side of probing: one round of probe messages over routes of
//! the current document, each wrapped with the library's `mix_wrap` and
//! submitted over SMTP (lettre) for its first hop.

use crate::authority::Authority;
use crate::intake::unix;
use crate::liveness::attribution::Probe;
use crate::liveness::maildir::SUBJECT_PREFIX;
use crate::liveness::plan::plan_round;
use lettre::address::Envelope;
use lettre::{Address, SmtpTransport, Transport};
use rand_core::SeedableRng;
use std::time::SystemTime;

/// The plain message a probe carries, from and to the authority's mailbox.
pub fn probe_message(mailbox: &str, id: &[u8; 16]) -> Vec<u8> {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "From: <{mailbox}>\r\nTo: <{mailbox}>\r\nSubject: {SUBJECT_PREFIX}{hex}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         MixMailer liveness probe.\r\n"
    )
    .into_bytes()
}

/// Sends one round of probes; returns how many were submitted.
pub fn probe_round(authority: &Authority, now: SystemTime) -> Result<usize, String> {
    let Some(liveness) = authority.config().liveness.clone() else {
        return Ok(0);
    };
    let Some(directory) = authority.current_directory(now) else {
        return Err("no published document to probe".into());
    };
    let hops = directory.params().hops;
    let layers: Vec<Vec<String>> = (1..=hops)
        .map(|layer| {
            directory
                .nodes()
                .iter()
                .filter(|n| n.layer() == layer)
                .map(|n| n.nickname().to_owned())
                .collect()
        })
        .collect();
    let mut rng = rand_chacha::ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| format!("randomness: {e}"))?;
    let mut sent = 0;
    for nicknames in plan_round(&layers, &mut rng) {
        let names: Vec<&str> = nicknames.iter().map(String::as_str).collect();
        let route = directory.route(&names).map_err(|e| e.to_string())?;
        let mut id = [0u8; 16];
        rand_core::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut id)
            .map_err(|e| format!("randomness: {e}"))?;
        let wrapped = mixmailer::mix_wrap(&probe_message(&liveness.mailbox, &id), &route)
            .map_err(|e| e.to_string())?;
        let probe = Probe {
            sent: unix(now),
            route: route.hops().iter().map(|n| *n.identity()).collect(),
            arrived: false,
        };
        // Recorded before sending, so an arrival is never unknown.
        authority
            .store()
            .put_probe(&id, &probe)
            .map_err(|e| e.to_string())?;
        let from = mixmailer::message::Mailbox::parse(&liveness.mailbox)
            .map_err(|e| format!("liveness mailbox {}: {e}", liveness.mailbox))?;
        let submitted = wrapped.onions().iter().try_for_each(|onion| {
            submit(
                &liveness.smtp_relay,
                &liveness.mailbox,
                onion.first_hop(),
                &onion.to_email(&from),
            )
        });
        match submitted {
            Ok(()) => sent += 1,
            Err(e) => {
                // The relay failed, not the nodes: forget the probe.
                let _ = authority.store().remove_probe(&id);
                return Err(format!("probe submission to {}: {e}", liveness.smtp_relay));
            }
        }
    }
    Ok(sent)
}

fn submit(relay: &str, from: &str, to: &str, email: &[u8]) -> Result<(), String> {
    let (host, port) = relay
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("smtp_relay {relay} is not host:port"))?;
    let from: Address = from.parse().map_err(|e| format!("{from}: {e}"))?;
    let to: Address = to.parse().map_err(|e| format!("{to}: {e}"))?;
    let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| e.to_string())?;
    // The relay is the authority's own MTA on a trusted link; it does TLS onwards.
    let transport = SmtpTransport::builder_dangerous(host).port(port).build();
    transport
        .send_raw(&envelope, email)
        .map_err(|e| e.to_string())?;
    Ok(())
}
