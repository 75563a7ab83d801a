"""The per-channel model learned from feedback (`bot.pipeline.learn`): it learns what a
channel liked, one user's votes weigh at most USER_CAP together, its reasons name the liked
paper and words, and too little feedback gives no model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import Feedback, Paper, Vote
from bot.pipeline.learn import MIN_VOTES, USER_CAP, train, vote_weights

T0 = datetime(2026, 1, 5, tzinfo=UTC)
FOLDING = (
    "protein structure prediction with residue contacts",
    "folding pathways of small proteins and residue geometry",
    "predicting protein backbone torsion from amino acid sequences",
    "residue contact maps for protein tertiary structure",
)
COOKING = (
    "recipes for sourdough bread and fermentation",
    "baking temperature and crust browning of bread",
    "fermentation of dough with wild yeast cultures",
)
OTHER = (
    "traffic forecasting on road networks",
    "weather radar nowcasting with satellites",
    "stock market volatility and trading volume",
    "image denoising with diffusion priors",
    "speech enhancement in noisy rooms",
    "graph coloring heuristics for scheduling",
)


def paper(n: int, subject: str) -> Paper:
    return Paper(
        title=subject.capitalize(),
        abstract=f"We study {subject}. Our method improves {subject} on benchmarks.",
        arxiv_id=f"2601.{n:05d}",
    )


def corpus() -> list[Paper]:
    return [paper(i, s) for i, s in enumerate((*FOLDING, *COOKING, *OTHER))]


def vote(user: str, p: Paper, v: Vote, minutes: int = 0) -> Feedback:
    return Feedback("slack:C1", user, p.key, v, T0 + timedelta(minutes=minutes))


def test_it_learns_what_the_channel_liked() -> None:
    papers = corpus()
    by_key = {p.key: p for p in papers}
    liked = papers[:3]  # three folding papers
    disliked = papers[4:6]  # two cooking papers
    votes = [vote("u1", p, 1) for p in liked] + [vote("u2", p, -1) for p in disliked]
    learned = train(votes, by_key, papers)
    assert learned is not None
    assert learned.votes == 5 and learned.users == 2
    unseen_folding, unseen_cooking = papers[3], papers[6]
    others = papers[7:]
    assert learned.score(unseen_folding) > 0
    assert learned.score(unseen_folding) > max(learned.score(p) for p in others)
    assert learned.score(unseen_cooking) < min(learned.score(p) for p in others)


def test_one_users_votes_weigh_at_most_the_cap() -> None:
    papers = [paper(i, f"subject {i} of many") for i in range(60)]
    votes = [vote("flooder", p, 1) for p in papers[:50]] + [vote("u2", papers[55], -1)]
    weights = vote_weights(votes)
    flood = sum(w for (u, _), w in weights.items() if u == "flooder")
    assert flood == USER_CAP + 0.0 or abs(flood - USER_CAP) < 1e-9
    assert weights[("u2", papers[55].key)] == -1.0


def test_one_user_cannot_flood_the_channel() -> None:
    """A spammer liking 40 cooking papers weighs as much as a team's 12 folding likes."""
    cooking = [paper(100 + i, f"{COOKING[i % 3]} variant {i}") for i in range(40)]
    folding = [paper(200 + i, f"{FOLDING[i % 3]} case {i}") for i in range(12)]
    others = [paper(300 + i, s) for i, s in enumerate(OTHER)]
    papers = [*cooking, *folding, *others]
    by_key = {p.key: p for p in papers}
    votes = [vote("spammer", p, 1) for p in cooking]
    votes += [vote(f"u{i % 3}", p, 1) for i, p in enumerate(folding)]
    learned = train(votes, by_key, papers)
    assert learned is not None
    fold_new, cook_new = (
        paper(900, FOLDING[0] + " revisited"),
        paper(901, COOKING[0] + " revisited"),
    )
    # capped, the spammer's 40 likes count as USER_CAP: no more than the team's 12
    assert learned.score(fold_new) >= 0.8 * learned.score(cook_new)


def test_the_latest_vote_of_a_user_on_a_paper_counts() -> None:
    papers = corpus()
    p = papers[0]
    weights = vote_weights([vote("u1", p, 1, 0), vote("u1", p, -1, 5), vote("u2", p, 1, 1)])
    assert weights == {("u1", p.key): -1.0, ("u2", p.key): 1.0}


def test_reasons_name_the_most_similar_liked_paper_and_words() -> None:
    papers = corpus()
    by_key = {p.key: p for p in papers}
    votes = [vote("u1", p, 1) for p in papers[:3]] + [vote("u1", papers[4], -1)]
    learned = train(votes, by_key, papers)
    assert learned is not None
    reason = learned.reason(papers[3])
    assert reason is not None and reason.startswith("feedback: like '")
    assert any(p.title[:20] in reason for p in papers[:3])
    assert "residue" in reason or "protein" in reason  # the words that weigh most, as words
    against = learned.reason(papers[6])
    assert against is not None and "not for us" in against
    assert "-" in against.split("(")[-1]


def test_too_little_feedback_gives_no_model() -> None:
    papers = corpus()
    by_key = {p.key: p for p in papers}
    assert train([], by_key, papers) is None
    assert MIN_VOTES == 2
    assert train([vote("u1", papers[0], 1)], by_key, papers) is None
    unknown = Paper(title="Not in the archive", arxiv_id="2601.99999")
    assert train([vote("u1", papers[0], 1), vote("u1", unknown, 1)], by_key, papers) is None
    assert train([vote("u1", papers[0], 1), vote("u2", papers[1], 1)], by_key, papers)


def test_training_is_deterministic_and_order_free() -> None:
    papers = corpus()
    by_key = {p.key: p for p in papers}
    votes = [vote("u1", p, 1, i) for i, p in enumerate(papers[:3])] + [vote("u2", papers[5], -1)]
    a = train(votes, by_key, papers)
    b = train(list(reversed(votes)), by_key, papers)
    assert a is not None and b is not None
    assert [a.score(p) for p in papers] == [b.score(p) for p in papers]
