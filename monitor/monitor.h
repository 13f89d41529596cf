/*
 * The monitor's entry from the platform, and the state the commands share.
 */
#ifndef MEMMON_MONITOR_H
#define MEMMON_MONITOR_H

#include "console.h"
#include "memmap.h"
#include "pt.h"

#define MEMMON_VERSION "0.1.0"
#ifndef MEMMON_BUILD
#define MEMMON_BUILD "unknown"
#endif

/* The boot information efi/ (or the host harness) handed over. */
extern const struct boot_info *mon_boot;

/* The page tables memmon runs on (built by monitor_init). */
extern struct pt mon_pt;

/* Take over: sort and remember `bi` (the monitor owns it from now on),
 * greet, set up the console `c`, and run the machine's startup script if
 * it has one (plat_script, monitor/script.h); then the console is live. */
void monitor_init(struct con *c, struct boot_info *bi);

/* Serve the console forever (returns only after `halt` on the host). */
void monitor_run(struct con *c);

#endif
