"""The learned risk model: training from the repository's corpus, the shipped artifact, and how it combines
with the rules (floor, raise, veto) and explains itself in plain Chinese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.safety.combine import RED_VETO, YELLOW_VETO, choose_situation, choose_speaker, combine
from bot.safety.explain import raw_quote
from bot.safety.risk_model import ARTIFACT_PATH, RiskModel, RiskScores, load_risk_model, windows
from bot.safety.scoring import Decision
from bot.safety.training import CORPUS_DIR, CorpusError, drop_near_duplicates, read_corpus
from bot.safety.triage import triage


def _scores(level: str, p_red: float, p_risk: float, **kw: object) -> RiskScores:
    base = dict(category="suicide" if level == "red" else "emotional" if level == "yellow" else "none",
                situation="none", speaker="guardian_about_child", speaker_confidence=0.9, situation_confidence=0.9,
                trigger="", trigger_turn=0)
    return RiskScores(level=level, p_red=p_red, p_risk=p_risk, **{**base, **kw})  # type: ignore[arg-type]


def test_corpus_is_large_labelled_and_free_of_near_duplicates() -> None:
    examples = read_corpus()
    assert len(examples) >= 6000
    assert len(drop_near_duplicates(examples)) == len(examples)
    assert {e.speaker for e in examples} >= {"child", "guardian_about_child", "guardian_self", "parent", "bystander"}
    assert len({e.style for e in examples}) >= 20


def test_corpus_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "x", "level": "red", "category": "none"}\n', "utf-8")
    with pytest.raises(CorpusError, match="bad.jsonl:1"):
        read_corpus(tmp_path)


def test_shipped_artifact_loads_and_scores() -> None:
    model = load_risk_model()
    assert isinstance(model, RiskModel)
    # Small enough to ship in the package and the git history (character + word grams, four heads: about 12 MB
    # with the 15,034-line corpus, 13.4 MB with 18,012 lines; each vectorizer is capped at 60,000 features, so it
    # grows only as the weights compress less).
    assert ARTIFACT_PATH.stat().st_size < 15_000_000
    assert 0 < model.thresholds["red"] <= 0.5 and 0 < model.thresholds["risk"] <= 0.5
    scores = model.score("我孙子刚才喝了一口敌敌畏，嘴里都是味道")
    assert scores.level == "red" and scores.category == "emergency" and scores.situation == "poisoning"


def test_windows_cover_a_long_message_and_keep_the_whole() -> None:
    text = "今天天气还行，地里的玉米快熟了。" * 30 + "娃儿说他不想活了。" + "明天去镇上赶集。" * 10
    parts = windows(text)
    assert parts[0] == text
    assert any("不想活了" in p and len(p) <= 80 for p in parts[1:])


def test_a_buried_sentence_is_found_by_the_model() -> None:
    text = "今天天气还行，地里的玉米快熟了，猪也喂过了。" * 25 + "孙女半夜发消息说今晚就要结束自己。" + "明天去镇上赶集。" * 10
    result = triage(text)
    assert result.level == "red"


def test_training_is_deterministic(tmp_path: Path) -> None:
    small = tmp_path / "corpus"
    small.mkdir()
    lines = [line for f in sorted(CORPUS_DIR.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()[:150]]
    (small / "part.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.joblib"
        result = CliRunner().invoke(main, ["train", "triage", "--corpus", str(small), "--out", str(out), "--folds", "2"])
        assert result.exit_code == 0, result.output
        assert "cross-validation" in result.output and "style:" in result.output
        outputs.append(RiskModel(__import__("joblib").load(out)))
    probe = ["孩子掉水塘里了", "娃儿近视了咋办", "我不想活了"]
    first, second = (m.probabilities(probe) for m in outputs)
    for head in first:
        assert (first[head] == second[head]).all()


def test_model_raises_what_the_rules_missed() -> None:
    decision = Decision()
    raised, lowered = combine(decision, _scores("red", 0.9, 0.95))
    assert raised and not lowered and decision.level == "red" and decision.categories() == ("suicide",)


def test_a_word_sense_guard_does_not_make_the_model_need_more_certainty() -> None:
    """Regression: 「打工」 (the objects guard: 打 is no beating) counted as a guard that frames the message as no
    event, so the model needed p_red 0.8 instead of 0.4: a stepfather's night visits to a child's bed, told with
    「我妈在外地打工」, came out yellow."""
    result = triage("继父晚上老是钻到我被窝里 我妈在外地打工 我好怕今晚")
    assert any(r.startswith("guard objects") for r in result.reasons)
    assert result.scores is not None and result.scores["p_red"] < 0.8
    assert result.level == "red"


def test_rules_red_from_a_combination_is_a_floor_the_model_cannot_lower() -> None:
    decision = Decision()
    decision.raise_to("suicide", "red", "method+intent", ["不想活了", "农药"])
    decision.combined.add("suicide")
    assert combine(decision, _scores("green", 0.01, 0.02)) == (False, False)
    assert decision.level == "red"


def test_a_single_word_red_is_dropped_only_when_the_model_is_sure_it_is_ordinary() -> None:
    vetoed = Decision()  # 「老师让问家长，遇到溺水的人该怎么办」: a prevention question
    vetoed.raise_to("emergency", "red", "medical: 溺水", ["溺水"])
    assert combine(vetoed, _scores("green", 0.01, RED_VETO / 2), guarded=True, framed=True) == (False, True)
    assert vetoed.level == "green"
    told = Decision()  # an emergency told as it happens, without a framing guard, stays red
    told.raise_to("emergency", "red", "medical: 被狗咬出血", ["被狗咬出血"])
    assert combine(told, _scores("green", 0.01, 0.03), guarded=True, framed=False) == (False, False)
    assert told.level == "red"
    word = Decision()  # no emergency: a single word is dropped when the model is sure
    word.raise_to("suicide", "red", "intent: 去死", ["去死"])
    assert combine(word, _scores("green", 0.01, RED_VETO / 2)) == (False, True)
    kept = Decision()
    kept.raise_to("emergency", "red", "medical: 溺水", ["溺水"])
    assert combine(kept, _scores("green", 0.05, RED_VETO + 0.05), framed=True) == (False, False)
    assert kept.level == "red"
    short = Decision()  # under four Chinese characters the rules decide alone
    short.raise_to("suicide", "red", "intent: 想死", ["想死"])
    assert combine(short, _scores("green", 0.01, 0.01), can_raise=False) == (False, False)
    assert short.level == "red"


def test_scoring_marks_categories_raised_by_a_combination() -> None:
    combined = triage("我不想活了，农药瓶子就在床底下", learned=False)
    assert combined.level == "red"
    from bot.safety.lexicon import load_lexicon
    from bot.safety.scoring import score
    from bot.safety.triage import analyse_turn
    decision = score(list(analyse_turn("我不想活了，农药瓶子就在床底下").signals), load_lexicon())
    assert decision.combined & {"suicide", "guardian_crisis"}
    single = score(list(analyse_turn("小孩溺水了怎么急救").signals), load_lexicon())
    assert not single.combined


def test_a_rules_only_yellow_is_dropped_when_the_model_is_sure_it_is_ordinary() -> None:
    decision = Decision()
    decision.raise_to("emotional", "yellow", "rule", ["孤独"])
    assert combine(decision, _scores("green", 0.01, YELLOW_VETO / 2)) == (False, True)
    assert decision.level == "green"
    kept = Decision()
    kept.raise_to("emotional", "yellow", "rule", ["孤独"])
    combine(kept, _scores("green", 0.05, YELLOW_VETO + 0.1))
    assert kept.level == "yellow"


def test_speaker_and_situation_choice() -> None:
    assert choose_speaker("guardian_self", _scores("red", 0.9, 0.9, speaker="child", speaker_confidence=0.8)) == "child"
    assert choose_speaker("child", _scores("red", 0.9, 0.9, speaker="parent", speaker_confidence=0.3)) == "child"
    assert choose_speaker("child", None) == "child"
    bite = _scores("red", 0.9, 0.9, category="emergency", situation="bite")
    assert choose_situation("other", bite, "孙子被蛇咬了腿肿了") == "snakebite"
    drowning = _scores("red", 0.9, 0.9, situation="drowning", situation_confidence=0.99)
    assert choose_situation("eye_chemical", drowning, "眼睛里进了石灰") == "eye_chemical"  # the model has no such label
    assert choose_situation("missing", bite, "孩子不见了") == "missing"
    unsure = _scores("red", 0.9, 0.9, category="emergency", situation="fall", situation_confidence=0.3)
    assert choose_situation("drowning", unsure, "掉河里") == "drowning"


def test_evidence_quotes_the_words_as_written() -> None:
    assert raw_quote("昨天他说，想从楼上跳下去。", "跳下去") == "想从楼上跳下去。"
    assert raw_quote("今天吃了饭", "跳下去") is None


def test_explanation_is_plain_chinese_without_codes() -> None:
    result = triage("孙子跟我说想从楼上跳下去，我吓坏了")
    assert result.level == "red"
    assert result.explanation
    for line in result.explanation:
        assert not re.search(r"[A-Za-z_]{3,}", line), line  # no internal codes (guard, intent, turn ...)
    assert any("跳下去" in quote for quote in result.evidence)
    assert all(quote in "孙子跟我说想从楼上跳下去，我吓坏了" for quote in result.evidence)


def test_model_probabilities_travel_with_the_triage() -> None:
    result = triage("孙子把绳子挂在房梁上，被我看见了")
    assert result.level == "red"
    assert result.scores is not None and set(result.scores["probabilities"]) == {"level", "category", "situation",
                                                                                "speaker"}
    json.dumps(result.scores)  # stored with the case as JSON


def test_rules_only_mode_skips_the_model() -> None:
    assert triage("孙子把绳子挂在房梁上，被我看见了", learned=False).scores is None


def test_fast_scoring_agrees_with_scikit_learn() -> None:
    model = load_risk_model()
    assert model is not None
    texts = ["孙子掉河里了", "娃儿近视咋办", "", "🙂🙂", "wo bu xiang huo le", "我是奶奶，孙子8岁，最近不爱吃饭"]
    fast = model.probabilities(texts)
    features = model.transform(texts)
    for head, classifier in model.heads.items():
        assert abs(classifier.predict_proba(features) - fast[head]).max() < 1e-5


# The shipped artifact predates meta["words"]: the jieba dictionary it was trained with (knowledge/userdict.txt
# unchanged since the start, jieba 0.42.1). Drop this once the artifact carries its own.
TRAINED_WITH_WORDS = "1398ed86b2c482aa"


def test_the_word_features_are_cut_with_the_dictionary_the_model_was_trained_with() -> None:
    from bot.retrieval.tokenizer import dictionary_digest

    model = load_risk_model()
    assert model is not None
    assert model.meta.get("words", TRAINED_WITH_WORDS) == dictionary_digest(), (
        "knowledge/userdict.txt or jieba changed: the risk model's word features drift; retrain it "
        "(tongban train triage)")


def test_a_model_that_fails_on_a_message_leaves_the_rules_in_charge(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.retrieval.tokenizer

    def broken(text: str) -> list[str]:
        raise OSError("knowledge/userdict.txt unreadable")

    monkeypatch.setattr(bot.retrieval.tokenizer, "segment", broken)
    result = triage("我孙子刚才喝了一口敌敌畏，嘴里都是味道", semantic=False)
    assert result.level == "red" and result.scores is None


@pytest.mark.parametrize(("text", "level", "category"), [("孩子被打了", "yellow", "abuse"), ("孙子落水了", "red", "emergency"),
                                                         ("孩子手指被切断了", "red", "emergency")])
def test_short_plain_reports_the_model_scores_low_still_count(text: str, level: str, category: str) -> None:
    result = triage(text)
    assert result.level == level and category in result.categories


@pytest.mark.parametrize("text", ["怎么防止孩子落水", "孩子落水的时候怎么救", "他切断了电源"])
def test_drowning_and_severing_words_in_questions_and_other_senses_stay_green(text: str) -> None:
    assert triage(text).level == "green"


@pytest.mark.parametrize("text", [
    "今天带孙子去赶集，买了些菜，回来做饭，孩子写作业写到很晚。孙女说今晚就跳河",  # was green: diluted in the whole
    "今天带孙子去赶集 买了些菜 回来做饭 外孙女发消息说今晚就要结束自己 咋办",  # pauses as spaces
    "今天带孙子去赶集，买了些菜，回来做饭，孩子写作业写到很晚。" * 100 + "外孙女发消息说今晚就要结束自己",
])
def test_a_short_danger_sentence_beside_ordinary_ones_is_scored_on_its_own(text: str) -> None:
    assert triage(text).level == "red"
    assert triage(text, learned=False).level in ("green", "red")  # the rules alone need not catch each wording


def test_windows_hold_each_sentence_of_a_short_message() -> None:
    assert windows("今天去赶集。孙女说今晚就跳河") == ["今天去赶集。孙女说今晚就跳河", "今天去赶集", "孙女说今晚就跳河"]
    assert windows("孙女说今晚就跳河") == ["孙女说今晚就跳河"]


def test_a_self_introduction_overrules_the_models_speaker() -> None:
    child = _scores("red", 0.9, 0.9, speaker="child", speaker_confidence=0.6)
    assert choose_speaker("guardian_self", child, "guardian") == "guardian_self"
    assert choose_speaker("guardian_about_child", _scores("red", 0.9, 0.9, speaker="parent"), "child") == "child"
    mine = _scores("red", 0.9, 0.9, speaker="guardian_about_child")
    assert choose_speaker("guardian_self", mine, "guardian") == "guardian_about_child"  # whose crisis: the model's
    assert choose_speaker("guardian_self", child, None) == "child"


def test_the_model_does_not_raise_when_its_category_head_says_nothing_happened() -> None:
    from bot.safety.combine import RAISE_NONE_VETO
    decision = Decision()
    scores = _scores("red", 0.52, 0.56, probabilities={"category": {"none": RAISE_NONE_VETO + 0.01}})
    assert combine(decision, scores) == (False, False) and decision.level == "green"
    raised = Decision()
    assert combine(raised, _scores("red", 0.52, 0.56, probabilities={"category": {"none": 0.2}}))[0]
