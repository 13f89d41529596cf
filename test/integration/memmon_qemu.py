"""Drive a memmon booted in QEMU: the integration tests' harness.

It is the Python client, scripts/memmon.py (Memmon: one QEMU process started
through scripts/qemu.sh with COM1 on a unix socket and QEMU's monitor on a
second; the contract's forms parsed into values), under the names the
tests have always used: Memmon(mem=, exit_device=, extra=) with cmd(),
send(), expect(), prompt(), drain(), hmp(), wait_exit(), close(), banner,
proc and con (expect/before/match, as pexpect's).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from memmon import (  # noqa: E402,F401 (re-exported for the tests)
    ANSI, BOOT_TIMEOUT, ESP, PROMPT, QEMU_SH, Fault, Memmon, MemmonError, ParseError, Timeout,
    errors, mdb_edges, parse_check, parse_fault, parse_frame, parse_lookup, parse_mdb, parse_mem,
    parse_memmap, parse_pool, parse_pt, parse_run, parse_space_list, parse_words, text)
