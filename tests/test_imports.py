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
