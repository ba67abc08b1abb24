#!/usr/bin/env bash
# Regenerate the README figures (run from the repository root; ~30 s on 2 cores).
# Stores go to a temporary directory; only the PNGs are kept here.
set -euo pipefail
out=docs/figures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. quickstart NCX mode map with the refined V_rev boundary overlaid
sweep run configs/quickstart.yaml --store "$tmp/q.zarr" --no-progress > /dev/null
sweep boundary configs/quickstart.yaml --output dG_ncx --along vm --store "$tmp/qb.zarr" > /dev/null
sweep plot "$tmp/q.zarr" mode_ncx --x vm --y na_i --boundary "$tmp/qb.zarr" \
  --title "NCX mode over Vm × [Na⁺]ᵢ ([Ca²⁺]ᵢ = 100 nM)" -o "$out/ncx_mode_map.png" --dpi 120

# 2. the NCX reversal surface over [Na⁺]ᵢ × [Ca²⁺]ᵢ, located by root refinement
sweep boundary configs/ncx_reversal_3d.yaml --output dG_ncx --along vm --store "$tmp/nb.zarr" > /dev/null
sweep plot "$tmp/nb.zarr" boundary_vm --x na_i --y ca_i --sel crossing=0 \
  --title "NCX reversal: Vm where ΔG_NCX = 0 (= 3E_Na − 2E_Ca)" -o "$out/ncx_boundary.png" --dpi 120

# 3. adaptive refinement of the quickstart mode map: where the kernel was evaluated
sweep boundary configs/quickstart.yaml --output mode_ncx --adaptive --store "$tmp/qa.zarr" > /dev/null
sweep plot "$tmp/qa.zarr" evaluated --x vm --y na_i \
  --title "Adaptive boundary mapping: 6% of the grid evaluated" -o "$out/ncx_adaptive.png" --dpi 120

# 4. the GABA switch at the chloride steady state (needs df_gaba_ss)
sweep run configs/gaba_switch.yaml --store "$tmp/g.zarr" --no-progress > /dev/null
sweep boundary configs/gaba_switch.yaml --output df_gaba_ss --along p_kcc2 --store "$tmp/gb.zarr" > /dev/null
sweep plot "$tmp/g.zarr" df_gaba_ss --x p_kcc2 --y k_o --boundary "$tmp/gb.zarr" \
  --title "GABA_A driving force at the Cl⁻ steady state (Vm = −70 mV)" -o "$out/gaba_switch.png" --dpi 120
echo "wrote $out/ncx_mode_map.png $out/ncx_boundary.png $out/ncx_adaptive.png $out/gaba_switch.png"
