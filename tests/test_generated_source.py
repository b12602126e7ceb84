"""PyTensor's generated source goes beside its compile cache, named by content, not to new files in /tmp."""

import tempfile

from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.sampling.generated_source import FOLDER
from bayes_scaling.sampling.model import all_priors, build_model
from bayes_scaling.sampling.sampler import compile_model


def test_compiling_a_model_leaves_no_file_in_the_temporary_directory(simulated_runs, tmp_path, monkeypatch):
    import pytensor

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where NamedTemporaryFile would write
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    built = build_model(law, simulated_runs, likelihood, all_priors(law, likelihood))
    compile_model(built)
    assert pytensor.config.generated_src_dir.endswith(FOLDER)
    assert list(tmp_path.iterdir()) == []
