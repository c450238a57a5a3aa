"""Synthetic SMS-like messages for text models: ham and spam, and the drifts that matter for text.

A message is a few phrases drawn from its class's phrase book, with slot words filled in, then
styled (texting abbreviations and lower case for ham; capitals, prices, short codes, phone
numbers and links for spam). Lengths follow each class's own distribution (ham short, spam
long, as in the SMS Spam Collection: about 70 and 140 characters). Drifts:

- ``covariate``: a new topic, a crypto-scam wave, in a share of the messages (terms never seen
  before: wallet, airdrop, nft, ...); the rest of each class is unchanged;
- ``prediction``: the spam share triples;
- ``concept``: a change of style, every message short (one phrase, no padding);
- ``mixed``: the new topic and the short style together.

Reproducible for a seed; ``strength`` scales the topic share and the spam-share change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config import ModelConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

HAM_PHRASES = (
    "are you coming to {place} {when}",
    "i'll be there in {minutes} mins",
    "ok see you {when}",
    "can you pick up some {food} on the way",
    "sorry i missed your call, {excuse}",
    "what time is the {event} {when}",
    "just got home, so tired",
    "happy birthday {name}! hope you have a great day",
    "did you finish the {work} for {when}",
    "mum says dinner is at {hour}",
    "thanks for {food} yesterday, it was lovely",
    "i'm at the {place} now, where are you",
    "call me when you're free",
    "{name} said the {event} is cancelled",
    "running late, traffic is terrible",
    "don't forget the {food} for {when}",
    "we should go to {place} again soon",
    "how was the {event}",
    "lol that's so funny",
    "good night, sleep well",
    "can't talk now, in a {event}",
    "shall we meet at {place} at {hour}",
    "my phone was off, {excuse}",
    "yeah sounds good to me",
    "is {name} coming with us {when}",
    # Words spam uses too: what keeps the task from being trivially separable.
    "did you win the {event}",
    "are you free {when}",
    "call me on my mobile",
    "i won {money} on the lottery lol",
    "got a new {product} today",
    "txt me when you get this",
)
SPAM_PHRASES = (
    "congratulations! you have won a {prize}",
    "URGENT! your {account} has been selected for a {prize}",
    "claim your free {prize} now",
    "call {phone} to claim your {money} cash award",
    "txt {code} to {short} to receive your reward",
    "you are a winner! reply {code} to {short}",
    "final notice: your {account} will expire, call {phone}",
    "FREE entry into our weekly draw for a {prize}",
    "get {money} off your next {product}, visit {url}",
    "limited offer: {product} for only {money}, reply YES",
    "your mobile number has won {money} in our prize draw",
    "we tried to contact you about your {prize}, call {phone} now",
    "exclusive {product} deal ends today, click {url}",
    "you have 1 new voicemail, call {phone}",
    "guaranteed {money} cash or a {prize}, txt {code} to {short}",
)
# The new topic of the covariate drift: a crypto-scam wave, words the reference never has.
TOPIC_PHRASES = (
    "claim your free {coin} airdrop, connect your wallet at {url}",
    "your {coin} wallet is locked, verify your seed phrase at {url}",
    "exclusive nft mint tonight, whitelist spots left, join {url}",
    "earn 10x on {coin} staking, guaranteed returns, dm now",
    "metamask alert: suspicious login, restore wallet at {url}",
    "new token presale live, buy {coin} before listing",
)
SLOTS: dict[str, tuple[str, ...]] = {
    "place": ("the pub", "uni", "the gym", "town", "the cinema", "church", "the station", "work"),
    "when": ("today", "tonight", "tomorrow", "later", "this weekend", "on friday", "now"),
    "minutes": ("5", "10", "15", "20", "30"),
    "food": ("milk", "bread", "pizza", "cake", "chips", "curry", "coffee"),
    "excuse": ("was driving", "was asleep", "was in the shower", "battery died"),
    "event": ("meeting", "party", "match", "lecture", "class", "gig", "film"),
    "name": ("john", "sarah", "mum", "dad", "ali", "emma", "tom", "jess"),
    "work": ("essay", "report", "project", "homework", "slides"),
    "hour": ("6", "7pm", "8", "half 7", "noon"),
    "prize": ("£1000 prize", "holiday", "new iphone", "£500 voucher", "mobile upgrade", "car"),
    "account": ("mobile account", "bank account", "network account", "subscription"),
    "money": ("£100", "£250", "£500", "£1000", "£2000", "50%"),
    "code": ("WIN", "CLAIM", "PRIZE", "GO", "YES", "STOP"),
    "short": ("80082", "87121", "85069", "88066", "69669"),
    "phone": ("09061701461", "08000930705", "09050090044", "07781482378"),
    "product": ("ringtone", "mobile", "camera phone", "broadband", "insurance"),
    "url": ("www.win-now.co.uk", "bit.ly/claim4u", "www.getprize.com", "tinyurl.com/offer7"),
    "coin": ("bitcoin", "btc", "eth", "crypto", "usdt", "doge"),
}
HAM_STYLE = {"you": "u", "are": "r", "to": "2", "for": "4", "see": "c", "tonight": "2nite"}


def generate_messages(
    config: ModelConfig,
    rows: int,
    seed: int,
    drift: str = "none",
    labels: bool = True,
    strength: float = 1.0,
    positive_rate: float | None = None,
) -> pd.DataFrame:
    """``rows`` messages in the model's text column, with its target when ``labels``."""
    import numpy as np
    import pandas as pd

    [text_column] = config.text_features
    spec = config.synthetic
    rng = np.random.default_rng(seed)
    base_rate = float(
        positive_rate if positive_rate is not None else spec.get("positive_rate", 0.13)
    )
    if drift == "prediction":
        base_rate = min(base_rate * (1 + 2 * strength), 0.9)
    spam = rng.random(rows) < base_rate
    topic_share = float(spec.get("topic_share", 0.1)) * strength
    on_topic = (
        (rng.random(rows) < topic_share)
        if drift in ("covariate", "mixed")
        else np.zeros(rows, dtype=bool)
    )
    short = drift in ("concept", "mixed")
    texts = [
        _message(rng, bool(is_spam), bool(topic), short) for is_spam, topic in zip(spam, on_topic)
    ]
    frame = pd.DataFrame({text_column: texts})
    if labels:
        negative, positive = config.column(config.target).levels[:2]
        if positive != config.positive_class:
            negative, positive = positive, negative
        # The crypto wave is spam, whatever the draw: a scam topic, not a new kind of chat.
        is_spam = spam | on_topic
        # Some labels are wrong, as user reports are: no model scores the data perfectly.
        noisy = rng.random(rows) < float(spec.get("label_noise", 0.01))
        frame[config.target] = np.where(is_spam ^ noisy, positive, negative)
    return frame


def _message(rng: np.random.Generator, spam: bool, topic: bool, short: bool) -> str:
    book: tuple[str, ...]
    if topic:
        book = TOPIC_PHRASES
    else:
        book = SPAM_PHRASES if spam else HAM_PHRASES
    # Lengths as in the real collection: ham mostly one or two phrases, spam two or three.
    phrases = (
        1 if short else int(rng.choice([1, 2, 3], p=[0.05, 0.45, 0.5] if spam else [0.6, 0.3, 0.1]))
    )
    parts = [_fill(str(rng.choice(book)), rng) for _ in range(phrases)]
    text = ". ".join(parts)
    if spam and not topic and not short:
        text += str(
            rng.choice([" T&Cs apply.", " 18+ only.", " Std txt rate.", " Reply STOP to end."])
        )
    if not spam and not topic:
        if rng.random() < 0.35:
            text = " ".join(HAM_STYLE.get(word, word) for word in text.split(" "))
        if rng.random() < 0.3:
            text += str(rng.choice([" :)", " x", " xx", " haha", "..."]))
        if rng.random() < 0.2:
            text = text.capitalize()
    elif rng.random() < 0.4:
        text = text.upper() if rng.random() < 0.3 else text[:1].upper() + text[1:]
    return text


def _fill(template: str, rng: np.random.Generator) -> str:
    text = template
    while "{" in text:
        start = text.index("{")
        end = text.index("}", start)
        slot = text[start + 1 : end]
        text = text[:start] + str(rng.choice(SLOTS[slot])) + text[end + 1 :]
    return text
