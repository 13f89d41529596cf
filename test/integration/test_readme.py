"""README's example sessions are real: boot memmon and replay them.

Every fenced block of README.md that follows the marker comment
`<!-- replayed by test/integration/test_readme.py -->` is a console session:
lines before the first `mon> ` are the boot banner (the end of what memmon
prints before its first prompt), each `mon> CMD` line is typed, and the
lines after it are what CMD must print. Output is matched line for line with
every hexadecimal number taken as a pattern (addresses and counts change
with the image and the firmware, their form must not) and the build stamp in
the banner as any stamp; a `...` line stands for any number of lines. An
address a session prints and later types (alloc's address, then free's
argument) is typed as this boot printed it.
"""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
CONSOLE_MD = os.path.join(ROOT, "docs", "CONSOLE.md")
MARKER = "<!-- replayed by test/integration/test_readme.py -->"
HEX = re.compile(r"0x[0-9a-f]+")
STAMP = re.compile(r"^(memmon \d+\.\d+\.\d+ )\([^)]*\)")
# Numbers this large typed in a command are addresses the session may have
# learnt from an output line; smaller ones are counts and sizes, typed as is.
ADDRESS_MIN = 0x10000


def sessions(text):
    """The marked blocks of README.md, each a list of lines."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i].strip() == MARKER:
            assert lines[i + 1].startswith("```"), f"README line {i + 2}: no block after the marker"
            end = lines.index("```", i + 2)
            out.append(lines[i + 2:end])
            i = end
        i += 1
    return out


def pattern(line):
    """A README output line as a regex: hex numbers and the build stamp vary."""
    stamp = STAMP.match(line)
    rest = line[stamp.end():] if stamp else line
    parts, pos = [], 0
    for m in HEX.finditer(rest):
        parts += [re.escape(rest[pos:m.start()]), "(0x[0-9a-f]+)"]
        pos = m.end()
    parts.append(re.escape(rest[pos:]))
    head = re.escape(stamp.group(1)) + r"\([^)]*\)" if stamp else ""
    return re.compile(head + "".join(parts))


def match(want, got):
    """Match README lines `want` against output lines `got` (a '...' line takes
    any number of lines). The pairs (README value, printed value) of every hex
    number matched, or None when the lines differ."""
    if not want:
        return [] if not got else None
    if want[0] == "...":
        for k in range(len(got) + 1):
            pairs = match(want[1:], got[k:])
            if pairs is not None:
                return pairs
        return None
    if not got:
        return None
    m = pattern(want[0]).fullmatch(got[0])
    if not m:
        return None
    rest = match(want[1:], got[1:])
    if rest is None:
        return None
    return list(zip(HEX.findall(STAMP.sub("", want[0])), m.groups())) + rest


class Learnt:
    """Addresses a session printed: README's value -> this boot's value."""

    def __init__(self):
        self.seen, self.conflict = {}, set()

    def add(self, pairs):
        for readme, real in pairs:
            if int(readme, 16) < ADDRESS_MIN:
                continue
            if self.seen.setdefault(readme, real) != real:
                self.conflict.add(readme)

    def typed(self, command):
        def sub(m):
            v = m.group(0)
            return self.seen[v] if v in self.seen and v not in self.conflict else v
        return HEX.sub(sub, command)


def explain(want, got):
    return "README says:\n  " + "\n  ".join(want) + "\nmemmon printed:\n  " + "\n  ".join(got)


def replay(mon, block, learnt, first):
    cmds = [i for i, line in enumerate(block) if line.startswith("mon> ")]
    assert cmds, "a replayed block holds no mon> line"
    if first:
        banner = [line for line in mon.banner.split("\r\n") if line]
        want = block[:cmds[0]]
        pairs = match(want, banner[-len(want):]) if want else []
        assert pairs is not None, "the banner differs\n" + explain(want, banner)
        learnt.add(pairs)
    else:
        assert cmds[0] == 0, "only the first block may start with a banner"
    for k, at in enumerate(cmds):
        end = cmds[k + 1] if k + 1 < len(cmds) else len(block)
        command = learnt.typed(block[at][len("mon> "):])
        want = block[at + 1:end]
        got = mon.cmd(command, timeout=120)
        while got and got[-1] == "":
            got.pop()
        pairs = match(want, got)
        assert pairs is not None, f"'{command}' differs\n" + explain(want, got)
        learnt.add(pairs)


def test_readme_has_sessions():
    """The marker is there: a README edit that drops it would drop the test."""
    assert len(sessions(open(README).read())) >= 2


@pytest.mark.parametrize(
    "want,got,ok",
    [
        (["a 0x1 b"], ["a 0x2f b"], True),
        (["a 0x1 b"], ["a 0x2f c"], False),
        (["x", "...", "y 0x5"], ["x", "p", "q", "y 0x7"], True),
        (["x", "...", "y"], ["x", "p"], False),
        (["x"], ["x", "extra"], False),
        (["memmon 0.1.0 (abc1234): took"], ["memmon 0.1.0 (unknown-dirty): took"], True),
    ],
)
def test_matcher(want, got, ok):
    """The matcher itself: hex is a pattern, text is not, '...' skips, no line is extra."""
    assert (match(want, got) is not None) == ok


def test_readme_sessions_replay(fresh):
    """Every marked README session, on a fresh 1 GiB boot, prints what README shows."""
    blocks = sessions(open(README).read())
    mon = fresh(mem="1G")
    learnt = Learnt()
    for i, block in enumerate(blocks):
        replay(mon, block, learnt, first=i == 0)


def test_console_md_covers_every_command(mon):
    """docs/CONSOLE.md has a section for every command `help` lists, and README links it."""
    names = [line.split()[0] for line in mon.cmd("help") if line.startswith("  ")]
    assert len(names) >= 20
    doc = open(CONSOLE_MD).read()
    missing = [n for n in names if f"\n## {n}\n" not in doc]
    assert not missing, f"docs/CONSOLE.md has no section for {missing}"
    readme = open(README).read()
    assert "(docs/CONSOLE.md)" in readme and "../shared" not in readme
