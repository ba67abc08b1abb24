"""Generate ``docs/reference.md`` (inputs and outputs) from the registry.

The reference is generated so it cannot drift from the code; a test regenerates
it and compares. Regenerate with ``python -m sweep.docs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .report import registry_table

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"

HEADER = """# Config reference: inputs and outputs

Generated from the registry (`kernels/registry.py` and the physics modules) by
`python -m sweep.docs`; do not edit by hand. The same table is printed by
`sweep list`. Every input can be a fixed parameter (`parameters:`) or a swept
axis (`axes:`); values in configs carry units (`"145 mM"`, `"100 nM"`,
`"-70 mV"`, `"310 K"`), dimensionless inputs are bare numbers. Stored units:
concentrations mM, potentials mV, free energies kJ/mol, temperature K,
currents µA/cm², fluxes mM/s, conductances mS/cm².

"""


def render_reference() -> str:
    """The full text of ``docs/reference.md``."""
    return HEADER + registry_table("markdown")


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else REFERENCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
