"""One self-contained HTML page per fit: summary, parameters, allocation, data with predictive bands, diagnostics,
provenance. A fit that failed its diagnostics is flagged at the top and beside every section of numbers."""

from __future__ import annotations

import json
import warnings

import numpy as np

from bayes_scaling.analysis.planning import plan, summary
from bayes_scaling.data.named_models import NAMED_MODELS
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.priors import Prior
from bayes_scaling.report import figures
from bayes_scaling.report.html import (
    Markup,
    count,
    esc,
    figure_html,
    fmt,
    interval_text,
    page_html,
    table_html,
)
from bayes_scaling.result import ScalingFit
from bayes_scaling.sampling.diagnostics import MAX_RHAT, MIN_ESS, loo_summary
from bayes_scaling.study import published
from bayes_scaling.uncertainty.drift import FRACTIONS
from bayes_scaling.util.defaults import DEFAULT_LEVEL

LEVEL = DEFAULT_LEVEL
PLANNING_BUDGETS = (1e21, 1e22, published.GOPHER_BUDGET, 1e24, 1e25, 1e26)


def _flag(fit: ScalingFit) -> str:
    return "" if fit.converged else ' <span class="bad">(NOT CONVERGED)</span>'


def _banner(fit: ScalingFit) -> str:
    if fit.converged:
        return f'<p class="ok">Sampler diagnostics passed: {esc(fit.diagnostics.verdict())}.</p>'
    return ('<div class="banner-bad" role="alert">NOT CONVERGED: this fit failed its sampler diagnostics '
            f"({esc('; '.join(fit.diagnostics.problems))}). Its numbers are shown for inspection only; do not quote "
            "them.</div>")


def _summary_section(fit: ScalingFit) -> str:
    result = plan(fit, compute=[published.GOPHER_BUDGET], level=LEVEL)
    parts = [f"<p>{len(fit.runs['run'])} runs, law <code>{esc(fit.law.equation)}</code>, "
             f"{esc(fit.tree.attrs['likelihood'])} likelihood on log loss. Every number is a posterior median "
             f"with its {LEVEL:.0%} credible interval in brackets.</p>"]
    if result.get("compute"):
        row = result["compute"][0]
        parts.append(
            f"<p>At Gopher's budget of {published.GOPHER_BUDGET:.3g} FLOP the compute-optimal model has "
            f"<strong>{interval_text(row['n_params'], style=count)}</strong> parameters trained on "
            f"<strong>{interval_text(row['n_tokens'], style=count)}</strong> tokens, "
            f"<strong>{interval_text(row['tokens_per_param'])}</strong> tokens per parameter, reaching a loss of "
            f"{interval_text(row['loss'])} nats/token.</p>"
        )
        if row.get("with_discrepancy"):
            found = row["with_discrepancy"]
            parts.append(
                "<p>Allowing for the law's discrepancy along that IsoFLOP line (the law's misfit at the runs, carried "
                "beyond them as a Gaussian process, plus its drift beyond the largest compute fitted; the interval "
                "held-out budgets call for, see Calibration where measured): "
                f"<strong>{interval_text(found['n_params'], style=count)}</strong> parameters, "
                f"<strong>{interval_text(found['tokens_per_param'])}</strong> tokens per parameter, reaching a loss "
                f"of {interval_text(found['loss'])} nats/token.</p>"
            )
    if result.get("exponents"):
        a = fit.exponents()["a"].values.ravel()
        low, high = published.HOFFMANN_TABLE2["Approach 3 (parametric loss)"]["a"][1:]
        p_hoffmann = float(np.mean((a > low) & (a < high)))
        parts.append(
            f"<p>Parameters should grow as C<sup>a</sup> with a = <strong>{interval_text(result['exponents']['a'])}"
            f"</strong> (tokens as C<sup>b</sup>, b = {interval_text(result['exponents']['b'])}). "
            f"The posterior probability that a lies in Hoffmann et al.'s approach-3 interval ({low}, {high}) is "
            f"{p_hoffmann:.2%}.</p>"
        )
    return f'<section id="summary"><h2>Summary{_flag(fit)}</h2><div class="summary">{"".join(parts)}</div></section>'


def _parameter_section(fit: ScalingFit) -> str:
    header = ["parameter", "median", "90% interval", "95% interval"]
    chinchilla = fit.law.name == "chinchilla"
    kaplan = published.KAPLAN_2020.get(fit.law.name)
    if chinchilla:
        header += ["Hoffmann (approach 3)", "Epoch AI estimate", "Epoch 95% bootstrap CI"]
    if kaplan:
        header.append(f"Kaplan et al. 2020 ({kaplan[0]})")

    def row_of(name, values, reference=None):
        s90, s95 = summary(values, 0.9), summary(values, 0.95)
        row = [name, fmt(s90["median"]), f"[{fmt(s90['lower'])}, {fmt(s90['upper'])}]",
               f"[{fmt(s95['lower'])}, {fmt(s95['upper'])}]"]
        if chinchilla:
            lo, hi = published.EPOCH_CI95[name]
            row += [fmt(published.HOFFMANN_APPROACH3[name]), fmt(published.EPOCH_ESTIMATE[name]),
                    f"[{fmt(lo)}, {fmt(hi)}]"]
        if kaplan:
            row.append("–" if reference is None else fmt(reference))
        return row

    reference = kaplan[1] if kaplan else {}
    rows = [row_of(name, fit.posterior[name], reference.get(name)) for name in fit.law.parameters]
    draws = {name: fit.posterior[name] for name in fit.law.parameters}
    published_views = published.pf_day_views(reference)
    rows += [row_of(label, values, published_views.get(label))
             for label, values in published.pf_day_views(draws).items()]
    body = table_html(header, rows)
    if kaplan:
        body += ("<p>Kaplan et al. fitted WebText2 with a 50257-token BPE, counted non-embedding parameters and "
                 "measured compute in PF-days (1 PF-day = 8.64e19 FLOP; this package works in FLOP and shows the "
                 "compute scales in PF-days too). Tokenizer and dataset differ here, so scales (N_c, D_c, C_c) "
                 "compare loosely; exponents compare closely.</p>")
    body += figure_html(
        figures.parameter_posteriors(fit),
        "Posterior of each parameter (histogram) against Hoffmann et al.'s published fit (dashed) and Epoch AI's "
        "refit with its 95% bootstrap interval (shaded) where the law is Chinchilla's, and Kaplan et al.'s value "
        "(dotted) where the law is one of Kaplan's and the value falls in the plotted range.",
        "posterior histograms of the law parameters",
    )
    return f'<section id="parameters"><h2>Parameters{_flag(fit)}</h2>{body}</section>'


def _table2_cell(value: tuple) -> str:
    """A Table 2 entry ``(centre, low, high)`` as ``centre (low, high)``, or ``centre`` without an interval."""
    centre, low, high = value
    return fmt(centre, 3) + ("" if low is None else f" ({fmt(low, 3)}, {fmt(high, 3)})")


def _allocation_section(fit: ScalingFit) -> str:
    try:
        exps = fit.exponents()
    except LawNotApplicable:
        return ""
    s_a, s_b = summary(exps["a"], LEVEL), summary(exps["b"], LEVEL)
    rows = [["this fit (posterior, 90% interval)", interval_text(s_a), interval_text(s_b)]]
    table2 = published.HOFFMANN_TABLE2
    if fit.law.name == "chinchilla":
        rows += [[f"Hoffmann Table 2: {label}", _table2_cell(v["a"]), _table2_cell(v["b"])]
                 for label, v in table2.items()]
        est, se = published.EPOCH_A_EXPONENT
        rows.append(["Epoch AI refit (estimate ± SE)", f"{est} ± {se}", f"{1 - est:.3f} ± {se}"])
    else:
        configuration = fit.attr_json("data_source").get("configuration") or {}
        if "published_a" in configuration:
            rows.append(["Porian et al. 2024, their fit of these runs", fmt(configuration["published_a"], 3),
                         fmt(configuration["published_b"], 3)])
        for label, key in (("Kaplan et al. 2020 (Table 6)", "Kaplan et al. 2020"),
                           ("Hoffmann et al. 2022 (approach 2)", "Approach 2 (IsoFLOP profiles)")):
            rows.append([label, _table2_cell(table2[key]["a"]), _table2_cell(table2[key]["b"])])
    body = table_html(["source", "a (N_opt ∝ C^a)", "b (D_opt ∝ C^b)"], rows)
    exponent_fig = figures.exponent_posterior(fit)
    if exponent_fig is not None:
        body += figure_html(exponent_fig, "Allocation exponent a: this fit's median with its 50% (thick) and 90% "
                            "(thin) credible intervals, against the intervals in Hoffmann et al.'s Table 2 and "
                            "Epoch AI's estimate.",
                            "posterior of the allocation exponent a")
    alloc_fig = figures.allocation(fit)
    if alloc_fig is not None:
        body += figure_html(
            alloc_fig,
            ("Compute-optimal parameters and tokens with 90% credible bands, against Hoffmann's approach-3 fit, "
             "Epoch AI's refit and Hoffmann's approach-1 budgets (Table 3). " if fit.law.name == "chinchilla" else
             "Compute-optimal parameters and tokens with 90% credible bands, against Kaplan et al.'s line "
             "N_opt = 1.3e9 (C / PF-day)^0.73 (non-embedding parameters; compare the slope, as N counts differ). ")
            + "The grey band is the compute range of the runs: beyond it the curves are extrapolations. Dotted: "
            "the 90% band allowing for the law's discrepancy along each IsoFLOP line (laws of N and D).",
            "compute-optimal N and D against compute",
        )
    result = plan(fit, compute=list(PLANNING_BUDGETS), level=LEVEL)
    gp = any("with_discrepancy" in r for r in result["compute"])
    rows = [[f"{r['compute']:.3g}", interval_text(r["n_params"], style=count),
             interval_text(r["n_tokens"], style=count),
             interval_text(r["tokens_per_param"]), interval_text(r["loss"]),
             *([interval_text(r["with_discrepancy"]["n_params"], style=count)] if gp else [])]
            for r in result["compute"]]
    body += "<h3>Budgets</h3>" + (
        "<p>The last column allows for the law's discrepancy along each IsoFLOP line: the vertex of the loss "
        "profile of law plus discrepancy per draw. Beyond the runs, it is the N_opt interval to quote.</p>"
        if gp else "") + table_html(
        ["compute (FLOP)", "N_opt", "D_opt", "tokens / parameter", "loss (nats)",
         *(["N_opt with discrepancy"] if gp else [])], rows)
    if fit.law.name == "chinchilla":
        sizes = list(published.HOFFMANN_TABLE3)
        table3 = plan(fit, n_params=sizes, level=LEVEL)["params"]
        rows = [[count(n), interval_text(r["compute"]), fmt(published.HOFFMANN_TABLE3[n][0], 3),
                 interval_text(r["n_tokens"], style=count), count(published.HOFFMANN_TABLE3[n][1])]
                for n, r in zip(sizes, table3, strict=True)]
        body += ("<h3>Hoffmann's Table 3 with intervals</h3><p>The budget and tokens that make each model size "
                 "compute-optimal under this fit, beside Hoffmann et al.'s approach-1 values.</p>")
        body += table_html(["parameters", "compute (FLOP), this fit", "compute, Hoffmann",
                            "tokens, this fit", "tokens, Hoffmann"], rows)
    return f'<section id="allocation"><h2>Compute-optimal allocation{_flag(fit)}</h2>{body}</section>'


def _named_models_section(fit: ScalingFit) -> str:
    if set(fit.law.inputs) != {"n_params", "n_tokens"}:
        return ""
    losses = fit.named_model_losses()
    rows = [[m, count(NAMED_MODELS[m][0]), count(NAMED_MODELS[m][1]),
             interval_text(summary(losses.sel(model=m), LEVEL))] for m in losses["model"].values]
    body = table_html(["model", "parameters", "tokens", "predicted loss (nats), 90% interval"], rows)
    body += ("<p>Losses on the fitted data's distribution and tokenizer; they compare models with each other, "
             "not with losses measured on other data.</p>")
    return f'<section id="named-models"><h2>Named models{_flag(fit)}</h2>{body}</section>'


def _data_section(fit: ScalingFit) -> str:
    body = ""
    slices = figures.isoflop_slices(fit)
    if slices is not None:
        body += figure_html(slices, "Runs grouped by FLOP budget; the curves follow the IsoFLOP line D = C/(6N) "
                            "with the law's 90% credible band (dark) and 90% posterior predictive band (light).",
                            "IsoFLOP slices with posterior bands")
    check, inside = figures.predictive_check(fit)
    body += figure_html(check, f"Each run's observed loss against its posterior predictive median and 90% "
                        f"interval; {inside:.0%} of runs fall inside (nominal 90%).", "posterior predictive check")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = loo_summary(fit.tree)
    body += table_html(
        ["PSIS-LOO", "value"],
        [["ELPD (log loss scale)", f"{loo.elpd:.1f} ± {loo.se:.1f}"],
         ["effective parameters p_loo", f"{loo.p_loo:.1f}"],
         ["Pareto k > 0.7 (unreliable points)", f"{loo.k_over_0_7} of {loo.n_points}"],
         ["largest Pareto k", f"{loo.k_max:.2f}"]],
    )
    body += _discrepancy_table(fit)
    return f'<section id="data"><h2>Data and posterior predictive checks{_flag(fit)}</h2>{body}</section>'


def _discrepancy_table(fit: ScalingFit) -> str:
    """The discrepancy term's hyperparameters and its extrapolation drift, as fitted with this posterior."""
    found = fit.discrepancy
    drift = (f"{found.drift:.4f} per decade of compute beyond the data ({found.drift_errors} runs held out of "
             f"leave-future-out refits)" if found.drift_errors else "not measured (too few runs to refit)")
    return ("<p>The discrepancy term adds to each prediction what the law gets wrong: a Gaussian process on log "
            "loss over the law's inputs (near the runs it borrows their misfit, far from them its spread reaches "
            "eta) and a drift whose spread grows linearly with each decade of compute beyond the largest in the "
            f"data, at the rate at which refits without the top {FRACTIONS[0]:.0%} to {FRACTIONS[-1]:.0%} of "
            "compute missed it "
            "(<code>bayes_scaling.uncertainty.drift</code>).</p>" + table_html(
                ["discrepancy term", "value"],
                [["eta (log loss)", f"{found.eta:.4f}"], ["length scale (decades)", f"{found.length_scale:.3g}"],
                 ["nugget (log loss)", f"{found.nugget:.4f}"], ["drift (log loss)", drift]], css_class="kv"))


def _diagnostics_section(fit: ScalingFit) -> str:
    diag = fit.diagnostics
    rows = []
    for name in diag.rhat:
        ok = diag.rhat[name] <= MAX_RHAT and min(diag.ess_bulk[name], diag.ess_tail[name]) >= MIN_ESS
        status = Markup('<span class="ok">ok</span>' if ok else '<span class="bad">FAIL</span>')
        rows.append([name, f"{diag.rhat[name]:.4f}", f"{diag.ess_bulk[name]:.0f}", f"{diag.ess_tail[name]:.0f}",
                     status])
    attrs = fit.tree.attrs
    body = _banner(fit) + table_html(["parameter", "R-hat", "bulk ESS", "tail ESS", "status"], rows)
    body += (f"<p>Thresholds: R-hat ≤ {MAX_RHAT}, bulk and tail ESS ≥ {MIN_ESS:.0f}, no divergences. "
             f"Divergent transitions: <strong>{diag.divergences}</strong> of {diag.draws} draws. "
             f"Geometry: {esc(attrs.get('geometry'))}. Compile {attrs.get('compile_seconds', 0):.1f} s, "
             f"sampling {attrs.get('sampling_seconds', 0):.1f} s.</p>")
    return f'<section id="diagnostics"><h2>Sampler diagnostics</h2>{body}</section>'


def _provenance_section(fit: ScalingFit) -> str:
    source = fit.attr_json("data_source")
    spec = fit.attr_json("spec") if "spec" in fit.tree.attrs else {}
    rows = [[k, Markup(f'<span class="mono">{esc(v)}</span>')] for k, v in source.items()
            if k != "n_counts_embeddings"]
    rows += [["runs used", fit.tree.attrs["n_runs"]],
             ["filters", "; ".join(fit.attr_json("filters")) or "none"],
             ["N counts embeddings", {True: "yes", False: "no", None: "not stated"}[
                 fit.attr_json("n_counts_embeddings")]]]
    body = "<h3>Data</h3>" + table_html(["field", "value"], rows, css_class="kv")
    priors = fit.attr_json("priors")
    units = {term.amplitude: term for term in fit.law.power_terms if term.centre_unit != (1.0, 0.0)}

    def described(name: str, raw: dict) -> str:
        prior = Prior.from_mapping(raw)
        if not (prior.at_centre and name in units):
            return prior.describe()
        factor, power = units[name].centre_unit
        return f"{prior.describe()}, in units of ({factor:.3g} × {units[name].input})^{power:g}"

    body += "<h3>Priors</h3>" + table_html(
        ["parameter", "prior"], [[name, described(name, p)] for name, p in priors.items()], css_class="kv")
    sampler = spec.get("sampler", {})
    body += "<h3>Sampler and software</h3>" + table_html(
        ["setting", "value"],
        [*([k, v] for k, v in sampler.items()), ["likelihood", fit.tree.attrs["likelihood"]],
         *([k, v] for k, v in fit.attr_json("versions").items())], css_class="kv")
    return f'<section id="provenance"><h2>Provenance</h2>{body}</section>'


SECTIONS = (
    ("summary", "Summary", _summary_section),
    ("parameters", "Parameters", _parameter_section),
    ("allocation", "Compute-optimal allocation", _allocation_section),
    ("named-models", "Named models", _named_models_section),
    ("data", "Data and predictive checks", _data_section),
    ("diagnostics", "Sampler diagnostics", _diagnostics_section),
    ("provenance", "Provenance", _provenance_section),
)


def render_fit_page(fit: ScalingFit, extra_sections=(), header_notes=()) -> str:
    """The fit's HTML page as a string; ``extra_sections`` are ``(anchor, label, html)`` built from other fits (such
    as sensitivity checks), placed before the diagnostics; ``header_notes`` are HTML paragraphs shown under the
    title (such as the measured extrapolation coverage)."""
    title = fit.tree.attrs.get("title") or fit.law.title
    rendered = [(anchor, label, build(fit)) for anchor, label, build in SECTIONS]
    at = next(i for i, (anchor, _, _) in enumerate(rendered) if anchor == "diagnostics")
    rendered[at:at] = list(extra_sections)
    toc = [(anchor, label) for anchor, label, html in rendered if html]
    header = (f"<header><h1>{esc(title)}</h1><p class=\"lede\">{esc(fit.law.title)}: "
              f"<code>{esc(fit.law.equation)}</code>. {esc(fit.law.reference)}.</p>"
              f"{''.join(header_notes)}{'' if fit.converged else _banner(fit)}</header><!--TOC-->")
    footer = (f"<footer>bayes_scaling {esc(json.loads(fit.tree.attrs['versions']).get('bayes_scaling'))}; "
              f"seed {fit.tree.attrs['seed']}.</footer>")
    return page_html(title, header + "".join(html for _, _, html in rendered) + footer, toc)
