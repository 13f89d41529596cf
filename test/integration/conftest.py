"""One memmon boot serves every test that does not end QEMU itself."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memmon_qemu import ESP, Memmon  # noqa: E402


@pytest.fixture(scope="session")
def mon():
    if not os.path.exists(os.path.join(ESP, "EFI", "BOOT", "BOOTX64.EFI")):
        pytest.fail("build/esp is missing: run make first")
    m = Memmon(mem="1G")
    yield m
    m.close()


@pytest.fixture(autouse=True)
def clean_line(request):
    """Start every test that uses the shared boot at an empty line."""
    if "mon" in request.fixturenames:
        m = request.getfixturevalue("mon")
        m.send(b"\x03\x03")  # the first may only end an escape sequence
        m.drain(0.3)
        if m.cmd("echo") != ["echo on"]:
            m.cmd("echo on")
    yield


@pytest.fixture
def fresh():
    """Boot a memmon of one's own (fresh(mem="64G", exit_device=False)); closed after the test."""
    boots = []

    def boot(**kw):
        boots.append(Memmon(**kw))
        return boots[-1]

    yield boot
    for m in boots:
        m.close()
