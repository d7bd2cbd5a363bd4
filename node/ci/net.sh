# Sourced by node/ci/e2e.sh and node/ci/throughput.sh (as root): installs
# Postfix and OpenSSL if missing, builds the node, and sets up three nodes
# behind the system Postfix on loopback, each carrier crossing a Postfix
# smtp -> smtpd leg with verified TLS and reaching its node over LMTP; the
# daemons submit over SMTP. The system's main.cf and master.cf are backed
# up and restored on exit (trap). The caller sets:
#   NET_NAME        e2e or throughput (names the work directory and log)
#   NET_PROFILE     debug or release
#   NET_MEAN_DELAY  the directory's mean delay in seconds
#   LIMIT_SECS      the time bound checked by wait_for
#   NET_NODES       1 (default) starts the daemons, 0 leaves the sockets free
# and gets: BIN, WORK, MAILLOG, AUTH_PUB, PID[1..3], SUBMIT_PORT,
# NODE_PORT_BASE, and the functions step, fail, wait_for, check_time,
# log_has_since, sign_directory, check_directory_cli, start_node,
# status_field. The cleanup trap sets OK=1 to mean success.
: "${NET_NAME:?}" "${NET_PROFILE:?}" "${NET_MEAN_DELAY:?}" "${LIMIT_SECS:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n=== %s: %s ===\n' "$NET_NAME" "$*"; }
fail() {
    echo "$NET_NAME: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root: it installs and configures Postfix"

# ---------------------------------------------------------------- install
step "install Postfix and OpenSSL"
if ! command -v postconf >/dev/null 2>&1 || [ ! -x /usr/sbin/sendmail ] ||
    ! command -v openssl >/dev/null 2>&1; then
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mixmailer-e2e.test
EOF
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postfix openssl >/dev/null
fi
postconf -h mail_version

step "build mixmailer-node ($NET_PROFILE)"
if [ "$NET_PROFILE" = release ]; then
    (cd "$ROOT" && cargo build -q --release -p mixmailer-node)
else
    (cd "$ROOT" && cargo build -q -p mixmailer-node)
fi
SECONDS=0

WORK=$(mktemp -d "/tmp/mixmailer-$NET_NAME.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/bin" "$WORK/etc" "$WORK/postfix"
install -m 0755 "${CARGO_TARGET_DIR:-$ROOT/target}/$NET_PROFILE/mixmailer-node" "$WORK/bin/mixmailer-node"
BIN="$WORK/bin/mixmailer-node"
# Postfix writes its log only below /var (maillog_file_prefixes).
MAILLOG="/var/log/mixmailer-$NET_NAME.maillog"
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
    # The caller's own teardown first (it may keep files below $WORK).
    if declare -F net_cleanup_extra >/dev/null; then
        net_cleanup_extra
    fi
    [ -n "${WATCHER:-}" ] && kill "$WATCHER" 2>/dev/null
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
        echo "$NET_NAME: work directory kept: $WORK" >&2
        if [ "$OK" != 1 ]; then
            for n in 1 2 3; do
                echo "--- node$n log (last 30 lines) ---" >&2
                tail -n 30 "$WORK/node$n/log" >&2 2>/dev/null
            done
            echo "--- postfix log (last 40 lines) ---" >&2
            tail -n 40 "$MAILLOG" >&2 2>/dev/null
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
# Everything that knows the CLI's key and directory commands is in these
# functions, so a change of those commands touches only them.

make_keys() { # -> AUTH_PUB, node identity key files
    AUTH_PUB=$("$BIN" keygen authority --out "$WORK/etc/authority.key")
    [ "$(stat -c %a "$WORK/etc/authority.key")" = 600 ] || fail "authority key file is not mode 600"
    for n in 1 2 3; do
        mkdir -p "$WORK/node$n"
        "$BIN" keygen node --out "$WORK/node$n/node.key" >/dev/null
    done
    if "$BIN" keygen node --out "$WORK/node1/node.key" >/dev/null 2>&1; then
        fail "keygen overwrote an existing key"
    fi
}

# Each node publishes a signed descriptor (its address, identity and the
# period keys it made ahead in its key directory); the authority signs a
# directory from the three descriptors, as operators do it.
KEY_PERIOD=86400
make_descriptors() {
    local n role
    for n in 1 2 3; do
        role=mix
        [ "$n" = 3 ] && role=exit
        "$BIN" descriptor --config "$WORK/node$n/node.toml" --nickname "node$n" \
            --role "$role" --network e2e --key-period "$KEY_PERIOD" \
            --out "$WORK/etc/node$n.descriptor"
    done
}

write_source() { # mean delay
    cat >"$WORK/etc/directory.toml" <<EOF
network = "e2e"
key_period = $KEY_PERIOD
valid_days = 1
hops = 3
payload_size = 2048
mean_delay = $1

[[node]]
descriptor = "node1.descriptor"
layer = 1

[[node]]
descriptor = "node2.descriptor"
layer = 2

[[node]]
descriptor = "node3.descriptor"
layer = 3
EOF
}

sign_directory() { # mean delay: (re)writes $WORK/etc/directory.txt atomically
    write_source "$1"
    "$BIN" directory sign --source "$WORK/etc/directory.toml" \
        --key "$WORK/etc/authority.key" --out "$WORK/etc/directory.next"
    chmod 644 "$WORK/etc/directory.next"
    mv "$WORK/etc/directory.next" "$WORK/etc/directory.txt"
}

check_directory_cli() { # verify prints the summary; a wrong authority is refused
    "$BIN" directory verify "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" |
        tee "$WORK/etc/verify.out"
    grep -q "mean-delay:   1 s" "$WORK/etc/verify.out" || fail "directory verify summary is wrong"
    local wrong
    wrong=$("$BIN" keygen authority --out "$WORK/etc/other.key")
    if "$BIN" directory verify "$WORK/etc/directory.txt" --trusted "$wrong" 2>"$WORK/etc/verify.err"; then
        fail "a directory verified against an untrusted authority"
    fi
    echo "refused as expected: $(cat "$WORK/etc/verify.err")"
}

write_node_config() { # n: the daemon's config (trust, spool, LMTP in, SMTP out)
    local n=$1
    cat >"$WORK/node$n/node.toml" <<EOF
address = "mix@node$n.test"
key_file = "$WORK/node$n/node.key"
key_dir = "$WORK/node$n/keys"
directory_file = "$WORK/etc/directory.txt"
trusted_authorities = ["$AUTH_PUB"]
threshold = 1
spool_dir = "$WORK/node$n/spool"
# Test only: seconds to add to the daemon's clock, re-read at every look
# (e2e.sh moves the nodes into the next key period with it).
test_clock_offset_file = "$WORK/etc/clock"
max_store_bytes = 268435456
log_level = "info"

[incoming]
lmtp_socket = "$WORK/lmtp/node$n.sock"

[outgoing]
smtp = "${NODE_SMTP[$n]:-127.0.0.1:$SUBMIT_PORT}"
EOF
}

step "keys, descriptors and a signed 3-layer directory (mean delay $NET_MEAN_DELAY s)"
make_keys

# Ports on loopback: the daemons submit to SUBMIT_PORT; node N's carriers
# arrive, over TLS, at NODE_PORT_BASE + N.
SUBMIT_PORT=${E2E_SUBMIT_PORT:-10025}
NODE_PORT_BASE=${E2E_NODE_PORT_BASE:-10030}
# The LMTP sockets: a directory of group postfix with the set-group-ID bit,
# so each socket (mode 0660) gets group postfix and Postfix's lmtp client
# can connect, while the spool directories stay 0700.
mkdir -p "$WORK/lmtp"
chown mixmailer:postfix "$WORK/lmtp"
chmod 2750 "$WORK/lmtp"
for n in 1 2 3; do
    write_node_config "$n"
done
make_descriptors
sign_directory "$NET_MEAN_DELAY"
# The daemons run as mixmailer: their keys, key directories and spools are
# theirs and private (the daemon refuses a spool others can read).
for n in 1 2 3; do
    chown -R mixmailer:mixmailer "$WORK/node$n"
    chmod 700 "$WORK/node$n"
done
# Postfix must traverse $WORK to reach the sockets.
chmod 711 "$WORK"

# ---------------------------------------------------------------- TLS
step "a throwaway CA and a certificate per node domain"
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/tls/ca.key" -out "$WORK/tls/ca.pem" -days 2 \
    -subj "/CN=mixmailer e2e throwaway CA" 2>/dev/null
for n in 1 2 3; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$WORK/tls/node$n.key" -out "$WORK/tls/node$n.csr" \
        -subj "/CN=node$n.test" 2>/dev/null
    printf 'subjectAltName=DNS:node%s.test\n' "$n" >"$WORK/tls/node$n.ext"
    openssl x509 -req -in "$WORK/tls/node$n.csr" -CA "$WORK/tls/ca.pem" \
        -CAkey "$WORK/tls/ca.key" -CAcreateserial -days 2 \
        -extfile "$WORK/tls/node$n.ext" -out "$WORK/tls/node$n.pem" 2>/dev/null
done
chmod 600 "$WORK"/tls/*.key

# ---------------------------------------------------------------- postfix
# Mail enters through sendmail (the test client) and SMTP on 127.0.0.1
# (the daemons), and leaves through LMTP and virtual; port 25 is not used
# (a busy port 25 cannot break the test).
step "configure Postfix for loopback only, TLS between nodes"
mkdir -p "$WORK/maildirs"
chown mixmailer:mixmailer "$WORK/maildirs"
: >"$WORK/postfix/transport"
: >"$WORK/postfix/tls_policy"
for n in 1 2 3; do
    port=$((NODE_PORT_BASE + n))
    # Node N's domain goes over SMTP to node N's TLS listener ...
    echo "node$n.test smtp:[127.0.0.1]:$port" >>"$WORK/postfix/transport"
    # ... which must present a certificate for node N's domain, signed by
    # the CA, over an encrypted session (docs/operating.md, "TLS").
    echo "[127.0.0.1]:$port secure match=node$n.test" >>"$WORK/postfix/tls_policy"
    echo "node$n.test OK" >"$WORK/postfix/only_node$n"
done
cat >"$WORK/postfix/vmailbox" <<'EOF'
alice@example.test alice/
bob@example.test bob/
carol@example.test carol/
EOF
postconf -e \
    "maillog_file = $MAILLOG" \
    "myhostname = mixmailer-e2e.test" \
    "inet_interfaces = loopback-only" \
    "inet_protocols = ipv4" \
    "mydestination =" \
    "relayhost =" \
    "relay_domains =" \
    "mynetworks = 127.0.0.0/8" \
    "default_transport = error:mixmailer e2e test: no mail leaves this machine" \
    "transport_maps = texthash:$WORK/postfix/transport" \
    "smtp_tls_security_level = may" \
    "smtp_tls_policy_maps = texthash:$WORK/postfix/tls_policy" \
    "smtp_tls_CAfile = $WORK/tls/ca.pem" \
    "smtp_tls_loglevel = 1" \
    "smtpd_tls_loglevel = 1" \
    "smtp_tls_connection_reuse = yes" \
    "smtp_connection_cache_destinations = 127.0.0.1" \
    "smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache" \
    "smtpd_tls_session_cache_database = btree:\${data_directory}/smtpd_scache" \
    "lmtp_connection_cache_on_demand = yes" \
    "lmtp_connection_cache_destinations = $WORK/lmtp/node1.sock $WORK/lmtp/node2.sock $WORK/lmtp/node3.sock" \
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
# No listener on port 25; the smtp client runs outside a chroot, where the
# CA and the maps below $WORK are.
postconf -M# smtp/inet
postconf -F smtp/unix/chroot=n
# Node legs reuse their TLS connections: tlsproxy(8) holds the TLS side of
# a connection that scache(8) keeps between deliveries, so a carrier costs
# no new TCP connection, TLS handshake or smtpd session. Outside a chroot,
# like the smtp client, for the CA below $WORK.
postconf -M "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"
# The daemons' submissions: plain SMTP on loopback, relaying for mynetworks,
# without Postfix's inflow throttle (in_flow_delay pauses a submitter up to
# 1 s per message while the queue is busy: it would stall the daemon's
# releaser, whose own spool already holds the backlog).
postconf -M "127.0.0.1:$SUBMIT_PORT/inet=127.0.0.1:$SUBMIT_PORT inet n - n - - smtpd -o syslog_name=postfix/submit-local -o smtpd_tls_security_level=none -o in_flow_delay=0 -o receive_override_options=no_address_mappings,no_header_body_checks,no_unknown_recipient_checks,no_milters -o smtpd_recipient_restrictions=permit_mynetworks,reject"
# Postfix's LMTP client, outside a chroot (the sockets are below $WORK).
postconf -M "mixlmtp/unix=mixlmtp unix - - n - - lmtp"
for n in 1 2 3; do
    port=$((NODE_PORT_BASE + n))
    # Node N's incoming leg: TLS required, only node N's domain, and
    # everything it accepts is handed to node N's LMTP socket.
    postconf -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd -o syslog_name=postfix/node$n-in -o myhostname=node$n.test -o smtpd_tls_security_level=encrypt -o smtpd_tls_chain_files=$WORK/tls/node$n.key,$WORK/tls/node$n.pem -o smtpd_recipient_restrictions=check_recipient_access,texthash:$WORK/postfix/only_node$n,reject -o receive_override_options=no_address_mappings,no_header_body_checks,no_unknown_recipient_checks,no_milters -o content_filter=mixlmtp:unix:$WORK/lmtp/node$n.sock"
done
postfix check || fail "postfix check failed (see $MAILLOG)"
if postfix status >/dev/null 2>&1; then
    postfix stop >/dev/null 2>&1 || true
fi
postfix start
wait_for 20 "Postfix to run" postfix status
wait_for 20 "Postfix to listen on 127.0.0.1:$SUBMIT_PORT" \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$SUBMIT_PORT"


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
# as_daemon_user COMMAND...: runs COMMAND as the daemons' user (the store
# refuses anyone else, so `status` of a stopped daemon needs it).
as_daemon_user() { setpriv --reuid=mixmailer --regid=mixmailer --init-groups "$@"; }
status_field() { # node field-label
    as_daemon_user "$BIN" status --config "$WORK/node$1/node.toml" | awk -F': *' -v k="$2" '$1 == k {print $2}'
}

# NET_NODES=0: the caller puts something else on the LMTP sockets
# (throughput.sh's MTA floor).
if [ "${NET_NODES:-1}" = 1 ]; then
    step "start 3 daemons"
    for n in 1 2 3; do
        start_node "$n"
        grep -q "started node node$n (layer $n of 3)" "$WORK/node$n/log" ||
            fail "node$n did not log its start"
    done
    [ "$(stat -c %a "$WORK/node1/spool")" = 700 ] || fail "spool directory is not mode 700"
fi
