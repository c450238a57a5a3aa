import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.monitoring.importance import FeatureImportance, compare_importance, stability


def _ranking(*features: str) -> list[FeatureImportance]:
    return [FeatureImportance(f, 1.0 / rank, 0.0, rank) for rank, f in enumerate(features, 1)]


def test_the_same_ranking_is_perfectly_stable() -> None:
    rho, movers = stability(_ranking("a", "b", "c"), _ranking("a", "b", "c"))
    assert rho == 1.0 and movers == []


def test_a_reversed_ranking_is_minus_one_and_names_the_movers() -> None:
    rho, movers = stability(_ranking("a", "b", "c", "d"), _ranking("d", "c", "b", "a"))
    assert rho == -1.0
    assert [(m.feature, m.change) for m in movers] == [("a", -3), ("d", 3), ("b", -1), ("c", 1)]


def test_features_in_only_one_ranking_are_left_out() -> None:
    rho, movers = stability(_ranking("a", "b", "old"), _ranking("new", "a", "b"))
    assert rho == 1.0 and movers  # a and b keep their order; their raw ranks moved by one
    assert stability(_ranking("a"), _ranking("a")) == (None, [])


def test_permutation_importance_finds_the_signal_and_compares_two_models() -> None:
    generator = np.random.default_rng(3)
    features = pd.DataFrame(generator.normal(size=(400, 3)), columns=["signal", "weak", "noise"])
    labels = features["signal"] * 2 + features["weak"] * 0.5 + generator.normal(size=400) > 0
    labels = labels.astype(int).to_numpy()
    champion = LogisticRegression().fit(features, labels)
    challenger = LogisticRegression(C=0.01).fit(features, labels)
    result = compare_importance(champion, challenger, features, labels, "holdout", 1, 2)
    assert [f.feature for f in result.challenger][0] == "signal"
    assert result.champion[0].feature == "signal" and result.champion[0].mean > 0.1
    assert result.rank_correlation == pytest.approx(1.0)
    first = compare_importance(None, challenger, features, labels, "holdout", None, 1)
    assert first.rank_correlation is None and first.champion == []


@pytest.mark.parametrize("seed", [0, 7])
def test_permutation_importance_gives_scikit_learns_figures(seed: int) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance

    from pipeline.monitoring.importance import permutation_importances

    generator = np.random.default_rng(5)
    features = pd.DataFrame(generator.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    labels = (features["a"] - features["c"] + generator.normal(size=300) > 0).astype(int)
    # A forest: no decision function, so scikit-learn's roc_auc scores its probabilities too.
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels)
    ours = {f.feature: f for f in permutation_importances(model, features, labels.to_numpy(), seed)}
    theirs = permutation_importance(
        model, features, labels, scoring="roc_auc", n_repeats=3, random_state=seed
    )
    for name, mean, std in zip(features.columns, theirs.importances_mean, theirs.importances_std):
        assert ours[name].mean == pytest.approx(mean, abs=1e-12)
        assert ours[name].std == pytest.approx(std, abs=1e-12)
    assert ours["a"].rank in (1, 2) and ours["c"].rank in (1, 2)
