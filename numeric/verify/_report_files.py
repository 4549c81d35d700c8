"""Write ``smeq verify``'s report: ``report.md`` and a self-contained ``report.html``.

The HTML needs no network: figures are embedded as base64 ``data:`` URIs and the maths is
MathML from SymPy's presentation printer, which browsers render natively (no CDN, no script).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._checks import Check, CheckResult

__all__ = ["Outcome", "RunInfo", "write_html", "write_markdown"]

# Claims with more nodes than this are not typeset (printing them costs seconds and helps no
# reader); the report points to ``python -m proofs`` for them.
_NODE_LIMIT = 400


@dataclass(frozen=True)
class Outcome:
    """One check with its result and the PNG of its figure (None if none or skipped)."""

    check: Check
    result: CheckResult
    png: Path | None = None


@dataclass(frozen=True)
class RunInfo:
    """What the report header says about the run."""

    command: str
    seed: int
    device: str
    quick: bool
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    figures_note: str = ""

    def ok(self, outcomes: Sequence[Outcome]) -> bool:
        return bool(outcomes) and all(o.result.ok for o in outcomes)


_SUMMARY_MD = """\
For data $p_0$ and the kernel $x_t = \\alpha_t x_0 + \\sigma_t \\varepsilon$, the explicit score
matching loss $\\mathrm{SM}(\\theta) = \\mathbb{E}\\lVert\\nabla\\log p_t(x_t) - s_\\theta\\rVert^2$
and the denoising loss
$\\mathrm{DSM}(\\theta) = \\mathbb{E}\\lVert\\nabla\\log p_t(x_t\\mid x_0) - s_\\theta\\rVert^2$
differ by a constant that does not depend on $\\theta$ (Vincent 2011):
$\\mathrm{DSM}(\\theta) - \\mathrm{SM}(\\theta) = C(t) = d/\\sigma_t^2 - J(p_t) \\ge 0$, with
$J(p_t) = \\mathbb{E}\\lVert\\nabla\\log p_t\\rVert^2$ the Fisher information.
"""


def _verdict_word(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _header_lines(info: RunInfo, outcomes: Sequence[Outcome]) -> list[tuple[str, str]]:
    passed = sum(o.result.ok for o in outcomes)
    return [
        ("verdict", f"{_verdict_word(info.ok(outcomes))}: {passed}/{len(outcomes)} checks passed"),
        ("command", info.command),
        ("seed", str(info.seed)),
        ("device", info.device),
        ("mode", "quick" if info.quick else "full"),
        ("wall time", f"{info.seconds:.1f} s"),
        ("versions", ", ".join(f"{k} {v}" for k, v in info.versions.items())),
    ]


def write_markdown(path: Path, info: RunInfo, outcomes: Sequence[Outcome]) -> Path:
    """Write ``report.md``: header, verdict table, figures (linked PNGs), details, certificate."""
    out = ["# smeq verify report", "", _SUMMARY_MD]
    out += [f"- **{key}**: {value}" for key, value in _header_lines(info, outcomes)]
    if info.figures_note:
        out += [f"- **figures**: {info.figures_note}"]
    out += ["", "## Verdicts", "", "| check | claim | verdict | measured | time |",
            "|---|---|---|---|---|"]
    for o in outcomes:
        out.append(f"| `{o.check.name}` | {_md_cell(o.check.claim)} | "
                   f"{'pass' if o.result.ok else '**FAIL**'} | {_md_cell(o.result.value)} | "
                   f"{o.result.seconds:.2f} s |")
    figures = [o for o in outcomes if o.png is not None and o.result.figure is not None]
    if figures:
        out += ["", "## Figures", ""]
        for number, o in enumerate(figures, 1):
            fig = o.result.figure
            assert fig is not None and o.png is not None
            out += [f"### Figure {number}. {fig.title}", "",
                    f"![{fig.title}]({o.png.name})", "", fig.caption, ""]
    out += ["", "## Details", ""]
    for o in outcomes:
        out += [f"### `{o.check.name}`: {'pass' if o.result.ok else 'FAIL'}", "",
                o.check.claim, "", "```text", o.result.detail or o.result.value, "```", ""]
    for o in outcomes:
        if hasattr(o.result.attachment, "results"):
            out += _certificate_markdown(o.result.attachment)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_html(path: Path, info: RunInfo, outcomes: Sequence[Outcome]) -> Path:
    """Write ``report.html``, self-contained: inline CSS, base64 PNGs, MathML maths."""
    e = html.escape
    ok = info.ok(outcomes)
    body = [f"<h1>smeq verify report <span class='{'pass' if ok else 'fail'}'>"
            f"{_verdict_word(ok)}</span></h1>", _summary_html(), "<dl>"]
    for key, value in _header_lines(info, outcomes):
        body.append(f"<dt>{e(key)}</dt><dd>{e(value)}</dd>")
    if info.figures_note:
        body.append(f"<dt>figures</dt><dd>{e(info.figures_note)}</dd>")
    body += ["</dl>", "<h2>Verdicts</h2>", "<table><thead><tr><th>check</th><th>claim</th>"
             "<th>verdict</th><th>measured</th><th>time</th></tr></thead><tbody>"]
    for o in outcomes:
        cls = "pass" if o.result.ok else "fail"
        body.append(f"<tr><td><code>{e(o.check.name)}</code></td><td>{e(o.check.claim)}</td>"
                    f"<td class='{cls}'>{'pass' if o.result.ok else 'FAIL'}</td>"
                    f"<td>{e(o.result.value)}</td><td>{o.result.seconds:.2f}&nbsp;s</td></tr>")
    body.append("</tbody></table>")
    figures = [o for o in outcomes if o.png is not None and o.result.figure is not None]
    if figures:
        body.append("<h2>Figures</h2>")
        for number, o in enumerate(figures, 1):
            fig = o.result.figure
            assert fig is not None and o.png is not None
            data = base64.b64encode(o.png.read_bytes()).decode("ascii")
            body.append(f"<figure id='{e(fig.name)}'><img alt='{e(fig.title)}' "
                        f"src='data:image/png;base64,{data}'><figcaption><b>Figure {number}. "
                        f"{e(fig.title)}.</b> {e(fig.caption)}</figcaption></figure>")
    body.append("<h2>Details</h2>")
    for o in outcomes:
        body.append(f"<h3><code>{e(o.check.name)}</code>: "
                    f"{'pass' if o.result.ok else 'FAIL'}</h3><p>{e(o.check.claim)}</p>"
                    f"<pre>{e(o.result.detail or o.result.value)}</pre>")
    for o in outcomes:
        if hasattr(o.result.attachment, "results"):
            body.append(_certificate_html(o.result.attachment))
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>smeq verify report</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    path.write_text(page, encoding="utf-8")
    return path


def _summary_html() -> str:
    return ("<p>For data p<sub>0</sub> and the kernel x<sub>t</sub> = α<sub>t</sub>x<sub>0</sub> + "
            "σ<sub>t</sub>ε, the explicit and the denoising score-matching losses</p>"
            f"<math display='block'>{_SM_DEF}</math><math display='block'>{_DSM_DEF}</math>"
            "<p>differ by a constant that does not depend on θ (Vincent 2011):</p>"
            f"<math display='block'>{_IDENTITY}</math>"
            "<p>with J(p<sub>t</sub>) = E‖∇log p<sub>t</sub>‖² the Fisher information; the gap is "
            "a posterior variance, so SM ≤ DSM (Jensen).</p>")


# The three displayed equations, written as presentation MathML (rendered by the browser).
_THETA = "<mo>(</mo><mi>θ</mi><mo>)</mo>"
_NORM = ("<mo>‖</mo><mrow>{inner}<mo>−</mo><msub><mi>s</mi><mi>θ</mi></msub></mrow>"
         "<msup><mo>‖</mo><mn>2</mn></msup>")
_GRAD_LOG = "<mo>∇</mo><mi>log</mi><mo>&#x2061;</mo><msub><mi>p</mi><mi>t</mi></msub>"
_SM_DEF = ("<mrow><mi mathvariant='normal'>SM</mi>" + _THETA + "<mo>=</mo><mi>𝔼</mi>"
           + _NORM.format(inner=_GRAD_LOG + "<mo>(</mo><msub><mi>x</mi><mi>t</mi></msub>"
                          "<mo>)</mo>") + "</mrow>")
_DSM_DEF = ("<mrow><mi mathvariant='normal'>DSM</mi>" + _THETA + "<mo>=</mo><mi>𝔼</mi>"
            + _NORM.format(inner=_GRAD_LOG + "<mo>(</mo><msub><mi>x</mi><mi>t</mi></msub>"
                           "<mo>|</mo><msub><mi>x</mi><mn>0</mn></msub><mo>)</mo>") + "</mrow>")
_IDENTITY = ("<mrow><mi mathvariant='normal'>DSM</mi>" + _THETA + "<mo>−</mo>"
             "<mi mathvariant='normal'>SM</mi>" + _THETA + "<mo>=</mo><mi>C</mi><mo>(</mo>"
             "<mi>t</mi><mo>)</mo><mo>=</mo><mfrac><mi>d</mi><msubsup><mi>σ</mi><mi>t</mi>"
             "<mn>2</mn></msubsup></mfrac><mo>−</mo><mi>J</mi><mo>(</mo><msub><mi>p</mi>"
             "<mi>t</mi></msub><mo>)</mo><mo>≥</mo><mn>0</mn></mrow>")


def _small(expr: Any, limit: int = _NODE_LIMIT) -> bool:
    """True when ``expr`` has at most ``limit`` nodes (counted lazily: large trees stop early)."""
    stack, count = [expr], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return False
        if hasattr(node, "tolist") and not hasattr(node, "func"):  # a Matrix: its entries
            stack.extend(node)
        else:
            stack.extend(getattr(node, "args", ()))
    return True


def _too_large(step: Any) -> str:
    return (f"(a claim of more than {_NODE_LIMIT} terms; print it with "
            f"<code>python -m proofs</code>)")


def _claim_mathml(step: Any) -> str:
    from sympy.printing.mathml import mathml

    if not (_small(step.lhs) and _small(step.rhs)):
        return _too_large(step)
    relation = {"==": "=", "<=": "≤", ">=": "≥"}.get(step.relation, step.relation)
    try:
        lhs = mathml(step.lhs, printer="presentation")
        rhs = mathml(step.rhs, printer="presentation")
    except Exception:  # a SymPy object without a MathML printer: show it as code
        return f"<code>{html.escape(str(step))}</code>"
    return f"<math><mrow>{lhs}<mo>{relation}</mo>{rhs}</mrow></math>"


def _claim_latex(step: Any) -> str:
    import sympy as sp

    if not (_small(step.lhs) and _small(step.rhs)):
        return f"(a claim of more than {_NODE_LIMIT} terms; print it with `python -m proofs`)"
    relation = {"==": "=", "<=": r"\le", ">=": r"\ge"}.get(step.relation, step.relation)
    text = f"{sp.latex(step.lhs)} {relation} {sp.latex(step.rhs)}"
    return "$" + text.replace("|", r"\vert ").replace("\n", " ") + "$"


def _certificate_markdown(certificate: Any) -> list[str]:
    out = ["## Symbolic certificate", "",
           "Every step is decided by `proofs.check`; only exact routes count as proved.", ""]
    current = None
    for r in certificate.results:
        if r.derivation.name != current:
            current = r.derivation.name
            out += ["", f"### `{current}`", "", f"{r.derivation.claim} ({r.derivation.citation})",
                    "", "| step | claim | rule | verdict | method | time |",
                    "|---|---|---|---|---|---|"]
        word = "proved" if r.verdict.ok else f"**{r.verdict.status}**"
        out.append(f"| `{r.step.name}` | {_claim_latex(r.step)} | "
                   f"{_md_cell(r.step.justification)} | {word} | `{r.verdict.method}` | "
                   f"{r.verdict.seconds:.3f} s |")
    proved = sum(r.verdict.ok for r in certificate.results)
    out += ["", f"**{proved}/{len(certificate.results)} steps proved in "
            f"{certificate.seconds:.2f} s: {'certified' if certificate.ok else 'not certified'}.**"]
    return out


def _certificate_html(certificate: Any) -> str:
    e = html.escape
    parts = ["<h2>Symbolic certificate</h2>",
             "<p>Every step is decided by <code>proofs.check</code>; only exact routes count "
             "as proved.</p>"]
    current = None
    for r in certificate.results:
        if r.derivation.name != current:
            if current is not None:
                parts.append("</tbody></table>")
            current = r.derivation.name
            parts += [f"<h3><code>{e(current)}</code></h3>",
                      f"<p>{e(r.derivation.claim)} ({e(r.derivation.citation)})</p>",
                      "<table><thead><tr><th>step</th><th>claim</th><th>rule</th><th>verdict</th>"
                      "<th>method</th><th>time</th></tr></thead><tbody>"]
        cls = "pass" if r.verdict.ok else "fail"
        word = "proved" if r.verdict.ok else r.verdict.status
        parts.append(f"<tr><td><code>{e(r.step.name)}</code></td><td>{_claim_mathml(r.step)}"
                     f"</td><td>{e(r.step.justification)}</td><td class='{cls}'>{e(word)}</td>"
                     f"<td><code>{e(r.verdict.method)}</code></td>"
                     f"<td>{r.verdict.seconds:.3f}&nbsp;s</td></tr>")
    if current is not None:
        parts.append("</tbody></table>")
    proved = sum(r.verdict.ok for r in certificate.results)
    parts.append(f"<p><b>{proved}/{len(certificate.results)} steps proved in "
                 f"{certificate.seconds:.2f} s: "
                 f"{'certified' if certificate.ok else 'not certified'}.</b></p>")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
h1 span{font-size:.7em;padding:.1em .5em;border-radius:.3em;color:#fff}
h1 span.pass{background:#2a7d2a}h1 span.fail{background:#b22}
td.pass{color:#2a7d2a;font-weight:bold}td.fail{color:#b22;font-weight:bold}
table{border-collapse:collapse;margin:1em 0;width:100%;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}dt{font-weight:bold;float:left;clear:left;width:7em}dd{margin-left:8em}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #ddd}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;white-space:pre-wrap}
math{font-size:1.05em}
"""
