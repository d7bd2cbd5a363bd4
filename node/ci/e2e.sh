#!/usr/bin/env bash
# End-to-end test of mixmailer-node behind a real Postfix, on loopback only.
#
#   sudo node/ci/e2e.sh          (from anywhere; CI calls it from .ci/run)
#
# It installs Postfix (non-interactively) if missing, TEMPORARILY rewrites
# the system Postfix configuration (main.cf and master.cf are backed up and
# restored on exit; no mail leaves the machine: default_transport is an
# error), creates the system user `mixmailer`, and then:
#   1. makes node and authority keys and a signed 3-layer directory with the CLI,
#      starts 3 daemons (node1.test .. node3.test, one per layer);
#   2. sends a pEp-style message (Bcc, Received, User-Agent, Date) and finds it
#      in bob's and carol's Maildirs with sanitized headers;
#   3. sends a larger message with longer delays, kills node 2 with SIGKILL while
#      it holds packets, restarts it: the message arrives and every carrier
#      reaches the exit;
#   4. mails a carrier of step 2 to node 1 again: it is dropped as a replay.
# Every wait has a timeout; the whole run (after the build) is bounded.
# Set KEEP=1 to keep the work directory (logs, Maildirs) after success.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive
LIMIT_SECS=${E2E_LIMIT_SECS:-300}

step() { printf '\n=== e2e: %s ===\n' "$*"; }
fail() {
    echo "e2e: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root: it installs and configures Postfix"

# ---------------------------------------------------------------- install
step "install Postfix"
if ! command -v postconf >/dev/null 2>&1 || [ ! -x /usr/sbin/sendmail ]; then
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mixmailer-e2e.test
EOF
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
postconf -h mail_version

step "build mixmailer-node"
(cd "$ROOT" && cargo build -q -p mixmailer-node)
SECONDS=0

WORK=$(mktemp -d /tmp/mixmailer-e2e.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/bin" "$WORK/etc" "$WORK/postfix"
install -m 0755 "${CARGO_TARGET_DIR:-$ROOT/target}/debug/mixmailer-node" "$WORK/bin/mixmailer-node"
BIN="$WORK/bin/mixmailer-node"
# Postfix writes its log only below /var (maillog_file_prefixes).
MAILLOG=/var/log/mixmailer-e2e.maillog
: >"$MAILLOG"

if ! id mixmailer >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin mixmailer
fi
MIX_UID=$(id -u mixmailer)
MIX_GID=$(id -g mixmailer)

# The cleanup empties the Postfix queue: make sure it only holds our mail.
QUEUE_DIR=$(postconf -h queue_directory)
if [ -n "$(find "$QUEUE_DIR"/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | head -n 1)" ]; then
    fail "the Postfix queue in $QUEUE_DIR is not empty; run this test on a throwaway machine"
fi

declare -A PID=()
cp /etc/postfix/main.cf "$WORK/postfix/main.cf.orig"
cp /etc/postfix/master.cf "$WORK/postfix/master.cf.orig"
POSTFIX_WAS_RUNNING=0
postfix status >/dev/null 2>&1 && POSTFIX_WAS_RUNNING=1
OK=0

cleanup() {
    set +e
    for n in "${!PID[@]}"; do
        kill -TERM "${PID[$n]}" 2>/dev/null
    done
    for n in "${!PID[@]}"; do
        for _ in $(seq 50); do
            kill -0 "${PID[$n]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${PID[$n]}" 2>/dev/null
    done
    postfix stop >/dev/null 2>&1
    # Drop what the test left queued, then give the system its config back.
    postsuper -d ALL >/dev/null 2>&1
    cp "$WORK/postfix/main.cf.orig" /etc/postfix/main.cf
    cp "$WORK/postfix/master.cf.orig" /etc/postfix/master.cf
    [ "$POSTFIX_WAS_RUNNING" = 1 ] && postfix start >/dev/null 2>&1
    if [ "$OK" = 1 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK" "$MAILLOG"
    else
        echo "e2e: work directory kept: $WORK" >&2
        if [ "$OK" != 1 ]; then
            for n in 1 2 3; do
                echo "--- node$n log (last 30 lines) ---" >&2
                tail -n 30 "$WORK/node$n/log" 2>/dev/null >&2
            done
            echo "--- postfix log (last 40 lines) ---" >&2
            tail -n 40 "$MAILLOG" 2>/dev/null >&2
        fi
    fi
}
trap cleanup EXIT

# log_has_since FILE FIRST-LINE TEXT: TEXT occurs in FILE from FIRST-LINE on.
# (grep -c reads to the end: `| grep -q` could kill tail with SIGPIPE,
# which pipefail turns into a failure.)
log_has_since() {
    [ "$(tail -n +"$2" "$1" | grep -c -F -e "$3")" -gt 0 ]
}

check_time() {
    [ "$SECONDS" -le "$LIMIT_SECS" ] || fail "took more than $LIMIT_SECS s"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after $limit s waiting for $what"
        check_time
        sleep 0.2
    done
}

# ---------------------------------------------------------------- keys, directory
step "keys and a signed 3-layer directory (mean delay 1 s)"
AUTH_PUB=$("$BIN" keygen authority --out "$WORK/etc/authority.key")
[ "$(stat -c %a "$WORK/etc/authority.key")" = 600 ] || fail "authority key file is not mode 600"
declare -A NODE_PUB=()
for n in 1 2 3; do
    mkdir -p "$WORK/node$n"
    NODE_PUB[$n]=$("$BIN" keygen node --out "$WORK/node$n/node.key")
done
if "$BIN" keygen node --out "$WORK/node1/node.key" >/dev/null 2>&1; then
    fail "keygen overwrote an existing key"
fi

write_source() { # mean delay
    cat >"$WORK/etc/directory.toml" <<EOF
network = "e2e"
valid_days = 1
hops = 3
payload_size = 2048
mean_delay = $1

[[node]]
nickname = "node1"
layer = 1
address = "mix@node1.test"
key = "${NODE_PUB[1]}"

[[node]]
nickname = "node2"
layer = 2
address = "mix@node2.test"
key = "${NODE_PUB[2]}"

[[node]]
nickname = "node3"
layer = 3
address = "mix@node3.test"
key = "${NODE_PUB[3]}"
EOF
}
write_source 1
"$BIN" directory sign --source "$WORK/etc/directory.toml" \
    --key "$WORK/etc/authority.key" --out "$WORK/etc/directory.txt"
chmod 644 "$WORK/etc/directory.txt"
"$BIN" directory verify "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" |
    tee "$WORK/etc/verify.out"
grep -q "mean-delay:   1 s" "$WORK/etc/verify.out" || fail "directory verify summary is wrong"
WRONG_KEY=$("$BIN" keygen authority --out "$WORK/etc/other.key")
if "$BIN" directory verify "$WORK/etc/directory.txt" --trusted "$WRONG_KEY" 2>"$WORK/etc/verify.err"; then
    fail "a directory verified against an untrusted authority"
fi
echo "refused as expected: $(cat "$WORK/etc/verify.err")"

for n in 1 2 3; do
    cat >"$WORK/node$n/node.toml" <<EOF
address = "mix@node$n.test"
key_file = "$WORK/node$n/node.key"
directory_file = "$WORK/etc/directory.txt"
trusted_authorities = ["$AUTH_PUB"]
threshold = 1
spool_dir = "$WORK/node$n/spool"
max_store_bytes = 268435456
log_level = "info"

[outgoing]
sendmail = "/usr/sbin/sendmail"
EOF
    chown -R mixmailer:mixmailer "$WORK/node$n"
    chmod 700 "$WORK/node$n"
done
# The pipe transport runs `receive` as mixmailer; it must read the configs.
chmod 711 "$WORK"

# ---------------------------------------------------------------- postfix
# All mail enters through sendmail and leaves through pipe and virtual, so
# no SMTP listener is needed (and a busy port 25 cannot break the test).
step "configure Postfix for loopback only"
mkdir -p "$WORK/maildirs"
chown mixmailer:mixmailer "$WORK/maildirs"
cat >"$WORK/postfix/transport" <<'EOF'
node1.test mixnode1:
node2.test mixnode2:
node3.test mixnode3:
EOF
cat >"$WORK/postfix/vmailbox" <<'EOF'
alice@example.test alice/
bob@example.test bob/
carol@example.test carol/
EOF
postconf -e \
    "maillog_file = $MAILLOG" \
    "myhostname = mixmailer-e2e.test" \
    "inet_interfaces = loopback-only" \
    "master_service_disable = inet" \
    "inet_protocols = ipv4" \
    "mydestination =" \
    "relayhost =" \
    "relay_domains =" \
    "mynetworks = 127.0.0.0/8" \
    "default_transport = error:mixmailer e2e test: no mail leaves this machine" \
    "transport_maps = texthash:$WORK/postfix/transport" \
    "virtual_mailbox_domains = example.test" \
    "virtual_mailbox_base = $WORK/maildirs" \
    "virtual_mailbox_maps = texthash:$WORK/postfix/vmailbox" \
    "virtual_minimum_uid = $MIX_UID" \
    "virtual_uid_maps = static:$MIX_UID" \
    "virtual_gid_maps = static:$MIX_GID" \
    "queue_run_delay = 2s" \
    "minimal_backoff_time = 2s" \
    "maximal_backoff_time = 4s" \
    "smtputf8_enable = no"
for n in 1 2 3; do
    postconf -M "mixnode$n/unix=mixnode$n unix - n n - - pipe user=mixmailer argv=$BIN receive --config $WORK/node$n/node.toml"
done
postfix check || fail "postfix check failed (see $MAILLOG)"
if postfix status >/dev/null 2>&1; then
    postfix reload
else
    postfix start
fi
wait_for 20 "Postfix to run" postfix status

# ---------------------------------------------------------------- daemons
start_node() {
    local n=$1
    setpriv --reuid=mixmailer --regid=mixmailer --init-groups \
        "$BIN" run --config "$WORK/node$n/node.toml" >>"$WORK/node$n/log" 2>&1 &
    PID[$n]=$!
    # Not just the socket file: a killed daemon leaves its socket behind.
    wait_for 20 "node$n to answer status" node_running "$n"
}
node_running() { [ "$(status_field "$1" status)" = "daemon running" ]; }
status_field() { # node field-label
    "$BIN" status --config "$WORK/node$1/node.toml" | awk -F': *' -v k="$2" '$1 == k {print $2}'
}

step "start 3 daemons"
for n in 1 2 3; do
    start_node "$n"
    grep -q "started node node$n (layer $n of 3)" "$WORK/node$n/log" ||
        fail "node$n did not log its start"
done
[ "$(stat -c %a "$WORK/node1/spool")" = 700 ] || fail "spool directory is not mode 700"

# ---------------------------------------------------------------- run 0
step "run 0: Postfix plumbing (pipe to node1, Maildir for alice)"
printf 'From: root@localhost\r\nTo: mix@node1.test\r\nSubject: not a carrier\r\n\r\nhello\r\n' |
    /usr/sbin/sendmail -i -f root@mixmailer-e2e.test -- mix@node1.test
wait_for 30 "node1 to drop a non-carrier handed over by Postfix's pipe" \
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
for f in "$BOB1" "$CAROL1"; do
    h=$(header_of "$f")
    grep -qi '^User-Agent:' <<<"$h" && fail "User-Agent reached the recipient ($f)"
    grep -qi '^Bcc:' <<<"$h" && fail "a Bcc header reached the recipient ($f)"
    grep -q 'laptop.home.example\|203.0.113.7' "$f" && fail "the sender's Received line reached the recipient ($f)"
    grep -q '14:03:11' <<<"$h" && fail "the sender's Date reached the recipient ($f)"
    grep -Eq '^Date: .*[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$' <<<"$h" || fail "no +0000 Date in $f"
    grep -q '^X-pEp-Version: 2.1$' <<<"$h" || fail "X-pEp-Version was not kept in $f"
    grep -q "^Subject: $TOKEN1\$" <<<"$h" || fail "Subject missing in $f"
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
exit_fragments() { grep -c -e 'received a fragment' -e 'its message was already delivered' "$WORK/node3/log" || true; }
run1_at_exit() { [ "$(exit_fragments)" -ge "$CARRIERS1" ]; }
wait_for 60 "all $CARRIERS1 carriers of run 1 to reach the exit" run1_at_exit
echo "run 1 passed after $SECONDS s"

# ---------------------------------------------------------------- run 2
step "run 2: node2 killed -9 while it holds packets (mean delay 8 s)"
write_source 8
"$BIN" directory sign --source "$WORK/etc/directory.toml" \
    --key "$WORK/etc/authority.key" --out "$WORK/etc/directory.next"
chmod 644 "$WORK/etc/directory.next"
mv "$WORK/etc/directory.next" "$WORK/etc/directory.txt"
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
"$BIN" status --config "$WORK/node2/node.toml" | tee "$WORK/node2/status.offline"
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

check_time
OK=1
echo "e2e: finished in $SECONDS s after the build"
echo "e2e: 4 passed, 0 failed"
