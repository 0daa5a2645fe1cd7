"""Hand-translated sentence templates and word lists for the offline task suites.

All characters are women, so that gendered verb and adjective forms (French, Spanish, Russian,
Arabic) are fixed and correct. Objects are chosen so that no template needs case or number
agreement with a generated value: Russian uses "в городе {city}" and indeclinable "евро",
Arabic "يورو", Swahili puts the number after "shilingi", Vietnamese and Thai have no agreement.
Invented names (countries, capitals, currencies, companies, pets) are built from syllables that have
one spelling per script, so the same entity is recognisable across languages (see ``SYLLABLES``).
"""

from __future__ import annotations

SCRIPT = {"en": "latin", "de": "latin", "fr": "latin", "es": "latin", "vi": "latin", "sw": "latin",
          "ru": "cyrillic", "zh": "han", "th": "thai", "ar": "arabic"}

# syllable -> spelling in (latin, cyrillic, han, thai, arabic)
SYLLABLES = {
    "ka": ("ka", "ка", "卡", "คา", "كا"), "lo": ("lo", "ло", "洛", "โล", "لو"),
    "mi": ("mi", "ми", "米", "มี", "مي"), "ra": ("ra", "ра", "拉", "รา", "را"),
    "to": ("to", "то", "托", "โต", "تو"), "ne": ("ne", "не", "内", "เน", "نيه"),
    "su": ("su", "су", "苏", "ซู", "سو"), "va": ("va", "ва", "瓦", "วา", "فا"),
    "di": ("di", "ди", "迪", "ดี", "دي"), "po": ("po", "по", "波", "โป", "بو"),
    "le": ("le", "ле", "勒", "เล", "ليه"), "ma": ("ma", "ма", "马", "มา", "ما"),
    "ri": ("ri", "ри", "里", "รี", "ري"), "no": ("no", "но", "诺", "โน", "نو"),
    "sa": ("sa", "са", "萨", "ซา", "سا"), "te": ("te", "те", "特", "เท", "تيه"),
    "ba": ("ba", "ба", "巴", "บา", "با"), "ni": ("ni", "ни", "尼", "นี", "ني"),
    "go": ("go", "го", "戈", "โก", "غو"), "ta": ("ta", "та", "塔", "ทา", "تا"),
}
_SCRIPT_INDEX = {"latin": 0, "cyrillic": 1, "han": 2, "thai": 3, "arabic": 4}


def spell(syllables: tuple[str, ...], lang: str) -> str:
    """An invented name in the script of ``lang`` (capitalised where the script has case)."""
    i = _SCRIPT_INDEX[SCRIPT[lang]]
    word = "".join(SYLLABLES[s][i] for s in syllables)
    return word[:1].upper() + word[1:]


LEX: dict[str, dict] = {
    "en": {
        "names": ["Emma", "Olivia", "Sarah", "Emily", "Grace", "Lucy", "Hannah", "Chloe", "Alice", "Megan"],
        "cities": ["London", "Boston", "Chicago", "Denver", "Leeds", "Bristol", "Seattle", "Dublin"],
        "has": "{name} has {a} dollars.", "earn": "She earns {b} more dollars.",
        "spend": "Then she spends {c} dollars.", "how_many": "How many dollars does {name} have now?",
        "lives": "{name} lives in {city}.", "works": "{name} works at {company}.",
        "pet": "{name} has a dog named {pet}.",
        "q_lives": "In which city does {name} live?", "q_works": "At which company does {name} work?",
        "q_pet": "What is the name of {name}'s dog?",
        "born": "{name} was born in {year}.", "q_born": "In which year was {name} born?",
        "friend": "{name}'s best friend is {friend}.", "q_friend": "Who is {name}'s best friend?",
        "capital": "The capital of {country} is {city}.", "currency": "The currency of {country} is the {cur}.",
        "q_capital": "What is the capital of {country}?", "q_currency": "What is the currency of {country}?",
        "events": {
            "race": ("A race took place in {city}.", "{name} won the race in {city}.", "Race in {city}"),
            "chess": ("A chess tournament took place in {city}.", "{name} won the chess tournament in {city}.",
                      "Chess tournament in {city}"),
            "cooking": ("A cooking contest took place in {city}.", "{name} won the cooking contest in {city}.",
                        "Cooking contest in {city}"),
        },
        "winner": "The winner was {name}.", "second": "{other} finished second.",
        "spectators": "{n} people came to watch.", "prize": "The prize was {m} dollars.",
    },
    "de": {
        "names": ["Anna", "Lena", "Sophie", "Marie", "Laura", "Julia", "Lea", "Katharina", "Johanna", "Greta"],
        "cities": ["Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dresden", "Bremen", "Stuttgart"],
        "has": "{name} hat {a} Euro.", "earn": "Sie verdient {b} Euro dazu.",
        "spend": "Dann gibt sie {c} Euro aus.", "how_many": "Wie viele Euro hat {name} jetzt?",
        "lives": "{name} wohnt in {city}.", "works": "{name} arbeitet bei der Firma {company}.",
        "pet": "{name} hat einen Hund namens {pet}.",
        "q_lives": "In welcher Stadt wohnt {name}?", "q_works": "Bei welcher Firma arbeitet {name}?",
        "q_pet": "Wie heißt der Hund von {name}?",
        "born": "{name} wurde {year} geboren.", "q_born": "In welchem Jahr wurde {name} geboren?",
        "friend": "{name}s beste Freundin ist {friend}.", "q_friend": "Wer ist {name}s beste Freundin?",
        "capital": "Die Hauptstadt von {country} ist {city}.", "currency": "Die Währung von {country} ist der {cur}.",
        "q_capital": "Was ist die Hauptstadt von {country}?", "q_currency": "Was ist die Währung von {country}?",
        "events": {
            "race": ("In {city} fand ein Rennen statt.", "{name} hat das Rennen in {city} gewonnen.", "Rennen in {city}"),
            "chess": ("In {city} fand ein Schachturnier statt.", "{name} hat das Schachturnier in {city} gewonnen.",
                      "Schachturnier in {city}"),
            "cooking": ("In {city} fand ein Kochwettbewerb statt.", "{name} hat den Kochwettbewerb in {city} gewonnen.",
                        "Kochwettbewerb in {city}"),
        },
        "winner": "Gewonnen hat {name}.", "second": "{other} wurde Zweite.",
        "spectators": "{n} Menschen sahen zu.", "prize": "Der Preis betrug {m} Euro.",
    },
    "fr": {
        "names": ["Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Juliette", "Élise", "Amélie", "Louise"],
        "cities": ["Paris", "Lyon", "Marseille", "Lille", "Nantes", "Toulouse", "Bordeaux", "Strasbourg"],
        "has": "{name} a {a} euros.", "earn": "Elle gagne encore {b} euros.",
        "spend": "Ensuite, elle dépense {c} euros.", "how_many": "Combien d'euros {name} a-t-elle maintenant ?",
        "lives": "{name} habite à {city}.", "works": "{name} travaille pour l'entreprise {company}.",
        "pet": "{name} a un chien qui s'appelle {pet}.",
        "q_lives": "Dans quelle ville habite {name} ?", "q_works": "Pour quelle entreprise travaille {name} ?",
        "q_pet": "Comment s'appelle le chien {de_name} ?",
        "born": "{name} est née en {year}.", "q_born": "En quelle année est née {name} ?",
        "friend": "La meilleure amie {de_name} est {friend}.", "q_friend": "Qui est la meilleure amie {de_name} ?",
        "capital": "La capitale {de_country} est {city}.", "currency": "La monnaie {de_country} est le {cur}.",
        "q_capital": "Quelle est la capitale {de_country} ?", "q_currency": "Quelle est la monnaie {de_country} ?",
        "events": {
            "race": ("Une course a eu lieu à {city}.", "{name} a remporté la course à {city}.", "Course à {city}"),
            "chess": ("Un tournoi d'échecs a eu lieu à {city}.", "{name} a remporté le tournoi d'échecs à {city}.",
                      "Tournoi d'échecs à {city}"),
            "cooking": ("Un concours de cuisine a eu lieu à {city}.",
                        "{name} a remporté le concours de cuisine à {city}.", "Concours de cuisine à {city}"),
        },
        "winner": "La gagnante est {name}.", "second": "{other} a terminé deuxième.",
        "spectators": "{n} personnes sont venues regarder.", "prize": "Le prix s'élevait à {m} euros.",
    },
    "es": {
        "names": ["Lucía", "María", "Carmen", "Sofía", "Paula", "Elena", "Marta", "Isabel", "Laura", "Alba"],
        "cities": ["Madrid", "Sevilla", "Valencia", "Bilbao", "Málaga", "Granada", "Toledo", "Zaragoza"],
        "has": "{name} tiene {a} euros.", "earn": "Gana {b} euros más.",
        "spend": "Después gasta {c} euros.", "how_many": "¿Cuántos euros tiene {name} ahora?",
        "lives": "{name} vive en {city}.", "works": "{name} trabaja en la empresa {company}.",
        "pet": "{name} tiene un perro llamado {pet}.",
        "q_lives": "¿En qué ciudad vive {name}?", "q_works": "¿En qué empresa trabaja {name}?",
        "q_pet": "¿Cómo se llama el perro de {name}?",
        "born": "{name} nació en {year}.", "q_born": "¿En qué año nació {name}?",
        "friend": "La mejor amiga de {name} es {friend}.", "q_friend": "¿Quién es la mejor amiga de {name}?",
        "capital": "La capital de {country} es {city}.", "currency": "La moneda de {country} es el {cur}.",
        "q_capital": "¿Cuál es la capital de {country}?", "q_currency": "¿Cuál es la moneda de {country}?",
        "events": {
            "race": ("Se celebró una carrera en {city}.", "{name} ganó la carrera en {city}.", "Carrera en {city}"),
            "chess": ("Se celebró un torneo de ajedrez en {city}.", "{name} ganó el torneo de ajedrez en {city}.",
                      "Torneo de ajedrez en {city}"),
            "cooking": ("Se celebró un concurso de cocina en {city}.", "{name} ganó el concurso de cocina en {city}.",
                        "Concurso de cocina en {city}"),
        },
        "winner": "La ganadora fue {name}.", "second": "{other} quedó en segundo lugar.",
        "spectators": "{n} personas vinieron a mirar.", "prize": "El premio fue de {m} euros.",
    },
    "ru": {
        "names": ["Анна", "Мария", "Ольга", "Елена", "Наталья", "Татьяна", "Ирина", "Светлана", "Екатерина", "Дарья"],
        "cities": ["Москва", "Казань", "Самара", "Омск", "Томск", "Пермь", "Тула", "Иркутск"],
        "has": "{name} накопила {a} евро.", "earn": "Потом она заработала ещё {b} евро.",
        "spend": "Затем она потратила {c} евро.", "how_many": "Сколько евро у неё теперь?",
        "lives": "{name} живёт в городе {city}.", "works": "{name} работает в компании «{company}».",
        "pet": "{name} держит собаку по кличке {pet}.",
        "q_lives": "В каком городе живёт {name}?", "q_works": "В какой компании работает {name}?",
        "q_pet": "Как зовут собаку, которую держит {name}?",
        "born": "{name} родилась в {year} году.", "q_born": "В каком году родилась {name}?",
        "friend": "{name} дружит с девушкой по имени {friend}.", "q_friend": "Как зовут подругу, с которой дружит {name}?",
        "capital": "Столица страны {country} — город {city}.", "currency": "Валюта страны {country} — {cur}.",
        "q_capital": "Какой город является столицей страны {country}?", "q_currency": "Какая валюта в стране {country}?",
        "events": {
            "race": ("В городе {city} прошла гонка.", "{name} выиграла гонку в городе {city}.", "Гонка в городе {city}"),
            "chess": ("В городе {city} прошёл шахматный турнир.", "{name} выиграла шахматный турнир в городе {city}.",
                      "Шахматный турнир в городе {city}"),
            "cooking": ("В городе {city} прошёл кулинарный конкурс.",
                        "{name} выиграла кулинарный конкурс в городе {city}.", "Кулинарный конкурс в городе {city}"),
        },
        "winner": "Победительницей стала {name}.", "second": "{other} заняла второе место.",
        "spectators": "Число зрителей составило {n}.", "prize": "Приз составил {m} евро.",
    },
    "zh": {
        "names": ["王芳", "李娜", "张丽", "刘洋", "陈静", "杨敏", "赵雪", "黄丽", "周婷", "吴霞"],
        "cities": ["北京", "上海", "广州", "杭州", "南京", "成都", "武汉", "西安"],
        "has": "{name}有{a}元。", "earn": "她又赚了{b}元。",
        "spend": "然后她花了{c}元。", "how_many": "{name}现在有多少元？",
        "lives": "{name}住在{city}。", "works": "{name}在{company}公司工作。",
        "pet": "{name}养了一只叫{pet}的狗。",
        "q_lives": "{name}住在哪个城市？", "q_works": "{name}在哪家公司工作？",
        "q_pet": "{name}的狗叫什么名字？",
        "born": "{name}出生于{year}年。", "q_born": "{name}出生于哪一年？",
        "friend": "{name}最好的朋友是{friend}。", "q_friend": "{name}最好的朋友是谁？",
        "capital": "{country}的首都是{city}。", "currency": "{country}的货币是{cur}。",
        "q_capital": "{country}的首都是哪里？", "q_currency": "{country}的货币是什么？",
        "events": {
            "race": ("{city}举行了一场赛跑。", "{name}赢得了{city}的赛跑。", "{city}赛跑"),
            "chess": ("{city}举行了一场国际象棋比赛。", "{name}赢得了{city}的国际象棋比赛。", "{city}国际象棋比赛"),
            "cooking": ("{city}举行了一场烹饪比赛。", "{name}赢得了{city}的烹饪比赛。", "{city}烹饪比赛"),
        },
        "winner": "获胜者是{name}。", "second": "{other}获得了第二名。",
        "spectators": "共有{n}人前来观看。", "prize": "奖金为{m}元。",
        "joiner": "",
    },
    "vi": {
        "names": ["Lan", "Hoa", "Mai", "Linh", "Hương", "Thảo", "Ngọc", "Trang", "Hằng", "Vy"],
        "cities": ["Hà Nội", "Huế", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Nha Trang", "Vinh", "Đà Lạt"],
        "has": "{name} có {a} nghìn đồng.", "earn": "Cô ấy kiếm thêm {b} nghìn đồng.",
        "spend": "Sau đó cô ấy tiêu {c} nghìn đồng.", "how_many": "Bây giờ {name} có bao nhiêu nghìn đồng?",
        "lives": "{name} sống ở {city}.", "works": "{name} làm việc tại công ty {company}.",
        "pet": "{name} nuôi một con chó tên là {pet}.",
        "q_lives": "{name} sống ở thành phố nào?", "q_works": "{name} làm việc tại công ty nào?",
        "q_pet": "Con chó của {name} tên là gì?",
        "born": "{name} sinh năm {year}.", "q_born": "{name} sinh năm nào?",
        "friend": "Bạn thân nhất của {name} là {friend}.", "q_friend": "Bạn thân nhất của {name} là ai?",
        "capital": "Thủ đô của {country} là {city}.", "currency": "Đơn vị tiền tệ của {country} là {cur}.",
        "q_capital": "Thủ đô của {country} là gì?", "q_currency": "Đơn vị tiền tệ của {country} là gì?",
        "events": {
            "race": ("Một cuộc đua đã diễn ra ở {city}.", "{name} đã thắng cuộc đua ở {city}.", "Cuộc đua ở {city}"),
            "chess": ("Một giải cờ vua đã diễn ra ở {city}.", "{name} đã thắng giải cờ vua ở {city}.",
                      "Giải cờ vua ở {city}"),
            "cooking": ("Một cuộc thi nấu ăn đã diễn ra ở {city}.", "{name} đã thắng cuộc thi nấu ăn ở {city}.",
                        "Cuộc thi nấu ăn ở {city}"),
        },
        "winner": "Người chiến thắng là {name}.", "second": "{other} về nhì.",
        "spectators": "Có {n} người đến xem.", "prize": "Giải thưởng là {m} nghìn đồng.",
    },
    "th": {
        "names": ["มาลี", "สมศรี", "วิไล", "สุดา", "นภา", "พิมพ์", "อรุณี", "กาญจนา", "ศิริพร", "ดวงใจ"],
        "cities": ["เชียงใหม่", "ขอนแก่น", "ภูเก็ต", "อุดรธานี", "นครราชสีมา", "หาดใหญ่", "ลำปาง", "พิษณุโลก"],
        "has": "{name}มีเงิน {a} บาท", "earn": "เธอได้เงินเพิ่มอีก {b} บาท",
        "spend": "จากนั้นเธอใช้เงินไป {c} บาท", "how_many": "ตอนนี้{name}มีเงินกี่บาท",
        "lives": "{name}อาศัยอยู่ที่{city}", "works": "{name}ทำงานที่บริษัท{company}",
        "pet": "{name}เลี้ยงสุนัขชื่อ{pet}",
        "q_lives": "{name}อาศัยอยู่ที่เมืองอะไร", "q_works": "{name}ทำงานที่บริษัทอะไร",
        "q_pet": "สุนัขของ{name}ชื่ออะไร",
        "born": "{name}เกิดในปี {year}", "q_born": "{name}เกิดปีอะไร",
        "friend": "เพื่อนสนิทของ{name}คือ{friend}", "q_friend": "เพื่อนสนิทของ{name}คือใคร",
        "capital": "เมืองหลวงของประเทศ{country}คือ{city}", "currency": "สกุลเงินของประเทศ{country}คือ{cur}",
        "q_capital": "เมืองหลวงของประเทศ{country}คืออะไร", "q_currency": "สกุลเงินของประเทศ{country}คืออะไร",
        "events": {
            "race": ("มีการแข่งวิ่งที่{city}", "{name}ชนะการแข่งวิ่งที่{city}", "การแข่งวิ่งที่{city}"),
            "chess": ("มีการแข่งขันหมากรุกที่{city}", "{name}ชนะการแข่งขันหมากรุกที่{city}", "การแข่งขันหมากรุกที่{city}"),
            "cooking": ("มีการประกวดทำอาหารที่{city}", "{name}ชนะการประกวดทำอาหารที่{city}", "การประกวดทำอาหารที่{city}"),
        },
        "winner": "ผู้ชนะคือ{name}", "second": "{other}ได้อันดับสอง",
        "spectators": "มีผู้ชม {n} คน", "prize": "เงินรางวัลคือ {m} บาท",
    },
    "ar": {
        "names": ["سارة", "فاطمة", "مريم", "ليلى", "نور", "هدى", "سلمى", "رنا", "أمل", "زينب"],
        "cities": ["القاهرة", "عمّان", "بيروت", "تونس", "الرباط", "دمشق", "بغداد", "الدوحة"],
        "has": "لدى {name} {a} يورو.", "earn": "ثم كسبت {b} يورو إضافية.",
        "spend": "بعد ذلك أنفقت {c} يورو.", "how_many": "كم يورو لدى {name} الآن؟",
        "lives": "تسكن {name} في مدينة {city}.", "works": "تعمل {name} في شركة {company}.",
        "pet": "لدى {name} كلب اسمه {pet}.",
        "q_lives": "في أي مدينة تسكن {name}؟", "q_works": "في أي شركة تعمل {name}؟",
        "q_pet": "ما اسم كلب {name}؟",
        "born": "وُلدت {name} عام {year}.", "q_born": "في أي عام وُلدت {name}؟",
        "friend": "صديقة {name} المقرّبة هي {friend}.", "q_friend": "من هي صديقة {name} المقرّبة؟",
        "capital": "عاصمة دولة {country} هي مدينة {city}.", "currency": "عملة دولة {country} هي {cur}.",
        "q_capital": "ما هي عاصمة دولة {country}؟", "q_currency": "ما هي عملة دولة {country}؟",
        "events": {
            "race": ("أقيم سباق في مدينة {city}.", "فازت {name} بالسباق في مدينة {city}.", "سباق في مدينة {city}"),
            "chess": ("أقيمت بطولة شطرنج في مدينة {city}.", "فازت {name} ببطولة الشطرنج في مدينة {city}.",
                      "بطولة شطرنج في مدينة {city}"),
            "cooking": ("أقيمت مسابقة طبخ في مدينة {city}.", "فازت {name} بمسابقة الطبخ في مدينة {city}.",
                        "مسابقة طبخ في مدينة {city}"),
        },
        "winner": "الفائزة هي {name}.", "second": "حلّت {other} في المركز الثاني.",
        "spectators": "بلغ عدد المتفرجين {n}.", "prize": "بلغت قيمة الجائزة {m} يورو.",
    },
    "sw": {
        "names": ["Amina", "Neema", "Rehema", "Zawadi", "Upendo", "Imani", "Furaha", "Halima", "Mwanaisha", "Subira"],
        "cities": ["Nairobi", "Mombasa", "Arusha", "Dodoma", "Kisumu", "Tanga", "Mwanza", "Nakuru"],
        "has": "{name} ana shilingi {a}.", "earn": "Anapata shilingi {b} zaidi.",
        "spend": "Kisha anatumia shilingi {c}.", "how_many": "{name} ana shilingi ngapi sasa?",
        "lives": "{name} anaishi mjini {city}.", "works": "{name} anafanya kazi katika kampuni ya {company}.",
        "pet": "{name} ana mbwa anayeitwa {pet}.",
        "q_lives": "{name} anaishi mji gani?", "q_works": "{name} anafanya kazi katika kampuni gani?",
        "q_pet": "Mbwa wa {name} anaitwa nani?",
        "born": "{name} alizaliwa mwaka {year}.", "q_born": "{name} alizaliwa mwaka gani?",
        "friend": "Rafiki wa karibu wa {name} ni {friend}.", "q_friend": "Rafiki wa karibu wa {name} ni nani?",
        "capital": "Mji mkuu wa {country} ni {city}.", "currency": "Sarafu ya {country} ni {cur}.",
        "q_capital": "Mji mkuu wa {country} ni upi?", "q_currency": "Sarafu ya {country} ni ipi?",
        "events": {
            "race": ("Mashindano ya mbio yalifanyika mjini {city}.", "{name} alishinda mashindano ya mbio mjini {city}.",
                     "Mashindano ya mbio mjini {city}"),
            "chess": ("Mashindano ya chesi yalifanyika mjini {city}.", "{name} alishinda mashindano ya chesi mjini {city}.",
                      "Mashindano ya chesi mjini {city}"),
            "cooking": ("Shindano la upishi lilifanyika mjini {city}.", "{name} alishinda shindano la upishi mjini {city}.",
                        "Shindano la upishi mjini {city}"),
        },
        "winner": "Mshindi alikuwa {name}.", "second": "{other} alishika nafasi ya pili.",
        "spectators": "Watu {n} walikuja kutazama.", "prize": "Zawadi ilikuwa shilingi {m}.",
    },
}


def fr_de(word: str) -> str:
    """French 'de' with elision: "d'Emma", "de Camille"."""
    return ("d'" if word[:1].lower() in "aeiouéèêhiîïôûàœ" else "de ") + word


def joiner(lang: str) -> str:
    """How sentences are joined: nothing in Chinese, a space elsewhere (Thai separates sentences by spaces)."""
    return LEX[lang].get("joiner", " ")
