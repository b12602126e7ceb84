"""One self-contained HTML page per fit: summary, parameters, allocation, data with predictive bands, diagnostics,
provenance. A fit that failed its diagnostics is flagged at the top and beside every section of numbers."""

from __future__ import annotations

import json
import warnings

import numpy as np
from markupsafe import Markup

from bayes_scaling.analysis.planning import plan, summary
from bayes_scaling.data.named_models import NAMED_MODELS
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.priors import Prior
from bayes_scaling.report import figures
from bayes_scaling.report.answer import answer_box, multiples_of_largest
from bayes_scaling.report.figures import references_of
from bayes_scaling.report.html import Cell, figure_html, page_html, render, table_html
from bayes_scaling.result import FitResult
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.diagnostics import MAX_RHAT, MIN_ESS, loo_summary
from bayes_scaling.sampling.gp_term import ETA, length_name
from bayes_scaling.study import published
from bayes_scaling.uncertainty.drift import FRACTIONS
from bayes_scaling.util.defaults import DEFAULT_LEVEL, PARETO_K_BAD
from bayes_scaling.util.numbers import count, fmt, interval_text

LEVEL = DEFAULT_LEVEL
#: The budgets table of an analysis that declares published references (the papers' budgets)...
PLANNING_BUDGETS = (1e21, 1e22, published.GOPHER_BUDGET, 1e24, 1e25, 1e26)
#: ...and of one that does not: these multiples of its largest run's compute.
PLANNING_MULTIPLES = (1.0, 10.0, 100.0, 1000.0)


def planning_budgets(fit: FitResult) -> tuple[float, ...]:
    """The budgets of the page's table: the papers' for an analysis of published runs, else multiples of the
    largest run's compute."""
    if references_of(fit):
        return PLANNING_BUDGETS
    return multiples_of_largest(fit, PLANNING_MULTIPLES)


def _summary_section(fit: FitResult) -> Markup:
    refs = references_of(fit)
    result = plan(fit, compute=[published.GOPHER_BUDGET] if refs and fit.law.answers_allocation else [], level=LEVEL)
    budget = None
    if result.get("compute"):
        row = result["compute"][0]
        law = row.get("law_only") or row
        budget = {"compute": published.GOPHER_BUDGET, "n_params": interval_text(law["n_params"], style=count),
                  "n_tokens": interval_text(law["n_tokens"], style=count),
                  "tokens_per_param": interval_text(law["tokens_per_param"]), "loss": interval_text(law["loss"]),
                  "with_discrepancy": None}
        if row.get("law_only"):
            budget["with_discrepancy"] = {"n_params": interval_text(row["n_params"], style=count),
                                          "tokens_per_param": interval_text(row["tokens_per_param"]),
                                          "loss": interval_text(row["loss"])}
    exponents = None
    if result.get("exponents"):
        a = fit.exponents()["a"].values.ravel()
        exponents = {"a": interval_text(result["exponents"]["a"]), "b": interval_text(result["exponents"]["b"]),
                     "published": [{"label": label, "low": low, "high": high,
                                    "probability": float(np.mean((a > low) & (a < high)))}
                                   for label, (low, high) in (ref.headline_exponent for ref in references_of(fit)
                                                              if ref.headline_exponent)]}
    return render("fit/summary.html.j2", converged=fit.converged, n_runs=len(fit.runs["run"]),
                  equation=fit.law.equation, likelihood=fit.tree.attrs["likelihood"], level=LEVEL, budget=budget,
                  exponents=exponents)


def _parameter_section(fit: FitResult) -> Markup:
    header = ["parameter", "median", "90% interval", "95% interval"]
    refs = [ref for ref in references_of(fit) if ref.parameters_for(fit.law)]
    for ref in refs:
        where = ref.where_for(fit.law)
        header.append(f"{ref.short}{f' ({where})' if where else ''}")
        if ref.intervals_for(fit.law):
            header.append(f"{ref.short} 95% interval")

    def row_of(name, values, published_values):
        s90, s95 = summary(values, 0.9), summary(values, 0.95)
        row = [name, fmt(s90["median"]), f"[{fmt(s90['lower'])}, {fmt(s90['upper'])}]",
               f"[{fmt(s95['lower'])}, {fmt(s95['upper'])}]"]
        for ref, value in zip(refs, published_values, strict=True):
            row.append("–" if value is None else fmt(value))
            if ref.intervals_for(fit.law):
                interval = ref.intervals_for(fit.law).get(name)
                row.append("–" if interval is None else f"[{fmt(interval[0])}, {fmt(interval[1])}]")
        return row

    rows = [row_of(name, fit.posterior[name], [ref.parameters_for(fit.law).get(name) for ref in refs])
            for name in fit.law.parameters]
    draws = {name: fit.posterior[name] for name in fit.law.parameters}
    views = [published.pf_day_views(ref.parameters_for(fit.law)) for ref in refs]
    rows += [row_of(label, values, [view.get(label) for view in views])
             for label, values in published.pf_day_views(draws).items()]
    caption = ("Posterior of each parameter (histogram)"
               + (" against the published values declared for this analysis (dashed; shaded: their 95% intervals, "
                  "where published), where they fall in the plotted range." if refs else "."))
    figure = figure_html(figures.parameter_posteriors(fit), caption, "posterior histograms of the law parameters")
    return render("fit/parameters.html.j2", converged=fit.converged, table=table_html(header, rows),
                  notes=[ref.note for ref in refs if ref.note], figure=figure)


def _table2_cell(value: tuple) -> str:
    """A Table 2 entry ``(centre, low, high)`` as ``centre (low, high)``, or ``centre`` without an interval."""
    centre, low, high = value
    return fmt(centre, 3) + ("" if low is None else f" ({fmt(low, 3)}, {fmt(high, 3)})")


def _allocation_section(fit: FitResult) -> Markup:
    try:
        exps = fit.exponents()
    except LawNotApplicable:
        return Markup("")
    s_a, s_b = summary(exps["a"], LEVEL), summary(exps["b"], LEVEL)
    rows = [["this fit (posterior, 90% interval)", interval_text(s_a), interval_text(s_b)]]
    configuration = fit.attr_json("data_source").get("configuration") or {}
    if "published_a" in configuration:  # the dataset's own published fit (Porian et al.'s configurations)
        rows.append(["Porian et al. 2024, their fit of these runs", fmt(configuration["published_a"], 3),
                     fmt(configuration["published_b"], 3)])
    refs = references_of(fit)
    rows += [[label, _table2_cell(a), _table2_cell(b)] for ref in refs for label, a, b in ref.exponents]
    exponent_table = table_html(["source", "a (N_opt ∝ C^a)", "b (D_opt ∝ C^b)"], rows)
    shown = []
    exponent_fig = figures.exponent_posterior(fit)
    if exponent_fig is not None:
        shown.append(figure_html(exponent_fig, "Allocation exponent a: this fit's median with its 50% (thick) and 90% "
                                 "(thin) credible intervals" + (", against the published intervals declared for "
                                 "this analysis." if refs else "."), "posterior of the allocation exponent a"))
    alloc_fig = figures.allocation(fit)
    if alloc_fig is not None:
        shown.append(figure_html(
            alloc_fig,
            "Compute-optimal parameters and tokens with 90% credible bands"
            + (", against the published allocations declared for this analysis (dashed lines: published fits; "
               "squares: published compute-optimal points; Kaplan et al.'s line counts non-embedding parameters, "
               "so compare its slope). " if refs else ". ")
            + "The grey band is the compute range of the runs: beyond it the curves are extrapolations. Dotted: "
            "the 90% band allowing for the law's discrepancy along each IsoFLOP line (laws of N and D).",
            "compute-optimal N and D against compute",
        ))
    result = plan(fit, compute=list(planning_budgets(fit)), level=LEVEL)
    gp = any("law_only" in r for r in result["compute"])
    rows = [[f"{r['compute']:.3g}", *_law_cells(r.get("law_only") or r),
             *([interval_text(r["n_params"], style=count)] if gp else [])]
            for r in result["compute"]]
    budgets_table = table_html(
        ["compute (FLOP)", "N_opt", "D_opt", "tokens / parameter", "loss (nats)",
         *(["N_opt with discrepancy"] if gp else [])], rows)
    table3 = None
    points = [(ref, point) for ref in refs for point in ref.allocation_points]
    if points and "n_params" in fit.law.inputs:
        sizes = [n for _, (_, n, _) in points]
        found = plan(fit, n_params=sizes, level=LEVEL)["params"]
        rows = [[count(n), interval_text(r["compute"]), fmt(c, 3), interval_text(r["n_tokens"], style=count),
                 count(d)] for (_, (c, n, d)), r in zip(points, found, strict=True)]
        table3 = table_html(["parameters", "compute (FLOP), this fit", "compute, published",
                             "tokens, this fit", "tokens, published"], rows)
    return render("fit/allocation.html.j2", converged=fit.converged, exponent_table=exponent_table, figures=shown,
                  with_discrepancy=gp, budgets_table=budgets_table, table3=table3)


def _law_cells(law: dict) -> list[str]:
    """N_opt, D_opt, tokens per parameter and loss of the law alone, as interval texts."""
    return [interval_text(law["n_params"], style=count), interval_text(law["n_tokens"], style=count),
            interval_text(law["tokens_per_param"]), interval_text(law["loss"])]


def _named_models_section(fit: FitResult) -> Markup:
    if set(fit.law.inputs) != {"n_params", "n_tokens"}:
        return Markup("")
    losses = fit.named_model_losses()
    rows = [[m, count(NAMED_MODELS[m][0]), count(NAMED_MODELS[m][1]),
             interval_text(summary(losses.sel(model=m), LEVEL))] for m in losses["model"].values]
    return render("fit/named_models.html.j2", converged=fit.converged,
                  table=table_html(["model", "parameters", "tokens", "predicted loss (nats), 90% interval"], rows))


def _data_section(fit: FitResult) -> Markup:
    shown = []
    slices = figures.isoflop_slices(fit)
    if slices is not None:
        shown.append(figure_html(slices, "Runs grouped by FLOP budget; the curves follow the IsoFLOP line D = C/(6N) "
                                 "with the law's 90% credible band (dark) and 90% posterior predictive band (light).",
                                 "IsoFLOP slices with posterior bands"))
    curves = figures.size_curves(fit)
    if curves is not None:
        item = INPUTS[figures.other_input(fit)]
        shown.append(figure_html(curves, f"Runs grouped by model size against {item.description} {item.symbol}; "
                                 f"each curve is the law at that size with its 90% credible band (dark) and 90% "
                                 f"posterior predictive band (light).", f"loss against {item.symbol} per model size"))
    check, inside = figures.predictive_check(fit)
    shown.append(figure_html(check, f"Each run's observed loss against its posterior predictive median and 90% "
                             f"interval; {inside:.0%} of runs fall inside (nominal 90%).",
                             "posterior predictive check"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = loo_summary(fit.tree)
    loo_table = table_html(
        ["PSIS-LOO", "value"],
        [["ELPD (log loss scale)", f"{loo.elpd:.1f} ± {loo.se:.1f}"],
         ["effective parameters p_loo", f"{loo.p_loo:.1f}"],
         [f"Pareto k > {PARETO_K_BAD} (unreliable points)", f"{loo.k_over_0_7} of {loo.n_points}"],
         ["largest Pareto k", f"{loo.k_max:.2f}"]],
    )
    found = fit.discrepancy
    if found.extrapolation is not None:
        drift = found.extrapolation.describe()
    else:
        drift = (f"{found.drift:.4f} per decade of compute beyond the data ({found.drift_errors} runs held out of "
                 f"leave-future-out refits)" if found.drift_errors else "not measured (too few runs to refit)")
    eta = f"{found.eta:.4f}" + (" (collapsed: the GP adds nothing to the law inside the data)"
                                if found.collapsed else "")
    if found.length_scales is None:
        rows = [["fitted", "after sampling, to the law's posterior-median residuals (maximum marginal likelihood)"],
                ["eta (log loss)", eta], ["length scale (decades)", f"{found.length_scale:.3g}"],
                ["nugget (log loss)", f"{found.nugget:.4f}"]]
    else:  # sampled with the law: its hyperparameters have a posterior
        def sampled(name: str) -> str:
            return interval_text(summary(fit.posterior[name], DEFAULT_LEVEL))

        rows = [["fitted", "inside the model, with the law's parameters (Matern-3/2, coefficients integrated out; "
                           "the parameter intervals above carry it)"],
                [f"eta (log loss), median [{DEFAULT_LEVEL:.0%}]", f"{sampled(ETA)}"
                 + (" (collapsed: the GP adds nothing to the law inside the data)" if found.collapsed else "")]]
        rows += [[f"length scale in log10 {name} (decades)", sampled(length_name(name))] for name in found.inputs]
        rows += [["noise sd (log loss)", f"{found.nugget:.4f}"]]
    if fit.budget_sd_draws is not None:
        count = fit.posterior.sizes.get(budget_term.DIM, 0)
        rows += [[f"offset per budget: spread tau (log loss), median [{DEFAULT_LEVEL:.0%}]",
                  f"{interval_text(summary(fit.posterior[budget_term.SD], DEFAULT_LEVEL))} over {count} budgets "
                  "(sampled with the law: runs of one budget err together; a new budget gets its own offset)"]]
    else:
        asked = fit.attr_json("spec").get("budget_effect") == "auto"
        rows += [["offset per budget", "none: every run independent (" + (
            "the runs have no budgets" if asked else "the default; --budget-effect auto adds one where the runs have "
            "budgets") + ")"]]
    discrepancy_table = table_html(
        ["discrepancy term", "value"],
        [*rows, ["extrapolation beyond the data (log loss)", drift]],
        css_class="kv")
    return render("fit/data.html.j2", converged=fit.converged, figures=shown, loo_table=loo_table,
                  fractions=FRACTIONS, discrepancy_table=discrepancy_table)


def _diagnostics_section(fit: FitResult) -> Markup:
    diag = fit.diagnostics
    rows = []
    for name in diag.rhat:
        ok = diag.rhat[name] <= MAX_RHAT and min(diag.ess_bulk[name], diag.ess_tail[name]) >= MIN_ESS
        rows.append([name, f"{diag.rhat[name]:.4f}", f"{diag.ess_bulk[name]:.0f}", f"{diag.ess_tail[name]:.0f}",
                     Cell("ok", css="ok") if ok else Cell("FAIL", css="bad")])
    attrs = fit.tree.attrs
    return render("fit/diagnostics.html.j2", converged=fit.converged, verdict=diag.verdict(),
                  problems=list(diag.problems),
                  table=table_html(["parameter", "R-hat", "bulk ESS", "tail ESS", "status"], rows),
                  max_rhat=MAX_RHAT, min_ess=MIN_ESS, divergences=diag.divergences, draws=diag.draws,
                  geometry=attrs.get("geometry"), compile_seconds=float(attrs.get("compile_seconds", 0)),
                  sampling_seconds=float(attrs.get("sampling_seconds", 0)), retry=str(attrs.get("sampler_retry", "")),
                  weak=fit.weakly_identified,
                  ratios={name: f"{ratio:.2f}" for name, ratio in fit.identification.items()})


def _provenance_section(fit: FitResult) -> Markup:
    source = fit.attr_json("data_source")
    spec = fit.attr_json("spec") if "spec" in fit.tree.attrs else {}
    rows = [[k, Cell(v, mono=True)] for k, v in source.items() if k != "n_counts_embeddings"]
    rows += [["runs used", fit.tree.attrs["n_runs"]],
             ["filters", "; ".join(fit.attr_json("filters")) or "none"],
             ["N counts embeddings", {True: "yes", False: "no", None: "not stated"}[
                 fit.attr_json("n_counts_embeddings")]]]
    data_table = table_html(["field", "value"], rows, css_class="kv")
    priors = fit.attr_json("priors")
    units = {term.amplitude: term for term in fit.law.power_terms if term.centre_unit != (1.0, 0.0)}

    def described(name: str, raw: dict) -> str:
        prior = Prior.from_mapping(raw)
        if not (prior.at_centre and name in units):
            return prior.describe()
        factor, power = units[name].centre_unit
        return f"{prior.describe()}, in units of ({factor:.3g} × {units[name].input})^{power:g}"

    priors_table = table_html(
        ["parameter", "prior"], [[name, described(name, p)] for name, p in priors.items()], css_class="kv")
    sampler = spec.get("sampler", {})
    sampler_table = table_html(
        ["setting", "value"],
        [*([k, v] for k, v in sampler.items()), ["likelihood", fit.tree.attrs["likelihood"]],
         ["discrepancy GP", "sampled with the law" if fit.discrepancy.fitted == "in_model"
          else "fitted after sampling, to the residuals"],
         *([k, v] for k, v in fit.attr_json("versions").items())], css_class="kv")
    return render("fit/provenance.html.j2", data_table=data_table, priors_table=priors_table,
                  sampler_table=sampler_table)


SECTIONS = (
    ("summary", "Summary", _summary_section),
    ("parameters", "Parameters", _parameter_section),
    ("allocation", "Compute-optimal allocation", _allocation_section),
    ("named-models", "Named models", _named_models_section),
    ("data", "Data and predictive checks", _data_section),
    ("diagnostics", "Sampler diagnostics", _diagnostics_section),
    ("provenance", "Provenance", _provenance_section),
)


def render_fit_page(fit: FitResult, extra_sections=(), header_notes=(), answer: dict | None = None) -> str:
    """The fit's HTML page as a string; ``extra_sections`` are ``(anchor, label, html)`` built from other fits (such
    as sensitivity checks), placed before the diagnostics; ``header_notes`` are HTML paragraphs shown under the
    title (such as the measured extrapolation coverage); ``answer`` is the plan of the answer box at the top
    (:func:`~bayes_scaling.report.answer.answer_plan`). Published references (the papers' names, budgets and named
    models) appear only if the analysis declares them."""
    refs = references_of(fit)
    title = fit.tree.attrs.get("title") or (fit.law.title if refs else fit.law.plain_title)
    budgets = [row["compute"] for row in (answer or {}).get("compute") or []]
    curves = figures.excess_loss_curves(fit, budgets) if budgets else None
    figure = None if curves is None else figure_html(
        curves, "Excess loss of each model size over the best one at each budget (median and 90% band over the "
        "posterior, law and discrepancy drawn along the IsoFLOP line): sizes under the dashed line cost less than "
        "the tolerance of the near-optimal range.", "excess loss against model size at each budget")
    rendered = [("answer", "The answer", answer_box(fit, answer, figure))]
    rendered += [(anchor, label, build(fit)) for anchor, label, build in SECTIONS
                 if refs or anchor != "named-models"]
    at = next(i for i, (anchor, _, _) in enumerate(rendered) if anchor == "diagnostics")
    rendered[at:at] = list(extra_sections)
    toc = [(anchor, label) for anchor, label, html in rendered if html]
    diag = fit.diagnostics
    header = render("fit/header.html.j2", title=title, law_title=fit.law.title if refs else fit.law.plain_title,
                    equation=fit.law.equation, reference=fit.law.reference if refs else "",
                    spec_notes=json.loads(fit.attrs.get("spec", "{}")).get("notes", ""),
                    notes=list(header_notes), converged=fit.converged,
                    verdict=diag.verdict(), problems=list(diag.problems))
    footer = render("fit/footer.html.j2", version=json.loads(fit.tree.attrs["versions"]).get("bayes_scaling"),
                    seed=fit.tree.attrs["seed"])
    return page_html(title, header, [html for _, _, html in rendered], toc, footer)
