"""halt ends QEMU, with and without the isa-debug-exit device. Each test boots its own QEMU."""

# isa-debug-exit turns the value 0x10 written by halt into exit status (0x10 << 1) | 1.
HALT_STATUS = 33


# halt prints 'halting' and QEMU exits through isa-debug-exit.
def test_halt_exits_qemu(fresh):
    m = fresh()
    m.send("halt\r")
    m.expect("halting\r\n")
    assert m.wait_exit(30) == HALT_STATUS


# Without isa-debug-exit, halt falls back to ACPI power-off and QEMU still ends.
def test_halt_without_exit_device(fresh):
    m = fresh(exit_device=False)
    m.send("halt\r")
    m.expect("halting\r\n")
    assert m.wait_exit(30) == 0
