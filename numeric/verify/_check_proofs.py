"""The symbolic certificate as a ``smeq verify`` check (proofs.certify)."""

from __future__ import annotations

from ._checks import CheckResult, Context, register


@register("certificate", "every step of every registered derivation is proved by an exact "
          "route: score identity, Jensen, θ-free constant (proofs.certify)")
def _certificate(context: Context) -> CheckResult:
    import proofs

    names = list(proofs.DERIVATIONS)
    # --quick keeps the theorem itself (any p_0, the steps of docs/design.md §2) and leaves
    # the catalogue of special cases to the full run; the verdict says which it was.
    core = [n for n in names if _CORE in n] if context.quick else names
    chosen = core or names
    certificate = proofs.certify(chosen)
    total = len(certificate.results)
    if total == 0:
        return CheckResult(False, "0 steps", "proofs.DERIVATIONS is empty: no catalogue module "
                           "registered a derivation (proofs/_catalogue.py lists them)",
                           attachment=certificate)
    proved = total - len(certificate.failures)
    failed = "\n".join(f"{r.id}: {r.verdict.status} ({r.verdict.method}) {r.verdict.detail}"
                       for r in certificate.failures)
    scope = (f"{len(chosen)} derivations" if len(chosen) == len(names) else
             f"quick: the {len(chosen)} any-p₀ derivations of {len(names)}")
    return CheckResult(certificate.ok, f"{proved}/{total} steps proved, {scope}, "
                       f"{certificate.seconds:.1f} s",
                       failed or certificate.to_text().splitlines()[-1],
                       attachment=certificate)


_CORE = "any-p0"
