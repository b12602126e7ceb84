"""Sizes of well-known trained models, for the losses a fit predicts for them (Hoffmann et al. 2022, Table 1;
Brown et al. 2020): name -> (parameters including embeddings, training tokens)."""

NAMED_MODELS: dict[str, tuple[float, float]] = {
    "Chinchilla": (70e9, 1.4e12),
    "Gopher": (280e9, 300e9),
    "GPT-3": (175e9, 300e9),
}
