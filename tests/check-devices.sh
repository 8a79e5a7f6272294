#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/check-devices.sh - a device model touches nothing outside its
# folder: no host-side file names a blk- or rng-specific constant, option,
# header or function. What hosts need from a device they get from its
# struct dev_ops (devices/dev.h): vhost-user type, feature names, option
# aliases, image and seed options, decode(), status names, channels.
#
# Host side: sim/, traces/, cosim/ (the reference front-end and the demo
# too: what a driver puts in a device's requests is the device's guest
# side, devices/work.h) and bench/. Not checked: devices/ and tests/,
# where such names belong (a device's own benchmark, such as
# devices/sc-blk/bench.cc, lives in its folder), and examples/, each an
# out-of-tree device model of its own that speaks its own protocol.
#
# Before it looks at the tree it checks its pattern on lines that must and
# must not match, so a broken pattern cannot pass. Run by `make check`.
set -u

top=$(cd "${srcdir:-.}" && pwd) || exit 99

# Identifiers, includes, and the option names blk has that a host used to
# spell out. sim_rng / vusim_rng (sim/rng.h) are the simulation's own RNG.
pat='devices/(blk|rng|sc-blk)/'
pat="$pat"'|\b(dev_blk_|dev_rng_)|\b[A-Z_]*BLK_[A-Z0-9_]+|\b(DEV_|VIRTIO_)?RNG_[A-Z0-9_]+'
pat="$pat"'|\b[a-z_]*blk_[a-z_]+[[:space:]]*\('
pat="$pat"'|(^|[^a-z_])rng_[a-z_]+[[:space:]]*\('
pat="$pat"'|"backing"|--backing|blk-file|"channels"'
pat="$pat"'|virtio_id[[:space:]]*==[[:space:]]*[0-9]|VIRTIO_ID_(BLOCK|RNG)'

# --- the pattern finds what it must, and passes what it must
must='#include "devices/blk/blk.h"
#include "devices/sc-blk/blk.h"
    auto *disk = new vusim_sc::blk_bridge("disk", "bench", DISK);
    if (h->virtio_id == DEV_BLK_VIRTIO_ID) {
static uint32_t blk_pick_channel(const struct dev_blk *b, sim_time_t now)
    trace_blk_describe(r, id, buf, sizeof(buf));
        if (strcmp(o->name, "backing") == 0) {
#define ALIAS_NAME "blk-file"
    {2, "block", "\"read-only\",\n        \"blk-file\""},
    if (virtio_id == 2) {
enum { BLK_VIRTIO_ID = 2, BLK_S_IOERR = 1 };
    if (desc_.virtio_id == BLK_VIRTIO_ID && r->ext.wr_len > 0) {
 * gets VIRTIO_BLK_S_IOERR in its status byte
    uint8_t s = DEV_RNG_MAX;
    n = rng_fill(r, buf, len);'
mustnot='#include "sim/rng.h"
#define VUSIM_SIM_RNG_H
    if (like && like->fail_status && r->ext.wr_len > 0) {
    vusim_rng_seed(&r->rng, seed);
    uint64_t v = sim_rng_next(rng);
    const char *opt = ops->image_opt;
    if (ops->decode) {
#include "devices/work.h"
    if (dev_lookup(DEVICE)->create(vu_loop_cal(loop), opts, n, &dev, err,'
n=$(printf '%s\n' "$must" | grep -cE "$pat")
if [ "$n" -ne "$(printf '%s\n' "$must" | grep -c .)" ] ||
   printf '%s\n' "$mustnot" | grep -qE "$pat"; then
    echo "check-devices: the pattern is broken" >&2
    exit 99
fi

cd "$top" || exit 99
files=$(find sim traces cosim bench \( -name '*.[ch]' -o -name '*.cc' \) \
            2>/dev/null | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "check-devices: no sources found under $top" >&2
    exit 99
fi
# shellcheck disable=SC2086 # file names have no spaces
bad=$(grep -nE "$pat" $files)
if [ -n "$bad" ]; then
    echo "check-devices: host-side files name a device's own constants," \
         "options or functions (give the device a dev_ops field instead):"
    printf '%s\n' "$bad" | sed 's/^/  /'
    exit 1
fi
echo "check-devices: $(printf '%s\n' $files | grep -c .) host-side files" \
     "name no device of their own"
exit 0
