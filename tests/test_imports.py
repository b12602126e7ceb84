"""The commands that answer questions load only what they use: no plotting or cluster libraries on import."""

import subprocess
import sys

HEAVY = ("matplotlib", "dask", "distributed", "arviz_plots")


def test_fit_plan_score_suggest_import_no_plotting_or_cluster_library():
    code = ("import sys\n"
            "import bayes_scaling.cli, bayes_scaling.commands.fit, bayes_scaling.commands.plan\n"
            "import bayes_scaling.commands.score, bayes_scaling.commands.suggest\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"imported on the command path: {loaded}"


def test_a_sampled_fit_imports_no_plotting_or_distributed(simulated_frame, tmp_path):
    """The whole ``bayes-scaling fit`` process (sampling, refits, writing posterior.nc), not only the command's
    modules: nutpie's module-level ``import arviz`` pulled ``arviz_plots`` and ``matplotlib.pyplot``, and xarray's
    netCDF writer ``distributed``, its variables ``dask.array``; ArviZ's statistics (for R-hat and ESS) and
    PyTensor's HalfNormal sampler ``scipy.stats`` (about 0.8 CPU s together). dask's core is allowed: xarray
    imports it on its own when it is installed (:mod:`bayes_scaling.util.unused_modules`)."""
    simulated_frame.to_csv(csv := tmp_path / "runs.csv", index=False)
    code = ("import sys\n"
            "from bayes_scaling.cli import main\n"
            "code = main(sys.argv[1:], own_process=True)\n"  # as the bayes-scaling entry point runs it
            "print(code, ','.join(m for m in sorted(sys.modules) if sys.modules[m] is not None))\n")
    argv = ["-q", "fit", "--law", "chinchilla", "--data", str(csv), "--discrepancy", "after", "--draws", "200",
            "--tune", "200", "--allow-unconverged", "--out", str(tmp_path / "fit")]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    exit_code, modules = done.stdout.strip().splitlines()[-1].split(" ")
    imported = set(modules.split(","))
    assert exit_code == "0" and "nutpie" in imported and (tmp_path / "fit" / "posterior.nc").exists()
    loaded = [name for name in ("matplotlib", "arviz_plots", "distributed", "dask.array", "arviz_stats",
                                "scipy.stats", "scipy.signal") if name in imported]
    assert loaded == [], f"imported by a sampled fit: {loaded}"


def test_arviz_still_works_after_nutpie_was_imported_without_it():
    """After :func:`import_nutpie` put a stand-in under ``arviz``, a user's own ``import arviz`` in the same process
    gets the real package on first use (and nutpie's module-level name forwards to it)."""
    code = ("import sys\n"
            "from bayes_scaling.sampling.nutpie_import import import_nutpie\n"
            "import_nutpie()\n"
            "assert 'matplotlib' not in sys.modules\n"
            "import arviz\n"
            "nutpies = sys.modules['nutpie.sample'].arviz  # the name nutpie's module bound at import\n"
            "print(arviz.__version__ == nutpies.__version__, callable(nutpies.from_dict),\n"
            "      type(sys.modules['arviz']).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "module"]


def test_arviz_base_imported_after_nutpie_does_not_load_the_stand_in_halfway():
    """``arviz_base``'s import looks at every module's ``__file__`` (``inspect.stack`` for its missing optional
    backends): the stand-in answers from its spec instead of importing ``arviz`` inside ``arviz_base``'s own import,
    which failed (a partially initialised ``arviz_base``) once the fit path stopped importing ArviZ first."""
    code = ("import sys\n"
            "from bayes_scaling.sampling.nutpie_import import import_nutpie\n"
            "import_nutpie()\n"
            "import arviz_stats\n"
            "print(type(sys.modules['arviz']).__name__, 'arviz_plots' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["_StandIn", "False"]
