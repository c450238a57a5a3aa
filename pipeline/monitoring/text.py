"""Drift of a text column: is the current text still the reference's kind of text?

A calculator in the scikit-learn manner: ``TextDrift(alpha=...)`` stores settings, ``fit`` learns
from the reference (its vocabulary, its descriptors, its term frequencies), ``test`` compares a
current sample with it. Four tests, each a p-value, combined for the column by Bonferroni so the
column stands in the feature family like any numeric or categorical column:

- **domain classifier**: TF-IDF words and a logistic regression, trained on half of each side,
  try to tell the other half's reference messages from its current ones; that ROC AUC is a
  Mann-Whitney statistic, 0.5 with a known spread under no drift, which gives the p-value
  (one-sided: better than chance);
- **vocabulary**: the share of each message's tokens unseen in half of the reference, for the
  other half and for the current messages (Mann-Whitney; a new topic brings unseen words);
- **length** and **style** descriptors: characters per message (K-S), and the share of messages
  with capitals, digits, or a URL or phone number (chi-square), the minimum p-value of the three
  style tests Bonferroni-corrected.

Reported beside them, as sizes rather than tests: the Jensen-Shannon divergence of the token
distributions and ``new_terms``, the terms most over-represented in the current messages (by
the share of messages holding them), which the issue shows as "New patterns". The classifier
sees at most ``classifier_rows`` messages a side (the p-value stays valid: a smaller sample only
lowers power); the other tests see the whole sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TEXT_TEST = "text (domain classifier, vocabulary, length, style)"
TOKEN = re.compile(r"[a-z0-9£$€']+")
URL_PARTS = frozenset({"www", "com", "http", "https", "net", "org", "bit", "html"})
URL_OR_PHONE = re.compile(r"(https?://|www\.|\.(com|co\.uk|ly|net|org)\b|\b\d{5,}\b)", re.I)


@dataclass
class TextDriftResult:
    """What one text column's drift test found: the combined p-value, each test, the sizes."""

    p_value: float
    tests: dict[str, float]
    domain_classifier_auc: float
    unseen_token_share: float
    reference_unseen_token_share: float
    js_divergence: float
    mean_length: dict[str, float]
    new_terms: list[str] = field(default_factory=list)


class TextDrift:
    """Fit on the reference text, then ``test`` current text (see the module)."""

    def __init__(
        self,
        classifier_rows: int = 5000,
        top_terms: int = 10,
        seed: int = 0,
    ) -> None:
        self.classifier_rows = classifier_rows
        self.top_terms = top_terms
        self.seed = seed

    def fit(self, reference: pd.Series) -> TextDrift:
        import numpy as np

        texts = reference.astype(str).reset_index(drop=True)
        rng = np.random.default_rng(self.seed)
        half = rng.permutation(len(texts)) < len(texts) // 2
        vocabulary: set[str] = set()
        for text in texts[half]:
            vocabulary.update(_tokens(text))
        self.reference_ = texts
        self.vocabulary_ = vocabulary
        self.held_out_unseen_ = _unseen_shares(texts[~half], vocabulary)
        self.descriptors_ = _descriptors(texts)
        self.document_counts_ = _document_counts(texts)
        return self

    def test(self, current: pd.Series) -> TextDriftResult:
        from scipy.stats import chi2_contingency, ks_2samp, mannwhitneyu

        texts = current.astype(str).reset_index(drop=True)
        auc, classifier_p = self._domain_classifier(texts)
        unseen = _unseen_shares(texts, self.vocabulary_)
        vocabulary_p = float(
            mannwhitneyu(self.held_out_unseen_, unseen, alternative="two-sided").pvalue
        )
        now = _descriptors(texts)
        length_p = float(ks_2samp(self.descriptors_["length"], now["length"]).pvalue)
        style = []
        for flag in ("capitals", "digits", "url_or_phone"):
            table = [
                [int(self.descriptors_[flag].sum()), int((~self.descriptors_[flag]).sum())],
                [int(now[flag].sum()), int((~now[flag]).sum())],
            ]
            constant = min(table[0][0] + table[1][0], table[0][1] + table[1][1]) == 0
            style.append(1.0 if constant else float(chi2_contingency(table)[1]))
        tests = {
            "domain_classifier": classifier_p,
            "vocabulary": vocabulary_p,
            "length": length_p,
            "style": min(1.0, min(style) * len(style)),
        }
        counts = _document_counts(texts)
        return TextDriftResult(
            p_value=min(1.0, min(tests.values()) * len(tests)),
            tests={k: round(v, 8) for k, v in tests.items()},
            domain_classifier_auc=round(auc, 4),
            unseen_token_share=round(_pooled_unseen(texts, self.vocabulary_), 4),
            reference_unseen_token_share=round(
                _pooled_unseen(self.reference_, self.vocabulary_), 4
            ),
            js_divergence=round(_js_divergence(self.document_counts_, counts), 4),
            mean_length={
                "reference": round(float(self.descriptors_["length"].mean()), 1),
                "current": round(float(now["length"].mean()), 1),
            },
            new_terms=_new_terms(self.document_counts_, counts, len(self.reference_), len(texts))[
                : self.top_terms
            ],
        )

    def _domain_classifier(self, current: pd.Series) -> tuple[float, float]:
        """Held-out ROC AUC of reference-vs-current, and its one-sided p-value under H0.

        The classifier learns on half of each side and is scored on the other half: scores of
        messages it never saw, so under no drift their AUC is exactly a Mann-Whitney statistic.
        (Out-of-fold AUCs of a cross-validation are not: the folds' models differ, which widened
        the null and raised 4 false alarms in 20 random halves of the real SMS table.)
        """
        import numpy as np
        from scipy.stats import norm
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split

        rng = np.random.default_rng(self.seed + 1)
        ref = _at_most(self.reference_, self.classifier_rows, rng)
        cur = _at_most(current, self.classifier_rows, rng)
        if len(ref) < 10 or len(cur) < 10:
            return 0.5, 1.0
        texts = np.concatenate([ref.to_numpy(), cur.to_numpy()])
        side = np.concatenate([np.zeros(len(ref)), np.ones(len(cur))])
        learn, judge, learn_side, judge_side = train_test_split(
            texts, side, test_size=0.5, stratify=side, random_state=self.seed
        )
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        classifier = LogisticRegression(max_iter=2000, C=1.0)
        classifier.fit(vectorizer.fit_transform(learn), learn_side)
        scores = classifier.predict_proba(vectorizer.transform(judge))[:, 1]
        auc = float(roc_auc_score(judge_side, scores))
        n1 = int(judge_side.sum())
        n0 = len(judge_side) - n1
        spread = np.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
        return auc, float(norm.sf((auc - 0.5) / spread))


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def _unseen_shares(texts: pd.Series, vocabulary: set[str]) -> np.ndarray:
    import numpy as np

    shares = []
    for text in texts:
        tokens = _tokens(text)
        shares.append(sum(t not in vocabulary for t in tokens) / len(tokens) if tokens else 0.0)
    return np.asarray(shares, dtype="float64")


def _pooled_unseen(texts: pd.Series, vocabulary: set[str]) -> float:
    tokens = [t for text in texts for t in _tokens(text)]
    return sum(t not in vocabulary for t in tokens) / len(tokens) if tokens else 0.0


def _descriptors(texts: pd.Series) -> dict[str, Any]:
    import numpy as np

    return {
        "length": texts.str.len().to_numpy(dtype="float64"),
        "capitals": texts.str.contains(r"[A-Z]{3,}", regex=True).to_numpy(dtype=bool),
        "digits": texts.str.contains(r"\d", regex=True).to_numpy(dtype=bool),
        "url_or_phone": np.array([bool(URL_OR_PHONE.search(t)) for t in texts], dtype=bool),
    }


def _document_counts(texts: pd.Series) -> dict[str, int]:
    """In how many messages each token appears (once per message)."""
    counts: dict[str, int] = {}
    for text in texts:
        for token in set(_tokens(text)):
            counts[token] = counts.get(token, 0) + 1
    return counts


def _js_divergence(reference: dict[str, int], current: dict[str, int]) -> float:
    """Jensen-Shannon divergence (base 2) of the two token distributions (document counts)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    terms = sorted(set(reference) | set(current))
    p = np.array([reference.get(t, 0) for t in terms], dtype="float64")
    q = np.array([current.get(t, 0) for t in terms], dtype="float64")
    if not p.sum() or not q.sum():
        return 0.0
    # SciPy gives the distance, the divergence's square root.
    return float(jensenshannon(p, q, base=2) ** 2)


def _new_terms(
    reference: dict[str, int], current: dict[str, int], n_reference: int, n_current: int
) -> list[str]:
    """Terms far more frequent now: a two-proportion z above 4 on the share of messages holding
    them, at least three times the reference's rate, in at least 1% of the messages; stop
    words and URL fragments are not patterns."""
    import math

    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    total = n_reference + n_current
    found = []
    for term, now in current.items():
        if now < max(5, 0.01 * n_current) or len(term) < 3 or term.isdigit():
            continue
        if term in ENGLISH_STOP_WORDS or term in URL_PARTS:
            continue
        before = reference.get(term, 0)
        # A pattern is new, not merely commoner: at least three times the reference's rate.
        if (now / n_current) < 3 * ((before + 1) / n_reference):
            continue
        # Two-proportion z on the share of messages holding the term; 4 (not 1.96) because
        # every frequent term is a test.
        pooled = (before + now) / total
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n_current + 1 / n_reference))
        z = (now / n_current - before / n_reference) / spread if spread else 0.0
        if z > 4:
            found.append((z, term))
    return [term for _, term in sorted(found, reverse=True)]


def _at_most(texts: pd.Series, rows: int, rng: np.random.Generator) -> pd.Series:
    if len(texts) <= rows:
        return texts
    return texts.iloc[rng.choice(len(texts), size=rows, replace=False)]
