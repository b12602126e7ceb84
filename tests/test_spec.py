from pathlib import Path

import pytest

from bayes_scaling.spec import SpecError, load_spec, spec_from_dict

REPO = Path(__file__).resolve().parents[1]


def test_shipped_chinchilla_spec_matches_epochs_setup():
    spec = load_spec(REPO / "models" / "chinchilla.toml")
    assert spec.law == "chinchilla" and spec.likelihood == "student_t"
    assert spec.data.dataset == "epoch-chinchilla"
    assert spec.data.filters == {"drop_highest_loss": 5}
    assert spec.sampler.geometry == "centred" and spec.sampler.adaptation == "low_rank"
    assert spec.calibration.hold_out == (0.1, 0.2, 0.3) and spec.calibration.simulations >= 100


def minimal(**extra):
    raw = {"analysis": {"name": "x", "law": "chinchilla"}, "data": {"csv": "runs.csv"}}
    for key, value in extra.items():
        raw.setdefault(key, {}).update(value)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (minimal(sampler={"draw": 10}), "[sampler]: unknown key(s) ['draw']; valid: adaptation, chains, draws"),
        (minimal(data={"drop_lowest": 1}), "[data]: unknown key(s) ['drop_lowest']"),
        (minimal(extra={"a": 1}), "unknown key(s) ['extra']"),
        ({"analysis": {"name": "x"}, "data": {"csv": "a"}}, "[analysis]: 'law' is required"),
        (minimal(data={"dataset": "epoch-chinchilla"}), "give exactly one of 'dataset'"),
        (minimal(priors={"alpha": {"dist": "Nope"}}), "unknown prior distribution 'Nope'"),
        (minimal(sampler={"geometry": "curved"}), "geometry must be one of 'centred', 'naive'"),
        (minimal(calibration={"hold_out": [0.2, 1.5]}), "hold_out fractions must lie in (0, 1), got [0.2, 1.5]"),
        (minimal(calibration={"replicats": 10}), "[calibration]: unknown key(s) ['replicats']"),
        (minimal(calibration={"replicates": 1}), "needs replicates >= 2"),
        (minimal(calibration={"sbc_tune": "lots"}), "[calibration] sbc_tune must be a whole number, got 'lots'"),
        (minimal(calibration={"sbc_draws": 12.5}), "sbc_draws must be a whole number, got 12.5; write it without"),
        (minimal(calibration={"sbc_chains": 1}), "sbc_chains from 2 (R-hat compares chains) to 64"),
        (minimal(priors={"A": {"dist": "LogNormal", "mu": 0, "sigma": 1, "at": "middle"}}),
         "a prior's 'at' must be one of value, centre, got 'middle'"),
    ],
)
def test_bad_specs_are_refused_with_the_valid_keys(raw, message):
    with pytest.raises(SpecError) as err:
        spec_from_dict(raw, where="my.toml")
    assert message in str(err.value)


def test_relative_csv_is_taken_from_the_spec_folder(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[analysis]\nname = "mine"\nlaw = "chinchilla"\n[data]\ncsv = "runs.csv"\n'
                    '[data.columns]\nn_params = "N"\n')
    spec = load_spec(path)
    assert spec.data.csv == str(tmp_path / "runs.csv")
    assert spec.data.columns == {"n_params": "N"}


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[analysis\n")
    with pytest.raises(SpecError, match=r"bad\.toml: not valid TOML"):
        load_spec(path)


def test_sensitivity_checks_change_one_choice_each():
    spec = load_spec(REPO / "models" / "porian-rw-kaplan-isoflop.toml")
    labels = [variant.label for variant in spec.sensitivity]
    assert labels == ["20% loss window", "all runs (no window)", "Student-t likelihood"]
    wider, everything, robust = (variant.apply(spec) for variant in spec.sensitivity)
    assert wider.data.filters["isoflop_loss_window"] == 0.2 and wider.likelihood == spec.likelihood
    assert "isoflop_loss_window" not in everything.data.filters
    assert (everything.sampler.tune, everything.sampler.target_accept) == (3000, 0.99)  # the check's own settings
    assert wider.sampler == spec.sampler and everything.sampler.seed == spec.sampler.seed
    assert robust.likelihood == "student_t" and robust.data.filters == spec.data.filters
    assert robust.name == "porian-rw-kaplan-isoflop--student-t-likelihood" and robust.sensitivity == ()


def test_a_check_can_read_other_columns_and_the_spec_says_why_in_notes():
    spec = load_spec(REPO / "models" / "li2025-kaplan-steps.toml")
    assert spec.notes.startswith("Which checkpoints, and why: the final checkpoint") and "\n" not in spec.notes
    (embeddings,) = (variant.apply(spec) for variant in spec.sensitivity)
    assert spec.data.columns == {"n_params": "N_no_emb", "steps": "current_steps"}
    assert spec.data.n_counts_embeddings is False
    assert embeddings.data.columns == {"n_params": "N", "steps": "current_steps"}
    assert embeddings.data.n_counts_embeddings is True and embeddings.data.filters == spec.data.filters


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([{"label": "x", "columns": {"widths": "N"}}], "columns maps inputs"),
        ([{"label": "x", "columns": {"n_params": 3}}], "columns maps inputs"),
        ([{"label": "x", "n_counts_embeddings": "yes"}], "n_counts_embeddings must be true or false"),
        ([{"isoflop_loss_window": 0.2}], "'label' is required"),
        ([{"label": "x", "drop": ["no_such_filter"]}], "drop names unknown filter(s) ['no_such_filter']"),
        ([{"label": "x", "priors": {}}], "[[sensitivity]] #1: unknown key(s) ['priors']"),
        ([{"label": "A b"}, {"label": "a-b"}], "labels must differ"),
        ([{"label": "x", "sampler": {"seed": 3}}], "'sampler' may set draws, target_accept, tune"),
        ([{"label": "x", "sampler": {"tune": "long"}}],
         "#1: sampler tune must be a whole number from 0 to 100,000, got 'long'"),
        ([{"label": "x", "sampler": {"target_accept": 1.5}}], "target_accept must be between 0 and 1, got 1.5"),
        ({"label": "x"}, "write each check as a [[sensitivity]] table"),
    ],
)
def test_bad_sensitivity_checks_are_refused(checks, message):
    raw = minimal() | {"sensitivity": checks}
    with pytest.raises(SpecError) as err:
        spec_from_dict(raw, where="my.toml")
    assert message in str(err.value)


@pytest.mark.parametrize(("sampler", "message"), [
    ({"draws": 0}, "sampler draws must be a whole number from 1 to 100,000"),
    ({"chains": 2.5}, "sampler chains must be a whole number from 1 to 64"),
    ({"target_accept": 0}, "target_accept must be between 0 and 1"),
])
def test_bad_sampler_settings_are_refused_when_the_spec_loads(sampler, message):
    with pytest.raises(SpecError) as err:
        spec_from_dict(minimal() | {"sampler": sampler}, where="my.toml")
    assert "my.toml" in str(err.value) and message in str(err.value)


def test_every_shipped_spec_loads_with_each_sensitivity_check_and_fits_the_gp_after_sampling():
    """The published-data specs state (or get from their law) the GP after sampling, whatever a law's default for a
    user's runs; each check still loads, so `make report` can start."""
    from tests.conftest import REPO

    specs = sorted((REPO / "models").glob("*.toml"))
    assert len(specs) >= 15
    for path in specs:
        spec = load_spec(path)
        assert spec.discrepancy == "after", path.name
        for check in spec.sensitivity:
            check.apply(spec)
