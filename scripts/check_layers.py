#!/usr/bin/python3
"""The layer order, enforced (make check-layers, part of make test).

memmon's portable core is built in layers, and calls go one way:

    console  (console, cmds*, monitor: the shell and the boot glue)
    guests   (guest*, vmcb.h, x86len: virtual CPUs under AMD SVM)
    spaces   (space*, mdb, check, model)
    paging   (paging/)
    frames   (frame, memmap: the takeover of the firmware's map)
    seam     (platform.h, types.h, fmt, panic, x86_exc.h: leaves any layer may use)

This script fails when the code breaks that order:

1. includes: a file includes a header of a higher layer;
2. calls: an object file of the hosted build uses a symbol (function or
   variable) that an object of a higher layer defines (nm: undefined
   symbols against defined ones), which also catches a declaration
   written by hand instead of an include;
3. the console's doors: it reaches the machine seam only through the
   entries listed in CONSOLE_SEAM (so never plat_access, plat_park, CR3 or
   TLB entries, nor physical memory through plat_pa_to_ptr, whose inline
   body reads plat_ram_base); it never includes mdb.h or pte.h (no
   database node, no raw entry: the spaces layer's views and the decoded
   walk serve it), never calls a pte_ accessor or space_pt, and never
   reads a field of a struct pt (pt_root and pt_tables serve it).

Usage: check_layers.py OBJDIR    (OBJDIR: build/host-obj)
"""

import os
import re
import subprocess
import sys

SEAM, FRAMES, PAGING, SPACES, GUESTS, CONSOLE = range(6)
NAMES = ["seam", "frames", "paging", "spaces", "guests", "console"]

LAYER_OF = {
    "monitor/platform.h": SEAM,
    "monitor/types.h": SEAM,
    "monitor/fmt.h": SEAM,
    "monitor/fmt.c": SEAM,
    "monitor/panic.c": SEAM,
    "monitor/x86_exc.h": SEAM,
    "monitor/frame.h": FRAMES,
    "monitor/frame.c": FRAMES,
    "monitor/memmap.h": FRAMES,
    "monitor/memmap.c": FRAMES,
    "monitor/mdb.h": SPACES,
    "monitor/mdb.c": SPACES,
    "monitor/check.c": SPACES,
    "monitor/model.h": SPACES,
    "monitor/model.c": SPACES,
    "monitor/console.h": CONSOLE,
    "monitor/console.c": CONSOLE,
    "monitor/monitor.h": CONSOLE,
    "monitor/monitor.c": CONSOLE,
}
PREFIX_LAYER = [
    ("paging/", PAGING),
    ("monitor/space", SPACES),
    ("monitor/guest", GUESTS),
    ("monitor/vmcb", GUESTS),
    ("monitor/x86len", GUESTS),
    ("monitor/cmds", CONSOLE),
    ("monitor/script", CONSOLE),
]

# The machine seam's entries the console may call: console byte I/O and
# idling, fault containment, the deliberate traps, halt and power-off, and
# what boot needs (turning protection on, the reserved pieces to map, the
# startup script the platform found).
CONSOLE_SEAM = {
    "plat_putc", "plat_getc", "plat_idle", "plat_guarded_call", "plat_raise",
    "plat_poweroff", "plat_halt", "plat_protect_on", "plat_reserved", "plat_script", "plat_image_sum",
    "plat_now_us", "plat_start_cpus", "plat_raise_on",
}

# In console files: no raw entry decoding, no tables but through the views,
# no struct pt field.
CONSOLE_FORBIDDEN = [
    (re.compile(r"#\s*include\s+\"(mdb|pte)\.h\""), "includes a header only the layers below use"),
    (re.compile(r"\bpte_[a-z_]+\s*\("), "decodes a raw entry (pte.h's accessors are paging's)"),
    (re.compile(r"\bspace_pt\s*\("), "takes a space's struct pt (use the space_* views)"),
    (re.compile(r"\bmdb_[a-z_]+\b"), "uses the mapping database (use space_tree_*)"),
    (re.compile(r"\bmon_pt\s*(\.|->)\s*[a-z_]+"), "reads a field of struct pt (use pt_root, pt_tables)"),
    (re.compile(r"->\s*(root|tables|top_leaf|root_count|hint_[a-z]+)\b"),
     "reads a field of struct pt (use pt_root, pt_tables)"),
]


def layer_of(path):
    if path in LAYER_OF:
        return LAYER_OF[path]
    for prefix, layer in PREFIX_LAYER:
        if path.startswith(prefix):
            return layer
    return None


def core_files():
    out = []
    for d in ("monitor", "paging"):
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                out.append(f"{d}/{f}")
    return out


def header_path(name):
    for d in ("monitor", "paging"):
        if os.path.exists(f"{d}/{name}"):
            return f"{d}/{name}"
    return None


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check_includes(files, errors):
    for f in files:
        mine = layer_of(f)
        for num, line in enumerate(open(f).read().split("\n"), 1):
            m = re.match(r"\s*#\s*include\s+\"([^\"]+)\"", line)
            if not m:
                continue
            h = header_path(m.group(1))
            if h is None:
                continue
            theirs = layer_of(h)
            if theirs is not None and theirs > mine:
                errors.append(f"{f}:{num}: includes {h}, of the {NAMES[theirs]} layer, "
                              f"above {NAMES[mine]}")


def check_console_text(files, errors):
    for f in files:
        if layer_of(f) != CONSOLE:
            continue
        for num, line in enumerate(strip_comments(open(f).read()).split("\n"), 1):
            for pat, why in CONSOLE_FORBIDDEN:
                if pat.search(line):
                    errors.append(f"{f}:{num}: the console {why}: {line.strip()}")


def nm(obj, *flags):
    res = subprocess.run(["nm", *flags, obj], capture_output=True, text=True, check=True)
    syms = set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if "-u" in flags:
            syms.add(parts[-1])
        elif len(parts) == 3 and parts[1] in "TDBRVWtdbr" and parts[1].isupper():
            syms.add(parts[2])
    return syms


def check_symbols(files, objdir, errors):
    sources = [f for f in files if f.endswith(".c")]
    defined, used = {}, {}
    for src in sources:
        obj = os.path.join(objdir, src[:-2] + ".o")
        if not os.path.exists(obj):
            errors.append(f"{obj}: missing (build the hosted objects first)")
            continue
        for s in nm(obj, "--defined-only"):
            defined[s] = src
        used[src] = nm(obj, "-u")
    for src, syms in sorted(used.items()):
        mine = layer_of(src)
        for s in sorted(syms):
            if mine == CONSOLE and s.startswith("plat_") and s not in CONSOLE_SEAM:
                errors.append(f"{src}: the console uses the machine seam's {s} directly "
                              "(allowed: " + ", ".join(sorted(CONSOLE_SEAM)) + ")")
            if s not in defined:
                continue  # libc, sanitizer runtime, the platform (efi/ or test/host/)
            owner = defined[s]
            theirs = layer_of(owner)
            if theirs > mine:
                errors.append(f"{src}: uses {s} from {owner}, of the {NAMES[theirs]} layer, "
                              f"above {NAMES[mine]}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    files = core_files()
    errors = [f"{f}: in no layer (add it to scripts/check_layers.py)"
              for f in files if layer_of(f) is None]
    check_includes(files, errors)
    check_console_text(files, errors)
    check_symbols(files, sys.argv[1], errors)
    for e in errors:
        print("check-layers: " + e)
    if errors:
        sys.exit(1)
    print(f"check-layers: ok, {len(files)} files in {len(NAMES)} layers")


if __name__ == "__main__":
    main()
