"""halt ends QEMU, with and without the isa-debug-exit device. Each test boots its own QEMU."""

import time

# isa-debug-exit turns the value 0x10 written by halt into exit status (0x10 << 1) | 1.
HALT_STATUS = 33


# halt prints 'halting' and QEMU exits through isa-debug-exit.
def test_halt_exits_qemu(fresh):
    m = fresh()
    m.send("halt\r")
    m.expect("halting\r\n")
    assert m.wait_exit(30) == HALT_STATUS


# Without isa-debug-exit, halt falls back to ACPI S5: with -no-shutdown QEMU
# stays, showing the guest shut down (a keyboard-controller reset would
# instead end QEMU, because of -no-reboot).
def test_halt_without_exit_device(fresh):
    m = fresh(exit_device=False, extra=["-no-shutdown"])
    m.send("halt\r")
    m.expect("halting\r\n")
    deadline = time.monotonic() + 30
    while "shutdown" not in (status := m.hmp("info status")):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert m.proc.poll() is None
