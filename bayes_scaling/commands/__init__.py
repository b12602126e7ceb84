"""The CLI's sub-commands, one module each; :mod:`bayes_scaling.cli` parses arguments and dispatches here."""

from bayes_scaling.commands.calibrate import calibrate
from bayes_scaling.commands.crossover import crossover
from bayes_scaling.commands.data import data
from bayes_scaling.commands.fit import fit
from bayes_scaling.commands.plan import plan
from bayes_scaling.commands.report import report
from bayes_scaling.commands.sbc import sbc

__all__ = ["calibrate", "crossover", "data", "fit", "plan", "report", "sbc"]
