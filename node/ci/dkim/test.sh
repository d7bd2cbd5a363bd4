#!/usr/bin/env bash
# Proof that what an exit delivers arrives at a big provider as genuine
# mail of the exit's domain (issue 9, item 3), on loopback only:
#
#   sudo node/ci/dkim/test.sh        (KEEP=1 keeps the work directory)
#
# nsd serves exit.test, example.test and example.org on 127.0.0.23; the
# exit's Postfix (127.0.0.21:2525) signs with OpenDKIM and relays by MX to
# the provider's Postfix (127.0.0.22:2526), where OpenDKIM verifies and
# OpenDMARC judges, as Gmail or Outlook would. See lib.sh for the parts and
# docs/exit-delivery.md for what an operator publishes.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=node/ci/dkim/lib.sh
. "$HERE/lib.sh"

LIMIT_SECS=${DKIM_TEST_LIMIT_SECS:-180}
PASSED=0
FAILED=0

step() { printf '\n=== dkim: %s ===\n' "$*"; }
pass() {
    PASSED=$((PASSED + 1))
    echo "ok: $*"
}
failed() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $*" >&2
}
# expect DESCRIPTION COMMAND...: one check.
expect() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else failed "$what"; fi
}
# expect_not DESCRIPTION COMMAND...: COMMAND must fail.
expect_not() {
    local what=$1
    shift
    if "$@" 2>/dev/null; then failed "$what"; else pass "$what"; fi
}

[ "$(id -u)" = 0 ] || {
    echo "dkim: must run as root" >&2
    exit 1
}

SUMMARY=0
finish() {
    local rc=$?
    set +e
    if [ "$SUMMARY" = 0 ]; then
        # Aborted by a failed step: still say so in the closing line.
        echo "dkim: aborted (exit status $rc)" >&2
        echo "$PASSED passed, $((FAILED + 1)) failed"
    fi
    if [ "$rc" != 0 ] || [ "$FAILED" != 0 ]; then
        DKIM_KEEP=1
        for f in "${DKIM_WORK:-}"/exit/maillog "${DKIM_WORK:-}"/provider/maillog; do
            echo "--- $f (last 25 lines) ---" >&2
            tail -n 25 "$f" >&2 2>/dev/null
        done
    fi
    [ -n "${KEEP:-}" ] && DKIM_KEEP=1
    dkim_teardown
}
trap finish EXIT

step "install, DNS, exit signer, provider"
dkim_init
SECONDS=0
start_dns "$DKIM_WORK/dns"
setup_exit_signer exit
setup_provider provider
echo "set up in $SECONDS s"

RUN="$(date -u +%s)-$$"
MSGS="$DKIM_WORK/messages"
mkdir -p "$MSGS"

# (a) An encrypted pEp message as the exit delivers it (SPEC 6): From the
# exit's own mailbox, no recipients in the header, a fresh Message-ID.
cat >"$MSGS/pep.eml" <<EOF
From: <$EXIT_MAILBOX>
To: undisclosed-recipients:;
Subject: =?utf-8?Q?p=E2=89=A1p?=
Date: $(date -u -R)
Message-ID: <pep-$RUN@$EXIT_DOMAIN>
MIME-Version: 1.0
X-pEp-Version: 3.3
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";
 boundary="enc-$RUN"

--enc-$RUN
Content-Type: application/pgp-encrypted

Version: 1

--enc-$RUN
Content-Type: application/octet-stream
Content-Disposition: inline; filename="msg.asc"

-----BEGIN PGP MESSAGE-----

hQGMA0lsKvvl4pTrAQv/Y2lwaGVydGV4dCBzdGFuZC1pbiBmb3IgdGhlIHRlc3Qu
=abcd
-----END PGP MESSAGE-----

--enc-$RUN--
EOF

# (b) Any other message after the exit's DMARC-style rewrite: the author is
# named in the display name and reachable through Reply-To.
cat >"$MSGS/plain.eml" <<EOF
From: "Alice via $EXIT_DOMAIN" <$EXIT_MAILBOX>
Reply-To: Alice <alice@$FOREIGN_DOMAIN>
To: Bob <bob@$PROVIDER_DOMAIN>
Subject: plain-$RUN
Date: $(date -u -R)
Message-ID: <plain-$RUN@$EXIT_DOMAIN>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Bob, this is plain-$RUN.
EOF

# (c) The same as (a), handed to the exit's sendmail instead of its smtpd.
sed -e "s/pep-$RUN@/sendmail-$RUN@/" "$MSGS/pep.eml" >"$MSGS/sendmail.eml"

# (d) The old behaviour: the author's own From, which the exit cannot sign
# for. It carries a forged verdict in the provider's name, which the
# provider must drop.
cat >"$MSGS/foreign.eml" <<EOF
Authentication-Results: $PROVIDER_AUTHSERV_ID; dkim=pass header.d=$EXIT_DOMAIN; dmarc=pass header.from=$EXIT_DOMAIN
From: Alice <alice@$FOREIGN_DOMAIN>
To: Bob <bob@$PROVIDER_DOMAIN>
Subject: foreign-$RUN
Date: $(date -u -R)
Message-ID: <foreign-$RUN@$EXIT_DOMAIN>

Hello Bob, this is foreign-$RUN.
EOF

# (e) Mail From the exit's domain that did not pass its signer (sent
# straight to the provider): it is DMARC's whole point that this fails.
sed -e "s/pep-$RUN@/unsigned-$RUN@/" "$MSGS/pep.eml" >"$MSGS/unsigned.eml"

step "submit: (a) pEp and (b) plaintext over SMTP, (c) through sendmail, (d) foreign From, (e) unsigned"
exit_submit_smtp "$MSGS/pep.eml" "$EXIT_MAILBOX" "bob@$PROVIDER_DOMAIN" "carol@$PROVIDER_DOMAIN"
exit_submit_smtp "$MSGS/plain.eml" "$EXIT_MAILBOX" "bob@$PROVIDER_DOMAIN"
exit_sendmail exit -- -i -f "$EXIT_MAILBOX" -- "bob@$PROVIDER_DOMAIN" <"$MSGS/sendmail.eml"
exit_submit_smtp "$MSGS/foreign.eml" "$EXIT_MAILBOX" "bob@$PROVIDER_DOMAIN"
# From 127.0.0.24, a host the SPF record does not name (OpenDMARC ignores
# 127.0.0.1 itself).
timeout 60 swaks --silent 2 --server "$PROVIDER_SMTP_ADDR" --port "$PROVIDER_SMTP_PORT" \
    --local-interface 127.0.0.24 --helo outsider.test \
    --from "$EXIT_MAILBOX" --to "bob@$PROVIDER_DOMAIN" --data "@$MSGS/unsigned.eml"

PEP_BOB=$(wait_provider_mail 60 bob "pep-$RUN@")
PEP_CAROL=$(wait_provider_mail 30 carol "pep-$RUN@")
PLAIN=$(wait_provider_mail 30 bob "plain-$RUN@")
SENDMAIL=$(wait_provider_mail 30 bob "sendmail-$RUN@")
FOREIGN=$(wait_provider_mail 30 bob "foreign-$RUN@")
UNSIGNED=$(wait_provider_mail 30 bob "unsigned-$RUN@")
echo "all 6 deliveries arrived after $SECONDS s"

show() { # name file: what the provider recorded
    echo "--- $1: provider's results ---"
    provider_auth_results "$2" | sed 's/^/    /'
}
show "(a) pEp, bob" "$PEP_BOB"
show "(b) plaintext" "$PLAIN"
show "(d) foreign From" "$FOREIGN"
show "(e) unsigned" "$UNSIGNED"
echo "--- (b) header as delivered ---"
dkim_header_fields "$PLAIN" | cut -c 1-160

# field FILE NAME: the unfolded value of the first NAME field.
field() { dkim_header_fields "$1" | awk -v n="$2" 'tolower(substr($0, 1, length(n) + 1)) == tolower(n) ":" { print substr($0, length(n) + 3); exit }'; }
# dkim_tag FILE TAG: a tag of the DKIM-Signature field.
dkim_tag() { field "$1" DKIM-Signature | tr -d ' ' | tr ';' '\n' | sed -n "s/^$2=//p"; }
has_result() { dkim_has_result "$@"; }

step "what the provider says"
for m in "(a) pEp to bob:$PEP_BOB" "(a) pEp to carol:$PEP_CAROL" "(b) plaintext:$PLAIN" "(c) sendmail:$SENDMAIL"; do
    name=${m%%:*}
    file=${m#*:}
    expect "$name: dkim=pass header.d=$EXIT_DOMAIN and dmarc=pass by $PROVIDER_AUTHSERV_ID" \
        check_authentication "$file"
    expect "$name: signed with d=$EXIT_DOMAIN s=$DKIM_SELECTOR" \
        test "$(dkim_tag "$file" d)/$(dkim_tag "$file" s)" = "$EXIT_DOMAIN/$DKIM_SELECTOR"
done
# The signed header fields: From twice (oversigned: nobody can add a
# second From that the signature would not cover), and every field that
# says what the message is and how to read its body.
covers() {
    local h f
    h=$(dkim_tag "$1" h | tr ':' '\n')
    [ "$(grep -ci '^from$' <<<"$h")" = 2 ] || return 1
    for f in To Subject Date Message-ID MIME-Version Content-Type; do
        grep -qix -e "$f" <<<"$h" || return 1
    done
}
expect "(a) the signature covers From (twice: oversigned), To, Subject, Date, Message-ID, MIME-Version, Content-Type" \
    covers "$PEP_BOB"
expect "(a) From is the exit's mailbox, To names nobody" \
    test "$(field "$PEP_BOB" From)|$(field "$PEP_BOB" To)" = "<$EXIT_MAILBOX>|undisclosed-recipients:;"
expect "(b) From names the author and the exit, Reply-To the author" \
    test "$(field "$PLAIN" From)|$(field "$PLAIN" Reply-To)" = "\"Alice via $EXIT_DOMAIN\" <$EXIT_MAILBOX>|Alice <alice@$FOREIGN_DOMAIN>"
expect "(a) the provider saw the exit under its PTR name mx.$EXIT_DOMAIN" \
    grep -q "from mx\.$EXIT_DOMAIN (mx\.$EXIT_DOMAIN \[$EXIT_SMTP_ADDR\])" "$PEP_BOB"

step "negative checks: the same checks fail where a provider would refuse"
expect_not "(d) foreign From: check_authentication fails" check_authentication "$FOREIGN"
expect "(d) foreign From: dmarc=fail header.from=$FOREIGN_DOMAIN" \
    has_result "$FOREIGN" "dmarc=fail( .*)? header\.from=$FOREIGN_DOMAIN"
expect_not "(d) foreign From: the exit did not sign it" grep -qi '^DKIM-Signature:' "$FOREIGN"
expect "(d) the forged Authentication-Results in the provider's name was dropped" \
    test "$(grep -ci '^Authentication-Results:.*dmarc=pass' "$FOREIGN")" = 0
expect_not "(e) unsigned From $EXIT_DOMAIN: check_authentication fails" check_authentication "$UNSIGNED"
unsigned_fails() {
    dkim_has_result "$1" "dkim=none.*" &&
        dkim_has_result "$1" "dmarc=fail( .*)? header\.from=${EXIT_DOMAIN//./\\.}"
}
expect "(e) unsigned From $EXIT_DOMAIN: dkim=none, dmarc=fail" unsigned_fails "$UNSIGNED"

# (f) A genuine signed delivery, altered afterwards and sent on from
# elsewhere: the signature no longer verifies.
sed -e 's/\r$//' -e '/^DKIM-Signature:/,$!d' -e "s/^Hello Bob, this is plain-$RUN/Hello Eve, this is plain-$RUN/" \
    "$PLAIN" >"$MSGS/tampered.eml"
sed -i -e "s/^Message-ID: <plain-/Message-ID: <tampered-/" "$MSGS/tampered.eml"
timeout 60 swaks --silent 2 --server "$PROVIDER_SMTP_ADDR" --port "$PROVIDER_SMTP_PORT" \
    --local-interface 127.0.0.24 --helo outsider.test \
    --from "$EXIT_MAILBOX" --to "bob@$PROVIDER_DOMAIN" --data "@$MSGS/tampered.eml"
TAMPERED=$(wait_provider_mail 30 bob "tampered-$RUN@")
show "(f) altered after signing" "$TAMPERED"
tampered_fails() {
    dkim_has_result "$1" "dkim=fail( .*)? header\.d=${EXIT_DOMAIN//./\\.}( .*)?" &&
        dkim_has_result "$1" "dmarc=fail( .*)? header\.from=${EXIT_DOMAIN//./\\.}"
}
expect_not "(f) altered after signing: check_authentication fails" check_authentication "$TAMPERED"
expect "(f) altered after signing: dkim=fail header.d=$EXIT_DOMAIN, dmarc=fail" tampered_fails "$TAMPERED"

step "without its signer the exit sends nothing, and loses nothing"
stop_exit_signer exit
sed -e "s/pep-$RUN@/held-smtp-$RUN@/" "$MSGS/pep.eml" >"$MSGS/held-smtp.eml"
sed -e "s/pep-$RUN@/held-sendmail-$RUN@/" "$MSGS/pep.eml" >"$MSGS/held-sendmail.eml"
# tempfailed FILE: the exit's smtpd answers the message's DATA with 4xx, so
# the mix daemon keeps it and tries again.
tempfailed() {
    local out
    out=$(exit_submit_smtp "$1" "$EXIT_MAILBOX" "bob@$PROVIDER_DOMAIN" 2>&1) && return 1
    grep -Eq '^<\*\* 4[0-9]{2} ' <<<"$out"
}
expect "(g) the exit's smtpd answers 4xx while OpenDKIM is down" tempfailed "$MSGS/held-smtp.eml"
expect "(g) the exit's sendmail still accepts mail while OpenDKIM is down" \
    exit_sendmail exit -- -i -f "$EXIT_MAILBOX" -- "bob@$PROVIDER_DOMAIN" <"$MSGS/held-sendmail.eml"
sleep 3
expect "(g) nothing reached the provider meanwhile" \
    test -z "$(provider_find_mail bob "held-")"
start_exit_signer exit
HELD=$(wait_provider_mail 30 bob "held-sendmail-$RUN@")
expect "(g) once OpenDKIM is back, the held message arrives signed and passes" \
    check_authentication "$HELD"

[ "$SECONDS" -le "$LIMIT_SECS" ] || failed "took $SECONDS s, more than $LIMIT_SECS s"
echo
echo "dkim: finished in $SECONDS s after the install"
SUMMARY=1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
