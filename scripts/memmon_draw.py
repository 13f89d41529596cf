"""Pictures of a live memmon as one SVG (scripts/memmon.py draw).

Three parts, each read from the console through the client (memmon.py):

- the frame map: RAM as the firmware described it (memmap), block by block
  as the frame allocator holds it (mem PA), coloured by owner: free (the
  pool's free frames), pool (page tables, database, console), clients
  (sigma0's frames), firmware, monitor;
- the spaces: one column per space (space list), its runs (pt N) from low
  to high addresses, coloured by rights and shaded by page size;
- the derivation trees (mdb) of every client run's first page, as a graph
  laid out by graphviz's dot (Debian's graphviz): an edge from each mapping
  to each mapping derived from it.

Every run is a <g class="run"> with data-space, data-start, data-end,
data-pa, data-rights and data-size; every frame block a <rect
class="frames"> with data-owner, data-start, data-end; every tree edge a
dot edge titled "nS_V->nS2_V2" (spaces and hexadecimal addresses), so a
test (or a reader of the SVG) can find them.
"""

import html
import re
import subprocess

from memmon import MemmonError

RIGHTS_FILL = {"r--": "#4e79a7", "rw-": "#59a14f", "r-x": "#f28e2b", "rwx": "#e15759"}
SIZE_OPACITY = {"4K": 0.45, "2M": 0.75, "1G": 1.0}
OWNER_FILL = {"free": "#dddddd", "pool": "#b07aa1", "clients": "#59a14f", "firmware": "#9c755f",
              "monitor": "#e15759"}
OWNER_OF = {"free": "free", "ptables": "pool", "mdb": "pool", "console": "pool",
            "clients": "clients", "firmware": "firmware", "monitor": "monitor"}
NOT_RAM = {"mmio", "mmio-port", "reserved", "unusable", "pal-code"}
WIDTH = 1200
COLUMN = 290
ROW = 16
MAX_ROWS = 48
MAX_QUERIES = 4000
MAX_TREES = 32


def _esc(s):
    return html.escape(str(s), quote=True)


def frame_blocks(m, regions):
    """[(start, end, owner)] over RAM, adjacent blocks of one owner joined. Walks each RAM
    region block by block with `mem PA`; what memmon does not manage is firmware's."""
    out, queries = [], 0

    def add(start, end, owner):
        if out and out[-1][1] == start and out[-1][2] == owner:
            out[-1] = (out[-1][0], end, owner)
        else:
            out.append((start, end, owner))

    for r in regions:
        if r.kind in NOT_RAM:
            continue
        pa = r.start
        while pa < r.end:
            if queries >= MAX_QUERIES:
                add(pa, r.end, "firmware" if r.use == "reserved" else "monitor")
                break
            queries += 1
            try:
                f = m.mem(pa)
            except MemmonError:
                add(pa, r.end, "firmware")
                break
            end = min(max(f.block + (4096 << f.order), pa + 4096), r.end)
            add(pa, end, OWNER_OF.get(f.owner, "monitor"))
            pa = end
    return out


def trees(m, dumps):
    """The mdb trees holding each client run's first page, each once."""
    seen, out = set(), []
    for n, dump in sorted(dumps.items()):
        if n == 0:
            continue
        for run in dump.runs:
            if len(out) >= MAX_TREES:
                return out
            t = m.mdb(n, run.start)
            if t is None:
                continue
            key = tuple((x.space, x.va) for x in t.nodes)
            if key not in seen:
                seen.add(key)
                out.append(t)
    return out


def node_id(space, va):
    return f"n{space}_{va:x}"


def dot_source(tree_list):
    lines = ["digraph mdb {", "  rankdir=TB;", '  node [shape=box, fontname="monospace", '
             'fontsize=10, style=filled];', '  edge [color="#555555"];']
    for t in tree_list:
        for x in t.nodes:
            label = f"{x.space}:{x.va:#x}\\n{x.rights} {x.size}" + ("\\nReal" if x.real else "")
            fill = RIGHTS_FILL.get(x.rights, "#cccccc")
            lines.append(f'  {node_id(x.space, x.va)} [label="{label}", fillcolor="{fill}", '
                         f'fontcolor="white"];')
        for x in t.nodes:
            if x.parent is not None:
                p = t.nodes[x.parent]
                lines.append(f"  {node_id(p.space, p.va)} -> {node_id(x.space, x.va)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(source):
    """dot's SVG without its XML prologue, and its size in pixels."""
    svg = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True,
                         check=True).stdout
    svg = svg[svg.index("<svg"):]
    w = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg)
    h = re.search(r'<svg[^>]*\bheight="([\d.]+)pt"', svg)
    return svg, float(w[1]) * 4 / 3, float(h[1]) * 4 / 3


def _frame_map(blocks, y):
    total = sum(b - a for a, b, _ in blocks) or 1
    out = [f'<text x="10" y="{y}" class="h">frame map: RAM in address order (memmap, mem PA); '
           f'holes between regions left out</text>']
    x, bar_y, span = 10.0, y + 10, WIDTH - 20
    for a, b, owner in blocks:
        w = span * (b - a) / total
        out.append(f'<rect class="frames" data-owner="{owner}" data-start="{a:#x}" '
                   f'data-end="{b:#x}" x="{x:.2f}" y="{bar_y}" width="{max(w, 0.5):.2f}" '
                   f'height="36" fill="{OWNER_FILL[owner]}"><title>{a:#x}-{b:#x} {owner}'
                   f'</title></rect>')
        x += w
    if blocks:
        out.append(f'<text x="10" y="{bar_y + 50}" class="s">{blocks[0][0]:#x}</text>')
        out.append(f'<text x="{WIDTH - 10}" y="{bar_y + 50}" class="s" text-anchor="end">'
                   f'{blocks[-1][1]:#x}</text>')
    lx = 200
    for owner, fill in OWNER_FILL.items():
        pages = sum(b - a for a, b, o in blocks if o == owner) >> 12
        out.append(f'<rect x="{lx}" y="{bar_y + 40}" width="12" height="12" fill="{fill}"/>'
                   f'<text x="{lx + 16}" y="{bar_y + 50}" class="s">{owner} {pages:#x} frames'
                   f'</text>')
        lx += 170
    return out, bar_y + 70


def _spaces(spaces, dumps, y):
    out = [f'<text x="10" y="{y}" class="h">spaces: runs of pt N (fill: rights; shade: page '
           f'size 4K light, 2M, 1G dark)</text>']
    y += 12
    bottom = y
    for i, s in enumerate(spaces):
        x = 10 + i * COLUMN
        dump = dumps[s.n]
        name = "sigma0" if s.n == 0 else f"space {s.n}"
        out.append(f'<g class="space" data-space="{s.n}"><text x="{x}" y="{y + 12}" class="b">'
                   f'{name}</text><text x="{x}" y="{y + 26}" class="s">pages {dump.pages:#x}, '
                   f'runs {dump.count:#x}, ptpages {dump.ptpages:#x}</text>')
        ry = y + 32
        for run in dump.runs[:MAX_ROWS]:
            out.append(f'<g class="run" data-space="{s.n}" data-start="{run.start:#x}" '
                       f'data-end="{run.end:#x}" data-pa="{run.pa:#x}" data-rights="{run.rights}" '
                       f'data-size="{run.size}"><rect x="{x}" y="{ry}" width="{COLUMN - 10}" '
                       f'height="{ROW - 2}" fill="{RIGHTS_FILL.get(run.rights, "#cccccc")}" '
                       f'fill-opacity="{SIZE_OPACITY[run.size]}"/><text x="{x + 4}" '
                       f'y="{ry + 11}" class="s">{run.start:#x}-{run.end:#x} -&gt; {run.pa:#x} '
                       f'{run.rights} {run.size}</text></g>')
            ry += ROW
        if len(dump.runs) > MAX_ROWS:
            out.append(f'<text x="{x}" y="{ry + 11}" class="s">... {len(dump.runs) - MAX_ROWS} '
                       f'more runs</text>')
            ry += ROW
        out.append("</g>")
        bottom = max(bottom, ry)
    return out, bottom + 20


def draw(m):
    """The SVG text of memmon m's state now (see the module's doc)."""
    regions, _ = m.memmap()
    spaces = m.spaces()
    dumps = {s.n: m.pt(s.n) for s in spaces}
    tree_list = trees(m, dumps)
    blocks = frame_blocks(m, regions)

    body, y = _frame_map(blocks, 50)
    part, y = _spaces(spaces, dumps, y + 20)
    body += part
    body.append(f'<text x="10" y="{y + 10}" class="h">derivation trees (mdb of each client run\'s '
                f'first page; an edge from each mapping to those derived from it)</text>')
    width = max(WIDTH, 20 + COLUMN * len(spaces))
    if tree_list:
        svg, w, h = render_dot(dot_source(tree_list))
        svg = re.sub(r"^<svg ", f'<svg x="10" y="{y + 20}" class="mdb" ', svg, count=1)
        body.append(svg)
        width = max(width, w + 20)
        y += 30 + h
    else:
        body.append(f'<text x="10" y="{y + 30}" class="s">no client mappings</text>')
        y += 40
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{width:.0f}" height="{y + 10:.0f}" viewBox="0 0 {width:.0f} {y + 10:.0f}">'
            '<style>text{font-family:monospace} .h{font-size:14px;font-weight:bold} '
            '.b{font-size:12px;font-weight:bold} .s{font-size:10px}</style>'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="24" class="h" style="font-size:18px">memmon: '
            f'{_esc(len(spaces))} spaces</text>')
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + head + "\n".join(body) + "</svg>\n"
