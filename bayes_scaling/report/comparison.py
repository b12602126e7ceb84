"""Sections of the comparison page (``reports/index.html``): how Kaplan's and Chinchilla's analyses split a budget,
with intervals, and where their disagreement comes from.

Which fit plays which role is a :class:`ComparisonPlan` of analysis names; a section whose fits are not in the report
is left out, so the page also works for a report of other specs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bayes_scaling.analysis.compare import allocation_comparison, loo_comparison
from bayes_scaling.analysis.planning import summary
from bayes_scaling.data.named_models import NAMED_MODELS
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report.comparison_figures import allocation_comparison_figure, ladder_figure
from bayes_scaling.report.html import Markup, count, esc, figure_html, fmt, interval_text, table_html, verdict_html
from bayes_scaling.report.sensitivity import EXTRAPOLATION_HEADER, extrapolation_rows
from bayes_scaling.result import ScalingFit
from bayes_scaling.study import published
from bayes_scaling.study.crossover import fits_crossover, summarise
from bayes_scaling.study.param_count import KAPLAN_VOCAB, recounted_exponent
from bayes_scaling.util.defaults import DEFAULT_LEVEL

LEVEL = DEFAULT_LEVEL


@dataclass(frozen=True)
class ComparisonPlan:
    """Analysis names for each role on the comparison page."""

    kaplan: str = "porian-rw-kaplan-isoflop"
    chinchilla: tuple[str, ...] = ("chinchilla", "epoch-isoflop")
    #: (runs, Chinchilla-law fit, Kaplan-law fit) pairs fitted to the same runs.
    same_runs: tuple[tuple[str, str, str], ...] = (
        ("Epoch AI's Chinchilla runs", "chinchilla", "epoch-kaplan-joint"),
        ("Porian et al., RefinedWeb, Kaplan's setup", "porian-rw-kaplan-chinchilla", "porian-rw-kaplan-windowed-joint"),
    )
    frontier: str = "porian-rw-kaplan-frontier"
    data_limited: str = "porian-rw-kaplan-joint"
    budgets: tuple[float, ...] = (published.GOPHER_BUDGET, 1e25, 1e26)
    seed: int = 20220329


def link(name: str, fit: ScalingFit | None = None) -> Markup:
    """The analysis name linking to its page, flagged if its fit did not converge."""
    flag = "" if fit is None or fit.converged else ' <span class="bad">(NOT CONVERGED)</span>'
    return Markup(f'<a href="{esc(name)}/index.html">{esc(name)}</a>{flag}')


def probability_text(p: float, draws: int) -> str:
    """"= p" for a posterior probability from ``draws`` paired draws; 0 and 1 are shown as bounds, not as
    certainty (HTML)."""
    if p >= 1.0:
        return f"&gt; {1 - 1 / draws:.4f} (every one of {draws} paired draws)"
    if p <= 0.0:
        return f"&lt; {1 / draws:.4f} (none of {draws} paired draws)"
    return f"= {p:.4f}"


def linked(name: str, text: str, fit: ScalingFit) -> Markup:
    """``text`` (a number from the fit) linking to the fit's page, flagged if it did not converge."""
    flag = "" if fit.converged else ' <span class="bad">(NOT CONVERGED)</span>'
    return Markup(f'<a href="{esc(name)}/index.html">{esc(text)}</a>{flag}')


def _a(fit: ScalingFit) -> dict:
    return summary(fit.exponents()["a"], LEVEL)


def headline(fits: dict[str, ScalingFit], plan: ComparisonPlan) -> dict | None:
    """Kaplan analysis against the first Chinchilla analysis at the plan's first budget, or None."""
    chinchilla = next((name for name in plan.chinchilla if name in fits), None)
    if plan.kaplan not in fits or chinchilla is None:
        return None
    result = allocation_comparison(fits[plan.kaplan], fits[chinchilla], plan.budgets[:1], seed=plan.seed,
                                   level=LEVEL)
    return {"chinchilla": chinchilla, **result}


def summary_section(fits: dict[str, ScalingFit], plan: ComparisonPlan, head: dict | None) -> str:
    if head is None:
        return ""
    at = head["budgets"][0]
    parts = [
        f"<p><b>How to split a budget.</b> Fitted to runs that reproduce Kaplan et al.'s setup, the compute-optimal "
        f"model grows as N_opt ∝ C<sup>a</sup> with a = {interval_text(head['a']['first'])}; fitted to the "
        f"Chinchilla runs, a = {interval_text(head['a']['second'])} (medians, {LEVEL:.0%} intervals). "
        f"P(a<sub>Kaplan</sub> &gt; a<sub>Chinchilla</sub>) "
        f"{probability_text(head['probability_a_first_greater'], head['draws'])}. At "
        f"Gopher's budget of {at['compute']:.3g} FLOP the Kaplan analysis puts N_opt at "
        f"{interval_text(at['n_params_first'], style=count)} and the Chinchilla analysis at "
        f"{interval_text(at['n_params_second'], style=count)}: {interval_text(at['n_params_ratio'])} times larger, "
        f"trained on {interval_text(at['tokens_per_param_first'])} against "
        f"{interval_text(at['tokens_per_param_second'])} tokens per parameter.</p>"
    ]
    same = [(runs, c, k) for runs, c, k in plan.same_runs if c in fits and k in fits]
    if same:
        runs, c, k = same[0]
        parts.append(
            f"<p><b>Why.</b> Mostly the training setup, not the law's form. On {esc(runs)}, Chinchilla's law gives "
            f"a = {interval_text(_a(fits[c]))} and Kaplan's gives a = {interval_text(_a(fits[k]))}; Porian et al.'s "
            "ladder below walks the same model family from Kaplan's setup to a Chinchilla-like one and a falls "
            "with each fix (parameter count, warm-up, schedule, tuning).</p>")
    parts.append("<p>Every number comes from posterior draws; analyses link to their own pages with diagnostics. "
                 "Datasets and tokenizers differ between the papers, so losses and scales compare loosely and "
                 "exponents closely.</p>")
    return f'<section id="summary"><h2>Summary</h2><div class="summary">{"".join(parts)}</div></section>'


def allocation_section(fits: dict[str, ScalingFit], plan: ComparisonPlan, budgets: tuple[float, ...]) -> str:
    if plan.kaplan not in fits:
        return ""
    analyses = {f"Kaplan analysis: {plan.kaplan}": fits[plan.kaplan]}
    analyses |= {f"Chinchilla analysis: {name}": fits[name] for name in plan.chinchilla if name in fits}
    body = figure_html(
        allocation_comparison_figure(analyses),
        "Compute-optimal parameters, tokens and tokens per parameter with 90% bands under each analysis, against "
        "Kaplan et al.'s line (N_opt = 1.3e9 (C / PF-day)^0.73, non-embedding parameters), Hoffmann et al.'s "
        "approach 3 and approach 1 (Table 3) and Epoch AI's refit. The vertical line is Gopher's budget.",
        "N_opt, D_opt and tokens per parameter against compute under each analysis")
    rows = []
    probability = {}
    for name in plan.chinchilla:
        if name not in fits:
            continue
        result = allocation_comparison(fits[plan.kaplan], fits[name], budgets, seed=plan.seed, level=LEVEL)
        probability[name] = probability_text(result["probability_a_first_greater"], result["draws"])
        for at in result["budgets"]:
            rows.append([f"{at['compute']:.3g}", link(name, fits[name]),
                         interval_text(at["n_params_second"], style=count),
                         interval_text(at["n_tokens_second"], style=count),
                         interval_text(at["tokens_per_param_second"]),
                         interval_text(at["n_params_first"], style=count),
                         interval_text(at["n_params_ratio"]), interval_text(at["n_tokens_ratio"])])
    rows.sort(key=lambda row: float(row[0]))
    body += table_html(["budget (FLOP)", "Chinchilla analysis", "N_opt", "D_opt", "tokens / parameter",
                        "N_opt, Kaplan analysis", "N_opt ratio Kaplan / Chinchilla",
                        "D_opt ratio Kaplan / Chinchilla"], rows)
    body += "<p>" + "; ".join(
        f"P(a<sub>Kaplan</sub> &gt; a<sub>{esc(name)}</sub>) {p}" for name, p in probability.items()) + (
        f". The Kaplan analysis is {link(plan.kaplan, fits[plan.kaplan])}. Ratios use draws of the two independent "
        "posteriors paired after a seeded shuffle. Far beyond the runs (Porian's largest budget is 1.6e19 FLOP) "
        "these are extrapolations of a power law, not measurements.</p>")
    return (f'<section id="allocation"><h2>How each analysis splits a budget</h2>{body}</section>')


def same_runs_section(fits: dict[str, ScalingFit], plan: ComparisonPlan, checks: dict | None = None) -> str:
    pairs = [(runs, c, k) for runs, c, k in plan.same_runs if c in fits and k in fits]
    if not pairs:
        return ""
    loo_rows, a_rows = [], []
    for runs, c, k in pairs:
        chinchilla, kaplan = fits[c], fits[k]
        try:
            loo = loo_comparison(chinchilla, kaplan)
        except ValueError as err:
            loo_rows.append([runs, esc(str(err)), "", "", "", "", ""])
            continue
        for key, name, fit in (("first_loo", c, chinchilla), ("second_loo", k, kaplan)):
            r = loo[key]
            loo_rows.append([runs, link(name, fit), f"{r['elpd']:.1f} ± {r['se']:.1f}", f"{r['p_loo']:.1f}",
                             f"{r['k_over_0_7']} of {r['n_points']}", f"{r['k_max']:.2f}",
                             f"{loo['elpd_difference']:+.1f} ± {loo['se_difference']:.1f}" if key == "first_loo"
                             else ""])
        a_rows.append([runs, link(c, chinchilla), interval_text(_a(chinchilla)), link(k, kaplan),
                       interval_text(_a(kaplan))])
    body = ("<p>Both laws fitted to the same runs with the same likelihood, compared by PSIS-LOO: the expected log "
            "predictive density of each run's log loss when it is left out (higher is better). The difference is "
            "Chinchilla's minus Kaplan's, with the standard error of the pointwise differences; a difference of "
            "several standard errors is decisive. Pareto k above 0.7 marks runs whose LOO estimate is unreliable; "
            "they are counted, not hidden.</p>")
    body += table_html(["runs", "fit", "ELPD-LOO ± SE", "p_loo", "Pareto k > 0.7", "max k",
                        "ELPD difference (Chinchilla - Kaplan) ± SE"], loo_rows)
    body += ("<h3>The allocation each law implies on the same runs</h3><p>Reading across a row changes only the "
             "law's form; reading down changes only the data. Both laws give the allocation exponent in closed form "
             "(Chinchilla: a = β / (α + β); Kaplan: a = α_D / (α_N + α_D)).</p>")
    body += table_html(["runs", "Chinchilla's law", f"a ({LEVEL:.0%})", "Kaplan's law", f"a ({LEVEL:.0%})"], a_rows)
    extrapolation = []
    for _, c, k in pairs:
        for name in (c, k):
            extrapolation += extrapolation_rows(fits[name], (checks or {}).get(name, []), link(name, fits[name]))
    if extrapolation:
        body += ("<h3>Extrapolation to the highest-compute runs</h3><p>Each law refitted without the runs with the "
                 "most compute (a <code>hold_out_top_compute</code> check in its spec), then scored on them by its "
                 "posterior predictive: the coverage of central intervals (an honest 90% interval covers about 90%), "
                 "the mean log predictive density and CRPS on log loss.</p>"
                 + table_html(["fit", *EXTRAPOLATION_HEADER[1:]], extrapolation))
    return f'<section id="same-runs"><h2>Same runs, both laws</h2>{body}</section>'


def _ladder(fits: dict[str, ScalingFit]) -> dict[str, list]:
    """``{dataset: [(step, fit or None, Porian's a or None)]}`` from the IsoFLOP fits of Porian's configurations."""
    found: dict[str, dict[str, ScalingFit]] = {}
    for fit in fits.values():
        config = fit.attr_json("data_source").get("configuration") or {}
        if fit.law.name != "isoflop" or "dataset" not in config:
            continue
        for step, _, fields in published.PORIAN_LADDER:
            if all(config.get(k) == v for k, v in fields.items()):
                found.setdefault(config["dataset"], {})[step] = fit
    ladder = {}
    for dataset, by_step in sorted(found.items(), reverse=True):
        rungs = []
        for step, _, _ in published.PORIAN_LADDER:
            fit = by_step.get(step)
            porian = None if fit is None else fit.attr_json("data_source")["configuration"].get("published_a")
            rungs.append((step, fit, porian))
        ladder[dataset] = rungs
    return ladder


def why_section(fits: dict[str, ScalingFit], plan: ComparisonPlan) -> str:
    ladder = _ladder(fits)
    body = ""
    if ladder:
        body += figure_html(ladder_figure(ladder, LEVEL),
                            "a for each of Porian et al.'s configurations (IsoFLOP model, 90% intervals; open "
                            "circles did not converge), with Porian et al.'s own fits (crosses), Kaplan's 0.73 and "
                            "Hoffmann's approach-2 interval.", "a across Porian et al.'s configurations")
        datasets = list(ladder)
        rows = []
        for i, (step, change, _) in enumerate(published.PORIAN_LADDER):
            row = [step, change]
            for dataset in datasets:
                _, fit, porian = ladder[dataset][i]
                row += [linked(fit.name, interval_text(_a(fit)), fit) if fit else "–", fmt(porian, 3)]
            rows.append(row)
        header = ["step", "what changed"]
        for dataset in datasets:
            header += [f"{dataset}: a ({LEVEL:.0%}), links to the fit", f"{dataset}: Porian et al."]
        body += table_html(header, rows, css_class="kv")
    if plan.kaplan in fits:
        body += _recount_table(fits[plan.kaplan])
    if not body:
        return ""
    return f'<section id="why"><h2>Why they differ</h2>{body}</section>'


def _recount_table(fit: ScalingFit) -> str:
    """Local exponent of the Kaplan analysis's N_opt re-counted with embeddings, at several budgets."""
    a = fit.exponents()["a"]
    rows = []
    for c in (1e17, 1e19, 1e21, 1e23, 1e25):
        n_e = fit.optimal_allocation(c)["n_params"].squeeze(drop=True)
        cells = [f"{c:.0e}", count(float(n_e.median()))]
        for tied in (True, False):
            local = recounted_exponent(a, n_e, vocab=KAPLAN_VOCAB, aspect_ratio=64, tied=tied)
            cells.append(interval_text(summary(local, LEVEL)))
        rows.append(cells)
    return ("<h3>Counting parameters as Hoffmann did</h3><p>Kaplan's N leaves out the embeddings; Hoffmann's "
            "includes them. Embeddings grow only as N<sup>1/3</sup> at a fixed shape, so at small scale they are a "
            "large share of the total and the same allocation has a smaller exponent when counted with them "
            "(<code>bayes_scaling.study.param_count</code>). Below, the Kaplan analysis's N_opt(C) re-counted for a "
            f"50257-token vocabulary and d_model / n_layer = 64: the local exponent d log N_total / d log C, "
            f"{LEVEL:.0%} intervals.</p>" + table_html(
                ["budget (FLOP)", "N_opt, non-embedding", "local a, tied embeddings", "local a, untied"], rows))


def floors_section(fits: dict[str, ScalingFit], plan: ComparisonPlan) -> str:
    rows = []
    for name in (*plan.chinchilla, *(c for _, c, _ in plan.same_runs)):
        fit = fits.get(name)
        if fit is not None and "E" in fit.posterior and [link(name, fit)] not in [r[:1] for r in rows]:
            rows.append([link(name, fit), "irreducible loss E", interval_text(summary(fit.posterior["E"], LEVEL))])
    if plan.frontier in fits and plan.data_limited in fits:
        crossing = summarise(fits_crossover(fits[plan.frontier], fits[plan.data_limited]), (0.05, 0.5, 0.95))
        q = crossing["loss"]
        rows.append([link(plan.frontier, fits[plan.frontier]), "Kaplan's L* (crossover)",
                     f"{fmt(q['q50'], 3)} [{fmt(q['q05'], 3)}, {fmt(q['q95'], 3)}]"])
    named = []
    for name, fit in fits.items():
        if fit.attr_json("data_source").get("dataset") != "epoch-chinchilla":
            continue
        try:
            losses = fit.named_model_losses()
        except (LawNotApplicable, NotImplementedError):
            continue
        cells = [link(name, fit)]
        for model in NAMED_MODELS:
            cells.append(interval_text(summary(losses.sel(model=model), LEVEL)))
        named.append(cells)
    if not rows and not named:
        return ""
    body = ("<p>Chinchilla's law has a floor E that no model size or data can beat; Kaplan's laws have none, and "
            "their crossover L* is where they stop being consistent with each other. Datasets and tokenizers "
            "differ (MassiveText for Chinchilla, RefinedWeb here for Kaplan's setup), so the two numbers are not "
            "the same quantity on the same text.</p>") + table_html(["fit", "quantity", f"nats ({LEVEL:.0%})"], rows)
    if named:
        body += ("<h3>Predicted losses of named models</h3><p>Under each analysis of the Chinchilla runs (the only "
                 "data on the same text as these models).</p>")
        body += table_html(["fit", *(f"{m} ({count(n)}, {count(d)} tokens)" for m, (n, d) in
                                     NAMED_MODELS.items())], named)
    return f'<section id="floors"><h2>Loss floors</h2>{body}</section>'


def provenance_section(fits: dict[str, ScalingFit]) -> str:
    rows = []
    for name, fit in fits.items():
        source = fit.attr_json("data_source")
        config = {k: v for k, v in (source.get("configuration") or {}).items() if not k.startswith("published")}
        data = source.get("dataset") or source.get("file", "")
        if config:
            data += " (" + ", ".join(f"{k}={v}" for k, v in config.items()) + ")"
        priors = fit.attr_json("priors")
        versions = fit.attr_json("versions")
        verdict = verdict_html(fit.converged)
        digest = Markup(f'<span class="mono">{esc(str(source.get("sha256", ""))[:16])}…</span>')
        rows.append([link(name, fit), fit.law.name, data, digest,
                     "; ".join(fit.attr_json("filters")) or "none", fit.tree.attrs["likelihood"],
                     "; ".join(f"{k} ~ {v.get('dist')}" for k, v in priors.items()),
                     f"{fit.posterior.sizes['chain']}×{fit.posterior.sizes['draw']}, seed {fit.tree.attrs['seed']}",
                     f"pymc {versions.get('pymc', '?')}, nutpie {versions.get('nutpie', '?')}", verdict])
    table = table_html(["analysis", "law", "data", "sha256", "filters", "likelihood", "priors", "draws",
                        "versions", "diagnostics"], rows, css_class="kv")
    return f'<section id="provenance"><h2>Provenance and diagnostics</h2>{table}</section>'


def quiet(build, *args):
    """Run a section builder with numpy's overflow warnings (heavy-tailed draws far outside the data) silenced."""
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return build(*args)
