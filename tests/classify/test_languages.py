"""The languages of ``netcheck/data/languages/``: a block page's sentence in each is found and
read, an ordinary sentence in the same language carries no cue, and the scripts written without
spaces (or with vowel signs ``\\w`` does not know) match as the lexicon's other unspaced ones do.
"""

from __future__ import annotations

import importlib.resources

import pytest
import yaml

from netcheck.classify import classify_result
from netcheck.classify.blockpage import generic_cues
from netcheck.classify.lexicon import fold, lexicon_languages, reads, speaks_of_access
from tests.classify.corpus import Page, agency_targets, serve

NEW = {"tl", "sw", "ha", "yo", "am", "so", "af", "zu", "kk", "uz", "az", "ka", "hy", "mn", "ta"}
NEW |= {"ne", "mr", "si", "km", "my", "sq", "mk", "be", "is"}

# (language, a block page's sentence, a news line in the same language)
SAMPLES = [
    (
        "tl",
        "Naka-block ang website na ito. Makipag-ugnayan sa iyong administrator.",
        "Nagpulong ang pangulo at mga gobernador sa Maynila noong Lunes tungkol sa badyet.",
    ),
    (
        "sw",
        "Tovuti hii imezuiwa na msimamizi wa mtandao.",
        "Rais alikutana na magavana mjini Dodoma siku ya Jumatatu kujadili bajeti ya mwaka ujao.",
    ),
    (
        "ha",
        "An toshe wannan shafin. Tuntuɓi mai gudanarwa.",
        "Shugaban kasa ya gana da gwamnoni a Abuja ranar Litinin domin tattauna kasafin kudi.",
    ),
    (
        "am",
        "ይህ ድረ-ገጽ ታግዷል። አስተዳዳሪዎን ያነጋግሩ።",
        "ጠቅላይ ሚኒስትሩ ሰኞ ዕለት በአዲስ አበባ ከክልል መሪዎች ጋር ስለ በጀቱ ተወያዩ።",
    ),
    (
        "zu",
        "Le webhusayithi ivinjiwe. Xhumana nomlawuli wakho.",
        "UMongameli uhlangane nondunankulu baseGoli ngoMsombuluko ukuxoxa ngesabelomali.",
    ),
    (
        "kk",
        "Бұл сайт бұғатталған. Әкімшіге хабарласыңыз.",
        "Президент дүйсенбі күні Астанада әкімдермен кездесіп, бюджетті талқылады.",
    ),
    (
        "uz",
        "Ushbu saytga kirish taqiqlangan. Administratorga murojaat qiling.",
        "Prezident dushanba kuni Toshkentda hokimlar bilan uchrashib, byudjetni muhokama qildi.",
    ),
    (
        "uz",
        "Ушбу сайт блокланган. Администраторга мурожаат қилинг.",
        "Президент душанба куни Тошкентда ҳокимлар билан учрашиб, бюджетни муҳокама қилди.",
    ),
    (
        "az",
        "Bu sayt bloklanıb. Administratorla əlaqə saxlayın.",
        "Prezident bazar ertəsi Bakıda icra başçıları ilə görüşərək büdcəni müzakirə etdi.",
    ),
    (
        "ka",
        "ეს საიტი დაბლოკილია. მიმართეთ ადმინისტრატორს.",
        "პრეზიდენტი ორშაბათს თბილისში გამგებლებს შეხვდა და ბიუჯეტი განიხილა.",
    ),
    (
        "hy",
        "Այս կայքն արգելափակված է։ Դիմեք ադմինիստրատորին։",
        "Նախագահը երկուշաբթի Երևանում հանդիպեց մարզպետների հետ և քննարկեց բյուջեն։",
    ),
    (
        "ta",
        "இந்த இணையதளம் தடுக்கப்பட்டுள்ளது. உங்கள் நிர்வாகியைத் தொடர்பு கொள்ளவும்.",
        "முதலமைச்சர் திங்கள்கிழமை சென்னையில் மாவட்ட ஆட்சியர்களைச் சந்தித்தார்.",
    ),
    (
        "ne",
        "यो वेबसाइट ब्लक गरिएको छ। प्रशासकलाई सम्पर्क गर्नुहोस्।",
        "प्रधानमन्त्रीले सोमबार काठमाडौंमा प्रदेश प्रमुखहरूसँग बजेटबारे छलफल गर्नुभयो।",
    ),
    (
        "si",
        "මෙම වෙබ් අඩවිය අවහිර කර ඇත. ඔබේ පරිපාලක අමතන්න.",
        "ජනාධිපතිවරයා සඳුදා කොළඹදී පළාත් ආණ්ඩුකාරවරුන් හමු වී අයවැය ගැන සාකච්ඡා කළේය.",
    ),
    (
        "km",
        "គេហទំព័រនេះត្រូវបានរារាំង។ សូមទាក់ទងអ្នកគ្រប់គ្រងប្រព័ន្ធ។",
        "នាយករដ្ឋមន្ត្រីបានជួបជាមួយអភិបាលខេត្តនៅភ្នំពេញកាលពីថ្ងៃច័ន្ទ ដើម្បីពិភាក្សាអំពីថវិកា។",
    ),
    (
        "my",
        "ဤဝက်ဘ်ဆိုက်ကို ပိတ်ဆို့ထားသည်။ စီမံခန့်ခွဲသူကို ဆက်သွယ်ပါ။",
        "သမ္မတသည် တနင်္လာနေ့က နေပြည်တော်တွင် တိုင်းဒေသကြီးဝန်ကြီးချုပ်များနှင့် တွေ့ဆုံခဲ့သည်။",
    ),
    (
        "sq",
        "Kjo faqe është bllokuar. Kontaktoni administratorin.",
        "Presidenti u takua të hënën në Tiranë me kryetarët e bashkive për të diskutuar buxhetin.",
    ),
    (
        "mk",
        "Оваа страница е блокирана. Контактирајте го администраторот.",
        "Претседателот во понеделник во Скопје се сретна со градоначалниците за буџетот.",
    ),
    (
        "be",
        "Гэты сайт заблакаваны. Звярніцеся да адміністратара.",
        "Прэзідэнт у панядзелак у Мінску сустрэўся з губернатарамі і абмеркаваў бюджэт.",
    ),
    (
        "is",
        "Aðgangur að þessari síðu er lokaður. Hafðu samband við kerfisstjóra.",
        "Forsætisráðherra hitti bæjarstjóra í Reykjavík á mánudag til að ræða fjárlögin.",
    ),
]

# opening hours: an office's page names the office (a place a refusal may name too), but no cue
HOURS = [
    "Bukas ang tanggapan mula Lunes hanggang Biyernes, 8:00 ng umaga hanggang 5:00 ng hapon.",
    "Ofisi iko wazi kuanzia Jumatatu hadi Ijumaa, saa mbili asubuhi hadi saa kumi jioni.",
    "Die kantoor is oop van Maandag tot Vrydag, 08:00 tot 16:30.",
    "ቢሮው ከሰኞ እስከ ዓርብ ከጠዋቱ 2፡30 እስከ ምሽቱ 11፡30 ክፍት ነው።",
    "Мекеме дүйсенбіден жұмаға дейін сағат 9:00-ден 18:00-ге дейін жұмыс істейді.",
    "ოფისი ღიაა ორშაბათიდან პარასკევის ჩათვლით, 09:00-დან 18:00-მდე.",
    "Оффис Даваагаас Баасан гараг хүртэл 09:00-18:00 цагт ажиллана.",
    "कार्यालय सोमवार ते शुक्रवार सकाळी १० ते सायंकाळी ६ पर्यंत सुरू असते.",
    "ការិយាល័យបើកពីថ្ងៃច័ន្ទដល់ថ្ងៃសុក្រ ម៉ោង ៨ ព្រឹក ដល់ ៥ ល្ងាច។",
    "Skrifstofan er opin mánudaga til föstudaga frá kl. 9 til 16.",
]


def _id(sample: tuple[str, str, str]) -> str:
    return f"{sample[0]}-{sample[1][:12]}"


def test_the_new_languages_are_the_lexicons() -> None:
    assert lexicon_languages() >= NEW
    assert len(lexicon_languages()) == 65


@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
def test_a_block_sentence_is_found_and_read(sample: tuple[str, str, str]) -> None:
    lang, block, _news = sample
    title = block.split(".")[0]
    page = f"<html><head><title>{title}</title></head><body><p>{block}</p></body></html>"
    cues = generic_cues(page)
    assert cues.decisive, cues
    assert cues.language == lang, cues
    assert speaks_of_access(page)
    assert reads(page)
    assert reads(f"<html lang='{lang}'><body><p>{block}</p></body></html>")


@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
def test_a_news_line_in_the_same_language_carries_no_cue(sample: tuple[str, str, str]) -> None:
    _lang, _block, news = sample
    page = f"<html><body><p>{news}</p></body></html>"
    assert generic_cues(page).phrases == ()
    assert not speaks_of_access(page)
    assert reads(page)


@pytest.mark.parametrize("hours", HOURS)
def test_opening_hours_carry_no_cue(hours: str) -> None:
    assert generic_cues(f"<p>{hours}</p>").phrases == ()


def test_a_brief_refusal_in_a_new_language_in_place_of_a_channel_is_a_block() -> None:
    """Before these languages, such a page was "in a language netcheck does not read"."""
    html = (
        "<html lang='sw'><body><p>Tovuti hii haipatikani kwenye mtandao wa wizara.</p>"
        "</body></html>"
    )
    page = Page("t", "test", "block", "sw", "generic", None, 200, (), (), html)
    target = next(t for t in agency_targets() if t.service == "facebook")
    got = classify_result(serve(page, target, "plain-http").record)
    assert (got.verdict, got.technique) == ("blocked", "http-blockpage"), got.evidence


def test_a_maintenance_notice_in_a_new_language_does_not_speak_of_access() -> None:
    assert speaks_of_access("<p>Tovuti haipatikani.</p>")
    assert not speaks_of_access("<p>Tovuti haipatikani kwa muda kwa sababu ya matengenezo.</p>")
    assert not speaks_of_access("<p>Vefsíðan er ekki aðgengileg tímabundið.</p>")


def test_lang_codes_and_letters_of_the_new_languages_are_read() -> None:
    assert reads("<html lang='fil'><body>x</body></html>")
    assert reads("<html lang='uz-Cyrl'><body>x</body></html>")
    assert not reads("<html lang='cy'><body>x</body></html>")
    for letters in ("ð þ", "ə", "ѓ ќ ѕ", "ў", "ქსელი", "ցանց", "ኔትወርክ", "បណ្តាញ", "நூலகம்"):
        assert reads(f"<p>{letters}</p>"), letters
    assert not reads("<p>ఈ సైట్</p>")  # Telugu: not a lexicon language


def test_unspaced_scripts_match_whatever_the_spacing_and_joiners() -> None:
    """Tamil, Sinhala, Khmer and Burmese phrases match inside a run of text, spaces ignored;
    Sinhala written with or without the zero-width joiner in "ප්‍ර" is one text."""
    assert generic_cues("<p>இந்தஇணையதளம்தடுக்கப்பட்டுள்ளது</p>").top == 3
    assert generic_cues("<p>ការចូលប្រើ គេហទំព័រនេះ ត្រូវបាន រារាំង</p>").top == 3
    with_joiner = "ප්\u200dරවේශය ප්\u200dරතික්ෂේප විය"
    without = "ප්රවේශය ප්රතික්ෂේප විය"
    assert fold(with_joiner) == fold(without)
    assert generic_cues(f"<p>{without}</p>").top == 2


def test_uzbek_apostrophes_fold_alike() -> None:
    assert fold("boʻlmaydi") == fold("bo'lmaydi") == fold("bo’lmaydi") == "bo'lmaydi"


def test_the_language_files_store_their_phrases_folded() -> None:
    """Phrases are compared folded; one written otherwise would never match."""
    folder = importlib.resources.files("netcheck") / "data" / "languages"
    for file in folder.iterdir():
        if not file.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for phrase in _strings(data):
            assert fold(phrase) == phrase, (file.name, phrase)
        for lang, weights in data["lexicon"].items():
            assert set(weights) == {1, 2, 3}, (file.name, lang)
            assert set(data["refusals"][lang]) == {"unable", "where"}, (file.name, lang)
            assert data["access_context"][lang], (file.name, lang)


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []
