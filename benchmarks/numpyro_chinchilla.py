"""Chinchilla's law on Epoch AI's runs in NumPyro, the same model as ``bayes-scaling fit models/chinchilla.toml``.

Run by ``bench_fit_stages.py`` in its own virtual environment (JAX and NumPyro are not dependencies of the package):
``python numpyro_chinchilla.py RUNS.npz DRAWS.npz``. Reads log N, log D and log loss, samples 4 chains x 1000
draws after 1000 warm-up steps (NUTS, target acceptance 0.95 as the spec's default) and writes the natural-scale
draws of E, A, B, alpha and beta; prints its stage seconds as JSON on the last line.

The model, as :func:`bayes_scaling.sampling.model.build_model` writes it in the centred geometry:

    E ~ LogNormal(0.5, 0.5);  alpha, beta ~ Gamma(mean 0.4, sd 0.3)
    a_c, b_c ~ Normal(log 0.3, 1)   (the log of each term at the data's geometric-mean N or D; the at-centre prior)
    log A = a_c + alpha * mean(log N),  log B = b_c + beta * mean(log D)
    sigma ~ HalfNormal(0.03);  nu ~ Gamma(2, 0.1)
    log L_i ~ StudentT(nu, log(E + A N_i^-alpha + B D_i^-beta), sigma)
"""

from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()

import numpyro  # noqa: E402

numpyro.set_host_device_count(4)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

GAMMA_SHAPE, GAMMA_RATE = 0.4**2 / 0.3**2, 0.4 / 0.3**2


def model(log_n, log_d, log_loss):
    centre_n, centre_d = jnp.mean(log_n), jnp.mean(log_d)
    e = numpyro.sample("E", dist.LogNormal(0.5, 0.5))
    alpha = numpyro.sample("alpha", dist.Gamma(GAMMA_SHAPE, GAMMA_RATE))
    beta = numpyro.sample("beta", dist.Gamma(GAMMA_SHAPE, GAMMA_RATE))
    a_c = numpyro.sample("A_centred", dist.Normal(np.log(0.3), 1.0))
    b_c = numpyro.sample("B_centred", dist.Normal(np.log(0.3), 1.0))
    log_a = numpyro.deterministic("log_A", a_c + alpha * centre_n)
    log_b = numpyro.deterministic("log_B", b_c + beta * centre_d)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.03))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    mu = jnp.log(e + jnp.exp(log_a - alpha * log_n) + jnp.exp(log_b - beta * log_d))
    numpyro.sample("log_loss", dist.StudentT(nu, mu, sigma), obs=log_loss)


def main() -> None:
    imported = time.perf_counter()
    runs = np.load(sys.argv[1])
    mcmc = MCMC(NUTS(model, target_accept_prob=0.95), num_warmup=1000, num_samples=1000, num_chains=4,
                chain_method="parallel", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), jnp.asarray(runs["log_n"]), jnp.asarray(runs["log_d"]),
             jnp.asarray(runs["log_loss"]))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    sampled = time.perf_counter()
    draws = {"E": samples["E"], "A": jnp.exp(samples["log_A"]), "B": jnp.exp(samples["log_B"]),
             "alpha": samples["alpha"], "beta": samples["beta"]}
    np.savez(sys.argv[2], **{name: np.asarray(value) for name, value in draws.items()},
             diverging=np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"]))
    print(json.dumps({"imports": imported - START, "compile_and_sample": sampled - imported,
                      "total": time.perf_counter() - START}))


if __name__ == "__main__":
    main()
