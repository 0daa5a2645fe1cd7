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
    # a chat model's final answer in LaTeX: the last \boxed{}, before any later number or cue
    (r"needs \(\boxed{-51}\) on the sixth test to get an average of 93.", "en", -51),
    (r"first \boxed{4}, corrected: \(\boxed{5}\) dollars", "en", 5),
    (r"等 \(\boxed{\frac{1}{8}}\) 小时。", "zh", 0.125),
    (r"\boxed{1.234,5} Euro", "de", 1234.5),
    (r"\boxed{x}. The answer is 7.", "en", 7),  # nothing numeric boxed: the cue
])
def test_extract_number(text, lang, expected):
    assert extract_number(text, lang) == expected


@pytest.mark.parametrize("text, lang, expected", [
    # the cases: a difference is two numbers, a leading zero is no thousands group, spaces group
    ("2-1", "en", 1), ("5 − 3 = 2", "en", 2), ("It is -3.", "en", -3), ("(−4)", "ru", -4),
    ("0.125", "en", 0.125), ("0,125", "de", 0.125), ("0.125", "de", 0.125),
    ("1 234", "fr", 1234), ("1 234", "ru", 1234), ("1\u202f234,5", "fr", 1234.5), ("Sie hat 10 000 Euro", "de", 10000),
    ("10 000 dollars", "en", 10000), ("In 2024 she", "en", 2024),
    # every language's conventions; three digits after one separator group thousands everywhere
    ("1,234", "en", 1234), ("1,234", "zh", 1234), ("1,234,567.5", "en", 1234567.5), ("1.234", "de", 1234),
    ("Die Antwort ist 1,000", "de", 1000), ("La respuesta es $1,000", "es", 1000), ("1.234.567,5", "de", 1234567.5),
    ("18.000", "es", 18000), ("3,5", "es", 3.5), ("12.5", "de", 12.5), ("2,50", "ru", 2.5), ("1.5 kg", "de", 1.5),
    ("1,000", "th", 1000), ("١٢", "ar", 12),
    # a number right after a Chinese (Thai) character
    ("她每天赚18美元。", "zh", 18), ("所以她一共有18个苹果", "zh", 18), ("答案为18", "zh", 18), ("ได้ 25 บาท", "th", 25),
    ("มี25บาท", "th", 25),
])
def test_number_grammar(text, lang, expected):
    assert extract_number(text, lang) == pytest.approx(expected)


@pytest.mark.parametrize("text, lang, expected", [
    # a cue first: "The answer is" (any case), then "Answer:"
    ("So the answer is 12. Then 5 more.", "en", 12),
    ("Answer: 42. Check: 40 + 2.", "en", 42),
    ("Antwort: 7, denn 3 + 4 = 7.", "de", 7), ("Réponse : 9 pommes, 3 par jour", "fr", 9),
    ("Réponse: 9 pommes, 3 par jour", "fr", 9), ("答案：8个，每个2元", "zh", 8), ("答案:8个，每个2元", "zh", 8),
    ("Respuesta: 5 y luego 3", "es", 5), ("Ответ: 6, потом 2", "ru", 6), ("Jibu: 4 na 1", "sw", 4),
    # a rambling model's new question is not its answer
    ("3 + 4 = 7.\nQuestion: Tom has 12 apples.", "en", 7),
    ("3 + 4 = 7.\nFrage: Tom hat 12 Äpfel.", "de", 7), ("3 + 4 = 7。问题：汤姆有12个苹果。", "zh", 7),
    ("3 + 4 = 7.\nQuestion : Tom a 12 pommes.", "fr", 7), ("3 + 4 = 7.\nВопрос: у Тома 12 яблок.", "ru", 7),
    ("3 + 4 = 7.\nPregunta: Tom tiene 12 manzanas.", "es", 7),
    ("Question: Tom has 3 and buys 4 more. 3 + 4 = 7", "en", 7),  # a restated question is not a new one
])
def test_number_cues_and_new_questions(text, lang, expected):
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


@pytest.mark.parametrize("text, lang, expected", [
    ("The answer is B.", "en", "B"), ("Answer: C", "en", "C"), ("I think the answer is (d).", "en", "D"),
    ("(c)", "en", "C"), ("c)", "en", "C"), ("[b]", "en", "B"), ("Ｂ", "en", "B"), ("（Ｃ）", "zh", "C"),
    ("答案是B", "zh", "B"), ("答案：D。", "zh", "D"), ("Die Antwort ist C.", "de", "C"), ("Antwort: A", "de", "A"),
    ("La réponse est D.", "fr", "D"), ("Réponse : B", "fr", "B"), ("La respuesta es A.", "es", "A"),
    ("Ответ: B", "ru", "B"), ("Правильный ответ — C.", "ru", "C"),
    ("A river", "en", None), ("The answer is Berlin.", "en", None), ("a sunny day", "en", None),
    # other ways of saying it (the review's cases)
    ("The answer is: B", "en", "B"), ("The correct answer is B.", "en", "B"), ("Die richtige Antwort ist C", "de", "C"),
    ("La bonne réponse est C", "fr", "C"), ("La respuesta correcta es B", "es", "B"), ("Ответ — D", "ru", "D"),
    ("选B", "zh", "B"), ("我选择A", "zh", "A"), ("Ответ: В", "ru", "B"), ("В", "ru", "B"), ("В.", "ru", "B"),
    ("Ответ: в Париже", "ru", None), ("The answer is b because", "en", None), ("The answer is (b) because", "en", "B"),
])
def test_extract_choice_cues_each_language(text, lang, expected):
    assert extract_choice(text, list("ABCD"), ["Paris", "Parisville", "Lyon", "Nice"], lang) == expected


def test_an_option_text_after_the_cue_beats_its_article():
    labels, texts = list("ABCD"), ["river", "sea", "mountain", "a lake"]
    assert extract_choice("The answer is A lake.", labels, texts, "en") == "D"
    assert extract_choice("The answer is A.", labels, texts, "en") == "A"
    assert extract_choice("答案是北京。", list("AB"), ["上海", "北京"], "zh") == "B"


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
