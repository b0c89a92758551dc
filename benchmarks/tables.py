"""How the benchmarks report: a ratio of two rates, its verdict against a goal, and a
table whose columns line up.

    ratio(25_000, 10_000)    2.5      (the fused GPT's tokens/s over the teaching one's)
    verdict(2.5, 2.0)        'goal >= 2x: met'
    table(header, rows)      the lines of a table: the first column left-aligned, the
                             others right-aligned, two spaces apart
    describe_cpu(cpu)        the CPU that measured, its vector units and any caps
"""

from __future__ import annotations


def ratio(faster: float, slower: float) -> float:
    """How many times `faster` exceeds `slower` (both rates, e.g. tokens/s)."""
    return faster / slower if slower > 0 else float("inf")


def verdict(value: float, goal: float) -> str:
    """'goal >= 2x: met' or 'goal >= 5x: missed (3.1x is 38% short)'."""
    if value >= goal:
        return f"goal >= {goal:g}x: met"
    return f"goal >= {goal:g}x: missed ({value:.2f}x is {100 * (1 - value / goal):.0f}% short)"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, the others right-aligned, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    return [line(header), *(line(r) for r in rows)]


def describe_cpu(cpu: dict) -> str:
    """The machine a report's figures come from, in one line, from gptkata.lab.cpu's
    `report()`: 'Intel Xeon ...; AVX2 yes, AVX-512 yes, bf16 units (AMX) yes; PyTorch
    uses AVX512' and, when capped, which variables capped it."""
    f = cpu["features"]

    def yes(value: bool) -> str:
        return "yes" if value else "no"

    units = [
        name for name, flag in (("AMX", "amx_bf16"), ("AVX-512 BF16", "avx512_bf16")) if f[flag]
    ]
    line = (
        f"{cpu['model']}; AVX2 {yes(f['avx2'])}, AVX-512 {yes(f['avx512f'])}, bf16 units "
        f"{'(' + ', '.join(units) + ') ' if units else ''}{yes(bool(units))}; PyTorch uses "
        f"{cpu['torch_capability']}, bf16 matrix units {'in use' if cpu['bf16_units'] else 'not in use'}"
    )
    if cpu["caps"]:
        capped = " ".join(f"{k}={v}" for k, v in cpu["caps"].items())
        line += f"; CAPPED by {capped} (figures estimate a smaller CPU)"
    return line
