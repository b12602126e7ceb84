"""Kaplan-style single power laws, L(x) = (x_c / x)^alpha_x, shared by the one-input laws of Kaplan et al. 2020."""

from __future__ import annotations

from typing import Any, ClassVar

from bayes_scaling.laws.base import Law, PowerTerm


class SinglePowerLaw(Law):
    """L(x) = (x_c / x)^alpha: a straight line in log-log, no irreducible term.

    Subclasses set ``input`` (the one input), ``scale`` (the parameter x_c) and ``exponent`` (alpha); the centred
    geometry samples the log-loss at the data's geometric-mean x instead of log x_c.
    """

    input: ClassVar[str]
    scale: ClassVar[str]
    exponent: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.inputs = (cls.input,)
        cls.power_terms = (PowerTerm(amplitude=cls.scale, exponent=cls.exponent, input=cls.input, form="scale"),)
        super().__init_subclass__(**kwargs)  # checks and registers the law declared above

    def loss(self, **values: Any) -> Any:
        """(x_c / x)^alpha in nats per token."""
        return (values[self.scale] / values[self.input]) ** values[self.exponent]
