"""The two papers' study (Kaplan et al. 2020, Hoffmann et al. 2022): their published values, Kaplan's L* crossover,
and recounting parameters with or without embeddings."""
