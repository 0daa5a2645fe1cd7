import pytest

from mwork.tasks.metrics import (
    UnicodeTokenizer,
    contains_answer,
    exact_match,
    extract_choice,
    extract_number,
    f1,
    normalize_answer,
    parse_number,
    rouge_l,
)


@pytest.mark.parametrize("text, lang, expected", [
    ("Let's see: 3 + 4 = 7. The answer is 7.", "en", 7),
    ("The answer is 1,234.", "en", 1234),
    ("Die Antwort ist 12.", "de", 12),
    ("答案是15。", "zh", 15),
    ("Правильный ответ — 8.", "ru", 8),
    ("La réponse est 3,5.", "fr", 3.5),
    ("คำตอบคือ 42", "th", 42),
    ("first 5 then 6 and finally 9", "en", 9),  # no cue: the last number
    ("no number here", "en", None),
    ("", "de", None),
])
def test_extract_number(text, lang, expected):
    assert extract_number(text, lang) == expected


def test_parse_number_separators():
    assert parse_number("1.234.567") == 1234567 and parse_number("1\u00a0234") == 1234 and parse_number("-3") == -3
    assert parse_number("12.5") == 12.5 and parse_number("1.234,5") == 1234.5


def test_squad_normalization_em_f1_cjk_and_thai():
    assert normalize_answer("The  Eiffel Tower!", "en") == "eiffel tower"
    assert exact_match("the Eiffel tower.", "Eiffel Tower", "en") == 1.0
    assert f1("Eiffel tower in Paris", "the Eiffel Tower", "en") == pytest.approx(2 * 0.5 * 1 / 1.5)
    # Chinese: characters are tokens, so partial overlap gives partial F1 (whitespace tokens would give 0)
    assert f1("北京市", "北京", "zh") == pytest.approx(0.8)
    assert exact_match("北京。", "北京", "zh") == 1.0
    assert f1("เชียงใหม่", "เชียงใหม่", "th") == 1.0 and 0 < f1("เชียงราย", "เชียงใหม่", "th") < 1
    assert contains_answer("Sie wohnt in München, glaube ich", "München", "de")
    assert not contains_answer("Münchener", "München", "de")  # whole words for spaced languages
    assert contains_answer("她住在上海。", "上海", "zh")
    assert not contains_answer("anything", "", "en")


def test_extract_choice_letters_then_text():
    labels, texts = list("ABCD"), ["Paris", "Parisville", "Lyon", "Nice"]
    assert extract_choice("B. Parisville", labels, texts, "en") == "B"
    assert extract_choice("(C)", labels, texts, "en") == "C"
    assert extract_choice("D", labels, texts, "en") == "D"
    assert extract_choice("It is Parisville, I think", labels, texts, "en") == "B"  # longest text wins
    assert extract_choice("Antwort: Lyon", labels, texts, "de") == "C"
    assert extract_choice("", labels, texts, "en") is None
    assert extract_choice("Eventually something else", labels, texts, "en") is None  # 'E' is no option here


def test_rouge_l_unicode_vs_ascii():
    uni, asc = rouge_l("王芳赢得了北京的赛跑。", "王芳赢得了上海的赛跑。", "zh")
    assert 0.7 < uni < 1.0 and asc == 0.0  # the default tokenizer sees no token in Chinese
    uni, asc = rouge_l("Анна выиграла гонку", "Анна выиграла гонку в Москве", "ru")
    assert uni == pytest.approx(2 * 1 * 0.6 / 1.6) and asc == 0.0
    uni, asc = rouge_l("Emma won the race in Leeds", "Emma won the race in Leeds.", "en")
    assert uni == 1.0 and asc == 1.0
    uni, asc = rouge_l("มาลีชนะการแข่งวิ่งที่ภูเก็ต", "มาลีชนะการแข่งวิ่งที่ลำปาง", "th")
    assert 0.6 < uni < 1.0 and asc == 0.0
    assert UnicodeTokenizer("de").tokenize("Über-Größe, 12") == ["über", "größe", "12"]
