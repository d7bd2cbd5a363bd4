# shellcheck shell=bash
# DKIM signing at the exit and DKIM/DMARC checking at a "provider", on
# loopback only, for the end-to-end tests. Source this file (as root):
#
#   . node/ci/dkim/lib.sh
#   dkim_init                       # installs packages, makes $DKIM_WORK
#                                   # (dkim_setup_all: this and the next three)
#   start_dns                       # nsd on $DKIM_DNS_ADDR:53 with the zones below
#   setup_exit_signer exit          # Postfix + OpenDKIM (signer) on $EXIT_SMTP_ADDR:$EXIT_SMTP_PORT
#   setup_provider provider         # Postfix + OpenDKIM (verifier) + OpenDMARC on $PROVIDER_SMTP_ADDR:$PROVIDER_SMTP_PORT
#   ... mail to bob@$PROVIDER_DOMAIN through the exit instance: over SMTP,
#       or with the sendmail that exit_sendmail_wrapper writes ...
#   check_authentication "$(wait_provider_mail 60 bob TOKEN)"
#   dkim_teardown                   # stops everything this file started
#
# In the mixnet end-to-end test (node/ci/e2e.sh), so that the exit node's
# real deliveries are signed and judged:
#   export EXIT_DOMAIN=node3.test EXIT_MAILBOX=mix@node3.test \
#          PROVIDER_MAILDIRS="$WORK/maildirs" PROVIDER_MAIL_USER=mixmailer \
#          DKIM_WORK="$WORK/dkim"
#   . "$ROOT/node/ci/dkim/lib.sh"
#   dkim_setup_all                                   # after `useradd mixmailer`
#   exit_sendmail_wrapper "$WORK/bin/exit-sendmail"  # node3: [outgoing] sendmail = it
#   postconf -e "alternate_config_directories = $(dkim_postfix_dir exit)"   # default instance
#   check_authentication "$BOB1"                     # per delivered message
#   dkim_teardown                                    # in its cleanup
# (Once the daemon submits over SMTP: node3 sends to
# $EXIT_SMTP_ADDR:$EXIT_SMTP_PORT instead; no wrapper, no alternate_config_directories.)
#
# Nothing here touches the machine's default Postfix instance, its
# /etc/postfix or /etc/resolv.conf: each Postfix instance has its own
# config, queue and data directories below $DKIM_WORK, and the daemons that
# can only use the system resolver (Postfix's MX lookups, OpenDMARC) run in a
# private mount namespace where /etc/resolv.conf names our nsd. OpenDKIM is
# pointed at nsd through its own configuration instead, as an operator would.
#
# Settings (environment, set before sourcing this file; defaults in brackets):
#   DKIM_WORK            work directory            [mktemp -d /tmp/mixmailer-dkim.XXXXXX]
#   EXIT_DOMAIN          the exit's mail domain, d= of its signatures  [exit.test]
#   EXIT_MAILBOX         the exit's own mailbox    [relay@$EXIT_DOMAIN]
#   EXIT_SMTP_ADDR/PORT  the exit instance's smtpd [127.0.0.21 / 2525]
#   PROVIDER_DOMAIN      the receiving provider's domain [example.test]
#   PROVIDER_SMTP_ADDR   the provider's MX address [127.0.0.22]
#   PROVIDER_SMTP_PORT   the provider's smtpd port, and the port the exit's
#                        SMTP client connects to (smtp_tcp_port) [2526]
#   PROVIDER_MAILBOXES   local parts the provider accepts [alice bob carol dave]
#   PROVIDER_MAILDIRS    Maildir base: mail for x@$PROVIDER_DOMAIN lands in
#                        $PROVIDER_MAILDIRS/x/new/ [$DKIM_WORK/<provider>/maildirs]
#   PROVIDER_MAIL_USER   owner of those Maildirs   [nobody]
#   FOREIGN_DOMAIN       an author's domain that publishes DMARC p=reject,
#                        for the negative checks    [example.org]
#   DKIM_DNS_ADDR        loopback address nsd answers on (port 53) [127.0.0.23]
#   DKIM_SELECTOR        the exit's DKIM selector  [mx<YYYYMM>]
#   DKIM_TIMEOUT         seconds any single wait may take [30]
# Every function returns non-zero with a message on stderr when it fails.

: "${EXIT_DOMAIN:=exit.test}"
: "${EXIT_MAILBOX:=relay@$EXIT_DOMAIN}"
: "${EXIT_SMTP_ADDR:=127.0.0.21}"
: "${EXIT_SMTP_PORT:=2525}"
: "${PROVIDER_DOMAIN:=example.test}"
: "${PROVIDER_SMTP_ADDR:=127.0.0.22}"
: "${PROVIDER_SMTP_PORT:=2526}"
: "${PROVIDER_MAIL_USER:=nobody}"
: "${PROVIDER_MAILBOXES:=alice bob carol dave}"
: "${FOREIGN_DOMAIN:=example.org}"
: "${DKIM_DNS_ADDR:=127.0.0.23}"
: "${DKIM_SELECTOR:=mx$(date -u +%Y%m)}"
: "${DKIM_TIMEOUT:=30}"

# The provider's authserv-id: the name it writes first in every
# Authentication-Results field it adds, and the only one its own OpenDMARC
# (and check_authentication) trusts.
PROVIDER_AUTHSERV_ID="mx.$PROVIDER_DOMAIN"

DKIM_PACKAGES="postfix opendkim opendkim-tools opendmarc nsd swaks bind9-dnsutils"

dkim_log() { printf 'dkim: %s\n' "$*" >&2; }
dkim_err() {
    printf 'dkim: ERROR: %s\n' "$*" >&2
    return 1
}

# dkim_wait SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds;
# fails after SECONDS.
dkim_wait() {
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            dkim_err "timed out after $limit s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# dkim_install: installs what is missing (idempotent, non-interactive).
dkim_install() {
    local missing="" p
    for p in $DKIM_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    dkim_log "installing$missing"
    # The same answers node/ci/e2e.sh gives, should Postfix come with us.
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mixmailer-e2e.test
EOF
    # Other jobs may hold the dpkg lock: wait for it instead of failing.
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends $missing >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            -o DPkg::Lock::Timeout=300 --no-install-recommends $missing >/dev/null; } ||
        dkim_err "apt-get install$missing failed"
}

# dkim_init: checks root, installs packages, creates $DKIM_WORK.
dkim_init() {
    [ "$(id -u)" = 0 ] || dkim_err "must run as root (it starts Postfix, nsd and milters)" || return 1
    dkim_install || return 1
    if [ -z "${DKIM_WORK:-}" ]; then
        DKIM_WORK=$(mktemp -d /tmp/mixmailer-dkim.XXXXXX) || return 1
    fi
    export DKIM_WORK
    mkdir -p "$DKIM_WORK" && chmod 755 "$DKIM_WORK" || return 1
    : >"$DKIM_WORK/pids"
    # The resolver configuration seen by everything that runs in dkim_in_ns.
    printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DKIM_DNS_ADDR" >"$DKIM_WORK/resolv.conf"
    chmod 644 "$DKIM_WORK/resolv.conf"
    dkim_log "work directory $DKIM_WORK"
}

# dkim_in_ns COMMAND...: runs COMMAND in a private mount namespace whose
# /etc/resolv.conf names our nsd. Daemons started there stay in it; nobody
# else's resolver changes.
dkim_in_ns() {
    # shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
    unshare --mount --propagation private -- /bin/sh -c \
        'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$DKIM_WORK/resolv.conf" "$@"
}

# dkim_track NAME PID: remember a daemon for dkim_teardown, with its
# executable, so that a pid the kernel has since given to another process
# is never signalled. (Not its name: nsd renames its processes.)
dkim_track() {
    local exe
    exe=$(readlink "/proc/$2/exe" 2>/dev/null) || dkim_err "$1 ($2) is not running" || return 1
    printf '%s %s %s\n' "$1" "$2" "$exe" >>"$DKIM_WORK/pids"
}

# dkim_running PID EXECUTABLE: PID is still a process running EXECUTABLE.
dkim_running() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }

# dkim_pid_from FILE: the pid written in FILE, if it is a number.
dkim_pid_from() {
    local pid
    pid=$(head -n 1 "$1" 2>/dev/null | tr -d ' \n')
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    printf '%s\n' "$pid"
}

# ------------------------------------------------------------------ DNS

# dkim_keys_dir: where the exit's keys are. OpenDKIM refuses a private key
# below a directory that others may write (such as /tmp, where $DKIM_WORK
# may be), so they live below /run and $DKIM_WORK/keys points there.
dkim_keys_dir() {
    if [ ! -L "$DKIM_WORK/keys" ]; then
        local dir
        dir=$(mktemp -d /run/mixmailer-dkim-keys.XXXXXX) || return 1
        chmod 755 "$dir"
        ln -s "$dir" "$DKIM_WORK/keys" || return 1
    fi
    readlink -f "$DKIM_WORK/keys"
}

# dkim_make_key: the exit's DKIM key pair for $DKIM_SELECTOR (made once).
dkim_make_key() {
    local dir
    dir=$(dkim_keys_dir) || return 1
    [ -s "$dir/$DKIM_SELECTOR.private" ] && return 0
    # -r: the key may sign email only (s=email); 2048 bits is what the big
    # providers expect today (1024 still verifies, less is refused).
    opendkim-genkey -b 2048 -h sha256 -r -s "$DKIM_SELECTOR" -d "$EXIT_DOMAIN" -D "$dir" ||
        dkim_err "opendkim-genkey failed" || return 1
    # OpenDKIM refuses keys that anyone but its own user can read.
    chown opendkim:opendkim "$dir/$DKIM_SELECTOR.private"
    chmod 600 "$dir/$DKIM_SELECTOR.private"
}

# dkim_zone_header ORIGIN: SOA and NS of a zone we serve.
dkim_zone_header() {
    cat <<EOF
\$ORIGIN $1.
\$TTL 60
@ IN SOA ns1.$EXIT_DOMAIN. hostmaster.$EXIT_DOMAIN. ( $(date -u +%s) 60 60 600 60 )
@ IN NS ns1.$EXIT_DOMAIN.
EOF
}

# dkim_write_zones DIR: the zones of the exit, the provider, a foreign
# author domain and the loopback reverse zone.
dkim_write_zones() {
    local dir=$1 last_exit last_provider last_dns
    last_exit=${EXIT_SMTP_ADDR##*.}
    last_provider=${PROVIDER_SMTP_ADDR##*.}
    last_dns=${DKIM_DNS_ADDR##*.}
    {
        dkim_zone_header "$EXIT_DOMAIN"
        cat <<EOF
ns1 IN A $DKIM_DNS_ADDR
mx IN A $EXIT_SMTP_ADDR
@ IN MX 10 mx.$EXIT_DOMAIN.
; SPF: only the exit's own address sends mail for this domain.
@ IN TXT "v=spf1 ip4:$EXIT_SMTP_ADDR -all"
; DMARC: From in this domain must be DKIM- or SPF-aligned, strictly.
_dmarc IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
; The public half of the exit's DKIM key (opendkim-genkey output).
EOF
        cat "$(dkim_keys_dir)/$DKIM_SELECTOR.txt"
    } >"$dir/$EXIT_DOMAIN.zone"
    {
        dkim_zone_header "$PROVIDER_DOMAIN"
        cat <<EOF
mx IN A $PROVIDER_SMTP_ADDR
@ IN MX 10 mx.$PROVIDER_DOMAIN.
@ IN TXT "v=spf1 ip4:$PROVIDER_SMTP_ADDR -all"
_dmarc IN TXT "v=DMARC1; p=none"
EOF
    } >"$dir/$PROVIDER_DOMAIN.zone"
    {
        # An author's domain as a big mailbox provider publishes it: mail
        # From it that nobody aligned with it signed must be rejected.
        dkim_zone_header "$FOREIGN_DOMAIN"
        cat <<EOF
@ IN TXT "v=spf1 -all"
_dmarc IN TXT "v=DMARC1; p=reject"
EOF
    } >"$dir/$FOREIGN_DOMAIN.zone"
    {
        # PTR records: receivers want forward-confirmed reverse DNS of the
        # sending address.
        dkim_zone_header "0.0.127.in-addr.arpa"
        cat <<EOF
$last_exit IN PTR mx.$EXIT_DOMAIN.
$last_provider IN PTR mx.$PROVIDER_DOMAIN.
$last_dns IN PTR ns1.$EXIT_DOMAIN.
EOF
    } >"$dir/0.0.127.in-addr.arpa.zone"
}

# start_dns [ZONE-DIR]: writes the zones into ZONE-DIR
# [$DKIM_WORK/dns] and serves them with nsd on $DKIM_DNS_ADDR port 53.
start_dns() {
    local dir=${1:-$DKIM_WORK/dns} zone pid
    local a
    # The reverse zone we serve is 0.0.127.in-addr.arpa.
    for a in "$DKIM_DNS_ADDR" "$EXIT_SMTP_ADDR" "$PROVIDER_SMTP_ADDR"; do
        case $a in 127.0.0.[0-9] | 127.0.0.[0-9][0-9] | 127.0.0.[0-9][0-9][0-9]) ;;
        *) dkim_err "$a: the addresses must be 127.0.0.x (loopback)" || return 1 ;;
        esac
    done
    dkim_make_key || return 1
    mkdir -p "$dir" || return 1
    dkim_write_zones "$dir" || return 1
    {
        cat <<EOF
server:
    ip-address: $DKIM_DNS_ADDR
    port: 53
    do-ip6: no
    server-count: 1
    username: nsd
    chroot: ""
    zonesdir: "$dir"
    database: ""
    zonelistfile: "$dir/zone.list"
    xfrdfile: "$dir/xfrd.state"
    xfrdir: "$dir"
    pidfile: "$dir/nsd.pid"
    logfile: "$dir/nsd.log"
    hide-version: yes
remote-control:
    control-enable: no
EOF
        for zone in "$EXIT_DOMAIN" "$PROVIDER_DOMAIN" "$FOREIGN_DOMAIN" 0.0.127.in-addr.arpa; do
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$zone" "$zone"
        done
    } >"$dir/nsd.conf"
    chown -R nsd:nsd "$dir"
    nsd-checkconf "$dir/nsd.conf" || dkim_err "nsd-checkconf rejected $dir/nsd.conf" || return 1
    for zone in "$EXIT_DOMAIN" "$PROVIDER_DOMAIN" "$FOREIGN_DOMAIN" 0.0.127.in-addr.arpa; do
        nsd-checkzone "$zone" "$dir/$zone.zone" >/dev/null ||
            dkim_err "nsd-checkzone rejected $dir/$zone.zone" || return 1
    done
    nsd -c "$dir/nsd.conf" || dkim_err "nsd did not start (see $dir/nsd.log)" || return 1
    dkim_wait "$DKIM_TIMEOUT" "nsd's pid file" test -s "$dir/nsd.pid" || return 1
    pid=$(dkim_pid_from "$dir/nsd.pid") || return 1
    dkim_track nsd "$pid"
    dkim_wait "$DKIM_TIMEOUT" "nsd to serve the DKIM key" dkim_dns_has_key || return 1
    dkim_log "nsd serves $EXIT_DOMAIN, $PROVIDER_DOMAIN, $FOREIGN_DOMAIN on $DKIM_DNS_ADDR"
}

dkim_dns_has_key() {
    dig +short +time=1 +tries=1 @"$DKIM_DNS_ADDR" TXT "$DKIM_SELECTOR._domainkey.$EXIT_DOMAIN" |
        grep -q 'v=DKIM1'
}

# ------------------------------------------------------------------ milters

# dkim_start_milter NAME PIDFILE SOCKET COMMAND...: starts a daemonizing
# milter and waits for its socket.
dkim_start_milter() {
    local name=$1 pidfile=$2 sock=$3 pid
    shift 3
    rm -f "$sock" "$pidfile"
    "$@" || dkim_err "$name did not start" || return 1
    dkim_wait "$DKIM_TIMEOUT" "$name's pid file" test -s "$pidfile" || return 1
    pid=$(dkim_pid_from "$pidfile") || return 1
    dkim_track "$name" "$pid"
    dkim_wait "$DKIM_TIMEOUT" "$name's socket $sock" test -S "$sock" || return 1
}

# dkim_opendkim_common DIR: what the signer and the verifier share.
dkim_opendkim_common() {
    cat <<EOF
Syslog                  yes
SyslogSuccess           yes
LogWhy                  yes
UserID                  opendkim:opendkim
# Postfix's smtpd/cleanup (user postfix) must reach the socket; in
# production put postfix in the opendkim group and use UMask 007.
UMask                   000
Socket                  local:$1/opendkim.sock
PidFile                 $1/opendkim.pid
Canonicalization        relaxed/relaxed
# OpenDKIM uses libunbound: ask our nsd for keys.
Nameservers             $DKIM_DNS_ADDR
ResolverConfiguration   $1/unbound.conf
EOF
}

# dkim_unbound_conf: libunbound refuses by default to query loopback servers
# and answers names under .test itself (RFC 6761); both would hide our nsd.
dkim_unbound_conf() {
    cat <<EOF
server:
    do-not-query-localhost: no
    local-zone: "test." nodefault
EOF
}

# ------------------------------------------------------------------ Postfix

# dkim_postfix_dir INSTANCE: the config directory of one of our instances.
dkim_postfix_dir() { printf '%s\n' "$DKIM_WORK/$1/postfix"; }

# dkim_postfix_config INSTANCE HOSTNAME ADDR PORT: main.cf and master.cf of
# a stand-alone instance listening on ADDR:PORT only. Callers add the rest
# with `postconf -c`.
dkim_postfix_config() {
    local inst=$1 host=$2 addr=$3 port=$4 base="$DKIM_WORK/$1" cf
    cf=$(dkim_postfix_dir "$inst")
    mkdir -p "$cf" "$base/queue" "$base/data" || return 1
    chown postfix:postfix "$base/data"
    cat >"$cf/main.cf" <<EOF
# A Postfix instance of node/ci/dkim/lib.sh; not the system's.
compatibility_level = 3.6
queue_directory = $base/queue
data_directory = $base/data
multi_instance_name = mixmailer-dkim-$inst
mail_owner = postfix
setgid_group = postdrop
maillog_file = $base/maillog
maillog_file_prefixes = $DKIM_WORK
myhostname = $host
# Postfix only accepts addresses configured on an interface here; lo has
# 127.0.0.1 (Linux answers for all of 127/8). smtpd binds $addr:$port
# itself, from master.cf.
inet_interfaces = loopback-only
inet_protocols = ipv4
smtputf8_enable = no
biff = no
mydestination =
local_transport = error:no local delivery in this instance
alias_maps =
alias_database =
relayhost =
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
EOF
    # chroot n: the daemons must see our queue, sockets and resolv.conf.
    cat >"$cf/master.cf" <<EOF
$addr:$port inet n       -       n       -       -       smtpd
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
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# dkim_postfix_start INSTANCE: checks and starts it inside dkim_in_ns.
dkim_postfix_start() {
    local inst=$1 cf pid
    cf=$(dkim_postfix_dir "$inst")
    if ! postfix -c "$cf" check; then
        # Without a terminal Postfix says why only to syslog: give it one.
        script -qec "postfix -c '$cf' check" /dev/null >&2
        dkim_err "postfix check failed for instance $inst"
        return 1
    fi
    dkim_in_ns postfix -c "$cf" start || dkim_err "Postfix instance $inst did not start" || return 1
    dkim_wait "$DKIM_TIMEOUT" "Postfix instance $inst" postfix -c "$cf" status || return 1
    pid=$(dkim_pid_from "$DKIM_WORK/$inst/queue/pid/master.pid") || return 1
    dkim_track "postfix:$inst" "$pid"
}

# dkim_smtp_ready ADDR PORT: an SMTP greeting comes from ADDR:PORT.
dkim_smtp_ready() {
    # shellcheck disable=SC2016 # $0 and $1 belong to the inner shell
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 3 <&3 | grep -q 220' "$1" "$2"
}

# ------------------------------------------------------------------ exit

# setup_exit_signer [INSTANCE]: the exit's Postfix [exit] on
# $EXIT_SMTP_ADDR:$EXIT_SMTP_PORT with OpenDKIM signing every message whose
# From is in $EXIT_DOMAIN, whether it came in over SMTP (smtpd_milters) or
# through sendmail (non_smtpd_milters). Mail for other domains is relayed
# by their MX records, looked up in our DNS, to port $PROVIDER_SMTP_PORT.
setup_exit_signer() {
    local inst=${1:-exit} dir cf
    dir="$DKIM_WORK/$inst"
    cf=$(dkim_postfix_dir "$inst")
    dkim_make_key || return 1
    mkdir -p "$dir/opendkim" || return 1
    chown opendkim:opendkim "$dir/opendkim"
    printf '%s._domainkey.%s %s:%s:%s\n' "$DKIM_SELECTOR" "$EXIT_DOMAIN" "$EXIT_DOMAIN" \
        "$DKIM_SELECTOR" "$(dkim_keys_dir)/$DKIM_SELECTOR.private" >"$dir/opendkim/key.table"
    # Sign only what claims to be from the exit's domain: mail From
    # anywhere else would get a signature it cannot align with anyway.
    printf '*@%s %s._domainkey.%s\n' "$EXIT_DOMAIN" "$DKIM_SELECTOR" "$EXIT_DOMAIN" \
        >"$dir/opendkim/signing.table"
    dkim_unbound_conf >"$dir/opendkim/unbound.conf"
    {
        dkim_opendkim_common "$dir/opendkim"
        cat <<EOF
Mode                    s
KeyTable                file:$dir/opendkim/key.table
SigningTable            refile:$dir/opendkim/signing.table
# Mail from the loopback (the mix daemon, sendmail) is ours to sign.
InternalHosts           csl:127.0.0.0/8
# What the signature covers: everything that tells a reader who wrote
# what, and how to read the body. From is signed once more than it
# occurs, so that nobody can add a second From after signing.
SignHeaders             From,Reply-To,Sender,To,Cc,Subject,Date,Message-ID,In-Reply-To,References,MIME-Version,Content-Type,Content-Transfer-Encoding
OversignHeaders         From
EOF
    } >"$dir/opendkim/opendkim.conf"
    start_exit_signer "$inst" || return 1

    dkim_postfix_config "$inst" "mx.$EXIT_DOMAIN" "$EXIT_SMTP_ADDR" "$EXIT_SMTP_PORT" || return 1
    postconf -c "$cf" -e \
        "mydomain = $EXIT_DOMAIN" \
        "myorigin = $EXIT_DOMAIN" \
        "mynetworks = 127.0.0.0/8" \
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
        "smtp_bind_address = $EXIT_SMTP_ADDR" \
        "smtp_tcp_port = $PROVIDER_SMTP_PORT" \
        "smtpd_milters = unix:$dir/opendkim/opendkim.sock" \
        "non_smtpd_milters = unix:$dir/opendkim/opendkim.sock" \
        "milter_protocol = 6" \
        "milter_default_action = tempfail" || return 1
    # milter_default_action = tempfail: without the signer, mail waits in
    # the queue (or the client retries) rather than leaving unsigned.
    dkim_postfix_start "$inst" || return 1
    dkim_wait "$DKIM_TIMEOUT" "the exit's smtpd" dkim_smtp_ready "$EXIT_SMTP_ADDR" "$EXIT_SMTP_PORT" || return 1
    dkim_log "exit instance $inst: smtpd on $EXIT_SMTP_ADDR:$EXIT_SMTP_PORT signs From *@$EXIT_DOMAIN (s=$DKIM_SELECTOR)"
}

# start_exit_signer [INSTANCE]: (re)starts the exit's OpenDKIM, configured
# by setup_exit_signer, and makes its Postfix pick up what the maildrop
# held while the signer was away.
start_exit_signer() {
    local inst=${1:-exit} dir
    dir="$DKIM_WORK/$inst/opendkim"
    dkim_start_milter "opendkim:$inst" "$dir/opendkim.pid" "$dir/opendkim.sock" \
        opendkim -x "$dir/opendkim.conf" || return 1
    if postfix -c "$(dkim_postfix_dir "$inst")" status 2>/dev/null; then
        postkick -c "$(dkim_postfix_dir "$inst")" public pickup W ||
            dkim_err "could not wake the pickup service of $inst"
    fi
}

# stop_exit_signer [INSTANCE]: stops the exit's OpenDKIM (to show that
# nothing leaves unsigned without it).
stop_exit_signer() {
    local inst=${1:-exit} pid
    pid=$(dkim_pid_from "$DKIM_WORK/$inst/opendkim/opendkim.pid") || return 1
    dkim_running "$pid" "$(readlink -f "$(command -v opendkim)")" || dkim_err "OpenDKIM of $inst is not running" || return 1
    kill -TERM "$pid" || return 1
    dkim_wait "$DKIM_TIMEOUT" "OpenDKIM ($pid) to stop" dkim_gone "$pid"
}

dkim_gone() { ! dkim_running "$1" "$(readlink -f "$(command -v opendkim)")"; }

# exit_submit_smtp FILE SENDER RECIPIENT...: sends the message in FILE to
# the exit's smtpd, as the mix daemon does.
exit_submit_smtp() {
    local file=$1 from=$2 to
    shift 2
    to=$(
        IFS=,
        printf '%s' "$*"
    )
    timeout 60 swaks --silent 2 --server "$EXIT_SMTP_ADDR" --port "$EXIT_SMTP_PORT" \
        --helo localhost --from "$from" --to "$to" --data "@$file" ||
        dkim_err "the exit's smtpd did not accept $file"
}

# exit_sendmail_wrapper PATH [INSTANCE]: writes an executable PATH that is
# the exit instance's sendmail: `sendmail -C <its config directory>`. A
# program that submits through sendmail (the mix daemon's [outgoing]
# sendmail) can use it as is. Postfix's setgid postdrop accepts a
# non-default configuration directory from a user other than root only if
# the DEFAULT instance's main.cf lists it:
#   postconf -e "alternate_config_directories = $(dkim_postfix_dir exit)"
# (exit_sendmail below does that in a private namespace instead.)
exit_sendmail_wrapper() {
    local path=$1 inst=${2:-exit}
    printf '#!/bin/sh\n# The sendmail of Postfix instance %s (node/ci/dkim/lib.sh).\nexec /usr/sbin/sendmail -C %q "$@"\n' \
        "$inst" "$(dkim_postfix_dir "$inst")" >"$path" || return 1
    chmod 755 "$path"
}

# exit_sendmail [INSTANCE] -- SENDMAIL-ARGS... < MESSAGE: submits through the
# exit instance's sendmail (pickup, non_smtpd_milters) as user
# $EXIT_SENDMAIL_USER [nobody], as the mix daemon would. The default main.cf
# that postdrop consults (see exit_sendmail_wrapper) is replaced, in a
# private mount namespace only, by one that lists our instance.
exit_sendmail() {
    local inst=exit cf
    if [ "${1:-}" != -- ]; then
        inst=$1
        shift
    fi
    [ "${1:-}" = -- ] && shift
    cf=$(dkim_postfix_dir "$inst")
    [ -x "$DKIM_WORK/$inst/sendmail" ] || exit_sendmail_wrapper "$DKIM_WORK/$inst/sendmail" "$inst" || return 1
    printf 'alternate_config_directories = %s\n' "$cf" >"$DKIM_WORK/$inst/default-main.cf"
    chmod 644 "$DKIM_WORK/$inst/default-main.cf"
    # shellcheck disable=SC2016 # $0, $1 and $@ belong to the inner shell
    timeout 60 unshare --mount --propagation private -- /bin/sh -c \
        'mount --bind "$0" /etc/postfix/main.cf && user=$1 && shift &&
         exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"' \
        "$DKIM_WORK/$inst/default-main.cf" "${EXIT_SENDMAIL_USER:-nobody}" \
        "$DKIM_WORK/$inst/sendmail" "$@" ||
        dkim_err "the exit's sendmail failed"
}

# ------------------------------------------------------------------ provider

# setup_provider [INSTANCE]: the receiving provider [provider]: Postfix on
# $PROVIDER_SMTP_ADDR:$PROVIDER_SMTP_PORT for $PROVIDER_DOMAIN, OpenDKIM
# verifying and OpenDMARC judging every message, both writing
# Authentication-Results as $PROVIDER_AUTHSERV_ID; mail is delivered into
# Maildirs below $PROVIDER_MAILDIRS.
setup_provider() {
    local inst=${1:-provider} dir cf uid gid
    dir="$DKIM_WORK/$inst"
    cf=$(dkim_postfix_dir "$inst")
    : "${PROVIDER_MAILDIRS:=$dir/maildirs}"
    export PROVIDER_MAILDIRS
    uid=$(id -u "$PROVIDER_MAIL_USER" 2>/dev/null) && gid=$(id -g "$PROVIDER_MAIL_USER") ||
        dkim_err "PROVIDER_MAIL_USER=$PROVIDER_MAIL_USER: no such user (it must own the Maildirs)" || return 1

    mkdir -p "$dir/opendkim" "$dir/opendmarc" || return 1
    chown opendkim:opendkim "$dir/opendkim"
    chown opendmarc:opendmarc "$dir/opendmarc"
    dkim_unbound_conf >"$dir/opendkim/unbound.conf"
    {
        dkim_opendkim_common "$dir/opendkim"
        cat <<EOF
Mode                    v
AuthservID              $PROVIDER_AUTHSERV_ID
# Also say dkim=none, so that every message shows the provider's verdict.
AlwaysAddARHeader       yes
EOF
    } >"$dir/opendkim/opendkim.conf"
    dkim_start_milter "opendkim:$inst" "$dir/opendkim/opendkim.pid" "$dir/opendkim/opendkim.sock" \
        opendkim -x "$dir/opendkim/opendkim.conf" || return 1

    cat >"$dir/opendmarc/opendmarc.conf" <<EOF
Syslog                  true
UserID                  opendmarc:opendmarc
UMask                   000
Socket                  local:$dir/opendmarc/opendmarc.sock
PidFile                 $dir/opendmarc/opendmarc.pid
AuthservID              $PROVIDER_AUTHSERV_ID
# Only our own OpenDKIM's results count, never a sender's header.
TrustedAuthservIDs      $PROVIDER_AUTHSERV_ID
# No SPF: libspf2 (OpenDMARC's SPF library) passes every loopback client
# whatever the record says, so on loopback SPF proves nothing. The DMARC
# verdict then rests on DKIM alone, which is what has to hold anyway: SPF
# breaks as soon as a recipient's provider forwards the mail.
SPFIgnoreResults        true
SPFSelfValidate         false
# Record the verdict instead of rejecting: the tests read it.
RejectFailures          false
EOF
    # OpenDMARC asks the system resolver: run it where that is our nsd.
    dkim_start_milter "opendmarc:$inst" "$dir/opendmarc/opendmarc.pid" "$dir/opendmarc/opendmarc.sock" \
        dkim_in_ns opendmarc -c "$dir/opendmarc/opendmarc.conf" || return 1

    mkdir -p "$PROVIDER_MAILDIRS" || return 1
    chown "$uid:$gid" "$PROVIDER_MAILDIRS"
    # One Maildir per mailbox. (virtual(8) refuses $1 from regexp tables,
    # so a catch-all cannot name the directory.)
    local box
    for box in $PROVIDER_MAILBOXES; do
        case $box in *[!A-Za-z0-9_+-]*) dkim_err "bad mailbox name in PROVIDER_MAILBOXES: $box" || return 1 ;; esac
        printf '%s@%s %s/\n' "$box" "$PROVIDER_DOMAIN" "$box"
    done >"$dir/vmailbox"
    # A provider drops Authentication-Results that arrive with the mail
    # (RFC 8601, section 5); the milters' own are added after this.
    printf '/^Authentication-Results:/ IGNORE\n' >"$dir/header_checks.regexp"

    dkim_postfix_config "$inst" "$PROVIDER_AUTHSERV_ID" "$PROVIDER_SMTP_ADDR" "$PROVIDER_SMTP_PORT" || return 1
    postconf -c "$cf" -e \
        "mydomain = $PROVIDER_DOMAIN" \
        "mynetworks = $PROVIDER_SMTP_ADDR/32" \
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
        "default_transport = error:the provider sends no mail in this test" \
        "virtual_mailbox_domains = $PROVIDER_DOMAIN" \
        "virtual_mailbox_base = $PROVIDER_MAILDIRS" \
        "virtual_mailbox_maps = texthash:$dir/vmailbox" \
        "virtual_minimum_uid = $uid" \
        "virtual_uid_maps = static:$uid" \
        "virtual_gid_maps = static:$gid" \
        "header_checks = regexp:$dir/header_checks.regexp" \
        "smtpd_milters = unix:$dir/opendkim/opendkim.sock, unix:$dir/opendmarc/opendmarc.sock" \
        "non_smtpd_milters =" \
        "milter_protocol = 6" \
        "milter_default_action = tempfail" || return 1
    dkim_postfix_start "$inst" || return 1
    dkim_wait "$DKIM_TIMEOUT" "the provider's smtpd" dkim_smtp_ready "$PROVIDER_SMTP_ADDR" "$PROVIDER_SMTP_PORT" || return 1
    dkim_log "provider instance $inst: MX for $PROVIDER_DOMAIN on $PROVIDER_SMTP_ADDR:$PROVIDER_SMTP_PORT, Maildirs in $PROVIDER_MAILDIRS"
}

# provider_find_mail LOCALPART TEXT: path of the first delivered message
# for LOCALPART@$PROVIDER_DOMAIN that contains TEXT.
provider_find_mail() {
    grep -l -s -F -e "$2" "$PROVIDER_MAILDIRS/$1/new/"* 2>/dev/null | head -n 1
}

# wait_provider_mail SECONDS LOCALPART TEXT: waits for such a message and
# prints its path.
wait_provider_mail() {
    local deadline=$((SECONDS + $1)) f
    while :; do
        f=$(provider_find_mail "$2" "$3")
        if [ -n "$f" ]; then
            printf '%s\n' "$f"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || dkim_err "no mail with '$3' for $2@$PROVIDER_DOMAIN after $1 s" || return 1
        sleep 0.2
    done
}

# ------------------------------------------------------------------ checks

# dkim_header_fields FILE: the header of FILE, one unfolded field a line.
dkim_header_fields() {
    sed -e 's/\r$//' -e '/^$/q' "$1" | awk '
        /^[ \t]/ { sub(/^[ \t]+/, " "); line = line $0; next }
        { if (line != "") print line; line = $0 }
        END { if (line != "") print line }'
}

# provider_auth_results FILE: the results the provider recorded, one
# "method=result property=value..." a line, without comments: only from
# Authentication-Results fields whose authserv-id is $PROVIDER_AUTHSERV_ID.
provider_auth_results() {
    dkim_header_fields "$1" | awk -v id="$PROVIDER_AUTHSERV_ID" '
        tolower($0) ~ /^authentication-results:/ {
            v = substr($0, index($0, ":") + 1)
            # RFC 8601 comments are parenthesised; they may hold ";".
            while (gsub(/\([^()]*\)/, "", v)) {}
            n = split(v, part, ";")
            serv = part[1]; gsub(/^[ \t]+|[ \t]+$/, "", serv)
            split(serv, w, /[ \t]+/)
            if (tolower(w[1]) != tolower(id)) next
            for (i = 2; i <= n; i++) {
                r = part[i]; gsub(/^[ \t]+|[ \t]+$/, "", r); gsub(/[ \t]+/, " ", r)
                if (r != "" && r != "none") print r
            }
        }'
}

# dkim_has_result FILE PATTERN: a result of the provider matches the
# extended regular expression PATTERN (anchored).
dkim_has_result() {
    provider_auth_results "$1" | grep -Eiq -e "^($2)\$"
}

# check_authentication FILE [DOMAIN]: the provider recorded for the message
# in FILE a passing DKIM signature of DOMAIN [$EXIT_DOMAIN] and a DMARC pass
# for From in DOMAIN, i.e. what a big provider needs to deliver it.
check_authentication() {
    local file=$1 domain=${2:-$EXIT_DOMAIN} d
    [ -f "$file" ] || dkim_err "check_authentication: no such file: $file" || return 1
    d=$(printf '%s' "$domain" | sed 's/\./\\./g')
    if ! dkim_has_result "$file" "dkim=pass( .*)? header\.d=$d( .*)?"; then
        dkim_err "$file: no dkim=pass header.d=$domain from $PROVIDER_AUTHSERV_ID; it recorded:"
        provider_auth_results "$file" | sed 's/^/    /' >&2
        return 1
    fi
    if ! dkim_has_result "$file" "dmarc=pass( .*)? header\.from=$d( .*)?"; then
        dkim_err "$file: no dmarc=pass header.from=$domain from $PROVIDER_AUTHSERV_ID; it recorded:"
        provider_auth_results "$file" | sed 's/^/    /' >&2
        return 1
    fi
}

# ------------------------------------------------------------------ all

# dkim_setup_all: dkim_init, start_dns, setup_exit_signer exit,
# setup_provider provider: the whole delivery path, for the end-to-end test.
dkim_setup_all() {
    dkim_init || return 1
    start_dns "$DKIM_WORK/dns" || return 1
    setup_exit_signer exit || return 1
    setup_provider provider
}

# ------------------------------------------------------------------ teardown

# dkim_teardown: stops what this file started (by the pids it recorded)
# and removes $DKIM_WORK unless DKIM_KEEP is set.
dkim_teardown() {
    local name pid exe _
    [ -n "${DKIM_WORK:-}" ] && [ -d "$DKIM_WORK" ] || return 0
    # Postfix first (it talks to the milters), then the milters, then DNS.
    tac "$DKIM_WORK/pids" 2>/dev/null | while read -r name pid exe; do
        dkim_running "$pid" "$exe" || continue
        case $name in
        postfix:*) postfix -c "$(dkim_postfix_dir "${name#postfix:}")" stop >/dev/null 2>&1 ;;
        *) kill -TERM "$pid" 2>/dev/null ;;
        esac
        for _ in $(seq 50); do
            dkim_running "$pid" "$exe" || break
            sleep 0.2
        done
        if dkim_running "$pid" "$exe"; then
            dkim_log "$name ($pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    : >"$DKIM_WORK/pids"
    if [ -n "${DKIM_KEEP:-}" ]; then
        dkim_log "kept $DKIM_WORK"
    else
        [ -L "$DKIM_WORK/keys" ] && rm -rf "$(readlink -f "$DKIM_WORK/keys")"
        rm -rf "$DKIM_WORK"
    fi
}
