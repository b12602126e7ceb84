"""Figures transcribed from the papers and replications that bayes_scaling is compared against.

Sources: Hoffmann et al. 2022 (arXiv 2203.15556), Besiroglu et al. 2024 (Epoch AI, arXiv 2404.10102). Units: N
parameters (all, embeddings included), D tokens, C FLOP with C = 6 N D, loss in nats per token.
"""

from __future__ import annotations

from bayes_scaling.data.runs import PF_DAY
from bayes_scaling.laws.isoflop import IsoFlopLaw

#: Hoffmann et al. 2022, approach 3 (Huber fit of L = E + A/N^alpha + B/D^beta).
HOFFMANN_APPROACH3 = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

#: Epoch AI's refit of approach 3 on the digitised data: estimate and 95% bootstrap interval.
EPOCH_ESTIMATE = {"E": 1.817, "A": 482.01, "B": 2085.43, "alpha": 0.348, "beta": 0.366}
EPOCH_CI95 = {
    "E": (1.769, 1.871),
    "A": (285.2, 743.6),
    "B": (1042.4, 5810.3),
    "alpha": (0.317, 0.373),
    "beta": (0.331, 0.415),
}
EPOCH_A_EXPONENT = (0.513, 0.020)  # a = beta/(alpha+beta): estimate and standard error

#: Hoffmann et al. 2022, Table 2: exponents a (N_opt ∝ C^a) and b (D_opt ∝ C^b) with the paper's intervals.
HOFFMANN_TABLE2 = {
    "Approach 1 (training-curve envelope)": {"a": (0.50, 0.488, 0.502), "b": (0.50, 0.501, 0.512)},
    "Approach 2 (IsoFLOP profiles)": {"a": (0.49, 0.462, 0.534), "b": (0.51, 0.483, 0.529)},
    "Approach 3 (parametric loss)": {"a": (0.46, 0.454, 0.455), "b": (0.54, 0.542, 0.543)},
    "Kaplan et al. 2020": {"a": (0.73, None, None), "b": (0.27, None, None)},
}

#: Hoffmann et al. 2022, Table 3 (approach 1): model size -> (compute-optimal FLOP, tokens).
HOFFMANN_TABLE3 = {
    400e6: (1.92e19, 8.0e9),
    1e9: (1.21e20, 20.2e9),
    10e9: (1.23e22, 205.1e9),
    67e9: (5.76e23, 1.5e12),
    175e9: (3.85e24, 3.7e12),
    280e9: (9.90e24, 5.9e12),
    520e9: (3.43e25, 11.0e12),
    1e12: (1.27e26, 21.2e12),
    10e12: (1.30e28, 216.2e12),
}

#: Gopher's compute budget, the budget Chinchilla was sized for (FLOP).
GOPHER_BUDGET = 5.76e23

#: Kaplan et al. 2020 (arXiv 2001.08361), per law of this package: (where in the paper, {parameter: value}), with
#: compute-scale parameters converted from PF-days to FLOP as the laws use them. Their N excludes embeddings; their
#: data are WebText2 with a 50257-token BPE, so scales (N_c, D_c, C_c, N_0) compare loosely and exponents closely.
KAPLAN_2020 = {
    "kaplan_params": ("eq. 1.1, Table 5", {"alpha_N": 0.076, "N_c": 8.8e13}),
    "kaplan_data": ("eq. 1.2, Table 5", {"alpha_D": 0.095, "D_c": 5.4e13}),
    "kaplan_compute": ("eq. 1.3, Table 5", {"alpha_C": 0.050, "C_c": 3.1e8 * PF_DAY}),
    "kaplan_joint": ("eq. 1.5, Table 2", {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}),
    "kaplan_steps": ("eq. 1.6, Table 3", {"alpha_N": 0.077, "alpha_S": 0.76, "N_c": 6.5e13, "S_c": 2.1e3}),
    # Kaplan's frontier has no floor; the IsoFLOP law's sits on E, so its alpha_C and C_c are other quantities.
    "isoflop": ("Table 6", {"a": 0.73, "N_0": 1.3e9 * PF_DAY**-0.73}),
    "isoflop_power": ("Tables 5 and 6", {"a": 0.73, "N_0": 1.3e9 * PF_DAY**-0.73, "alpha_C": 0.050,
                                         "C_c": 3.1e8 * PF_DAY}),
}


def pf_day_views(params):
    """Compute-scale parameters in PF-days, as Kaplan reported them: ``{label: value}`` from draws or point values
    (``C_c`` in PF-days; ``N_0`` as N_e = N_opt(1 PF-day), Kaplan's 1.3e9)."""
    out = {}
    if "C_c" in params:
        out["C_c in PF-days"] = params["C_c"] / PF_DAY
    if "N_0" in params and "a" in params:
        out["N_e = N_opt(1 PF-day)"] = params["N_0"] * PF_DAY ** params["a"]
    return out


def kaplan_allocation(compute):
    """Kaplan et al.'s compute-efficient allocation (Table 6): N_opt = 1.3e9 (C / 1 PF-day)^0.73 non-embedding
    parameters and D_opt = C / (6 N_opt) tokens, C in FLOP."""
    return IsoFlopLaw().optimal_allocation(compute, **KAPLAN_2020["isoflop"][1])


#: Porian et al. 2024's ladder from Kaplan's setup to a Chinchilla-like one: (step, what changed from the step
#: before, the configuration's fields other than ``dataset``), in order. Their fitted a is in each configuration's
#: data (``published_a``).
PORIAN_LADDER = (
    ("kaplan", "Kaplan's setup: non-embedding N, long warm-up, Kaplan's learning-rate decay, smoothed train loss",
     {"hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "kaplan", "val": "train"}),
    ("flops", "count the output layer in N and in compute (6ND then includes the unembedding); validation loss",
     {"hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "standard", "val": "val"}),
    ("warmup", "warm-up shortened to suit small models",
     {"hparams": "base", "warmup": "short", "decay": "kaplan", "param_count": "standard", "val": "val"}),
    ("cosine", "cosine decay sized to each budget (Chinchilla's schedule), one run per point",
     {"hparams": "base", "warmup": "short", "decay": "chinchilla", "param_count": "standard", "val": "val"}),
    ("tuned", "AdamW hyper-parameters tuned per model size (with beta2 and batch size), constant schedule",
     {"hparams": "tuned", "warmup": "short", "decay": "const", "param_count": "standard", "val": "val"}),
)
