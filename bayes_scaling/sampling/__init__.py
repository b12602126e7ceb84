"""Sampling: law + runs + priors -> PyMC model (centred geometry) -> NUTS (nutpie) -> DataTree, with convergence
diagnostics and the posterior file. Knows nothing of the discrepancy (:mod:`bayes_scaling.uncertainty`)."""
