#!/usr/bin/env bash
# Throughput of mixmailer-node behind Postfix on loopback (issue 15):
#
#   sudo node/ci/throughput.sh            (MESSAGES=300 SENDERS=4 by default)
#
# The same three-node network as node/ci/e2e.sh (net.sh: TLS between
# nodes, LMTP in, SMTP out), release build, mean delay 0, 2 KiB payloads.
# MESSAGES messages are wrapped beforehand (not measured), then their
# carriers are injected over SMTP into Postfix by SENDERS parallel senders
# (one SMTP connection each). Measured from the first injection until every
# message is in its Maildir and every carrier reached the exit:
#   - carriers/s per node (each carrier crosses all three nodes),
#   - messages/s end to end,
#   - CPU per carrier per node, split into Postfix (all its processes: the
#     master's own and reaped children's time, plus live children) and the
#     daemons (utime+stime from /proc/<pid>/stat, all threads), and the
#     senders' own.
# FLOOR=1 measures the MTA's floor instead: the daemons are replaced by
# node/ci/lmtp_relay.py, which takes each carrier over LMTP and hands it
# unchanged over SMTP to the next node (the exit's relay just counts it),
# so every carrier crosses the same Postfix legs with no mixing work; what
# Postfix spends per carrier then is what no node software can go below.
# Results are printed and written to $WORK/throughput.txt. Like e2e.sh it
# rewrites the system Postfix configuration for the run and restores it;
# run it on a throwaway machine. Needs python3 for the senders (installed
# if missing).
set -euo pipefail

MESSAGES=${MESSAGES:-300}
SENDERS=${SENDERS:-4}
FLOOR=${FLOOR:-0}
NET_NODES=1
[ "$FLOOR" = 1 ] && NET_NODES=0
NET_NAME=throughput
NET_PROFILE=release
NET_MEAN_DELAY=0
LIMIT_SECS=${THROUGHPUT_LIMIT_SECS:-900}
if ! command -v python3 >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
# shellcheck source=node/ci/net.sh
source "$(dirname "$0")/net.sh"

# ---------------------------------------------------------------- wrap
step "wrap $MESSAGES messages (not measured)"
mkdir -p "$WORK/wrapped"
# `send` submits each carrier with this program; it only swallows them,
# since the carriers are kept (--save-dir) and injected later.
printf '#!/bin/sh\ncat >/dev/null\n' >"$WORK/bin/swallow"
chmod 755 "$WORK/bin/swallow"
for i in $(seq "$MESSAGES"); do
    mkdir -p "$WORK/wrapped/$i"
    {
        printf 'From: alice@example.test\r\nTo: bob@example.test\r\n'
        printf 'Subject: tp-%s\r\nMIME-Version: 1.0\r\n\r\n' "$i"
        # About 1.5 KiB of text: one message fills about one 2 KiB payload.
        head -c 1100 /dev/urandom | base64 -w 76 | sed 's/$/\r/'
    } >"$WORK/wrapped/$i/message.eml"
    "$BIN" send --directory "$WORK/etc/directory.txt" --trusted "$AUTH_PUB" \
        --from alice@example.test --sendmail "$WORK/bin/swallow" \
        --save-dir "$WORK/wrapped/$i" "$WORK/wrapped/$i/message.eml" 2>/dev/null
done
find "$WORK/wrapped" -name 'carrier-*.eml' | sort >"$WORK/carriers.list"
CARRIERS=$(wc -l <"$WORK/carriers.list")
echo "$MESSAGES messages, $CARRIERS carriers"

if [ "$FLOOR" = 1 ]; then
    step "MTA floor: stand-in relays on the nodes' LMTP sockets"
    mkdir -p "$WORK/relay"
    chown mixmailer:mixmailer "$WORK/relay"
    # The relays run as the daemons' user, who may not reach a python3
    # of root's (pyenv below /root): the system's, when there is one.
    RELAY_PYTHON=python3
    [ -x /usr/bin/python3 ] && RELAY_PYTHON=/usr/bin/python3
    for n in 1 2 3; do
        next=-
        [ "$n" -lt 3 ] && next="mix@node$((n + 1)).test"
        setpriv --reuid=mixmailer --regid=mixmailer --init-groups \
            "$RELAY_PYTHON" "$ROOT/node/ci/lmtp_relay.py" "$WORK/lmtp/node$n.sock" "$next" \
            "$SUBMIT_PORT" "$WORK/relay/node$n.count" 2>>"$WORK/relay/node$n.log" &
        PID[$n]=$!
        wait_for 20 "relay $n to listen" test -S "$WORK/lmtp/node$n.sock"
    done
fi

# ---------------------------------------------------------------- measure
TICK=$(getconf CLK_TCK)
# postfix_ticks: CPU of every Postfix process so far. Children that exited
# were reaped by master and are in its cutime/cstime (fields 16, 17).
postfix_ticks() {
    local master total=0 pid
    master=$(head -n 1 "$(postconf -h queue_directory)/pid/master.pid" | tr -d ' ')
    total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$master/stat")
    for pid in $(pgrep -P "$master"); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
daemon_ticks() {
    local total=0 n
    for n in 1 2 3; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/${PID[$n]}/stat")))
    done
    echo "$total"
}
# Busy and total jiffies of the whole machine (every process, ours or not).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
delivered() { find "$WORK/maildirs/bob/new" -type f 2>/dev/null | wc -l; }
exit_carriers() {
    if [ "$FLOOR" = 1 ]; then
        cat "$WORK/relay/node3.count" 2>/dev/null | wc -l
        return
    fi
    grep -c -e 'received a fragment' -e 'already delivered' -e 'duplicate fragment' \
        "$WORK/node3/log" || true
}
all_done() {
    if [ "$FLOOR" = 1 ]; then
        [ "$(exit_carriers)" -ge "$CARRIERS" ]
        return
    fi
    [ "$(delivered)" -ge "$MESSAGES" ] && [ "$(exit_carriers)" -ge "$CARRIERS" ]
}
# Store transactions (fsyncs) of the three daemons so far.
store_commits() {
    local total=0 n c
    if [ "$FLOOR" = 1 ]; then
        echo 0
        return
    fi
    for n in 1 2 3; do
        c=$(status_field "$n" "store commits" | awk '{print $1}')
        total=$((total + ${c:-0}))
    done
    echo "$total"
}

cat >"$WORK/bin/inject.py" <<'EOF'
# inject.py HOST PORT FILE...: one SMTP session, every file a message to
# its carrier's To: address (the first hop), from alice@example.test.
import smtplib, sys, email.parser
host, port, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with smtplib.SMTP(host, port) as s:
    s.ehlo("sender.test")
    for f in files:
        data = open(f, "rb").read()
        head = email.parser.BytesHeaderParser().parsebytes(data)
        s.sendmail("alice@example.test", [head["To"].strip().strip("<>")], data)
EOF
split -n "r/$SENDERS" "$WORK/carriers.list" "$WORK/senders."

step "inject $CARRIERS carriers with $SENDERS parallel senders"
C0=$(store_commits)
read -r M0 MT0 < <(machine_ticks)
P0=$(postfix_ticks)
D0=$(daemon_ticks)
T0=$(date +%s.%N)
S0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
SENDER_PIDS=()
for part in "$WORK"/senders.*; do
    # shellcheck disable=SC2046
    python3 "$WORK/bin/inject.py" 127.0.0.1 "$SUBMIT_PORT" $(cat "$part") &
    SENDER_PIDS+=($!)
done
# Only the senders: the daemons are this shell's background jobs too.
for pid in "${SENDER_PIDS[@]}"; do
    wait "$pid" || fail "a sender failed"
done
T_INJECTED=$(date +%s.%N)
S1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
wait_for "$LIMIT_SECS" "all $MESSAGES messages delivered and $CARRIERS carriers at the exit" all_done
T1=$(date +%s.%N)
P1=$(postfix_ticks)
D1=$(daemon_ticks)
read -r M1 MT1 < <(machine_ticks)
C1=$(store_commits)

# Where Postfix's time went, by program, for its processes still alive
# (most are: they live for max_idle = 100 s; Postfix started just before
# the run, so their time is nearly all the run's).
MASTER=$(head -n 1 "$(postconf -h queue_directory)/pid/master.pid" | tr -d ' ')
for pid in $(pgrep -P "$MASTER"); do
    name=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | awk '{print $1}')
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    echo "$name $ticks"
done | awk -v tick="$TICK" '{t[$1] += $2} END {for (n in t) printf "  %-16s %6.1f s\n", n, t[n] / tick}' |
    sort -k2 -rn >"$WORK/postfix-by-program.txt"

# ---------------------------------------------------------------- report
python3 - "$MESSAGES" "$CARRIERS" "$T0" "$T_INJECTED" "$T1" "$P0" "$P1" "$D0" "$D1" \
    "$S0" "$S1" "$TICK" "$SENDERS" "$(nproc)" "$M0" "$MT0" "$M1" "$MT1" "$C0" "$C1" \
    "$FLOOR" <<'EOF' | tee "$WORK/throughput.txt"
import sys
(m, c, t0, ti, t1, p0, p1, d0, d1, s0, s1, tick, senders, cpus,
 m0, mt0, m1, mt1, c0, c1, floor) = sys.argv[1:]
m, c, senders, cpus = int(m), int(c), int(senders), int(cpus)
machine_busy = (int(m1) - int(m0)) / max(1, int(mt1) - int(mt0))
commits = int(c1) - int(c0)
node = "relay (stand-in)" if floor == "1" else "daemon"
t0, ti, t1, tick = float(t0), float(ti), float(t1), float(tick)
secs = t1 - t0
postfix = (int(p1) - int(p0)) / tick
daemons = (int(d1) - int(d0)) / tick
senders_cpu = (int(s1) - int(s0)) / tick
hops = 3 * c  # every carrier is handled by each of the three nodes
print(f"messages:                 {m} ({c} carriers, {senders} senders, {cpus} CPUs)")
print(f"elapsed:                  {secs:.1f} s (injection took {ti - t0:.1f} s)")
print(f"messages/s end to end:    {m / secs:.1f}")
print(f"carriers/s per node:      {c / secs:.1f}")
if floor == "1":
    print("mode:                     MTA floor (stand-in relays instead of the daemons; no exit deliveries)")
print(f"CPU busy, ours:           {100 * (postfix + daemons + senders_cpu) / secs / cpus:.0f}%")
print(f"CPU busy, whole machine:  {100 * machine_busy:.0f}% (the rest is other work on the machine)")
print(f"Postfix CPU per carrier:  {1000 * postfix / hops:.2f} ms per node ({postfix:.1f} s in all)")
print(f"{node} CPU per carrier: {1000 * daemons / hops:.2f} ms per node ({daemons:.1f} s in all)")
print(f"senders' CPU per carrier: {1000 * senders_cpu / c:.2f} ms ({senders_cpu:.1f} s in all)")
print(f"{node} / Postfix:  {100 * daemons / postfix:.0f}%")
if floor != "1":
    print(f"store commits per carrier: {commits / hops:.2f} per node ({commits} in all)")
EOF

echo "Postfix CPU by program (live processes):" | tee -a "$WORK/throughput.txt"
tee -a "$WORK/throughput.txt" <"$WORK/postfix-by-program.txt"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$WORK/throughput.txt"

check_time
OK=1
