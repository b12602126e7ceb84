"""Sections of the comparison page (``reports/index.html``): how Kaplan's and Chinchilla's analyses split a budget,
with intervals, and where their disagreement comes from.

Which fit plays which role is a :class:`ComparisonPlan` of analysis names; a section whose fits are not in the report
is left out, so the page also works for a report of other specs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from bayes_scaling.analysis.compare import allocation_comparison, loo_comparison
from bayes_scaling.analysis.planning import summary
from bayes_scaling.analysis.stacking import stacked_allocation
from bayes_scaling.data.named_models import NAMED_MODELS
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report.comparison_figures import allocation_comparison_figure, ladder_figure
from bayes_scaling.report.figures import law_label
from bayes_scaling.report.html import Cell, figure_html, render, table_html, verdict_cell
from bayes_scaling.report.sensitivity import EXTRAPOLATION_HEADER, extrapolation_rows
from bayes_scaling.result import FitResult
from bayes_scaling.study import published
from bayes_scaling.study.crossover import fits_crossover, summarise
from bayes_scaling.study.ladder import porian_ladder
from bayes_scaling.study.param_count import KAPLAN_VOCAB, recounted_exponent
from bayes_scaling.study.references import REFERENCES
from bayes_scaling.util.defaults import DEFAULT_LEVEL, PARETO_K_BAD
from bayes_scaling.util.numbers import count, fmt, interval_text

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
    #: (runs, fits of several laws to those runs) combined by stacking weights.
    stacked: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("Epoch AI's Chinchilla runs", ("chinchilla", "epoch-isoflop", "epoch-kaplan-joint")),
    )
    #: Fits of Kaplan's L(N, S) (loss against steps), compared with Kaplan's Table 3.
    learning_curves: tuple[str, ...] = ("li2025-kaplan-steps",)
    frontier: str = "porian-rw-kaplan-frontier"
    data_limited: str = "porian-rw-kaplan-joint"
    budgets: tuple[float, ...] = (published.GOPHER_BUDGET, 1e25, 1e26)
    seed: int = 20220329


def link(name: str, fit: FitResult | None = None) -> Cell:
    """The analysis name linking to its page, flagged if its fit did not converge."""
    return Cell(name, href=f"{name}/index.html", flag=None if fit is None or fit.converged else "(NOT CONVERGED)")


def probability_text(p: float, draws: int) -> str:
    """"= p" for a posterior probability from ``draws`` paired draws; 0 and 1 are shown as bounds, not as
    certainty."""
    if p >= 1.0:
        return f"> {1 - 1 / draws:.4f} (every one of {draws} paired draws)"
    if p <= 0.0:
        return f"< {1 / draws:.4f} (none of {draws} paired draws)"
    return f"= {p:.4f}"


def linked(name: str, text: str, fit: FitResult) -> Cell:
    """``text`` (a number from the fit) linking to the fit's page, flagged if it did not converge."""
    return Cell(text, href=f"{name}/index.html", flag=None if fit.converged else "(NOT CONVERGED)")


def _a(fit: FitResult) -> dict:
    return summary(fit.exponents()["a"], LEVEL)


def headline(fits: dict[str, FitResult], plan: ComparisonPlan) -> dict | None:
    """Kaplan analysis against the first Chinchilla analysis at the plan's first budget, or None."""
    chinchilla = next((name for name in plan.chinchilla if name in fits), None)
    if plan.kaplan not in fits or chinchilla is None:
        return None
    result = allocation_comparison(fits[plan.kaplan], fits[chinchilla], plan.budgets[:1], seed=plan.seed,
                                   level=LEVEL)
    return {"chinchilla": chinchilla, **result}


def summary_section(fits: dict[str, FitResult], plan: ComparisonPlan, head: dict | None) -> Markup:
    if head is None:
        return Markup("")
    at = head["budgets"][0]
    same = [(runs, c, k) for runs, c, k in plan.same_runs if c in fits and k in fits]
    first = None
    if same:
        runs, c, k = same[0]
        first = {"runs": runs, "a_chinchilla": interval_text(_a(fits[c])), "a_kaplan": interval_text(_a(fits[k]))}
    return render("comparison/summary.html.j2", a_first=interval_text(head["a"]["first"]),
                  a_second=interval_text(head["a"]["second"]), level=LEVEL,
                  probability=probability_text(head["probability_a_first_greater"], head["draws"]),
                  at={"compute": at["compute"], "n_params_first": interval_text(at["n_params_first"], style=count),
                      "n_params_second": interval_text(at["n_params_second"], style=count),
                      "ratio": interval_text(at["n_params_ratio"]),
                      "tpp_first": interval_text(at["tokens_per_param_first"]),
                      "tpp_second": interval_text(at["tokens_per_param_second"])},
                  same=first)


def allocation_section(fits: dict[str, FitResult], plan: ComparisonPlan, budgets: tuple[float, ...]) -> Markup:
    if plan.kaplan not in fits:
        return Markup("")
    analyses = {f"Kaplan analysis: {plan.kaplan}": fits[plan.kaplan]}
    analyses |= {f"Chinchilla analysis: {name}": fits[name] for name in plan.chinchilla if name in fits}
    figure = figure_html(
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
    table = table_html(["budget (FLOP)", "Chinchilla analysis", "N_opt", "D_opt", "tokens / parameter",
                        "N_opt, Kaplan analysis", "N_opt ratio Kaplan / Chinchilla",
                        "D_opt ratio Kaplan / Chinchilla"], rows)
    return render("comparison/allocation.html.j2", figure=figure, table=table, probabilities=list(probability.items()),
                  kaplan=link(plan.kaplan, fits[plan.kaplan]))


def same_runs_section(fits: dict[str, FitResult], plan: ComparisonPlan, checks: dict | None = None) -> Markup:
    pairs = [(runs, c, k) for runs, c, k in plan.same_runs if c in fits and k in fits]
    if not pairs:
        return Markup("")
    loo_rows, a_rows = [], []
    for runs, c, k in pairs:
        chinchilla, kaplan = fits[c], fits[k]
        try:
            loo = loo_comparison(chinchilla, kaplan)
        except ValueError as err:
            loo_rows.append([runs, str(err), "", "", "", "", ""])
            continue
        for key, name, fit in (("first_loo", c, chinchilla), ("second_loo", k, kaplan)):
            r = loo[key]
            loo_rows.append([runs, link(name, fit), f"{r['elpd']:.1f} ± {r['se']:.1f}", f"{r['p_loo']:.1f}",
                             f"{r['k_over_0_7']} of {r['n_points']}", f"{r['k_max']:.2f}",
                             f"{loo['elpd_difference']:+.1f} ± {loo['se_difference']:.1f}" if key == "first_loo"
                             else ""])
        a_rows.append([runs, link(c, chinchilla), interval_text(_a(chinchilla)), link(k, kaplan),
                       interval_text(_a(kaplan))])
    loo_table = table_html(["runs", "fit", "ELPD-LOO ± SE", "p_loo", f"Pareto k > {PARETO_K_BAD}", "max k",
                            "ELPD difference (Chinchilla - Kaplan) ± SE"], loo_rows)
    a_table = table_html(["runs", "Chinchilla's law", f"a ({LEVEL:.0%})", "Kaplan's law", f"a ({LEVEL:.0%})"],
                         a_rows)
    extrapolation = []
    for _, c, k in pairs:
        for name in (c, k):
            extrapolation += extrapolation_rows(fits[name], (checks or {}).get(name, []), link(name, fits[name]))
    return render("comparison/same_runs.html.j2", pareto_k=PARETO_K_BAD, loo_table=loo_table, a_table=a_table,
                  extrapolation=table_html(["fit", *EXTRAPOLATION_HEADER[1:]], extrapolation) if extrapolation
                  else None, stacking=stacking_table(fits, plan), budget=fmt(plan.budgets[0], 3))


def stacking_table(fits: dict[str, FitResult], plan: ComparisonPlan) -> Markup | None:
    """Each group of fits to the same runs with its stacking weights and the stacked allocation at the first
    budget (:func:`~bayes_scaling.analysis.stacking.stacked_allocation`)."""
    rows = []
    for runs, names in plan.stacked:
        if not all(name in fits for name in names):
            continue
        group = [fits[name] for name in names]
        try:
            found = stacked_allocation(group, plan.budgets[0], level=LEVEL, seed=plan.seed)
        except ValueError as err:
            rows.append([runs, str(err), "", "", "", ""])
            continue
        for name, fit in zip(names, group, strict=True):
            values = found["laws"][fit.name]
            rows.append([runs, link(name, fit), f"{found['weights'][fit.name]:.2f}",
                         f"{found['mean_log_score'][fit.name]:.2f}", interval_text(values["n_params"], style=count),
                         interval_text(values["loss"])])
        stacked = found["stacked"]
        rows.append([runs, Cell("stacked", css="ok" if found["converged"] else "bad"),
                     f"{found['held_out_runs']} runs, {found['held_out_budgets']} budgets", "",
                     interval_text(stacked["n_params"], style=count), interval_text(stacked["loss"])])
    if not rows:
        return None
    return table_html(["runs", "fit", "weight", "mean log score (held out)", f"N_opt ({LEVEL:.0%})",
                       f"loss ({LEVEL:.0%})"], rows)


def why_section(fits: dict[str, FitResult], plan: ComparisonPlan) -> Markup:
    ladder = porian_ladder(fits)
    figure = table = recount = None
    if ladder:
        figure = figure_html(ladder_figure(ladder, LEVEL),
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
        table = table_html(header, rows, css_class="kv")
    if plan.kaplan in fits:
        recount = _recount_table(fits[plan.kaplan])
    if figure is None and recount is None:
        return Markup("")
    return render("comparison/why.html.j2", figure=figure or "", table=table or "", recount=recount, level=LEVEL)


def _recount_table(fit: FitResult) -> Markup:
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
    return table_html(["budget (FLOP)", "N_opt, non-embedding", "local a, tied embeddings", "local a, untied"], rows)


def floors_section(fits: dict[str, FitResult], plan: ComparisonPlan) -> Markup:
    rows = []
    for name in (*plan.chinchilla, *(c for _, c, _ in plan.same_runs)):
        fit = fits.get(name)
        if fit is not None and "E" in fit.posterior and link(name, fit) not in [r[0] for r in rows]:
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
        return Markup("")
    named_table = table_html(["fit", *(f"{m} ({count(n)}, {count(d)} tokens)" for m, (n, d) in
                                       NAMED_MODELS.items())], named) if named else None
    return render("comparison/floors.html.j2", table=table_html(["fit", "quantity", f"nats ({LEVEL:.0%})"], rows),
                  named=named_table)


def learning_curves_section(fits: dict[str, FitResult], plan: ComparisonPlan,
                            checks: dict[str, list[tuple[str, FitResult]]] | None = None) -> Markup:
    """Kaplan's L(N, S) = (N_c/N)^alpha_N + (S_c/S)^alpha_S fitted to other runs, each parameter's interval beside
    Kaplan et al.'s Table 3, with each fit's sensitivity checks as further rows."""
    kaplan = REFERENCES["kaplan-2020"]
    rows, data = [], []
    for name in plan.learning_curves:
        fit = fits.get(name)
        values = kaplan.parameters_for(fit.law) if fit is not None else {}
        if not values:
            continue
        for label, each in [("", fit), *((check_label, check) for check_label, check in (checks or {}).get(name, []))]:
            cells = [link(name, fit) if not label else f"{name}: {label}", fit.tree.attrs["n_runs"]]
            cells += [interval_text(summary(each.posterior[p], LEVEL)) for p in fit.law.parameters]
            rows.append([*cells, verdict_cell(each.converged)])
        data.append(f"{name}: {fit.attr_json('data_source').get('title') or 'runs of its spec'}")
        rows.append([f"{kaplan.label} ({kaplan.where_for(fit.law)})", "",
                     *(fmt(values[p], 3) for p in fit.law.parameters), ""])
        header = ["fit", "runs", *(f"{p} ({LEVEL:.0%})" for p in fit.law.parameters), "diagnostics"]
    if not rows:
        return Markup("")
    return render("comparison/learning_curves.html.j2", table=table_html(header, rows), data="; ".join(data))


def provenance_section(fits: dict[str, FitResult]) -> Markup:
    rows = []
    for name, fit in fits.items():
        source = fit.attr_json("data_source")
        config = {k: v for k, v in (source.get("configuration") or {}).items() if not k.startswith("published")}
        data = source.get("dataset") or source.get("file", "")
        if config:
            data += " (" + ", ".join(f"{k}={v}" for k, v in config.items()) + ")"
        priors = fit.attr_json("priors")
        versions = fit.attr_json("versions")
        verdict = verdict_cell(fit.converged)
        digest = Cell(f'{str(source.get("sha256", ""))[:16]}…', mono=True)
        rows.append([link(name, fit), law_label(fit), data, digest,
                     "; ".join(fit.attr_json("filters")) or "none", fit.tree.attrs["likelihood"],
                     "; ".join(f"{k} ~ {v.get('dist')}" for k, v in priors.items()),
                     f"{fit.posterior.sizes['chain']}×{fit.posterior.sizes['draw']}, seed {fit.tree.attrs['seed']}",
                     f"pymc {versions.get('pymc', '?')}, nutpie {versions.get('nutpie', '?')}", verdict])
    table = table_html(["analysis", "law", "data", "sha256", "filters", "likelihood", "priors", "draws",
                        "versions", "diagnostics"], rows, css_class="kv")
    return render("comparison/provenance.html.j2", table=table)


def quiet(build, *args):
    """Run a section builder with numpy's overflow warnings (heavy-tailed draws far outside the data) silenced."""
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return build(*args)
