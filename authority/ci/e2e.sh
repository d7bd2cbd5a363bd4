#!/usr/bin/env bash
# End-to-end test of the directory authorities with self-registering mix
# nodes behind a real Postfix, on loopback only (issue 13).
#
#   sudo authority/ci/e2e.sh      (from anywhere; CI calls it from .ci/run)
#
# It installs Postfix if missing and builds the debug binaries of
# mixmailer-node, mixmailer-authority and mixmailer-fetch. It runs its OWN
# Postfix instance (`postfix -c $WORK/postfix`, own queue and data
# directories, listening on 127.0.0.30 only): the system instance and its
# configuration are never touched. Then:
#   1. three authorities (threshold 2, interval 10 s, liveness probing
#      every 10 s) on 127.0.0.31..33, each with a mailbox Postfix delivers
#      to a Maildir the authority reads;
#   2. six nodes (four mixes, two exits) started with a [join] section and
#      NO directory file: they register with the authorities themselves,
#      and a consensus listing all six is published; the client CLI
#      (mixmailer-fetch) fetches it, checks its cache and refuses a
#      document signed by keys it does not trust;
#   3. the authorities' probes cross the mixnet into their Maildirs, and a
#      message sent through the network reaches bob's Maildir;
#   4. a node killed with SIGKILL is left out of a following consensus
#      (liveness: "not voted for"); restarted, it is listed again and a
#      message routed through it arrives;
#   5. one authority stopped, the other two still publish new documents
#      (two signatures); a client whose first mirror is the stopped
#      authority fetches from the second, and one whose only mirror is
#      down keeps its cached document (exit status 3).
# Every wait has a timeout; the run after the build is bounded by
# LIMIT_SECS. Set KEEP=1 to keep the work directory after success.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=authority-e2e
LIMIT_SECS=${E2E_LIMIT_SECS:-480}
export DEBIAN_FRONTEND=noninteractive
# Plain logs (no colour codes) for the greps below.
export NO_COLOR=1

step() { printf '\n=== %s: %s (at %s s) ===\n' "$NAME" "$*" "${SECONDS}"; }
fail() {
    echo "$NAME: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root: it installs and runs a Postfix instance"

# ---------------------------------------------------------------- network
NETWORK=e2e
HOPS=3
KEY_PERIOD=3600
INTERVAL=10
# The client fetches at most once a minute after a success
# (client/src/schedule.rs): a document must outlive that.
VALIDITY=120
MEAN_DELAY=1
PROBE_INTERVAL=10
PROBE_TIMEOUT=30
PROBE_WINDOW=120
MTA_ADDR=127.0.0.30
SUBMIT=$MTA_ADDR:10025
AUTHS="1 2 3"
NODES="1 2 3 4 5 6"
declare -A ROLE=([1]=mix [2]=mix [3]=mix [4]=mix [5]=exit [6]=exit)
auth_url() { printf 'http://127.0.0.3%s:810%s' "$1" "$1"; }

# ---------------------------------------------------------------- install, build
step "install Postfix"
if ! command -v postconf >/dev/null 2>&1 || [ ! -x /usr/sbin/sendmail ]; then
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mixmailer-e2e.test
EOF
    apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends postfix >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
            --no-install-recommends postfix >/dev/null; } ||
        fail "apt-get install postfix failed"
fi
postconf -h mail_version

step "build mixmailer-node, mixmailer-authority, mixmailer-fetch (debug)"
(cd "$ROOT" && cargo build -q -p mixmailer-node -p mixmailer-authority -p mixmailer-client --bins)
SECONDS=0

WORK=$(mktemp -d "/tmp/mixmailer-$NAME.XXXXXX")
mkdir -p "$WORK/bin" "$WORK/client"
for b in mixmailer-node mixmailer-authority mixmailer-fetch; do
    install -m 0755 "${CARGO_TARGET_DIR:-$ROOT/target}/debug/$b" "$WORK/bin/$b"
done
NODE_BIN=$WORK/bin/mixmailer-node
AUTH_BIN=$WORK/bin/mixmailer-authority
FETCH=$WORK/bin/mixmailer-fetch
PF=$WORK/postfix
MAILLOG=$WORK/maillog

if ! id mixmailer >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin mixmailer
fi
MIX_UID=$(id -u mixmailer)
MIX_GID=$(id -g mixmailer)

declare -A NPID=() APID=()
OK=0
POSTFIX_STARTED=0

# stop_pid PID: TERM, up to 5 s, then KILL; only our own children.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    return 0
}

cleanup() {
    set +e
    for n in "${!NPID[@]}"; do stop_pid "${NPID[$n]}"; done
    for a in "${!APID[@]}"; do stop_pid "${APID[$a]}"; done
    [ "$POSTFIX_STARTED" = 1 ] && postfix -c "$PF" stop >/dev/null 2>&1
    if [ "$OK" = 1 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "$NAME: work directory kept: $WORK" >&2
        if [ "$OK" != 1 ]; then
            for a in $AUTHS; do
                echo "--- authority $a log (last 40 lines) ---" >&2
                tail -n 40 "$WORK/auth$a/log" >&2 2>/dev/null
            done
            for n in $NODES; do
                echo "--- node$n log (last 25 lines) ---" >&2
                tail -n 25 "$WORK/node$n/log" >&2 2>/dev/null
            done
            echo "--- postfix log (last 40 lines) ---" >&2
            tail -n 40 "$MAILLOG" >&2 2>/dev/null
        fi
    fi
}
trap cleanup EXIT

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
        sleep 0.5
    done
}

# log_has_since FILE FIRST-LINE TEXT...: one line from FIRST-LINE on holds
# every TEXT.
log_has_since() {
    local file=$1 first=$2
    shift 2
    local lines
    lines=$(tail -n +"$first" "$file")
    for t in "$@"; do
        lines=$(grep -F -e "$t" <<<"$lines" || true)
    done
    [ -n "$lines" ]
}

# ---------------------------------------------------------------- Postfix
# One instance for the whole network: the daemons and the authorities
# submit over SMTP to $SUBMIT; node N's domain goes over LMTP to node N's
# socket; the authorities' mailboxes and bob's are Maildirs (virtual).
step "a Postfix instance of our own on $MTA_ADDR"
mkdir -p "$PF" "$WORK/pf/queue" "$WORK/pf/data" "$WORK/maildirs" "$WORK/lmtp"
chown postfix:postfix "$WORK/pf/data"
chmod 755 "$WORK"
: >"$PF/transport"
for n in $NODES; do
    echo "node$n.test lmtp:unix:$WORK/lmtp/node$n.sock" >>"$PF/transport"
done
{
    echo "bob@example.test bob/"
    for a in $AUTHS; do echo "auth$a@dir.test auth$a/"; done
} >"$PF/vmailbox"
for box in bob auth1 auth2 auth3; do
    mkdir -p "$WORK/maildirs/$box/new" "$WORK/maildirs/$box/cur" "$WORK/maildirs/$box/tmp"
done
chown -R mixmailer:mixmailer "$WORK/maildirs"
# The LMTP sockets: a directory of group postfix with the set-group-ID
# bit, so each socket gets group postfix and Postfix's lmtp client can
# connect, while the spools stay private (node/ci/net.sh does the same).
chown mixmailer:postfix "$WORK/lmtp"
chmod 2750 "$WORK/lmtp"
cat >"$PF/main.cf" <<EOF
# The Postfix instance of authority/ci/e2e.sh; not the system's.
compatibility_level = 3.6
queue_directory = $WORK/pf/queue
data_directory = $WORK/pf/data
multi_instance_name = mixmailer-$NAME
mail_owner = postfix
setgid_group = postdrop
maillog_file = $MAILLOG
maillog_file_prefixes = $WORK
myhostname = mta.$NAME.test
# Linux answers for all of 127/8 on lo; smtpd binds $SUBMIT from master.cf.
inet_interfaces = loopback-only
inet_protocols = ipv4
smtputf8_enable = no
biff = no
mydestination =
local_transport = error:no local delivery in this instance
alias_maps =
alias_database =
relayhost =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = error:mixmailer $NAME: no mail leaves this machine
transport_maps = texthash:$PF/transport
lmtp_connection_cache_on_demand = yes
virtual_mailbox_domains = example.test dir.test
virtual_mailbox_base = $WORK/maildirs
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_minimum_uid = $MIX_UID
virtual_uid_maps = static:$MIX_UID
virtual_gid_maps = static:$MIX_GID
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
EOF
# chroot n everywhere: the daemons must reach the sockets and maps below
# $WORK. in_flow_delay=0: Postfix's inflow throttle would stall the nodes'
# releasers while the queue is busy (see node/ci/net.sh).
cat >"$PF/master.cf" <<EOF
$SUBMIT inet n - n - - smtpd -o in_flow_delay=0
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
if ! postfix -c "$PF" check; then
    # Without a terminal Postfix says why only to syslog: give it one.
    script -qec "postfix -c '$PF' check" /dev/null >&2 || true
    fail "postfix check failed for $PF"
fi
postfix -c "$PF" start || fail "the Postfix instance did not start (see $MAILLOG)"
POSTFIX_STARTED=1
smtp_ready() { timeout 5 bash -c "exec 3<>/dev/tcp/${SUBMIT%:*}/${SUBMIT#*:} && head -c 3 <&3 | grep -q 220"; }
wait_for 20 "Postfix to greet on $SUBMIT" smtp_ready
# The test client's sendmail: this instance's, not the system's.
printf '#!/bin/sh\nexec /usr/sbin/sendmail -C %q "$@"\n' "$PF" >"$WORK/bin/sendmail"
chmod 755 "$WORK/bin/sendmail"

# A first mail to bob proves the plumbing before any mixing.
printf 'From: root@localhost\r\nTo: bob@example.test\r\nSubject: plumbing\r\n\r\nhello\r\n' |
    "$WORK/bin/sendmail" -i -f root@example.test -- bob@example.test
find_mail() { grep -l -s -F "$2" "$WORK/maildirs/$1/new/"* 2>/dev/null | head -n 1; }
has_mail() { [ -n "$(find_mail "$1" "$2")" ]; }
wait_for 30 "Postfix to deliver into bob's Maildir" has_mail bob "Subject: plumbing"

# ---------------------------------------------------------------- authorities
step "three authorities, threshold 2, interval $INTERVAL s, probing every $PROBE_INTERVAL s"
declare -A AUTH_PUB=()
for a in $AUTHS; do
    mkdir -p "$WORK/auth$a"
    AUTH_PUB[$a]=$("$AUTH_BIN" keygen --key "$WORK/auth$a/authority.key")
done
TRUST_ARGS=()
for a in $AUTHS; do TRUST_ARGS+=(--trusted "${AUTH_PUB[$a]}"); done
write_authority_config() {
    local a=$1 b
    {
        cat <<EOF
listen = "127.0.0.3$a:810$a"
key = "$WORK/auth$a/authority.key"
store = "$WORK/auth$a/store.redb"
network = "$NETWORK"
hops = $HOPS
payload_size = 2048
mean_delay = $MEAN_DELAY
key_period = $KEY_PERIOD
interval = $INTERVAL
validity = $VALIDITY
threshold = 2
EOF
        for b in $AUTHS; do
            printf '\n[[authority]]\nkey = "%s"\nurl = "%s"\n' "${AUTH_PUB[$b]}" "$(auth_url "$b")"
        done
        cat <<EOF

[liveness]
mailbox = "auth$a@dir.test"
maildir = "$WORK/maildirs/auth$a"
smtp_relay = "$SUBMIT"
probe_interval = $PROBE_INTERVAL
window = $PROBE_WINDOW
dead_after = 2
timeout = $PROBE_TIMEOUT
EOF
    } >"$WORK/auth$a/authority.toml"
}
start_authority() {
    local a=$1
    # setpriv itself in the background (not a shell function, which would
    # run in a subshell): $! is then the daemon's own pid.
    setpriv --reuid=mixmailer --regid=mixmailer --init-groups \
        "$AUTH_BIN" run --config "$WORK/auth$a/authority.toml" >>"$WORK/auth$a/log" 2>&1 &
    APID[$a]=$!
    wait_for 20 "authority $a to listen" grep -q "authority listening" "$WORK/auth$a/log"
}
for a in $AUTHS; do
    write_authority_config "$a"
    chown -R mixmailer:mixmailer "$WORK/auth$a"
    chmod 700 "$WORK/auth$a"
done
for a in $AUTHS; do start_authority "$a"; done

# fetch_doc NAME MIRROR...: one run of the client CLI with a new cache
# $WORK/client/NAME; its output in NAME.out and NAME.err, status in FETCH_RC.
fetch_doc() {
    local name=$1 m
    shift
    local mirrors=()
    for m in "$@"; do mirrors+=(--mirror "$m"); done
    rm -f "$WORK/client/$name" "$WORK/client/$name.due"
    FETCH_RC=0
    "$FETCH" --cache "$WORK/client/$name" "${mirrors[@]}" "${TRUST_ARGS[@]}" --threshold 2 \
        --timeout 5 >"$WORK/client/$name.out" 2>"$WORK/client/$name.err" || FETCH_RC=$?
}
doc_field() { awk -F': ' -v k="$2" '$1 == k {print $2; exit}' "$WORK/client/$1.out"; }
doc_nodes() { awk '$1 == "node:" {print $2}' "$WORK/client/$1.out" | sort | tr '\n' ' '; }
doc_lists() { grep -q "^node: $2 layer " "$WORK/client/$1.out"; }
doc_layer_of() { awk -v n="$2" '$1 == "node:" && $2 == n {print $4}' "$WORK/client/$1.out"; }
doc_valid_after() { date -u -d "$(doc_field "$1" valid-after)" +%s; }
ALL_NODES=$(for n in $NODES; do echo "node$n"; done | sort | tr '\n' ' ')

# ---------------------------------------------------------------- nodes
step "six nodes (4 mix, 2 exit) join with [join] and no directory file"
AUTH_URLS=$(for a in $AUTHS; do printf '"%s", ' "$(auth_url "$a")"; done)
AUTH_URLS="[${AUTH_URLS%, }]"
TRUSTED=$(for a in $AUTHS; do printf '"%s", ' "${AUTH_PUB[$a]}"; done)
TRUSTED="[${TRUSTED%, }]"
for n in $NODES; do
    mkdir -p "$WORK/node$n"
    "$NODE_BIN" keygen node --out "$WORK/node$n/node.key" >/dev/null 2>"$WORK/keygen.err" ||
        fail "keygen node$n: $(cat "$WORK/keygen.err")"
    cat >"$WORK/node$n/node.toml" <<EOF
address = "mix@node$n.test"
key_file = "$WORK/node$n/node.key"
key_dir = "$WORK/node$n/keys"
directory_file = "$WORK/node$n/directory.txt"
trusted_authorities = $TRUSTED
threshold = 2
spool_dir = "$WORK/node$n/spool"
max_store_bytes = 268435456
log_level = "info"

[incoming]
lmtp_socket = "$WORK/lmtp/node$n.sock"

[outgoing]
smtp = "$SUBMIT"

[join]
nickname = "node$n"
role = "${ROLE[$n]}"
network = "$NETWORK"
key_period = $KEY_PERIOD
authorities = $AUTH_URLS
EOF
    chown -R mixmailer:mixmailer "$WORK/node$n"
    chmod 700 "$WORK/node$n"
done
start_node() {
    local n=$1
    setpriv --reuid=mixmailer --regid=mixmailer --init-groups \
        "$NODE_BIN" run --config "$WORK/node$n/node.toml" >>"$WORK/node$n/log" 2>&1 &
    NPID[$n]=$!
}
for n in $NODES; do
    [ ! -e "$WORK/node$n/directory.txt" ] || fail "node$n has a directory file before joining"
    start_node "$n"
done
for n in $NODES; do
    for a in $AUTHS; do
        wait_for 30 "authority $a to store node$n's descriptor" \
            log_has_since "$WORK/auth$a/log" 1 "descriptor stored" "nickname=node$n"
    done
done
echo "every authority stored the six descriptors after $SECONDS s"

all_listed() { fetch_doc "$1" "$(auth_url 1)" && [ "$FETCH_RC" = 0 ] && [ "$(doc_nodes "$1")" = "$ALL_NODES" ]; }
wait_for 90 "a consensus listing all six nodes" all_listed first
cat "$WORK/client/first.out"
[ "$(doc_field first source)" = "mirror $(auth_url 1)" ] || fail "the client did not say it fetched from $(auth_url 1)"
[ "$(doc_field first signatures)" -ge 2 ] || fail "a published document with fewer than 2 signatures"
for n in 5 6; do
    [ "$(doc_layer_of first "node$n")" = "$HOPS" ] || fail "exit node$n is not in layer $HOPS"
done
echo "a consensus of all six nodes published $SECONDS s after the start"

step "client CLI: the cache is used while no fetch is due; untrusted keys are refused"
"$FETCH" --cache "$WORK/client/first" --mirror "$(auth_url 1)" "${TRUST_ARGS[@]}" --threshold 2 \
    >"$WORK/client/again.out" || fail "a second call with a valid cache failed"
grep -qx "source: cache" "$WORK/client/again.out" || fail "the second call did not use the cache"
OTHER=$("$AUTH_BIN" keygen --key "$WORK/client/other.key")
rc=0
"$FETCH" --cache "$WORK/client/untrusted" --mirror "$(auth_url 1)" --trusted "$OTHER" \
    >/dev/null 2>"$WORK/client/untrusted.err" || rc=$?
[ "$rc" = 1 ] || fail "a document signed by untrusted keys: exit status $rc, not 1"
[ ! -e "$WORK/client/untrusted" ] || fail "a document that does not verify was cached"
echo "refused as expected: $(cat "$WORK/client/untrusted.err")"
rc=0
"$FETCH" --cache "$WORK/client/x" --mirror "$(auth_url 1)" --threshold 2 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing --trusted: exit status $rc, not 2"

step "the nodes open for carriers once listed; probes reach the authorities' Maildirs"
for n in $NODES; do
    wait_for 120 "node$n to fetch a directory listing it and start" \
        log_has_since "$WORK/node$n/log" 1 "started node node$n"
    grep -q "waiting to be listed by the authorities" "$WORK/node$n/log" ||
        fail "node$n did not wait to be listed before it started"
    [ -s "$WORK/node$n/directory.txt" ] || fail "node$n keeps no directory file"
done
for a in $AUTHS; do
    wait_for 60 "probes through the mixnet to reach authority $a" \
        log_has_since "$WORK/auth$a/log" 1 "probes arrived"
done

# send_message TOKEN [ROUTE]: alice -> bob through the network, from a
# freshly fetched document.
send_message() {
    local token=$1 route=${2:-}
    printf 'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\n%s\r\n' \
        "$token" "$token" >"$WORK/$token.eml"
    fetch_doc send "$(auth_url 1)" "$(auth_url 2)"
    [ "$FETCH_RC" = 0 ] || fail "no document to send with: $(cat "$WORK/client/send.err")"
    "$NODE_BIN" send --directory "$WORK/client/send" "${TRUST_ARGS[@]}" --threshold 2 \
        --from alice@example.test ${route:+--route "$route"} --sendmail "$WORK/bin/sendmail" \
        "$WORK/$token.eml"
}

step "a message through the network reaches bob"
TOKEN1="ae2e-$(date +%s)-$RANDOM"
send_message "$TOKEN1"
wait_for 90 "the message in bob's Maildir" has_mail bob "$TOKEN1"
grep -h "^From:" "$(find_mail bob "$TOKEN1")"

# ---------------------------------------------------------------- kill a node
step "node2 killed with SIGKILL: left out of a following consensus"
KILLED_AT=$(date +%s)
AUTH1_LINES=$(wc -l <"$WORK/auth1/log")
[ "$(readlink "/proc/${NPID[2]}/exe")" = "$NODE_BIN" ] || fail "pid ${NPID[2]} is not node2's daemon"
kill -KILL "${NPID[2]}"
wait "${NPID[2]}" 2>/dev/null || true
unset 'NPID[2]'
without_node2() {
    fetch_doc without "$(auth_url 1)" && [ "$FETCH_RC" = 0 ] &&
        [ "$(doc_valid_after without)" -gt "$KILLED_AT" ] && ! doc_lists without node2
}
# Its losses count from a minute after the run of documents listing it
# began (docs/authority.md section 7), then a probe times out (30 s) and
# the next vote leaves it out: about 100 s on an idle machine.
wait_for 210 "a consensus without node2" without_node2
cat "$WORK/client/without.out"
log_has_since "$WORK/auth1/log" "$((AUTH1_LINES + 1))" "not voted for" "node2" ||
    fail "authority 1 did not say that node2's probes are lost"
echo "node2 left out $(($(date +%s) - KILLED_AT)) s after it was killed"

step "node2 restarted: listed again, and a message routed through it arrives"
RESTARTED_AT=$(date +%s)
N2_LINES=$(wc -l <"$WORK/node2/log")
start_node 2
# Voted after the restart: valid-after more than one interval later.
with_node2_again() {
    fetch_doc with "$(auth_url 1)" && [ "$FETCH_RC" = 0 ] &&
        [ "$(doc_valid_after with)" -gt "$((RESTARTED_AT + INTERVAL))" ] && doc_lists with node2
}
wait_for 90 "a consensus listing node2 again" with_node2_again
cat "$WORK/client/with.out"
echo "node2 back $(($(date +%s) - RESTARTED_AT)) s after its restart"
# A route through node2 at its layer, the other layers from the same document.
ROUTE=""
for l in $(seq "$HOPS"); do
    pick=$(awk -v l="$l" '$1 == "node:" && $4 == l {print $2}' "$WORK/client/with.out" |
        grep -x node2 || awk -v l="$l" '$1 == "node:" && $4 == l {print $2; exit}' "$WORK/client/with.out")
    ROUTE="$ROUTE${ROUTE:+,}$pick"
done
echo "route: $ROUTE"
wait_for 120 "node2 to open for carriers again" \
    log_has_since "$WORK/node2/log" "$((N2_LINES + 1))" "started node node2"
TOKEN2="ae2e-back-$(date +%s)-$RANDOM"
send_message "$TOKEN2" "$ROUTE"
wait_for 90 "the message through the restarted node2 in bob's Maildir" has_mail bob "$TOKEN2"

# ---------------------------------------------------------------- stop an authority
step "authority 3 stopped: authorities 1 and 2 still publish"
[ "$(readlink "/proc/${APID[3]}/exe")" = "$AUTH_BIN" ] || fail "pid ${APID[3]} is not authority 3"
stop_pid "${APID[3]}"
unset 'APID[3]'
fetch_doc down "$(auth_url 3)"
[ "$FETCH_RC" = 1 ] || fail "authority 3 still answers after SIGTERM"
STOPPED_AT=$(date +%s)
# Voted after the stop: valid-after more than one interval later.
# All six nodes: a partner of node2 that liveness wrongly blamed while
# node2 was dead comes back at the latest when its blames leave the window.
new_from_two() {
    fetch_doc two "$(auth_url 2)" && [ "$FETCH_RC" = 0 ] &&
        [ "$(doc_valid_after two)" -gt "$((STOPPED_AT + INTERVAL))" ] &&
        [ "$(doc_nodes two)" = "$ALL_NODES" ]
}
wait_for $((PROBE_WINDOW + 30)) "a document of all six nodes prepared after authority 3 stopped" new_from_two
cat "$WORK/client/two.out"
[ "$(doc_field two signatures)" = 2 ] || fail "expected the 2 signatures of authorities 1 and 2"

step "a client whose first mirror is down fetches from the second"
fetch_doc failover "$(auth_url 3)" "$(auth_url 1)"
[ "$FETCH_RC" = 0 ] || fail "failover fetch failed: $(cat "$WORK/client/failover.err")"
cat "$WORK/client/failover.out"
[ "$(doc_field failover source)" = "mirror $(auth_url 1)" ] ||
    fail "the client did not fall back to the second mirror"
# Due again (its due file gone), with only the stopped mirror: the cached
# document is kept and the exit status says so.
rm -f "$WORK/client/failover.due"
rc=0
"$FETCH" --cache "$WORK/client/failover" --mirror "$(auth_url 3)" "${TRUST_ARGS[@]}" --threshold 2 \
    --timeout 5 >"$WORK/client/stale.out" 2>"$WORK/client/stale.err" || rc=$?
[ "$rc" = 3 ] || fail "all mirrors down with a valid cache: exit status $rc, not 3"
grep -qx "source: cache (every mirror failed)" "$WORK/client/stale.out" ||
    fail "the client did not say it kept the cached document"
echo "kept the cache: $(head -n 1 "$WORK/client/stale.err")"

check_time
OK=1
echo "$NAME: finished in $SECONDS s after the build"
