"""Build a report: fit (or reuse) every analysis, calibrate those that ask for it, and write each page and the index,
re-doing only what changed (fits are keyed by what they depend on, pages by what they show)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bayes_scaling.report.answer import answer_budgets
from bayes_scaling.report.calibration_section import calibration_section
from bayes_scaling.report.crossover_section import crossover_section
from bayes_scaling.report.index_page import render_index
from bayes_scaling.report.output import PAGE_FILE, write_fit, write_page
from bayes_scaling.report.sensitivity import SENSITIVITY_DIR, extrapolation_note, sensitivity_section
from bayes_scaling.report.stacking_section import stacking_group, stacking_section
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.io import POSTERIOR_FILE, read_attrs
from bayes_scaling.sampling.run import prepare
from bayes_scaling.spec import SpecError, load_spec
from bayes_scaling.study.crossover import crossover_companion
from bayes_scaling.study.references import declared
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.util.files import atomic_write_text, check_output_folder, exclusive_lock
from bayes_scaling.util.parallel import shared_scheduler
from bayes_scaling.util.progress import Eta
from bayes_scaling.util.version import __version__
from bayes_scaling.validation.calibration import calibrate_spec, check_splits

#: Receives one line per stage of the build (the CLI prints them to stderr).
Say = Callable[[str], None]


@dataclass(frozen=True)
class ReportSummary:
    """What a build did: the index written, the fits by analysis name, and counts of fits and pages."""

    index: Path
    fits: dict[str, FitResult]
    sampled: int
    reused: int
    rendered: int
    unchanged: int
    seconds: float

    @property
    def unconverged(self) -> list[str]:
        return [name for name, fit in self.fits.items() if not fit.converged]


log = logging.getLogger(__name__)


def spec_files(paths: list[str]) -> list[Path]:
    """Spec files named directly or found (``*.toml``) in named folders, in a stable order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(path.glob("*.toml"))
        elif path.is_file():
            found.append(path)
        else:
            raise SpecError(f"{path}: no such spec file or folder")
    if not found:
        raise SpecError(f"no *.toml analysis specs in {', '.join(paths)}")
    return found


def fingerprint(prepared) -> str:
    """What a fit depends on: the spec, the law's form and priors, the data's checksum and the package version."""
    content = {**prepared.model_content(), "data": prepared.runs.source.get("sha256"),
               "rows": prepared.runs.frame["row"].tolist(), "version": __version__}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _cached(path: Path, key: str) -> FitResult | None:
    """The fit saved at ``path`` if its fingerprint is ``key``, known by its attributes until a page needs its draws
    (:meth:`FitResult.stored`); None if it differs or cannot be read."""
    if not path.is_file():
        return None
    try:
        attrs = read_attrs(path)
    except (OSError, ValueError, KeyError) as err:
        log.warning("cannot read %s (%s); refitting", path, err)
        return None
    if attrs.get("fingerprint") != key or "law" not in attrs or "diagnostics" not in attrs:
        return None
    return FitResult.stored(path.parent, attrs)


def _fit_or_reuse(item, folder: Path, refit: bool, step: str, counts: list[int], say: Say,
                  progress_bars: bool) -> FitResult:
    """The fit of ``item`` saved in ``folder`` if its fingerprint matches (and not ``refit``), else a new fit saved
    there; the page is left to the caller. ``counts`` is [sampled, reused], updated."""
    key = fingerprint(item)
    fit = None if refit else _cached(folder / POSTERIOR_FILE, key)
    if fit is not None:
        say(f"{step}: unchanged, reusing {folder / POSTERIOR_FILE}")
        counts[1] += 1
    else:
        say(f"{step}: fitting {item.law.name} to {len(item.runs)} runs")
        tree = fit_with_uncertainty(item, progress=progress_bars)
        tree.attrs["fingerprint"] = key
        fit = FitResult(tree, folder)
        write_fit(fit, folder, page=False)
        (folder / PAGE_KEY_FILE).unlink(missing_ok=True)  # a new posterior: its page is rendered again
        counts[0] += 1
    say(f"    {fit.diagnostics.verdict()}")
    return fit


#: Beside each page: the key of everything it shows, so an unchanged page is not rendered again.
PAGE_KEY_FILE = ".page-key"


@functools.cache
def source_digest() -> str:
    """A digest of the package's source files and templates: a page rendered by other code is rendered again.
    Computed once per process (the code that renders is the code this process loaded)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.j2")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _page_key(shown: list[FitResult], *extra) -> str:
    """What a page shows: the fingerprints of the fits on it, the code that renders it and any extra inputs."""
    content = [source_digest(), [fit.attrs.get("fingerprint") for fit in shown], list(extra)]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _stored_key(folder: Path) -> str | None:
    path = folder / PAGE_KEY_FILE
    return path.read_text().strip() if path.is_file() else None


def _write_page_if_changed(fit: FitResult, folder: Path, shown: list[FitResult], extras, refit: bool,
                           counts: list[int], *extra_keys, budgets: tuple[float, ...] = ()) -> None:
    """Render ``fit``'s page (with ``extras()``: its extra sections and header notes; its answer box at
    ``budgets``) unless the page there already shows exactly ``shown``."""
    key = _page_key(shown, *extra_keys, list(budgets))
    if not refit and _stored_key(folder) == key and (folder / PAGE_FILE).is_file():
        counts[1] += 1
        return
    sections, notes = extras()
    write_page(fit, folder, extra_sections=sections, header_notes=notes, budgets=budgets)
    atomic_write_text(folder / PAGE_KEY_FILE, key)
    counts[0] += 1


#: Beside a calibrated analysis's posterior: its backtests and SBC (``[calibration]`` in its spec).
CALIBRATION_FILE = "calibration.json"


def _calibrate_or_reuse(item, folder: Path, refit: bool, scheduler_for: Callable[[], str], workers: int,
                        say: Say) -> dict:
    """The spec's ``[calibration]`` results saved in ``folder`` if they were made for this fit and these settings
    (and not ``--refit``), else measured now (on the scheduler ``scheduler_for()`` names) and saved; ``key``
    identifies them."""
    key = hashlib.sha256(json.dumps([fingerprint(item), asdict(item.spec.calibration)]).encode()).hexdigest()
    path = folder / CALIBRATION_FILE
    if not refit and path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("key") == key:
            say(f"    calibration of {item.spec.name}: unchanged, reusing {path}")
            return saved
    settings = item.spec.calibration
    scheduler = scheduler_for()
    sbc = f"{settings.simulations} SBC simulations" if settings.simulations else "no SBC"
    say(f"    calibration of {item.spec.name}: backtests at {', '.join(f'{f:.0%}' for f in settings.hold_out)} "
        f"held out and {sbc} on {scheduler}")

    progress = Eta(lambda line: say(f"    {line}"), f"calibration tasks of {item.spec.name} done")

    result = {"key": key, **calibrate_spec(item, scheduler=scheduler, workers=workers,
                                           progress=progress)}
    atomic_write_text(path, json.dumps(result))
    return result


def build_report(spec_paths: list[str], out: Path, *, refit: bool = False, budgets: tuple[float, ...] = (),
                 scheduler: str = "local", workers: int = 2, say: Say = log.info,
                 progress_bars: bool = False) -> ReportSummary:
    """Fit (or reuse) each analysis in ``spec_paths`` (files or folders of ``*.toml``), calibrate those with a
    ``[calibration]`` table, write each page and then the index into ``out``; ``say`` receives one line per stage.
    Every input is checked before the first fit starts."""
    start = time.perf_counter()
    budgets = tuple(budgets or ())
    out = check_output_folder(out)
    specs = [load_spec(path) for path in spec_files(spec_paths)]
    for spec in specs:  # names are plain folder names (spec.py checks); nothing is written outside ``out``
        if not (out / spec.name).resolve().is_relative_to(out.resolve()):
            raise SpecError(f"{spec.path or spec.name}: analysis name {spec.name!r} would write outside {out}")
        try:
            declared(spec.references)
        except ValueError as err:
            raise SpecError(f"{spec.path or spec.name} [analysis]: {err}") from None
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise SpecError(f"analysis names must be unique, got {names}")
    prepared = [prepare(spec) for spec in specs]  # all inputs checked before the first fit starts
    for item in prepared:
        if item.spec.calibration is not None:
            check_splits(item, item.spec.calibration.hold_out)
    checks = {item.spec.name: [(variant, prepare(variant.apply(item.spec))) for variant in item.spec.sensitivity]
              for item in prepared}
    with exclusive_lock(out, "report"):  # a second report on the same folder is refused, not raced
        fits: dict[str, FitResult] = {}
        fitted = [0, 0]
        sensitivity: dict[str, list] = {}
        for i, item in enumerate(prepared, 1):
            folder = out / item.spec.name
            fits[item.spec.name] = _fit_or_reuse(item, folder, refit, f"[{i}/{len(prepared)}] {item.spec.name}",
                                                 fitted, say, progress_bars)
            sensitivity[item.spec.name] = [
                (variant.label, _fit_or_reuse(check, folder / SENSITIVITY_DIR / variant.slug, refit,
                                              f"    sensitivity check '{variant.label}'", fitted, say, progress_bars))
                for variant, check in checks[item.spec.name]]
        with shared_scheduler(scheduler, workers) as scheduler_for:  # one LocalCluster for every calibration
            calibrated = {item.spec.name: _calibrate_or_reuse(item, out / item.spec.name, refit, scheduler_for,
                                                              workers, say)
                          for item in prepared if item.spec.calibration is not None}
        written = [0, 0]  # pages rendered, pages unchanged
        for name, fit in fits.items():  # pages last: a crossover section needs its companion fit
            for _, check in sensitivity[name]:
                _write_page_if_changed(check, check.path, [check], lambda: ((), ()), refit, written)
            companion = crossover_companion(fit, fits)
            calibration = calibrated.get(name)
            group = stacking_group(name, fits)

            def extras(fit=fit, companion=companion, variants=sensitivity[name], calibration=calibration,
                       group=group):
                sections = [crossover_section(fit, companion)] if companion is not None else []
                sections += [stacking_section(fit, group, answer_budgets(fit, budgets))] if group else []
                sections += [sensitivity_section(fit, variants)] if variants else []
                sections += [calibration_section(calibration)] if calibration else []
                return sections, [extrapolation_note(fit, variants, calibration)]

            shown = [fit, *(check for _, check in sensitivity[name]), *([companion] if companion else []),
                     *(member for member in group if member is not fit)]
            _write_page_if_changed(fit, out / name, shown, extras, refit, written,
                                   calibrated.get(name, {}).get("key"), budgets=budgets)
        index_key = _page_key([*fits.values(), *(c for checks in sensitivity.values() for _, c in checks)], budgets,
                              sorted(result["key"] for result in calibrated.values()))
        index = out / "index.html"
        if refit or _stored_key(out) != index_key or not index.is_file():
            links = {name: (f"{name}/{PAGE_FILE}", result) for name, result in calibrated.items()}
            atomic_write_text(index, render_index(fits, budgets, checks=sensitivity, calibrated=links))
            atomic_write_text(out / PAGE_KEY_FILE, index_key)
        return ReportSummary(index=index, fits=fits, sampled=fitted[0], reused=fitted[1], rendered=written[0],
                             unchanged=written[1], seconds=time.perf_counter() - start)
