/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/vusim-main.h - the vusim program around one device of its own
 *
 * vusim_main() is `vusim DEVICE` for a program that brings its device
 * (an out-of-tree model; libvusim-systemc's vusim_sc::main): `PROG
 * [options]` serves @ops with every generic option, `PROG replay TRACE
 * [options]` replays a trace of it, `PROG trace ...` is `vusim trace`. @ops is made known to dev_lookup()
 * (dev_register()). Returns the exit status, as `vusim DEVICE` does.
 *
 * Threading:   the program's main thread.
 */
#ifndef VUSIM_COSIM_VUSIM_MAIN_H
#define VUSIM_COSIM_VUSIM_MAIN_H

#include "devices/dev.h"

#ifdef __cplusplus
extern "C" {
#endif

int vusim_main(int argc, char **argv, const struct dev_ops *ops);

#ifdef __cplusplus
}
#endif

#endif
