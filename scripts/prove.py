#!/usr/bin/python3
"""make prove: Frama-C's WP with RTE over memmon's contracts, z3 and cvc4.

Each unit is one Frama-C run over one translation unit, proving the
contracts and the run-time-error guards (-wp-rte: no overflow, no shift out
of range, no out-of-bounds index, no invalid pointer) of the functions it
names. A goal that no prover closes fails the run unless its property is on
proof/known-unproved.txt, which gives a reason for each; those properties
are left out of the default run (they would only cost their timeout) and are
reported as known. A property `*` stands for a whole function: its goals
are not attempted at all (its contract is still assumed by its callers).
`--all` tries them too and fails if one is now proved, so that the list can
only shrink.

Prints, per unit and per function, goals proved/total and the provers' time.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "proof")
KNOWN = os.path.join(ROOT, "proof", "known-unproved.txt")
# The opt-in unit pt_all's own list of what is left (same form).
KNOWN_FILES = [KNOWN, os.path.join(ROOT, "proof", "pt-all-todo.txt")]

# Functions defined in the headers every unit includes; each unit but pte
# skips them (the pte unit proves them once).
HEADER_FUNCS = [
    "pa_init", "pa_addr", "pa_add", "va_init", "va_addr", "plat_pa_to_ptr",
    "pt_level_size", "pt_index", "pte_kind", "pte_table", "pte_count",
    "pte_with_count", "pte_count_inc", "pte_count_dec", "pte_leaf",
    "pte_leaf_next", "pte_next", "pte_frame", "pte_attr",
]

# name: (source, functions to prove (None: all but HEADER_FUNCS), extra options)
UNITS = {
    # The entry format and index helpers, and the shift/mask facts.
    "pte": ("proof/pte.c", [], []),
    # The page-table driver: the functions of PT_QUICK, those that fit the
    # time `make test` gives `make prove`, over the machine seam's stub
    # contracts (PT_SEAM).
    "pt": ("paging/pt.c", "PT_QUICK", []),
    # Every function of paging/pt.c and paging/pt.h but the seam, at once
    # (`make prove PROVE_UNITS=pt_all`, for work on the proofs).
    "pt_all": ("paging/pt.c", "PT", []),
    # The rest of pt_all: every function of pt.c and pt.h that unit pt does
    # not prove (PT_FUNCS but PT_QUICK), so that pt and pt_rest together
    # prove all of them (`make prove-pt`, in `make test` after `make prove`).
    # Same known list as pt_all.
    "pt_rest": ("paging/pt.c", "PT_REST", []),
    # The frame table's helpers, its lists, and kalloc/kfree's order-0 path.
    "frame": ("monitor/frame.c", "FRAME", []),
}

# The frame unit: the helpers, and the order-0 path. quick_drain,
# kalloc_refill and frame_free (the buddy lists) and junk (a frame's bytes)
# are not proved: their contracts are assumptions of kalloc's and kfree's.
FRAME_FUNCS = [
    "frame_page_zeroed", "peek", "frame_pa", "run_next_order", "ceil_log2", "block_of",
    "frame_can_own", "frame_single_entry", "frame_is_single", "frame_quick_pop",
    "frame_quick_entry", "frame_quick_put", "frame_quick_push", "kalloc", "kfree",
]

# The pt unit: every function of paging/pt.c and paging/pt.h (RTE and their
# contracts) but the machine seam, PT_SEAM: stub contracts the proof assumes
# (the table memory, and the calls through the pointers of struct pt_mem and
# of pt_runs' caller). check_pt_funcs holds the list to the files.
PT_SEAM = ["pt_table_at", "mem_get", "mem_put", "runs_out"]
PT_FUNCS = [
    # pt.h
    "pt_hint_set", "pt_leaf0_attr", "pt_lookup", "pt_root", "pt_tables",
    # pt.c, in file order
    "leaf0_attr", "canon", "is_canonical", "table_at", "frames_get", "frames_put", "op_init",
    "chain_push", "chain_pop", "tlb_note", "free_tree", "drain", "retire", "new_table",
    "merged", "tally_first", "count_table", "visit_pt", "visit_write", "visit_count_down",
    "visit_commit_up", "visit_commit_down", "slots", "entry_at", "virt_first", "visit_decide",
    "visit_act", "visit_entry", "visit", "check_range", "run",
    "walk_to_pt_slow", "walk_to_pt", "map_range", "unmap_range", "lookup_from_dir",
    "pt_lookup_walk", "pt_init", "pt_destroy", "map_page", "unmap_page", "check_map",
    "map_checked", "unmap_checked", "pt_map", "pt_unmap", "check_protect", "pt_protect",
    "pt_tally_begin", "count_nothing", "count", "pt_blank", "pt_count_map", "pt_count_unmap",
    "pt_count_protect", "pt_lookup_slow", "pt_walk", "runs_leaf", "runs_table", "pt_runs",
    "census_table", "pt_census", "pt_load", "pt_live",
]

# The pt unit of `make prove`: what fits make prove's 3 minutes: the public
# entry points themselves, over their callees' contracts. The callees, and
# every other function, are unit pt_rest (`make prove-pt`).
PT_QUICK = [
    # the functions of the first pt unit
    "canon", "is_canonical", "chain_push", "chain_pop", "tlb_note", "new_table",
    "check_range", "pt_walk",
    # the public entry points (pt_map and pt_unmap's fast paths, pt_destroy,
    # the whole-tree walks) and table_at over the seam; pt_init, pt_blank and
    # pt_lookup_slow are proved in pt_rest, for time
    "pt_map", "pt_unmap", "pt_destroy", "pt_runs", "pt_census", "pt_load", "pt_live",
    "pt_root", "pt_tables", "pt_hint_set", "pt_leaf0_attr", "table_at",
]


def check_pt_funcs():
    """Every function defined in paging/pt.c and pt.h is proved or is the seam."""
    defined = set()
    for f in ("paging/pt.c", "paging/pt.h"):
        text = open(os.path.join(ROOT, f)).read()
        # (a ghost parameter list, /*@ ghost (...) */, may stand before the body)
        defined |= set(re.findall(r"^[a-z_][\w \t*()]*?\b(?!__attribute__)(\w+)\([^;{}]*\)\s*"
                                  r"(?:/\*@ ghost [^*]*\*/\s*)?\{", text, re.M))
    missing = sorted(defined - set(PT_FUNCS) - set(PT_SEAM))
    extra = sorted((set(PT_FUNCS) | set(PT_SEAM)) - defined)
    if missing or extra:
        sys.exit(f"prove: scripts/prove.py's PT_FUNCS/PT_SEAM out of step with paging/pt.c and "
                 f"pt.h: not listed {missing}, not defined {extra}")


# What `make prove` runs.
DEFAULT = ["pte", "frame", "pt"]

FRAME_FUNCS_OLD = [
    "page_zeroed", "peek", "frame_pa", "run_next_order", "ceil_log2",
    "frame_index", "list_push", "list_remove", "block_of", "can_own",
    "kalloc", "kfree", "quick_push",
]


def load_known():
    known = {}
    for path in KNOWN_FILES:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(None, 3)
                if len(parts) < 4 or len(parts[3]) < 10:
                    sys.exit(f"prove: {path}:{n}: want 'unit function property reason'")
                unit, fct, prop, reason = parts
                known.setdefault(unit, []).append((fct, prop, reason))
    return known


def check_free_in():
    """frame.h spells free_in out as one in_free(t, z, i, j, 2^j) per order j
    (no existential over the order, no shift for the prover): each size must
    be 2^j, for every order 0 .. FRAME_MAX_ORDER once."""
    text = open(os.path.join(ROOT, "monitor", "frame.h")).read()
    top = int(re.search(r"#define FRAME_MAX_ORDER (\d+)", text).group(1))
    pairs = [(int(j), int(s, 0)) for j, s in
             re.findall(r"in_free\(t, z, i, (\d+), (0x[0-9a-f]+|\d+)\)", text)]
    bad = [(j, s) for j, s in pairs if s != 1 << j]
    if bad or sorted(j for j, _ in pairs) != list(range(top + 1)):
        sys.exit(f"prove: monitor/frame.h: free_in must name in_free(t, z, i, j, 2^j) once for "
                 f"each order 0 .. {top}; wrong: {bad or sorted(j for j, _ in pairs)}")


def frama_c(unit, src, fcts, extra, exclude, timeout, par):
    cpp = ["-Iproof", "-Imonitor", "-Ipaging", "-Itest/host", "-include", "build/build_id.h",
           "-include", "proof/prover.h"]
    cmd = ["frama-c", "-c11", "-machdep", "gcc_x86_64"]
    cmd += [f"-cpp-extra-args={a}" for a in cpp]
    cmd += [src, "-wp", "-wp-rte", "-wp-prover", "z3,cvc4", "-wp-par", str(par),
            "-wp-timeout", str(timeout), "-wp-msg-key", "shell"]
    drop = ["-" + p for p in exclude]
    if unit != "pte":
        drop.append("-@lemma")  # the lemmas are proved once, in pte
    if fcts:
        cmd += ["-wp-fct", ",".join(fcts)]
    elif fcts is None:
        cmd += ["-wp-skip-fct", ",".join(HEADER_FUNCS)]
    if drop:
        cmd += ["-wp-prop=" + ",".join(drop)]
    cmd += extra
    env = dict(os.environ, WHY3CONFIG=os.path.join(BUILD, "why3.conf"))
    t0 = time.time()
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout, time.time() - t0


GOAL = re.compile(r"^\[wp\] \[([^\]]+)\] Goal (\S+)(?: : (\w+))?(.*)$")
TIME = re.compile(r"\((\d+(?:\.\d+)?)(ms|s)\)")


def parse(out):
    """goal -> (proved, seconds)"""
    goals = {}
    for line in out.splitlines():
        m = GOAL.match(line)
        if not m:
            continue
        who, goal, status, rest = m.groups()
        ok = who not in ("Failed", "Unknown", "Timeout") and status == "Valid"
        secs = 0.0
        for v, u in TIME.findall(rest or ""):
            secs = float(v) / (1000 if u == "ms" else 1)
        goals[goal] = (ok, secs)
    return goals


def owner(goal, fcts):
    """The function (or lemma) a goal belongs to: typed_<function>_<what>."""
    g = goal[len("typed_"):] if goal.startswith("typed_") else goal
    if g.startswith("lemma_"):
        return "(lemma " + g[len("lemma_"):] + ")"
    best = ""
    for f in fcts:
        if g.startswith(f + "_") and len(f) > len(best):
            best = f
    return best or g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("units", nargs="*", default=DEFAULT)
    ap.add_argument("--all", action="store_true",
                    help="also try the known-unproved properties")
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("--fct", help="only these functions (comma-separated), for work on a proof")
    ap.add_argument("--par", type=int, default=2)
    args = ap.parse_args()

    known = load_known()
    check_free_in()
    check_pt_funcs()
    bad = []
    t_all = time.time()
    total_ok = total = 0
    for unit in args.units:
        src, fcts, extra = UNITS[unit]
        if fcts == "FRAME":
            fcts = FRAME_FUNCS
        elif fcts == "PT":
            fcts = PT_FUNCS
        elif fcts == "PT_QUICK":
            fcts = PT_QUICK
        elif fcts == "PT_REST":
            fcts = [f for f in PT_FUNCS if f not in PT_QUICK]
        props = known.get("pt_all" if unit == "pt_rest" else unit, [])
        exclude = [] if args.all else [p for _, p, _ in props if p != "*"]
        skipped = [] if args.all else [f for f, p, _ in props if p == "*"]
        if skipped and fcts:
            fcts = [f for f in fcts if f not in skipped]
        if args.fct:
            fcts = args.fct.split(",")
        rc, out, secs = frama_c(unit, src, fcts, extra, exclude, args.timeout, args.par)
        os.makedirs(BUILD, exist_ok=True)
        with open(os.path.join(BUILD, unit + ".log"), "w") as f:
            f.write(out)
        goals = parse(out)
        if rc != 0 or not goals:
            sys.stdout.write(out[-4000:])
            sys.exit(f"prove: {unit}: frama-c failed (exit {rc}, {len(goals)} goals); "
                     f"log in build/proof/{unit}.log")
        names = set(HEADER_FUNCS) | set(fcts or []) | {f for f, _, _ in props}
        names |= set(re.findall(r"^\w[\w \t\*]*?\b(\w+)\(", open(os.path.join(ROOT, src)).read(),
                                re.M))
        per = {}
        for g, (ok, t) in goals.items():
            f = owner(g, names)
            n_ok, n, tt = per.get(f, (0, 0, 0.0))
            per[f] = (n_ok + ok, n + 1, tt + t)
        ok_n = sum(ok for ok, _ in goals.values())
        total_ok += ok_n
        total += len(goals)
        print(f"prove: {unit} ({src}): {ok_n}/{len(goals)} goals proved in {secs:.1f} s"
              + (f", {len(exclude) + len(skipped)} known-unproved left out" if not args.all else ""))
        for f in sorted(per):
            n_ok, n, tt = per[f]
            mark = "" if n_ok == n else "   <- unproved"
            print(f"  {f:32} {n_ok:4}/{n:<4} {tt:7.2f} s{mark}")
        knownprops = {p for _, p, _ in props if p != "*"}
        knownfcts = {f for f, p, _ in props if p == "*"}
        for g, (ok, _) in sorted(goals.items()):
            hit = [p for p in knownprops if re.search(r"_" + re.escape(p) + r"(_|$)", g)]
            hit += [f for f in knownfcts if owner(g, names) == f]
            if not ok and not hit:
                bad.append(f"{unit}: {g}")
        if args.all:
            for fct, p, _ in props:
                gs = [ok for g, (ok, _) in goals.items()
                      if (p == "*" and owner(g, names) == fct) or
                      (p != "*" and re.search(r"_" + re.escape(p) + r"(_|$)", g))]
                if gs and all(gs):
                    bad.append(f"{unit}: {fct} {p} is proved now: take it off "
                               + ("proof/pt-all-todo.txt" if unit in ("pt_all", "pt_rest")
                                  else "proof/known-unproved.txt"))
        for fct, p, reason in props:
            what = "(all its goals)" if p == "*" else p
            print(f"  known unproved: {fct} {what}")
    default = sum(len(v) for u, v in known.items() if u != "pt_all")
    print(f"prove: {total_ok}/{total} goals proved, {default} known-unproved properties"
          f" (and {len(known.get('pt_all', []))} left in pt_all), {time.time() - t_all:.1f} s")
    if bad:
        print("prove: FAILED, unproved and not on proof/known-unproved.txt:")
        for b in bad:
            print("  " + b)
        sys.exit(1)


if __name__ == "__main__":
    main()
