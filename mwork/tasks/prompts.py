"""Zero-shot prompts of the paper's Table 10, in English verbatim and translated into each language.

Table 10: MGSM "Let's think step by step. Question: {question}"; XQuAD "{context} Question: {question}";
XLSum "Summarize the context in one sentence. Title: {title} Context: {article}"; X-CSQA
"Question: {question}". MGSM's prompt is Table 10's exactly (the step-by-step answer follows the
question); the other three end with the answer cue ("Answer:") a base model needs, and X-CSQA lists its
options as "A. ..." lines. ``rule table10`` records the prompts and chat templates a run used. The
tasks' registry (``mwork.tasks.registry``) builds each task's prompt from these phrases.
"""

from __future__ import annotations

from ..languages import get_language

PHRASES: dict[str, dict[str, str]] = {
    "en": {"think": "Let's think step by step.", "question": "Question:", "answer": "Answer:",
           "summarize": "Summarize the context in one sentence.", "title": "Title:", "context": "Context:",
           "the_answer_is": "The answer is {n}."},
    "de": {"think": "Lass uns Schritt für Schritt denken.", "question": "Frage:", "answer": "Antwort:",
           "summarize": "Fasse den Kontext in einem Satz zusammen.", "title": "Titel:", "context": "Kontext:",
           "the_answer_is": "Die Antwort ist {n}."},
    "fr": {"think": "Réfléchissons étape par étape.", "question": "Question :", "answer": "Réponse :",
           "summarize": "Résume le contexte en une phrase.", "title": "Titre :", "context": "Contexte :",
           "the_answer_is": "La réponse est {n}."},
    "zh": {"think": "让我们一步一步地思考。", "question": "问题：", "answer": "答案：",
           "summarize": "用一句话总结上下文。", "title": "标题：", "context": "上下文：",
           "the_answer_is": "答案是{n}。"},
    "es": {"think": "Pensemos paso a paso.", "question": "Pregunta:", "answer": "Respuesta:",
           "summarize": "Resume el contexto en una oración.", "title": "Título:", "context": "Contexto:",
           "the_answer_is": "La respuesta es {n}."},
    "ru": {"think": "Давай подумаем шаг за шагом.", "question": "Вопрос:", "answer": "Ответ:",
           "summarize": "Кратко изложи контекст одним предложением.", "title": "Заголовок:", "context": "Контекст:",
           "the_answer_is": "Правильный ответ — {n}."},
    "vi": {"think": "Hãy suy nghĩ từng bước một.", "question": "Câu hỏi:", "answer": "Trả lời:",
           "summarize": "Hãy tóm tắt ngữ cảnh trong một câu.", "title": "Tiêu đề:", "context": "Ngữ cảnh:",
           "the_answer_is": "Câu trả lời là {n}."},
    "th": {"think": "มาคิดทีละขั้นตอนกัน", "question": "คำถาม:", "answer": "คำตอบ:",
           "summarize": "สรุปเนื้อหาให้อยู่ในประโยคเดียว", "title": "หัวข้อ:", "context": "เนื้อหา:",
           "the_answer_is": "คำตอบคือ {n}"},
    "ar": {"think": "لنفكر خطوة بخطوة.", "question": "السؤال:", "answer": "الإجابة:",
           "summarize": "لخّص السياق في جملة واحدة.", "title": "العنوان:", "context": "السياق:",
           "the_answer_is": "الإجابة هي {n}."},
    "sw": {"think": "Hebu tufikiri hatua kwa hatua.", "question": "Swali:", "answer": "Jibu:",
           "summarize": "Fupisha muktadha kwa sentensi moja.", "title": "Kichwa:", "context": "Muktadha:",
           "the_answer_is": "Jibu ni {n}."},
}

CHOICE_LABELS = "ABCDE"


def phrases(lang: str) -> dict[str, str]:
    get_language(lang)
    if lang not in PHRASES:
        raise KeyError(f"no translated prompts for {lang!r} (have: {', '.join(PHRASES)})")
    return PHRASES[lang]
