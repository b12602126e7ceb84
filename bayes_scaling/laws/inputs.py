"""The inputs a law may take: one registry that data loading, the command line, the DataTree and the uncertainty
code all read. Adding an input (a law with unique tokens, say) is one line here; its column, flag, validation and
storage follow.

Inputs that obey C = 6 N D (``sets_compute``) are completed from each other when a table gives two of them; any
other input is read as given.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    """One input of a law: its canonical column ``name``, the paper's ``symbol``, its ``unit``, what it is, the range
    of values that are plausible for a training run (outside it the data are almost surely in another unit), and
    whether it takes part in C = 6 N D."""

    name: str
    symbol: str
    unit: str
    description: str
    plausible: tuple[float, float]
    sets_compute: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag naming its column: ``--n-params-col``."""
        return f"--{self.name.replace('_', '-')}-col"


#: Every input, by canonical column name, in the order they are stored.
INPUTS: dict[str, Input] = {item.name: item for item in (
    Input("n_params", "N", "parameters", "model size", (1e2, 1e16), sets_compute=True),
    Input("n_tokens", "D", "tokens", "training tokens (all epochs)", (1e2, 1e18), sets_compute=True),
    Input("compute", "C", "FLOP", "training compute", (1e6, 1e35), sets_compute=True),
    Input("unique_tokens", "U_D", "tokens", "unique tokens among the training tokens", (1e2, 1e18)),
    Input("steps", "S", "steps", "optimizer steps at the run's batch size", (1.0, 1e9)),
)}

#: The inputs that C = 6 N D ties together.
COMPUTE_INPUTS = tuple(name for name, item in INPUTS.items() if item.sets_compute)
