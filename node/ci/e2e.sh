#!/usr/bin/env bash
# End-to-end test of mixmailer-node behind a real Postfix, on loopback only.
#
#   sudo node/ci/e2e.sh          (from anywhere; CI calls it from .ci/run)
#
# It installs Postfix and OpenSSL (non-interactively) if missing, TEMPORARILY
# rewrites the system Postfix configuration (main.cf and master.cf are backed
# up and restored on exit; no mail leaves the machine: default_transport is
# an error), creates the system user `mixmailer`, and then:
#   1. makes node and authority keys, each node's signed descriptor (period
#      keys made ahead in its key directory) and a 3-layer directory signed
#      from the descriptors, all with the CLI,
#      a throwaway CA and a TLS certificate per node domain, and starts 3
#      daemons (node1.test .. node3.test, one per layer). Every carrier crosses
#      a Postfix smtp -> smtpd leg with verified TLS (policy `secure`, the
#      node's name checked against the CA) on 127.0.0.1:1003N, whose smtpd
#      hands it over LMTP to node N's socket; the daemons submit over SMTP to
#      127.0.0.1:10025. No recipient may appear on a command line meanwhile;
#   2. sends a pEp-style message (Bcc, Received, User-Agent, Date) and finds it
#      in bob's and carol's Maildirs with sanitized headers (From rewritten
#      to the exit, Reply-To the author, a new Message-ID);
#   3. sends a larger message with longer delays, kills node 2 with SIGKILL while
#      it holds packets, restarts it: the message arrives and every carrier
#      reaches the exit;
#   4. mails a carrier of step 2 to node 1 again: it is dropped as a replay;
#      then moves the daemons' clocks (test_clock_offset_file) into the next
#      key period, checks that each logs the rotation, and that a message
#      built in the old period still arrives;
#   5. checks Postfix's log: every node leg was TLS, verified.
# The exit submits to a DKIM-signing Postfix instance, and the recipients'
# provider (another instance) checks the signature and DMARC before filing
# the mail (node/ci/dkim/lib.sh): run 1 checks dkim=pass and dmarc=pass
# for node3.test.
# Every wait has a timeout; the whole run (after the build) is bounded.
# Set KEEP=1 to keep the work directory (logs, Maildirs) after success.
set -euo pipefail

NET_NAME=e2e
NET_PROFILE=debug
NET_MEAN_DELAY=1
LIMIT_SECS=${E2E_LIMIT_SECS:-300}
# The exit (node3) submits its deliveries to a DKIM-signing Postfix
# instance (node/ci/dkim/lib.sh), which delivers to the recipients'
# provider over SMTP; the provider checks DKIM and DMARC and files the
# mail into $WORK/maildirs, where find_mail looks.
declare -A NODE_SMTP=([3]="127.0.0.21:2525")
net_cleanup_extra() {
    [ "$OK" = 1 ] || DKIM_KEEP=1
    declare -F dkim_teardown >/dev/null && dkim_teardown
    return 0
}
# shellcheck source=node/ci/net.sh
source "$(dirname "$0")/net.sh"

step "DKIM signer for the exit's domain, provider checking DKIM and DMARC"
export EXIT_DOMAIN=node3.test EXIT_MAILBOX=mix@node3.test \
    PROVIDER_MAILDIRS="$WORK/maildirs" PROVIDER_MAIL_USER=mixmailer \
    DKIM_WORK="$WORK/dkim" EXIT_SMTP_ADDR=127.0.0.21 EXIT_SMTP_PORT=2525
# shellcheck source=node/ci/dkim/lib.sh
. "$ROOT/node/ci/dkim/lib.sh"
dkim_setup_all || fail "DKIM setup failed"

check_directory_cli

# No process may show a final recipient on its command line (any local
# user can read them): scan all of them for the whole run. The pattern's
# brackets keep the scanning grep from matching its own command line.
: >"$WORK/cmdline-hits"
(
    while :; do
        grep -l -a -e 'bob@exampl[e].test' -e 'carol@exampl[e].test' /proc/[0-9]*/cmdline \
            >>"$WORK/cmdline-hits" 2>/dev/null
        sleep 0.05
    done
) &
WATCHER=$!

# ---------------------------------------------------------------- run 0
step "run 0: Postfix plumbing (TLS and LMTP to node1, Maildir for alice)"
printf 'From: root@localhost\r\nTo: mix@node1.test\r\nSubject: not a carrier\r\n\r\nhello\r\n' |
    /usr/sbin/sendmail -i -f root@mixmailer-e2e.test -- mix@node1.test
wait_for 30 "node1 to drop a non-carrier handed over by Postfix's lmtp" \
    grep -q "dropped a carrier: carrier email: no" "$WORK/node1/log"
printf 'From: root@localhost\r\nTo: alice@example.test\r\nSubject: plumbing\r\n\r\nhello\r\n' |
    /usr/sbin/sendmail -i -f root@mixmailer-e2e.test -- alice@example.test
has_plumbing_mail() { grep -q -s '^Subject: plumbing' "$WORK/maildirs/alice/new/"*; }
wait_for 30 "Postfix to deliver into alice's Maildir" has_plumbing_mail

# ---------------------------------------------------------------- run 1
TOKEN1="e2e-$(date +%s)-$RANDOM"
cat >"$WORK/message1.eml" <<EOF
Received: from laptop.home.example (dsl-203-0-113-7.example.net [203.0.113.7])
	by smtp.example.org with ESMTPSA; Mon, 30 Nov 2026 14:03:11 +0100
Date: Mon, 30 Nov 2026 14:03:11 +0100
From: Alice <alice@example.test>
To: Bob <bob@example.test>
Bcc: carol@example.test
Subject: $TOKEN1
Message-ID: <$TOKEN1@example.test>
User-Agent: pEp-test/1.0 (alice's laptop)
X-pEp-Version: 2.1
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Bob,
this is $TOKEN1, through three mix nodes.
EOF
sed -i 's/$/\r/' "$WORK/message1.eml"

find_mail() { # mailbox token -> path of the first message containing it
    grep -l -s -F "$2" "$WORK/maildirs/$1/new/"* 2>/dev/null | head -n 1
}
has_mail() { [ -n "$(find_mail "$1" "$2")" ]; }
header_of() { # file -> header section
    sed -e 's/\r$//' -e '/^$/q' "$1"
}

step "run 1: send a pEp-style message through node1 -> node2 -> node3"
mkdir -p "$WORK/carriers1"
"$BIN" send --directory "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" \
    --from alice@example.test --route node1,node2,node3 \
    --save-dir "$WORK/carriers1" "$WORK/message1.eml"
wait_for 90 "run 1 message in bob's Maildir" has_mail bob "$TOKEN1"
wait_for 30 "run 1 message in carol's (Bcc) Maildir" has_mail carol "$TOKEN1"
BOB1=$(find_mail bob "$TOKEN1")
CAROL1=$(find_mail carol "$TOKEN1")
echo "delivered: $BOB1"
header_of "$BOB1"
# Signed by the exit's domain and judged by the provider: DMARC aligned.
check_authentication "$BOB1" || fail "bob's copy did not pass DKIM and DMARC for node3.test"
check_authentication "$CAROL1" || fail "carol's copy did not pass DKIM and DMARC for node3.test"
for f in "$BOB1" "$CAROL1"; do
    h=$(header_of "$f")
    grep -qi '^User-Agent:' <<<"$h" && fail "User-Agent reached the recipient ($f)"
    grep -qi '^Bcc:' <<<"$h" && fail "a Bcc header reached the recipient ($f)"
    grep -q 'laptop.home.example\|203.0.113.7' "$f" && fail "the sender's Received line reached the recipient ($f)"
    grep -q '14:03:11' <<<"$h" && fail "the sender's Date reached the recipient ($f)"
    grep -Eq '^Date: .*[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$' <<<"$h" || fail "no +0000 Date in $f"
    grep -q '^X-pEp-Version: 2.1$' <<<"$h" || fail "X-pEp-Version was not kept in $f"
    grep -q "^Subject: $TOKEN1\$" <<<"$h" || fail "Subject missing in $f"
    # The exit sends as itself (DMARC-aligned), names the author in the
    # display name and keeps her address for replies; the sender's
    # Message-ID is replaced.
    grep -q '^From: "Alice via node3.test" <mix@node3.test>$' <<<"$h" ||
        fail "From was not rewritten to the exit in $f"
    grep -qi '^Reply-To:.*alice@example.test' <<<"$h" || fail "no Reply-To naming the author in $f"
    grep -q "^Message-ID: <$TOKEN1@example.test>" <<<"$h" && fail "the sender's Message-ID reached the recipient ($f)"
    grep -qi '^Message-ID: <.*>' <<<"$h" || fail "no Message-ID in $f"
    grep -q "^this is $TOKEN1, through three mix nodes." "$f" || fail "body missing in $f"
done
wait_for 10 "node1 to log a forward" grep -q "forwarded a packet to mix@node2.test" "$WORK/node1/log"
wait_for 10 "node3 to log the delivery" grep -q "delivered a message to 2 recipients" "$WORK/node3/log"
if grep -q -e "$TOKEN1" -e "bob@example" -e "carol@example" "$WORK"/node*/log; then
    fail "a node log names a final recipient or message content"
fi
CARRIERS1=$(find "$WORK/carriers1" -name 'carrier-*.eml' | wc -l)
# Surplus (parity) packets may still be on their way: let them all reach
# the exit, so run 2 counts only its own.
exit_fragments() { grep -c -e 'received a fragment' -e 'already delivered' "$WORK/node3/log" || true; }
run1_at_exit() { [ "$(exit_fragments)" -ge "$CARRIERS1" ]; }
wait_for 60 "all $CARRIERS1 carriers of run 1 to reach the exit" run1_at_exit
echo "run 1 passed after $SECONDS s"

# ---------------------------------------------------------------- run 2
step "run 2: node2 killed -9 while it holds packets (mean delay 8 s)"
sign_directory 8
for n in 1 2 3; do kill -HUP "${PID[$n]}"; done
for n in 1 2 3; do
    wait_for 10 "node$n to load the new directory" grep -q "loaded a new directory" "$WORK/node$n/log"
done
TOKEN2="e2e-kill-$(date +%s)-$RANDOM"
{
    printf 'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n'
    printf 'Subject: %s\r\nDate: Mon, 30 Nov 2026 15:00:00 +0100\r\n' "$TOKEN2"
    printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
    printf '%s\r\n' "$TOKEN2"
    # Incompressible body: several fragments, so the exit needs more than one packet.
    head -c 4000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'
} >"$WORK/message2.eml"
mkdir -p "$WORK/carriers2"
N3_BEFORE=$(exit_fragments)
"$BIN" send --directory "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" \
    --from alice@example.test --save-dir "$WORK/carriers2" "$WORK/message2.eml"
CARRIERS=$(find "$WORK/carriers2" -name 'carrier-*.eml' | wc -l)
echo "sent $CARRIERS carriers"
[ "$CARRIERS" -ge 2 ] || fail "expected a multi-fragment message"

node2_holds() { [ "$(status_field 2 'packets waiting')" -ge 1 ]; }
wait_for 90 "node2 to hold a packet" node2_holds
kill -KILL "${PID[2]}"
wait "${PID[2]}" 2>/dev/null || true
unset 'PID[2]'
as_daemon_user "$BIN" status --config "$WORK/node2/node.toml" | tee "$WORK/node2/status.offline"
grep -q "daemon NOT running" "$WORK/node2/status.offline" || fail "status did not notice the dead daemon"
HELD=$(awk -F': *' '$1 == "packets waiting" {print $2}' "$WORK/node2/status.offline")
[ "$HELD" -ge 1 ] || fail "node2's store lost its packets in the crash"
echo "node2 killed with $HELD packets in its spool; restarting in 3 s"
sleep 3
N2_BEFORE=$(wc -l <"$WORK/node2/log")
start_node 2
log_has_since "$WORK/node2/log" "$((N2_BEFORE + 1))" "spool holds $HELD packets to forward" ||
    fail "restarted node2 did not find its $HELD packets"
wait_for 180 "run 2 message in bob's Maildir" has_mail bob "$TOKEN2"
exit_saw_all() { [ "$(exit_fragments)" -ge "$((N3_BEFORE + CARRIERS))" ]; }
wait_for 120 "all $CARRIERS carriers of run 2 to reach the exit" exit_saw_all
node2_empty() { [ "$(status_field 2 'packets waiting')" = 0 ]; }
wait_for 30 "node2's spool to drain" node2_empty
log_has_since "$WORK/node2/log" "$((N2_BEFORE + 1))" "forwarded a packet to mix@node3.test" ||
    fail "restarted node2 forwarded nothing"
echo "run 2 passed after $SECONDS s: delivered, all $CARRIERS carriers reached the exit"

# ---------------------------------------------------------------- run 3
step "run 3: a replayed carrier is dropped"
REPLAYS_BEFORE=$(grep -c "dropped a packet: replay" "$WORK/node1/log" || true)
/usr/sbin/sendmail -i -f alice@example.test -- mix@node1.test <"$WORK/carriers1/carrier-1.eml"
replay_logged() {
    [ "$(grep -c "dropped a packet: replay" "$WORK/node1/log")" -gt "$REPLAYS_BEFORE" ]
}
wait_for 30 "node1 to drop the replay" replay_logged
grep "dropped a packet: replay" "$WORK/node1/log" | tail -n 1
sleep 2
[ "$(status_field 1 'packets waiting')" = 0 ] || fail "node1 spooled a replayed packet"

# ---------------------------------------------------------------- run 4
step "run 4: the nodes' clocks move into the next key period; a message sent in the old one still arrives"
NOW=$(date +%s)
if [ $((NOW % KEY_PERIOD)) -lt 300 ]; then
    # The directory (valid for a day from its signing) would end before the
    # nodes' moved clocks; too close to the boundary to move them there.
    echo "skipped: less than 5 minutes after a key-period boundary"
else
    NEXT=$((NOW / KEY_PERIOD + 1))
    echo "$((NEXT * KEY_PERIOD - NOW + 5))" >"$WORK/etc/clock"
    chmod 644 "$WORK/etc/clock"
    for n in 1 2 3; do
        wait_for 20 "node$n to rotate into key period $NEXT" \
            grep -q "key period $NEXT began" "$WORK/node$n/log"
    done
    grep -h "key period $NEXT began" "$WORK"/node*/log | head -n 1
    TOKEN4="e2e-rotate-$(date +%s)-$RANDOM"
    printf 'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\n%s\r\n' \
        "$TOKEN4" "$TOKEN4" >"$WORK/message4.eml"
    # Built with the real clock (period NEXT - 1), which the nodes accept
    # for one more period.
    "$BIN" send --directory "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" \
        --from alice@example.test --route node1,node2,node3 "$WORK/message4.eml"
    wait_for 90 "run 4 message in bob's Maildir" has_mail bob "$TOKEN4"
    echo "run 4 passed after $SECONDS s"
fi

# ---------------------------------------------------------------- TLS, cmdline
step "every node leg was verified TLS; no recipient on a command line"
for n in 1 2 3; do
    port=$((NODE_PORT_BASE + n))
    log_has_since "$MAILLOG" 1 "Verified TLS connection established to 127.0.0.1[127.0.0.1]:$port" ||
        fail "no verified TLS connection to node$n's listener (port $port) in $MAILLOG"
    log_has_since "$MAILLOG" 1 "TLS connection established from localhost[127.0.0.1]" ||
        fail "the node listeners logged no TLS session"
    # An exit answers "message complete, delivery pending" for the carrier
    # that completes a message (it is assembled after the commit).
    [ "$(grep -F "[$WORK/lmtp/node$n.sock]" "$MAILLOG" | grep -cE 'status=sent \(250 2\.0\.0 (accepted|message complete)')" -gt 0 ] ||
        fail "no carrier was handed to node$n over LMTP"
done
grep "Verified TLS connection established" "$MAILLOG" | tail -n 3
if grep -E "(Untrusted|Anonymous|Trusted) TLS connection established to" "$MAILLOG"; then
    fail "a node leg used TLS without verifying the node's name"
fi
kill "$WATCHER" 2>/dev/null || true
WATCHER=
if [ -s "$WORK/cmdline-hits" ]; then
    fail "a final recipient appeared on a command line: $(sort -u "$WORK/cmdline-hits" | head -n 3)"
fi

check_time
OK=1
echo "e2e: finished in $SECONDS s after the build"
echo "e2e: 6 passed, 0 failed"
