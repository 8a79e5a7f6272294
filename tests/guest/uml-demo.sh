#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/uml-demo.sh - a User-Mode Linux guest on a simulated disk
#
# Usage: tests/guest/uml-demo.sh [BUILDDIR]     (default: $builddir or .)
#
# Starts `vusim blk` with a timing model (--latency, --bandwidth) and
# in-band notifications, boots linux.uml against it (images from
# mkimage.sh, cached in BUILDDIR/guest), runs the workload (writes and
# reads at 4K, 64K and 1M, O_DIRECT and buffered, flushes, end-of-disk
# checks) and prints a short report: negotiated features, requests, the
# simulated-time latency percentiles, and what was verified. Exits 0 when
# everything checked out, 77 when UML, busybox-static or jq is missing, 1
# otherwise. About 5 s on a warm machine.
set -uo pipefail

if [ $# -ge 1 ]; then
    builddir=$(cd "$1" && pwd) || exit 1
fi
. "$(dirname "$0")/lib.sh"
guest_init uml-demo
guest_require busybox uml jq
guest_require_vusim
guest_images uml

LATENCY=${VUSIM_DEMO_LATENCY:-100us}
BANDWIDTH=${VUSIM_DEMO_BANDWIDTH:-400M}
size=$((64 << 20))
disk=$GUEST_RUN/disk.img
sock=$GUEST_RUN/blk.sock
stats=$GUEST_RUN/stats.json
truncate -s "$size" "$disk"

# names BITS NAME...: the names of the bits set in BITS (hex), NAME number
# N naming bit N; a bit without a name (or named "-") shows as bitN.
names()
{
    local bits=$(($1)) i name names out=()

    shift
    names=("$@")
    for ((i = 0; i < 64; i++)); do
        (((bits >> i) & 1)) || continue
        name=${names[i]:--}
        [ "$name" != - ] || name=bit$i
        out+=("$name")
    done
    echo "${out[*]}"
}

# Virtio-blk and transport feature bits 0..38, vhost-user protocol 0..16.
BLK_NAMES=(- SIZE_MAX SEG_MAX - GEOMETRY RO BLK_SIZE - - FLUSH TOPOLOGY
    CONFIG_WCE MQ DISCARD WRITE_ZEROES - - - - - - - - - - - - -
    INDIRECT_DESC EVENT_IDX PROTOCOL_FEATURES - VERSION_1 ACCESS_PLATFORM
    RING_PACKED IN_ORDER ORDER_PLATFORM SR_IOV NOTIFICATION_DATA)
PROTO_NAMES=(MQ LOG_SHMFD RARP REPLY_ACK MTU BACKEND_REQ CROSS_ENDIAN
    CRYPTO_SESSION PAGEFAULT CONFIG BACKEND_SEND_FD HOST_NOTIFIER
    INFLIGHT_SHMFD RESET_DEVICE INBAND_NOTIFICATIONS CONFIGURE_MEM_SLOTS
    STATUS)

# feature_names KEY BITS-KEY NAME...: vusim's own names from the stats
# (KEY), else the bits at BITS-KEY decoded with the NAME table.
feature_names()
{
    local key=$1 bits=$2

    shift 2
    if [ "$(jq -r "has(\"$key\")" "$stats")" = true ]; then
        jq -r ".$key | join(\" \")" "$stats"
    else
        names "$(q "$bits")" "$@"
    fi
}

t0=$SECONDS
guest_vusim vusim blk "--socket-path=$sock" "--backing=$disk" \
    "--latency=$LATENCY" "--bandwidth=$BANDWIDTH" --stats="$stats"
guest_uml_cmd "$GUEST_UML_ROOT" "virtio_uml.device=$sock:2" \
    vusim_mode=blk "vusim_size=$size"
rc=0
guest_run "$GUEST_RUN/console.log" 60 "${GUEST_CMD[@]}" || rc=$?
if [ -n "$GUEST_TIMED_OUT" ]; then
    guest_hung "$GUEST_RUN/console.log" "the guest did not finish within 60 s"
fi
guest_vusim_stop "$VUSIM_PID" vusim
{
    guest_check_result "$GUEST_RUN/console.log" blk=ok flush=ok eof=ok
    guest_check_backing "$GUEST_RUN/console.log" "$disk"
    guest_check_stats "$stats" inband inband
} >"$GUEST_RUN/checks.log" || {
    cat "$GUEST_RUN/checks.log"
    exit 1
}
wall=$((SECONDS - t0))

line=$(guest_result "$GUEST_RUN/console.log") || exit 1
q() { guest_jq "$stats" "$1"; }
# sum FIELD: FIELD added up over the queues.
sum() { guest_jq "$stats" "[.queues[].$1] | add"; }
# us PCT: a latency percentile (ps in the stats) in microseconds.
us() { awk -v p="$(q ".latency_ps.$1")" 'BEGIN { printf "%.1f us", p / 1e6 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

uml_ver=$("$(guest_uml)" --version </dev/null)
vfeat=$(feature_names feature_names .features "${BLK_NAMES[@]}")
pfeat=$(feature_names protocol_feature_names .protocol_features \
    "${PROTO_NAMES[@]}")
evfd=$(($(sum kicks_eventfd) + $(sum calls_eventfd)))
wrote=$(mib "$(sum bytes_read)")
read=$(mib "$(sum bytes_written)")
host=$(sed -n 's/.*backing file: //p' "$GUEST_RUN/checks.log")
cat <<EOF
vusim demo: User-Mode Linux $uml_ver on a simulated virtio-blk disk
  device          vusim blk: 64 MiB file, latency $LATENCY, $BANDWIDTH/s
  virtio features $vfeat
  vhost-user      $pfeat
  notifications   $(q .notification_mode): $(sum kicks_inband) kicks and \
$(sum calls_inband) calls in-band, $evfd by eventfd
  requests        $(sum completions) completed; guest wrote $wrote, \
read $read
  latency (sim)   p50 $(us p50), p90 $(us p90), p99 $(us p99), \
max $(us max) ($(q .latency_ps.count) requests)
  simulated time  $(q '.sim_time // "n/a"') (the calendar's clock at exit)
  data verified   guest: $(guest_field "$line" writes) writes and \
$(guest_field "$line" reads) reads checked, flush \
$(guest_field "$line" flush), end of disk $(guest_field "$line" eof)
                  host: $host
  wall time       $wall s
EOF
