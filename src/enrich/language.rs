//! Language detection. Returns ISO 639-1 codes.
//!
//! Four steps, cheapest first:
//!
//! 1. Most articles are plainly English, and a count of English function words decides those
//!    ([`is_plainly_english`]): a few instructions a word. Text whose first 256 bytes fail gets a
//!    second look at its first kilobyte (an opening full of foreign names).
//! 2. A headline has few function words, so its vocabulary decides next ([`Vocabulary`]):
//!    English words (SCOWL's word lists) against foreign evidence (unknown lower-case words,
//!    other languages' function words, letters outside ASCII), capitalised words inside a
//!    sentence taken for names. Two English words or more, two and a half times the foreign
//!    evidence, make it English ("Biden signs chips act", which whichlang gave as French).
//!    Short foreign headlines of words English shares still pass ("Basket: Monaco bat
//!    Barcelone").
//! 3. Text in the scripts of the 16 languages whichlang knows (the Latin alphabets of its
//!    Latin-script languages, Cyrillic, Arabic, Chinese, Japanese, Korean), with no letter of a
//!    rival language (step 4), goes to whichlang, a linear model over character n-grams at
//!    about a microsecond per kilobyte. It always answers one of its 16 languages, so it must
//!    not see text that may be in another: it gave Greek, Hebrew and Thai as Vietnamese,
//!    Ukrainian as Russian, Persian as Arabic and Polish as Turkish. Its English for words that
//!    are mostly not English (a Danish or Indonesian headline) goes to whatlang, whose answer
//!    is taken when it is a language whichlang does not know.
//! 4. whatlang (69 languages, script first, then trigrams) decides when other letters appear:
//!    text mostly in another script (Greek, Hebrew, Devanagari, Thai...) goes to it whole;
//!    letters of languages that share a script with whichlang's ([`rivals_by_letter`]: Polish
//!    `ł`, Czech `ř`, Ukrainian `ї`, Persian `پ`...) make it choose between whichlang's answer
//!    and those languages, taken only when whatlang is sure (a Russian headline with a hard
//!    sign stays Russian) and, against English, only when a third of the words have such
//!    letters (names in a headline do not make it Polish). It costs 5–15 µs on 256 bytes,
//!    against whichlang's 1 µs, which is why it is not the only model.
//!
//!    Function words do for Latin-script languages without letters of their own
//!    ([`rivals_by_word`]: Indonesian `yang`, Tagalog `mga`, Catalan `amb`, Finnish `mutta`...):
//!    two of them in the text make whatlang choose the same way. Without them Indonesian was
//!    Turkish, Catalan Spanish, Finnish Swedish, and Tagalog English (with English sentiment).
//!
//! Languages neither model knows (Swahili, Albanian, Icelandic, Basque...) still get the
//! nearest one they know; Malay is `id` and Serbian in Latin letters `hr`, whatlang's nearest.
//! Measured on labelled headlines in `tests/language_headlines.rs`.

use std::collections::HashSet;
use std::sync::LazyLock;

/// How much text the detector looks at: the title and the first paragraphs decide the language,
/// and bounding it keeps the cost flat for long articles.
pub const DETECTION_PREFIX_BYTES: usize = 256;

/// Texts with fewer letters than this are too short to detect reliably; we return `None`.
const MIN_LETTERS: usize = 12;

/// Letters enough when most of them are of a script other than Latin (Chinese, Japanese,
/// Korean, Cyrillic, Arabic, ...): a Chinese headline of ten characters is plainly not English,
/// and scored as English it would get a meaningless neutral.
const MIN_NON_LATIN_LETTERS: usize = 4;

/// Detects the language of `text`, or `None` when the text is too short to tell.
pub fn detect(text: &str) -> Option<&'static str> {
    let prefix = detection_prefix(text)?;
    if is_plainly_english(prefix) {
        return Some("en");
    }
    // An opening full of foreign names ("Partido Socialista Unido de Venezuela ... Plaza de la
    // Libertad") hides the English around them: a longer look, for the text that failed the
    // short one only.
    let longer = super::text::prefix_within(text, ENGLISH_SECOND_LOOK_BYTES);
    if longer.len() > prefix.len() && is_plainly_english(longer) {
        return Some("en");
    }
    // A headline has few function words, and on its few words the models often miss English
    // ("Putin warns NATO" reads as German): its vocabulary decides.
    let vocabulary = Vocabulary::of(prefix);
    if vocabulary.is_english() {
        return Some("en");
    }
    Some(by_model(prefix, vocabulary))
}

/// How much text the English shortcut reads when the detection prefix was not plainly English.
const ENGLISH_SECOND_LOOK_BYTES: usize = 1024;

/// [`detect`] without the English shortcut: the models' answer, for comparing the two.
pub fn detect_by_model(text: &str) -> Option<&'static str> {
    detection_prefix(text).map(|prefix| by_model(prefix, Vocabulary::of(prefix)))
}

/// The models' answer for `prefix` (see the module documentation): whichlang, unless the text has
/// letters of languages it does not know.
fn by_model(prefix: &str, vocabulary: Vocabulary) -> &'static str {
    let (mut letters, mut other_script) = (0usize, 0usize);
    // Words, and words with a letter of a rival language: a name ("Jarosław Kaczyński") in a
    // headline is not the headline's language.
    let (mut words, mut rival_words, mut in_word, mut word_has_rival) = (0usize, 0usize, false, false);
    let mut rivals: Vec<whatlang::Lang> = Vec::new();
    for c in prefix.chars() {
        if !c.is_alphabetic() {
            rival_words += usize::from(in_word && word_has_rival);
            (in_word, word_has_rival) = (false, false);
            continue;
        }
        letters += 1;
        words += usize::from(!in_word);
        in_word = true;
        if c.is_ascii() {
            continue;
        }
        match rivals_by_letter(c) {
            [] => other_script += usize::from(!in_whichlang_scripts(c)),
            langs => {
                word_has_rival = true;
                for lang in langs {
                    if !rivals.contains(lang) {
                        rivals.push(*lang);
                    }
                }
            }
        }
    }
    rival_words += usize::from(in_word && word_has_rival);
    let function_words = rivals_by_word(prefix);
    for lang in function_words.rivals {
        if !rivals.contains(&lang) {
            rivals.push(lang);
        }
    }
    if other_script * 2 > letters {
        // Greek, Hebrew, Thai, Devanagari...: whatlang tells the language from the script, or
        // from trigrams among the few languages written in it.
        if let Some(info) = whatlang::detect(prefix) {
            return whatlang_iso639_1(info.lang());
        }
    }
    let guess = whichlang::detect_language(prefix);
    // English is the language whose sentiment is scored: a few names with foreign letters in
    // an English headline must not take it away, nor Chinese names that are Tagalog or
    // Croatian function words ("Su", "Ang", "Ng"). Another language's function words must be
    // one word in four, and outnumber English ones.
    let few_function_words =
        function_words.rival_count * 4 < words || function_words.rival_count <= function_words.english_count;
    let stays_english = guess == whichlang::Lang::Eng && rival_words * 3 < words && few_function_words;
    if guess == whichlang::Lang::Eng && vocabulary.is_foreign() {
        // Words that are not English, in a language whichlang does not know (Danish "Ny manager
        // skal redde Carlsberg", Indonesian "Presiden Prabowo lantik menteri kabinet baru"):
        // whatlang's answer, sure or not, is nearer than English, unless it is one of
        // whichlang's own languages, which whichlang would have named ("ramen, pho and bibimbap
        // top foodie list" is not Spanish).
        let whichlang_knows =
            |lang: whatlang::Lang| whichlang::LANGUAGES.iter().any(|&l| whichlang_to_whatlang(l) == lang);
        if let Some(info) = whatlang::detect(prefix).filter(|info| !whichlang_knows(info.lang())) {
            return whatlang_iso639_1(info.lang());
        }
    }
    if rivals.is_empty() || stays_english {
        return iso639_1(guess);
    }
    // whichlang's answer against the languages whose letters appear: trigrams decide when they
    // are sure, and a French article naming Lech Wałęsa stays French, a Russian headline with
    // a hard sign (`ъ`, mostly Bulgarian) Russian.
    let guess_w = whichlang_to_whatlang(guess);
    rivals.push(guess_w);
    let pick = |among: Vec<whatlang::Lang>| whatlang::Detector::with_allowlist(among).detect(prefix);
    match pick(rivals) {
        Some(info) if info.lang() != guess_w && info.is_reliable() => whatlang_iso639_1(info.lang()),
        // Unsure between close rivals (Danish and Norwegian), perhaps sure against whichlang.
        Some(info)
            if info.lang() != guess_w
                && pick(vec![info.lang(), guess_w]).is_some_and(|i| i.lang() == info.lang() && i.is_reliable()) =>
        {
            whatlang_iso639_1(info.lang())
        }
        _ => iso639_1(guess),
    }
}

/// The languages whatlang knows and whichlang does not that write `c`: the letters that tell a
/// Latin, Cyrillic or Arabic-script text may not be in one of whichlang's languages. Empty for
/// every other character.
#[rustfmt::skip]
fn rivals_by_letter(c: char) -> &'static [whatlang::Lang] {
    use whatlang::Lang::*;
    match c {
        'ą' | 'Ą' | 'ę' | 'Ę' => &[Pol, Lit],
        'ł' | 'Ł' | 'ś' | 'Ś' | 'ź' | 'Ź' | 'ż' | 'Ż' | 'ń' | 'Ń' => &[Pol],
        'ć' | 'Ć' => &[Pol, Hrv],
        'č' | 'Č' | 'š' | 'Š' | 'ž' | 'Ž' => &[Ces, Slk, Slv, Hrv, Lit, Lav, Est],
        'ř' | 'Ř' | 'ů' | 'Ů' | 'ě' | 'Ě' => &[Ces],
        'ť' | 'Ť' | 'ď' | 'Ď' | 'ň' | 'Ň' => &[Ces, Slk],
        'ľ' | 'Ľ' | 'ĺ' | 'Ĺ' | 'ŕ' | 'Ŕ' => &[Slk],
        'ő' | 'Ő' | 'ű' | 'Ű' => &[Hun],
        'ș' | 'Ș' | 'ț' | 'Ț' | 'ţ' | 'Ţ' => &[Ron],
        'ā' | 'Ā' | 'ē' | 'Ē' | 'ī' | 'Ī' | 'ū' | 'Ū' => &[Lav, Lit],
        'ķ' | 'Ķ' | 'ļ' | 'Ļ' | 'ņ' | 'Ņ' | 'ģ' | 'Ģ' => &[Lav],
        'ė' | 'Ė' | 'į' | 'Į' | 'ų' | 'Ų' => &[Lit],
        'æ' | 'Æ' | 'ø' | 'Ø' => &[Dan, Nob],
        'ŵ' | 'Ŵ' | 'ŷ' | 'Ŷ' => &[Cym],
        'ə' | 'Ə' => &[Aze],
        'ĉ' | 'Ĉ' | 'ĝ' | 'Ĝ' | 'ĥ' | 'Ĥ' | 'ĵ' | 'Ĵ' | 'ŝ' | 'Ŝ' | 'ŭ' | 'Ŭ' => &[Epo],
        // Cyrillic: whichlang has Russian only.
        'і' | 'І' => &[Ukr, Bel],
        'ї' | 'Ї' | 'є' | 'Є' | 'ґ' | 'Ґ' => &[Ukr],
        'ў' | 'Ў' => &[Bel],
        'ъ' | 'Ъ' => &[Bul],
        'ђ' | 'Ђ' | 'ћ' | 'Ћ' => &[Srp],
        'ј' | 'Ј' | 'љ' | 'Љ' | 'њ' | 'Њ' | 'џ' | 'Џ' => &[Srp, Mkd],
        'ѓ' | 'Ѓ' | 'ќ' | 'Ќ' | 'ѕ' | 'Ѕ' => &[Mkd],
        // The Arabic script: whichlang has Arabic only.
        'پ' | 'چ' | 'ژ' | 'گ' | 'ک' | 'ی' => &[Pes, Urd],
        'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ے' | 'ہ' | 'ھ' => &[Urd],
        _ => &[],
    }
}

/// What the function words of a text say about languages whichlang does not know. Only whole
/// words of ASCII letters count: pieces of Turkish `ilişkileri` are no Croatian `ili`.
struct FunctionWords {
    /// The languages of [`RIVAL_MARKERS`] whose words appear; empty when fewer than two such
    /// words do: one `za` or `ang` in a French or English text is no evidence.
    rivals: Vec<whatlang::Lang>,
    /// How many words are function words of those languages.
    rival_count: usize,
    /// How many words are English function words ([`ENGLISH_MARKERS`]).
    english_count: usize,
}

fn rivals_by_word(prefix: &str) -> FunctionWords {
    let mut found = FunctionWords { rivals: Vec::new(), rival_count: 0, english_count: 0 };
    let whole_ascii_words = prefix.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty() && w.is_ascii());
    for word in whole_ascii_words {
        match MARKERS.get(word.as_bytes()) {
            ENGLISH => found.english_count += 1,
            kind if kind >= FIRST_RIVAL => {
                found.rival_count += 1;
                for lang in RIVAL_MARKERS[usize::from(kind - FIRST_RIVAL)].1 {
                    if !found.rivals.contains(lang) {
                        found.rivals.push(*lang);
                    }
                }
            }
            _ => {}
        }
    }
    if found.rival_count < 2 {
        found.rivals.clear();
    }
    found
}

/// Whether `c` is of the scripts of whichlang's languages: the Latin letters of its alphabets
/// (ASCII, Latin-1 but for `æ ø`, `œ ÿ`, Turkish `ğ ı İ ş`, Vietnamese), Cyrillic, the Arabic
/// script, Chinese characters, kana and Hangul. Devanagari is left out although whichlang has
/// Hindi: whatlang tells Hindi from Marathi and Nepali.
#[rustfmt::skip]
fn in_whichlang_scripts(c: char) -> bool {
    matches!(c,
        '\0'..='\u{7f}'
        | '\u{c0}'..='\u{c5}' | '\u{c7}'..='\u{d6}' | '\u{d9}'..='\u{e5}' | '\u{e7}'..='\u{f6}'
        | '\u{f9}'..='\u{ff}'
        | '\u{152}' | '\u{153}' | '\u{178}'                                        // Œ œ Ÿ
        | '\u{11e}' | '\u{11f}' | '\u{130}' | '\u{131}' | '\u{15e}' | '\u{15f}' // Ğ ğ İ ı Ş ş
        | '\u{102}' | '\u{103}' | '\u{110}' | '\u{111}' | '\u{128}' | '\u{129}' // Ă ă Đ đ Ĩ ĩ
        | '\u{168}' | '\u{169}' | '\u{1a0}' | '\u{1a1}' | '\u{1af}' | '\u{1b0}' // Ũ ũ Ơ ơ Ư ư
        | '\u{1ea0}'..='\u{1ef9}'                                                     // Vietnamese
        | '\u{400}'..='\u{52f}'                                                       // Cyrillic
        | '\u{600}'..='\u{6ff}' | '\u{750}'..='\u{77f}' | '\u{8a0}'..='\u{8ff}'
        | '\u{fb50}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}'                         // Arabic
        | '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}' | '\u{ac00}'..='\u{d7af}' // Hangul
        | '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' | '\u{ff66}'..='\u{ff9f}' // kana
        | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}'
        | '\u{20000}'..='\u{323af}'                                                   // Chinese
    )
}

/// The first [`DETECTION_PREFIX_BYTES`] of `text` (cut at a character boundary), or `None` when
/// they hold fewer than [`MIN_LETTERS`] letters, or fewer than [`MIN_NON_LATIN_LETTERS`] when
/// most are not Latin.
pub fn detection_prefix(text: &str) -> Option<&str> {
    let prefix = super::text::prefix_within(text, DETECTION_PREFIX_BYTES);
    let letters = prefix.chars().filter(|c| c.is_alphabetic()).take(MIN_LETTERS).count();
    if letters == MIN_LETTERS {
        return Some(prefix);
    }
    // Short text only (fewer than MIN_LETTERS letters in all of the prefix), so this is cheap.
    // Latin: up to U+024F (Latin Extended-B) and U+1E00–U+1EFF (Latin Extended Additional,
    // Vietnamese); IPA and the rest are rare in news.
    let is_latin = |c: char| c <= '\u{24f}' || ('\u{1e00}'..='\u{1eff}').contains(&c);
    let non_latin = prefix.chars().filter(|&c| c.is_alphabetic() && !is_latin(c)).count();
    (letters >= MIN_NON_LATIN_LETTERS && non_latin * 2 > letters).then_some(prefix)
}

/// Whether the text reads as running English: at least [`MIN_ENGLISH_MARKERS`] words, and one
/// word in [`ENGLISH_MARKER_SHARE`], are English function words, and words that are function
/// words of other Latin-script languages (whichlang's, and [`RIVAL_MARKERS`]) are fewer than a
/// quarter of those.
/// Words that belong to both sides ("in", "is", "was", "on", "as", "an", "a", "do") count for
/// neither. Running English has about one marker in four words, news full of names one in
/// eight; other languages have English markers only in quotes, and then their own beside them.
pub fn is_plainly_english(prefix: &str) -> bool {
    let (mut words, mut english, mut foreign) = (0usize, 0usize, 0usize);
    // Runs of ASCII letters: a word with other letters is cut into pieces, which English has
    // few of.
    for word in prefix.as_bytes().split(|b| !b.is_ascii_alphabetic()).filter(|w| !w.is_empty()) {
        words += 1;
        match MARKERS.get(word) {
            0 => {}
            ENGLISH => english += 1,
            _ => foreign += 1,
        }
    }
    english >= MIN_ENGLISH_MARKERS && english * ENGLISH_MARKER_SHARE >= words && foreign * 4 <= english
}

/// What the vocabulary of a text says: how many of its words are English words, and how much
/// foreign evidence it has, in thirds of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Vocabulary {
    /// Words in [`ENGLISH_VOCABULARY`] or English function words.
    english: usize,
    /// Those of them written in lower case.
    lower_case_english: usize,
    /// All the words.
    words: usize,
    /// Foreign evidence in thirds of a word: words unknown to the vocabulary, function words of
    /// other languages that are not common English words ("la", "und", "des"), words with
    /// letters outside ASCII.
    foreign_thirds: usize,
    /// The words of that evidence that are no name: written in lower case, or function words.
    foreign_words: usize,
}

impl Vocabulary {
    /// Counts the words of `prefix`, leaving out web addresses, mentions and hashtags.
    ///
    /// - A capitalised word inside a sentence counts for neither side, for headlines are full
    ///   of names ("Erdoğan", "Sunak", "iPhone", "NATO"), and German writes every noun so
    ///   ("Deutsche Bank in Not", "Tesla plant Gigafactory-Ausbau"). The first word of a
    ///   sentence counts when it is an English word. In title case an unknown capitalised word
    ///   counts a third ("Max Verstappen Wint Grand Prix Van Zandvoort", but also "Stephen
    ///   Colbert Mocks Kellyanne Conway's Microwave Gaffe"), and in a text all in capitals in
    ///   full.
    /// - A lower-case word with letters outside ASCII ("für", "mål") counts twice: English has
    ///   few.
    /// - The one-letter function words of other languages ("w", "z", "k", "o", "i") are
    ///   foreign, not other single letters: English has "a", "I", texting's "u" and "r", "v"
    ///   between sides, "e-mail", the "s" of "Trump's", and "i'm" and "w/" in posts.
    /// - Words of both sides ("in", "am", "no", "on", "as": [`SHARED_WORDS`]) count for neither,
    ///   and so do function words of other languages that are common English words ("die",
    ///   "den", "van", "con": [`ENGLISH_MARKER_HOMOGRAPHS`]); the others are foreign even when
    ///   the word list has them ("la", "es").
    fn of(prefix: &str) -> Vocabulary {
        let words = || {
            prefix
                .split(char::is_whitespace)
                .filter(|token| !(token.starts_with(['@', '#']) || token.starts_with("www.") || token.contains("://")))
                .flat_map(|token| token.split(|c: char| !c.is_alphabetic()))
                .filter(|w| !w.is_empty())
        };
        let letter_case = letter_case(words());
        let name_thirds = match letter_case {
            LetterCase::Sentence => 0,
            LetterCase::Title => 1,
            LetterCase::Capitals => 3,
        };
        let mut counts =
            Vocabulary { english: 0, lower_case_english: 0, words: 0, foreign_thirds: 0, foreign_words: 0 };
        let foreign = |counts: &mut Vocabulary, thirds: usize, name_like: bool| {
            counts.foreign_thirds += thirds;
            counts.foreign_words += usize::from(!name_like && thirds > 0);
        };
        let mut lower = String::new();
        for word in words() {
            counts.words += 1;
            let start = word.as_ptr() as usize - prefix.as_ptr() as usize;
            let capitalised = word.chars().next().is_some_and(char::is_uppercase);
            let unknown_thirds = if capitalised { name_thirds } else { 3 };
            if !word.is_ascii() {
                foreign(&mut counts, 2 * unknown_thirds, capitalised);
                continue;
            }
            if word.len() < 2 {
                let next = prefix[start + 1..].chars().next();
                let foreign_letter = match word {
                    "w" => next != Some('/'),
                    "i" => !next.is_some_and(|c| c == '\'' || c == '’'),
                    _ => matches!(word, "z" | "k" | "o"),
                };
                foreign(&mut counts, 3 * usize::from(foreign_letter), false);
                continue;
            }
            lower.clear();
            lower.push_str(word);
            lower.make_ascii_lowercase();
            if SHARED_WORDS.contains(&lower.as_str()) {
                continue;
            }
            let known = ENGLISH_VOCABULARY.contains(lower.as_str());
            let name = capitalised && matches!(letter_case, LetterCase::Sentence) && !starts_sentence(&prefix[..start]);
            let english = |counts: &mut Vocabulary| {
                counts.english += 1;
                counts.lower_case_english += usize::from(!capitalised);
            };
            match MARKERS.get(word.as_bytes()) {
                ENGLISH => english(&mut counts),
                _ if ENGLISH_MARKER_HOMOGRAPHS.contains(&lower.as_str()) => {}
                kind if kind >= FOREIGN => foreign(&mut counts, 3 * usize::from(!(known && capitalised)), false),
                _ if known && !name => english(&mut counts),
                _ if known => {}
                _ => foreign(&mut counts, unknown_thirds, capitalised),
            }
        }
        counts
    }

    /// The words are English words: at least [`MIN_ENGLISH_WORDS`], and two and a half times
    /// the foreign evidence; or, in a text of [`MAX_WORDS_FOR_ONE_ENGLISH_WORD`] words, a single
    /// English word, in lower case, beside names and no foreign evidence at all ("Taiwan
    /// tensions", which whichlang gave as Dutch; not "Deutsche Bank in Not", whose capitalised
    /// "Not" may be German, nor "Tesla plant Gigafactory-Ausbau in Grünheide", names around a
    /// German word English shares). This reads headlines ("Rishi Sunak
    /// resigns", "Police arrest suspect in Paris stabbing"), which the models often miss: foreign
    /// text has its own lower-case words and function words, which English headlines lack.
    fn is_english(self) -> bool {
        self.english >= MIN_ENGLISH_WORDS && 2 * 3 * self.english >= 5 * self.foreign_thirds
            || self.words <= MAX_WORDS_FOR_ONE_ENGLISH_WORD
                && self.lower_case_english == 1
                && self.english == 1
                && self.foreign_thirds == 0
    }

    /// The words are plainly not English: two foreign words at least that are no names, and
    /// more than the English words.
    fn is_foreign(self) -> bool {
        self.foreign_words >= 2 && self.foreign_words > self.english
    }
}

enum LetterCase {
    Sentence,
    /// The words of four letters or more, at least [`MIN_TITLE_CASE_WORDS`] of them, all start
    /// with a capital ("Romania Protests Endure As President Says Country In Crisis").
    Title,
    /// No lower-case letter, and two words of four letters or more at least ("PRESYO NG
    /// GASOLINA").
    Capitals,
}

fn letter_case<'a>(words: impl Iterator<Item = &'a str>) -> LetterCase {
    let (mut long, mut capitals, mut title) = (0, true, true);
    for word in words {
        let is_long = word.chars().nth(3).is_some();
        title &= !is_long || word.chars().next().is_some_and(char::is_uppercase);
        capitals &= !word.chars().any(char::is_lowercase);
        long += usize::from(is_long);
    }
    match () {
        _ if capitals && long >= 2 => LetterCase::Capitals,
        _ if title && long >= MIN_TITLE_CASE_WORDS => LetterCase::Title,
        _ => LetterCase::Sentence,
    }
}

const MIN_TITLE_CASE_WORDS: usize = 4;

/// Whether a word after `before` starts a sentence: the text, a line, or what follows a full
/// stop, a question or exclamation mark, a colon or a dash ("Tennis: ...", "Live - ...").
fn starts_sentence(before: &str) -> bool {
    let before = before.trim_end_matches([' ', '\t', '"', '\'', '“', '‘', '(', '[']);
    before.is_empty() || before.ends_with(['.', '!', '?', ':', '\n', '\r', '-', '–', '—', '|'])
}

/// Words of English and of other languages alike: they count for neither side.
const SHARED_WORDS: &[&str] = &["in", "am", "no", "on", "as", "an", "is", "was", "do", "so", "me"];

/// Function words of other languages ([`FOREIGN_MARKERS`], [`RIVAL_MARKERS`]) that are common
/// English words: they count for neither side. The others count as foreign even when the word
/// list has them ("la", "es", "em").
#[rustfmt::skip]
const ENGLISH_MARKER_HOMOGRAPHS: &[&str] = &[
    "con", "den", "die", "fins", "met", "non", "op", "pas", "per", "pole", "pour", "till", "van",
];

/// Abbreviations of posts and messages that no word list has ("idk", "tbh", "tmrw"). Not "im"
/// and "af", German and Afrikaans words.
#[rustfmt::skip]
const CHAT_WORDS: &[&str] = &[
    "abt", "bc", "btw", "cant", "didnt", "doesnt", "doin", "dont", "gonna", "gotta", "hbd", "idc", "idk", "ily",
    "imo", "isnt", "lmao", "omg", "pls", "ppl", "rly", "rn", "sayin", "smh", "tbh", "thats", "thx", "tho",
    "tmrw", "wanna", "wont", "ur", "wyd",
];
const MIN_ENGLISH_WORDS: usize = 2;
/// Longest text a single English word among names can make English: a title of two or three
/// words has no room for two.
const MAX_WORDS_FOR_ONE_ENGLISH_WORD: usize = 3;

/// English words: SCOWL's size-50 lists, American and British, as Debian ships them
/// (`wamerican`, `wbritish`), the lower-case words of two ASCII letters or more (65k words,
/// 610 KB; the smaller size-35 lists miss "iconic" and "columnist"). Built into a set on first
/// use, which plainly English text never reaches.
static ENGLISH_VOCABULARY: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    let words = include_str!("data/english_words.txt").lines().filter(|line| !line.starts_with('#'));
    // And the words of VADER's lexicon: the slang of posts ("lol", "yay", "wtf", "ugh").
    let vader = super::sentiment::vader::VADER_LEXICON.lines().filter_map(|line| line.split('\t').next());
    let slang = vader.filter(|token| token.len() >= 2 && token.bytes().all(|b| b.is_ascii_lowercase()));
    words.chain(slang).chain(CHAT_WORDS.iter().copied()).collect()
});

const MIN_ENGLISH_MARKERS: usize = 4;
const ENGLISH_MARKER_SHARE: usize = 8;

#[rustfmt::skip]
const ENGLISH_MARKERS: [&str; 44] = [
    "the", "and", "to", "of", "that", "with", "this", "from", "have", "has", "had", "which", "were",
    "been", "would", "could", "should", "their", "they", "said", "says", "his", "its", "who", "she",
    "than", "there", "when", "what", "not", "but", "are", "about", "into", "after", "our", "you",
    "for", "by", "at", "it", "be", "he", "we",
];

/// Function words of German, French, Spanish, Italian, Portuguese, Dutch, Swedish and Turkish
/// (ASCII spellings; Vietnamese and the non-Latin scripts have no English markers to weigh).
#[rustfmt::skip]
const FOREIGN_MARKERS: [&str; 76] = [
    "der", "die", "und", "das", "ist", "nicht", "mit", "sich", "auf", "den", "dem", "ein", "eine",
    "le", "la", "les", "des", "et", "est", "une", "du", "que", "qui", "dans", "pour", "pas", "sur",
    "au", "el", "los", "las", "y", "en", "del", "por", "con", "para", "una", "se", "es", "il", "di",
    "che", "per", "non", "della", "gli", "os", "da", "em", "com", "de", "het", "een", "van", "dat",
    "op", "te", "zijn", "voor", "niet", "met", "och", "att", "det", "som", "av", "till", "inte",
    "ve", "bir", "bu", "ile", "nel", "sul", "aux",
];

/// Function words of the Latin-script languages whatlang knows and whichlang does not, with the
/// languages they point to (ASCII spellings). None is an English word or a common first name
/// (Hungarian `mint`, Slovene `bo`; Afrikaans `sal` is kept), nor one of [`FOREIGN_MARKERS`],
/// and words common in whichlang's languages are left out (Portuguese `na` and `ter`, French
/// `je`, Spanish `este` and `su`, German `die`, Dutch `veel`): text in those must not pay for
/// whatlang.
#[rustfmt::skip]
const RIVAL_MARKERS: [(&[&str], &[whatlang::Lang]); 20] = {
    use whatlang::Lang::*;
    [
        (&["yang", "dengan", "untuk", "tidak", "ini", "itu", "dari", "akan", "pada", "juga", "dalam",
           "oleh", "kepada", "adalah", "bahwa", "sudah", "telah", "karena", "atau", "mereka",
           "tersebut", "ialah", "kerana", "baharu"], &[Ind]),
        (&["ng", "mga", "ang", "ay", "nang", "ito", "hindi", "siya", "niya", "nila", "kanilang",
           "dahil", "upang", "lamang", "naman"], &[Tgl]),
        (&["sa"], &[Tgl, Slk, Hrv]),
        (&["joka", "jotka", "jossa", "kun", "mutta", "ovat", "kuin", "mukaan", "niin", "vuonna",
           "joilla", "jonka", "joita", "kanssa", "ensi", "olla", "ole", "koska", "jotta"], &[Fin]),
        (&["ja", "ei", "oli"], &[Fin, Est]),
        (&["ka", "kui", "aga", "ning", "mida", "seda", "kes", "nad", "mille",
           "koos", "kuid", "siis", "pole", "sest", "kus"], &[Est]),
        (&["els", "amb", "dels", "aquest", "aquesta", "pels", "pel", "seva", "seus", "molt", "fins",
           "anys", "avui"], &[Cat]),
        (&["vir", "hulle", "ek", "jy", "baie", "asook", "sal", "saam", "nuwe", "hierdie"], &[Afr]),
        (&["nie"], &[Afr, Pol]),
        (&["koji", "koja", "koje", "nije", "jer", "kao", "ili", "prema", "nakon", "tako", "biti",
           "samo", "sve"], &[Hrv]),
        (&["od", "za"], &[Hrv, Slv]),
        (&["ki", "tudi", "ker", "kot", "lahko", "zaradi", "naj", "vendar",
           "kar"], &[Slv]),
        (&["jsou", "jako", "podle", "byl", "bylo", "ktery"], &[Ces]),
        (&["aby"], &[Ces, Slk]),
        (&["ako", "podla", "bol", "ktory"], &[Slk]),
        (&["hogy", "egy", "az", "csak", "pedig"], &[Hun]),
        (&["pentru", "sunt", "fost", "cu", "pe", "dupa", "foarte", "acest", "aceasta"], &[Ron]),
        (&["og", "ikke", "jeg"], &[Dan, Nob]),
        (&["wedi", "yn", "roedd", "hefyd"], &[Cym]),
        (&["ukuthi", "futhi", "kanye", "ngoba"], &[Zul]),
    ]
};

const ENGLISH: u8 = 1;
const FOREIGN: u8 = 2;
/// The kind of the words of `RIVAL_MARKERS[i]` is `FIRST_RIVAL + i`.
const FIRST_RIVAL: u8 = 3;

/// The marker words, lower case, in an open-addressing table built at compile time: a word of
/// up to eight ASCII letters is one `u64`, so a lookup is a multiply and a compare or two.
static MARKERS: MarkerTable = MarkerTable::new();

/// Longer words are no marker.
const MAX_MARKER_LEN: usize = 8;
const MARKER_SLOTS: usize = 512;

struct MarkerTable {
    keys: [u64; MARKER_SLOTS],
    kinds: [u8; MARKER_SLOTS],
}

impl MarkerTable {
    const fn new() -> Self {
        let mut table = MarkerTable { keys: [0; MARKER_SLOTS], kinds: [0; MARKER_SLOTS] };
        let mut group = 0;
        while group < RIVAL_MARKERS.len() {
            let words = RIVAL_MARKERS[group].0;
            let mut i = 0;
            while i < words.len() {
                table.insert(words[i].as_bytes(), FIRST_RIVAL + group as u8);
                i += 1;
            }
            group += 1;
        }
        let mut i = 0;
        while i < ENGLISH_MARKERS.len() {
            table.insert(ENGLISH_MARKERS[i].as_bytes(), ENGLISH);
            i += 1;
        }
        let mut i = 0;
        while i < FOREIGN_MARKERS.len() {
            table.insert(FOREIGN_MARKERS[i].as_bytes(), FOREIGN);
            i += 1;
        }
        table
    }

    /// Letters lower-cased into the low bytes; 0 is never a key.
    const fn key(word: &[u8]) -> u64 {
        let mut key = 0u64;
        let mut i = 0;
        while i < word.len() {
            key |= ((word[i] | 0x20) as u64) << (8 * i);
            i += 1;
        }
        key
    }

    const fn slot(key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MARKER_SLOTS.trailing_zeros())) as usize
    }

    const fn insert(&mut self, word: &[u8], kind: u8) {
        assert!(word.len() <= MAX_MARKER_LEN, "a marker word is longer than a key holds");
        let key = Self::key(word);
        let mut slot = Self::slot(key);
        while self.keys[slot] != 0 {
            assert!(self.keys[slot] != key, "a marker word is listed twice");
            slot = (slot + 1) % MARKER_SLOTS;
        }
        self.keys[slot] = key;
        self.kinds[slot] = kind;
    }

    /// The kind of an ASCII-letter word, 0 when it is no marker.
    fn get(&self, word: &[u8]) -> u8 {
        if word.len() > MAX_MARKER_LEN {
            return 0;
        }
        let key = Self::key(word);
        let mut slot = Self::slot(key);
        loop {
            match self.keys[slot] {
                0 => return 0,
                k if k == key => return self.kinds[slot],
                _ => slot = (slot + 1) % MARKER_SLOTS,
            }
        }
    }
}

fn iso639_1(lang: whichlang::Lang) -> &'static str {
    whatlang_iso639_1(whichlang_to_whatlang(lang))
}

fn whichlang_to_whatlang(lang: whichlang::Lang) -> whatlang::Lang {
    use whatlang::Lang as W;
    use whichlang::Lang::*;
    match lang {
        Ara => W::Ara,
        Cmn => W::Cmn,
        Deu => W::Deu,
        Eng => W::Eng,
        Fra => W::Fra,
        Hin => W::Hin,
        Ita => W::Ita,
        Jpn => W::Jpn,
        Kor => W::Kor,
        Nld => W::Nld,
        Por => W::Por,
        Rus => W::Rus,
        Spa => W::Spa,
        Swe => W::Swe,
        Tur => W::Tur,
        Vie => W::Vie,
    }
}

#[rustfmt::skip]
fn whatlang_iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Afr => "af", Aka => "ak", Amh => "am", Ara => "ar", Aze => "az", Bel => "be", Ben => "bn",
        Bul => "bg", Cat => "ca", Ces => "cs", Cmn => "zh", Cym => "cy", Dan => "da", Deu => "de", Ell => "el",
        Eng => "en", Epo => "eo", Est => "et", Fin => "fi", Fra => "fr", Guj => "gu", Heb => "he",
        Hin => "hi", Hrv => "hr", Hun => "hu", Hye => "hy", Ind => "id", Ita => "it", Jav => "jv",
        Jpn => "ja", Kan => "kn", Kat => "ka", Khm => "km", Kor => "ko", Lat => "la", Lav => "lv",
        Lit => "lt", Mal => "ml", Mar => "mr", Mkd => "mk", Mya => "my", Nep => "ne", Nld => "nl",
        Nob => "nb", Ori => "or", Pan => "pa", Pes => "fa", Pol => "pl", Por => "pt", Ron => "ro",
        Rus => "ru", Sin => "si", Slk => "sk", Slv => "sl", Sna => "sn", Spa => "es", Srp => "sr",
        Swe => "sv", Tam => "ta", Tel => "te", Tgl => "tl", Tha => "th", Tuk => "tk", Tur => "tr",
        Ukr => "uk", Urd => "ur", Uzb => "uz", Vie => "vi", Yid => "yi", Zul => "zu",
    }
}

/// ISO 639-2 codes (bibliographic and terminological) and ISO 639-3 macrolanguage members of
/// languages with an ISO 639-1 code, for the languages of news in some volume.
#[rustfmt::skip]
const THREE_LETTER_CODES: &[(&str, &str)] = &[
    ("afr", "af"), ("alb", "sq"), ("amh", "am"), ("ara", "ar"), ("arb", "ar"), ("arm", "hy"),
    ("aze", "az"), ("baq", "eu"), ("bel", "be"), ("ben", "bn"), ("bos", "bs"), ("bul", "bg"),
    ("bur", "my"), ("cat", "ca"), ("ces", "cs"), ("chi", "zh"), ("cmn", "zh"), ("cym", "cy"),
    ("cze", "cs"), ("dan", "da"), ("deu", "de"), ("dut", "nl"), ("ell", "el"), ("eng", "en"),
    ("est", "et"), ("eus", "eu"), ("fas", "fa"), ("fin", "fi"), ("fra", "fr"), ("fre", "fr"),
    ("geo", "ka"), ("ger", "de"), ("gle", "ga"), ("glg", "gl"), ("gre", "el"), ("guj", "gu"),
    ("hau", "ha"), ("heb", "he"), ("hin", "hi"), ("hrv", "hr"), ("hun", "hu"), ("hye", "hy"),
    ("ibo", "ig"), ("ice", "is"), ("ind", "id"), ("isl", "is"), ("ita", "it"), ("jpn", "ja"),
    ("kan", "kn"), ("kat", "ka"), ("kaz", "kk"), ("khm", "km"), ("kor", "ko"), ("lao", "lo"),
    ("lav", "lv"), ("lit", "lt"), ("mac", "mk"), ("mal", "ml"), ("mar", "mr"), ("may", "ms"),
    ("mkd", "mk"), ("mon", "mn"), ("msa", "ms"), ("mya", "my"), ("nep", "ne"), ("nld", "nl"),
    ("nno", "nn"), ("nob", "nb"), ("nor", "no"), ("pan", "pa"), ("per", "fa"), ("pes", "fa"),
    ("pol", "pl"), ("por", "pt"), ("pus", "ps"), ("ron", "ro"), ("rum", "ro"), ("rus", "ru"),
    ("sin", "si"), ("slk", "sk"), ("slo", "sk"), ("slv", "sl"), ("som", "so"), ("spa", "es"),
    ("sqi", "sq"), ("srp", "sr"), ("swa", "sw"), ("swe", "sv"), ("swh", "sw"), ("tam", "ta"),
    ("tel", "te"), ("tgl", "tl"), ("tha", "th"), ("tur", "tr"), ("ukr", "uk"), ("urd", "ur"),
    ("uzb", "uz"), ("vie", "vi"), ("wel", "cy"), ("yor", "yo"), ("zho", "zh"), ("zsm", "ms"),
    ("zul", "zu"),
];

/// Normalises a declared language tag (`"EN"`, `"en-US"`, `"eng"`) to ISO 639-1 when possible:
/// three-letter codes of [`THREE_LETTER_CODES`] and the withdrawn `iw`, `in`, `ji` are mapped,
/// other codes of two or three letters kept as declared. The codes that name no language
/// (`und` undetermined, `mul` several, `zxx` no linguistic content, `mis` uncoded) give `None`,
/// so the text is detected instead.
pub fn normalize_declared(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mapped = match primary.as_str() {
        "und" | "mul" | "zxx" | "mis" => return None,
        "iw" => "he",
        "in" => "id",
        "ji" => "yi",
        three if three.len() == 3 => match THREE_LETTER_CODES.binary_search_by_key(&three, |&(code, _)| code) {
            Ok(i) => THREE_LETTER_CODES[i].1,
            Err(_) => three,
        },
        two => two,
    };
    Some(mapped.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_and_others() {
        assert_eq!(detect("The secretary of state met the Chinese president in Beijing on Monday."), Some("en"));
        assert_eq!(detect("Der Außenminister traf am Montag den chinesischen Präsidenten in Peking."), Some("de"));
        assert_eq!(detect("Le secrétaire d'État a rencontré lundi le président chinois à Pékin."), Some("fr"));
        assert_eq!(detect("国务卿周一在北京会见了中国国家主席习近平，双方讨论了台湾问题。"), Some("zh"));
    }

    /// News prose in the Latin-script languages whichlang knows, some quoting English: none is
    /// plainly English, so all go to the model.
    const NOT_ENGLISH: [(&str, &str); 10] = [
        ("de", "Der US-Außenminister hat am Montag in Peking den chinesischen Staatschef getroffen. Beide Seiten wollen die Spannungen abbauen, aber einen Durchbruch gab es nicht. „The talks were candid“, sagte er, als er über Taiwan und die Lage in der Region sprach."),
        ("fr", "Le secrétaire d'État américain a rencontré lundi à Pékin le président chinois. Les deux pays veulent stabiliser leurs relations, mais aucune percée n'a été annoncée. On a parlé de Taïwan, du fentanyl et des communications militaires, a-t-il dit aux journalistes."),
        ("es", "El secretario de Estado de Estados Unidos se reunió el lunes en Pekín con el presidente chino. Ambos países quieren estabilizar sus relaciones, pero no se anunció ningún avance. Hablaron de Taiwán, del fentanilo y de las comunicaciones militares, dijo a los periodistas."),
        ("it", "Il segretario di Stato americano ha incontrato lunedì a Pechino il presidente cinese. I due paesi vogliono stabilizzare le relazioni, ma non è stata annunciata alcuna svolta. Hanno parlato di Taiwan, del fentanyl e delle comunicazioni militari, ha detto ai giornalisti."),
        ("pt", "O secretário de Estado americano encontrou-se na segunda-feira em Pequim com o presidente chinês. Os dois países querem estabilizar as relações, mas não foi anunciado nenhum avanço. Falaram de Taiwan, do fentanil e das comunicações militares, disse aos jornalistas."),
        ("nl", "De Amerikaanse minister van Buitenlandse Zaken heeft maandag in Peking de Chinese president ontmoet. Beide landen willen de betrekkingen stabiliseren, maar er is geen doorbraak aangekondigd. Het ging over Taiwan, fentanyl en militaire communicatie, zei hij tegen journalisten."),
        ("sv", "USA:s utrikesminister träffade på måndagen Kinas president i Peking. Båda länderna vill stabilisera relationerna, men något genombrott tillkännagavs inte. De talade om Taiwan, fentanyl och militär kommunikation, sade han till journalister efter mötet."),
        ("tr", "ABD Dışişleri Bakanı pazartesi günü Pekin'de Çin Devlet Başkanı ile görüştü. İki ülke ilişkileri istikrara kavuşturmak istiyor, ancak herhangi bir atılım açıklanmadı. Tayvan, fentanil ve askeri iletişim konuşuldu, dedi gazetecilere yaptığı açıklamada."),
        ("vi", "Ngoại trưởng Mỹ đã gặp Chủ tịch Trung Quốc tại Bắc Kinh vào thứ Hai. Hai nước muốn ổn định quan hệ, nhưng không có đột phá nào được công bố. Họ đã thảo luận về Đài Loan, fentanyl và liên lạc quân sự, ông nói với các phóng viên."),
        ("de", "Die Regierung in Taipeh reagierte am Dienstag auf die Manöver. „We will not be intimidated and we have the support of our friends“, sagte die Präsidentin in einer Rede vor dem Parlament, die im ganzen Land übertragen wurde."),
    ];

    #[test]
    fn other_languages_are_not_plainly_english() {
        for (lang, text) in NOT_ENGLISH {
            assert!(!is_plainly_english(detection_prefix(text).unwrap()), "{lang}: {text:.40}");
            assert_eq!(detect(text), Some(lang), "{text:.40}");
        }
    }

    #[test]
    fn running_english_is_plainly_english_and_the_model_agrees() {
        for text in [
            "The secretary of state met the Chinese president in Beijing on Monday, and both sides said they would keep talking about Taiwan.",
            "BEIJING (Reuters) - China said on Tuesday that it had not been told about the plan, which officials in Washington have defended as routine.",
        ] {
            assert!(is_plainly_english(text), "{text:.40}");
            assert_eq!(detect_by_model(text), Some("en"));
        }
        // Headline-like English without function words is read by its vocabulary.
        assert!(!is_plainly_english("Blinken meets Xi in Beijing amid tensions over Taiwan, fentanyl"));
        assert_eq!(detect("Blinken meets Xi in Beijing amid tensions over Taiwan, fentanyl"), Some("en"));
    }

    #[test]
    fn headlines_are_read_by_their_vocabulary() {
        // Each of these went to the models, which gave the language in the comment.
        for headline in [
            "Blinken meets Xi in Beijing amid tensions",          // nl
            "Biden signs chips act",                              // fr
            "Police arrest suspect in Paris stabbing",            // fr
            "Fentanyl seizures soar at border",                   // de
            "Manchester tram racist abuse man jailed",            // de
            "Erdoğan hails Ankara vote",                          // tr: a name with letters outside ASCII
            "Iconic New York Columnist Jimmy Breslin Dead At 88", // fr: title case, names
            "BRITAIN VOTES TO LEAVE",                             // fr: in capitals
            "Taiwan tensions",                                    // nl: one English word and a name
            "Xi Jinping visits",                                  // one English word and names
        ] {
            assert_eq!(detect(headline), Some("en"), "{headline}");
        }
    }

    #[test]
    fn foreign_headlines_with_english_looking_words_stay_foreign() {
        for headline in [
            "Neuer Manager für den Hamburger SV", // manager, hamburger; für counts twice
            "Max Verstappen Wint Grand Prix Van Zandvoort", // title case: the names count a third
            "Inflacja w Polsce spada",            // a single foreign letter
            "Real Madrid gana la final de Copa",
            "Regierung plant neue Steuer",
            "GREVE DOS PROFESSORES PARALISA ESCOLAS", // in capitals: capitals say nothing
            "Le président en visite à Pékin",
            // Words English shares with the language: a review found these read as English.
            "Deutsche Bank in Not",
            "Rugby: la France bat l'Irlande",
            "Brand in Hamburger Hotel: zwei Tote",
            "Man dog i brand i Malmö",
            "Chaos am Airport: Tausende Passagiere gestrandet",
            "Tesla plant Gigafactory-Ausbau in Grünheide",
        ] {
            assert_ne!(detect(headline), Some("en"), "{headline}");
        }
        // Lower-case words that are not English, in languages whichlang does not know: whatlang,
        // not whichlang's English.
        assert_eq!(detect("Ny manager skal redde Carlsberg"), Some("da"));
        assert_eq!(detect("Flere danskere streamer tv end nogensinde"), Some("da"));
        assert_ne!(detect("Presiden Prabowo lantik menteri kabinet baru"), Some("en"));
    }

    #[test]
    fn posts_stay_english() {
        // Slang from VADER's lexicon, web addresses, mentions and hashtags: no foreign words.
        for post in [
            "@anonymous yay yay yay. Yay yay yay. Repeat a few more times.",
            "omfg, seth rogen on dawson's creek?! wtf. wtf. WTF.",
            "Thanks sammy http://url_removed #blessed",
            "idc abt the haters tbh",
            "kubectl apply fails w/ ErrImagePull on k8s",
        ] {
            assert_eq!(detect(post), Some("en"), "{post}");
        }
        // Title case and names are no evidence against whichlang's English.
        assert_eq!(detect(&format!("Long\n{}", "Taiwan ".repeat(100))), Some("en"));
    }

    #[test]
    fn vocabulary_counts() {
        let counts = |text: &str| {
            let v = Vocabulary::of(text);
            (v.english, v.foreign_thirds)
        };
        assert_eq!(counts("Putin warns NATO"), (1, 0)); // one English word: the models decide
        assert_eq!(counts("Biden’s trade war"), (2, 0)); // the possessive "s" is no foreign letter
        assert_eq!(counts("Inflacja w Polsce spada"), (0, 6));
        // Capitalised inside a sentence: a name or a German noun; "den" counts for neither.
        assert_eq!(counts("Neuer Manager für den Hamburger SV"), (0, 6));
        assert_eq!(counts("Police arrest suspect in Paris stabbing"), (4, 0)); // "in" is both sides'
        assert_eq!(counts("Rugby: la France bat l'Irlande"), (2, 3)); // "la" is foreign, if a word
        assert_eq!(counts("Brazil Floods Leave Porto Alegre Underwater"), (3, 3)); // title case
        assert_eq!(counts("PRESYO NG GASOLINA"), (0, 9)); // capitals
    }

    /// News in languages whichlang does not know, which it gave as one of its own (Greek,
    /// Hebrew and Thai as Vietnamese, Ukrainian and Bulgarian as Russian, Persian and Urdu as
    /// Arabic, Polish as Turkish, Romanian as Italian, Hungarian as Swedish).
    const BEYOND_WHICHLANG: [(&str, &str); 14] = [
        ("el", "Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία. Ο πρωθυπουργός δήλωσε ότι η χώρα θα συνεχίσει τις μεταρρυθμίσεις."),
        ("he", "הממשלה הודיעה על צעדים חדשים בכלכלה. ראש הממשלה אמר כי המדינה תמשיך ברפורמות ובשיתוף הפעולה עם שותפיה."),
        ("th", "รัฐบาลประกาศมาตรการใหม่เพื่อเศรษฐกิจ นายกรัฐมนตรีกล่าวว่าประเทศจะเดินหน้าปฏิรูปต่อไป"),
        ("uk", "Уряд України ухвалив нове рішення щодо енергетики. Прем'єр-міністр заявив, що країна продовжить реформи та співпрацю з партнерами."),
        ("bg", "Правителството на България обяви нови мерки. Министър-председателят заяви, че държавата ще продължи реформите в съда."),
        ("fa", "دولت ایران برنامه جدیدی برای اقتصاد اعلام کرد. رئیس جمهور گفت که کشور به اصلاحات ادامه خواهد داد و با شرکای خود همکاری می‌کند."),
        ("ur", "پاکستان کی حکومت نے نئی پالیسی کا اعلان کیا۔ وزیر اعظم نے کہا کہ ملک اصلاحات جاری رکھے گا اور شراکت داروں کے ساتھ تعاون کرے گا۔"),
        ("pl", "Rząd ogłosił nowe środki dotyczące gospodarki. Premier powiedział, że kraj będzie kontynuował reformy i współpracę z partnerami."),
        ("cs", "Vláda oznámila nová opatření pro hospodářství. Premiér řekl, že země bude pokračovat v reformách a spolupráci s partnery."),
        ("ro", "Guvernul a anunțat noi măsuri pentru economie. Premierul a declarat că țara va continua reformele și cooperarea cu partenerii."),
        ("hu", "A kormány új intézkedéseket jelentett be a gazdaság érdekében. A miniszterelnök közölte, hogy az ország folytatja a reformokat és az együttműködést."),
        ("hr", "Vlada je najavila nove mjere za gospodarstvo. Premijer je rekao da će zemlja nastaviti s reformama i suradnjom s partnerima."),
        ("hi", "सरकार ने अर्थव्यवस्था के लिए नए उपायों की घोषणा की। प्रधानमंत्री ने कहा कि देश सुधार और साझेदारों के साथ सहयोग जारी रखेगा।"),
        ("da", "Regeringen har fremlagt et nyt forslag om økonomien. Statsministeren sagde, at landet vil fortsætte reformerne og samarbejdet med sine partnere."),
    ];

    #[test]
    fn languages_whichlang_does_not_know_go_to_whatlang() {
        for (lang, text) in BEYOND_WHICHLANG {
            assert_eq!(detect(text), Some(lang), "{text:.40}");
        }
        // The languages whichlang knows in the scripts they share keep their answer.
        let russian =
            "Правительство России объявило о новых мерах. Премьер-министр заявил, что страна продолжит реформы.";
        assert_eq!(detect(russian), Some("ru"));
        let arabic =
            "أعلنت الحكومة عن إجراءات جديدة للاقتصاد. قال رئيس الوزراء إن البلاد ستواصل الإصلاحات والتعاون مع الشركاء.";
        assert_eq!(detect(arabic), Some("ar"));
        // A letter from beyond its alphabets in text of a language whichlang knows (a Polish
        // name in French) sends it to whatlang, which agrees.
        let french = "Le président Lech Wałęsa a rencontré lundi les syndicats à Gdańsk pour parler des salaires et des réformes.";
        assert_eq!(detect(french), Some("fr"));
        // Names in English headlines, and Russian words with a hard sign, keep their language.
        for (lang, text) in [
            ("en", "Grzegorz Schetyna, Donald Tusk and Jarosław Kaczyński clash in Warsaw"),
            ("en", "Lars Løkke Rasmussen wins vote on budget as opposition splits"),
            ("en", "Ivan Šimonović says UN will send monitors to the region"),
            ("ru", "Объявлен конкурс на строительство моста через реку"),
            ("ru", "Полиция изъяла партию наркотиков на границе"),
            ("bg", "Правителството на България обяви нови мерки"),
            ("pl", "Rząd ogłosił nowe środki dotyczące gospodarki"),
            ("ro", "Guvernul a anunțat noi măsuri pentru economie"),
        ] {
            assert_eq!(detect(text), Some(lang), "{text}");
        }
    }

    /// News in Latin-script languages that have no letters of their own whichlang lacks: before
    /// function words counted, Indonesian came out Turkish, Tagalog English (and took English
    /// sentiment), Finnish and Estonian Swedish, Catalan Spanish, Afrikaans Dutch.
    const BY_FUNCTION_WORDS: [(&str, &str); 12] = [
        ("id", "Presiden Joko Widodo meresmikan jalan tol baru yang menghubungkan dua kota besar di Jawa. Proyek ini diharapkan dapat mengurangi kemacetan dan mempercepat distribusi barang."),
        ("id", "Perdana Menteri berkata kerajaan akan memperkenalkan langkah baharu bagi membantu rakyat yang terjejas akibat banjir di beberapa negeri."),
        ("tl", "Nagbabala ang PAGASA na lalakas pa ang bagyo habang papalapit ito sa hilagang Luzon, kaya pinayuhan ang mga residente na lumikas na."),
        ("tl", "Sinabi ng Pangulo na hindi niya papayagan ang anumang panghihimasok sa teritoryo ng bansa sa West Philippine Sea."),
        ("fi", "Suomen hallitus ja opposition puolueet eivät päässeet sopuun budjetista, mutta neuvottelut jatkuvat ensi viikolla."),
        ("fi", "Hallitus ilmoitti tiistaina uusista toimista, joilla pyritään hillitsemään hintojen nousua. Ministerin mukaan päätökset tehdään ensi viikolla eduskunnan kanssa."),
        ("et", "Valitsus teatas teisipäeval uutest meetmetest, mille eesmärk on piirata hindade tõusu. Ministri sõnul tehakse otsused järgmisel nädalal koos parlamendiga."),
        ("ca", "La policia ha detingut tres persones per la seva relació amb el robatori d'una joieria al centre de Barcelona, segons ha informat el cos."),
        ("af", "Die polisie het drie verdagtes in hegtenis geneem nadat hulle 'n motor gesteel het, het 'n woordvoerder gesê. Hulle sal Maandag in die hof verskyn."),
        ("hr", "Policija je uhitila trojicu osumnjicenih koji su opljackali banku u centru grada, a jedan od njih je ranjen tijekom bijega."),
        ("sl", "Vlada je sprejela nove ukrepe, ki naj bi zmanjsali cene energije, vendar opozicija trdi, da so prepozni in premalo ucinkoviti."),
        ("ro", "Presedintele a declarat ca tara va continua sa sprijine Ucraina si ca sanctiunile impotriva Rusiei trebuie mentinute pentru ca sunt eficiente."),
    ];

    #[test]
    fn latin_languages_without_letters_of_their_own_go_by_function_words() {
        for (lang, text) in BY_FUNCTION_WORDS {
            assert_eq!(detect(text), Some(lang), "{text:.40}");
        }
        // English naming people whose names are such words stays English, and so does English
        // quoting two of them.
        for text in [
            "Su Tseng-chang and Ang Lee: Alipay gets warm welcome in Santa's hometown",
            "Su Tseng-chang and Ang Lee: Bundesliga matchday 19: Talking points",
            "Su Tseng-chang met Ang Lee and Ng Chee-meng in Taipei on Monday to discuss the film festival and trade ties with Singapore.",
            "Filipino workers sang 'Ang Bayan Ko' as they marched to the palace, and the crowd chanted 'hindi kami aalis' until the evening.",
        ] {
            assert_eq!(detect(text), Some("en"), "{text}");
        }
        // whichlang's own languages do not pay for whatlang: their text has fewer than two of
        // those words.
        for (lang, text) in NOT_ENGLISH {
            assert!(rivals_by_word(text).rivals.is_empty(), "{lang}: {text:.40}");
            assert_eq!(detect(text), Some(lang));
        }
    }

    /// An English article whose first 256 bytes are mostly foreign names is English by a longer
    /// look; a foreign article that quotes English further on is not.
    #[test]
    fn an_opening_of_foreign_names_gets_a_longer_look() {
        let text = "Venezuela: Maduro vs López\nNicolás Maduro's Partido Socialista Unido de Venezuela lost \
                    ground to Voluntad Popular in Caracas, as Leopoldo López and María Corina Machado of Vente \
                    Venezuela rallied in the Plaza de la Libertad. The two candidates clashed over the economy, \
                    immigration and the future of the country in a bitter two-hour debate watched by millions \
                    of voters. Polls taken after the debate showed that most viewers thought he had won, and his \
                    lead in the race for the second round widened to more than twenty points. His rival said \
                    she was proud of her performance and that she would keep fighting until the last day.";
        assert_eq!(detect(text), Some("en"));
        assert_ne!(detect_by_model(text), Some("en"), "the case: the first 256 bytes read as Spanish");
        let spanish = "El presidente dijo el lunes que el gobierno no va a permitir ninguna interferencia en \
                       el territorio del país y que defenderá su soberanía frente a las presiones. ";
        let quote = "\"We will not accept this, and we have told them so,\" he said in English to the reporters who were there. ";
        let text = format!("{spanish}{spanish}{quote}{quote}{quote}");
        assert_eq!(detect(&text), Some("es"));
    }

    #[test]
    fn too_short_is_unknown() {
        assert_eq!(detect("Hi!"), None);
        assert_eq!(detect("12345 67890 !!!"), None);
        assert_eq!(detect("Stocks surge"), None, "eleven Latin letters");
        assert_eq!(detect("Мир 2017 !"), None, "three letters, even of another script");
    }

    #[test]
    fn short_text_mostly_in_another_script_is_detected() {
        assert_eq!(detect("台湾地震造成重大伤亡"), Some("zh"));
        assert_eq!(detect("台風が接近"), Some("ja"));
        assert_eq!(detect("북한 미사일 발사"), Some("ko"));
        assert_eq!(detect("Обвал рынка"), Some("ru"));
        // Latin letters in the majority: still too short to tell.
        assert_eq!(detect("Taiwan 台湾"), None);
        assert_eq!(detect("Mỹ và Trung"), None, "Vietnamese letters are Latin");
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let text = "é".repeat(5000);
        let _ = detect(&text); // must not panic on a multi-byte boundary
    }

    #[test]
    fn normalizes_declared_tags() {
        assert_eq!(normalize_declared("EN-us").as_deref(), Some("en"));
        assert_eq!(normalize_declared("ger").as_deref(), Some("de"));
        assert_eq!(normalize_declared("english"), None);
        for (declared, code) in [("jpn", "ja"), ("KOR", "ko"), ("por-BR", "pt"), ("iw", "he"), ("zh-Hant", "zh")] {
            assert_eq!(normalize_declared(declared).as_deref(), Some(code), "{declared}");
        }
        // Kept as declared: a two-letter code, a three-letter one without a two-letter code.
        assert_eq!(normalize_declared("xx").as_deref(), Some("xx"));
        assert_eq!(normalize_declared("yue").as_deref(), Some("yue"));
        // Codes that name no language leave the language to detection.
        for no_language in ["und", "mul", "zxx", "MIS"] {
            assert_eq!(normalize_declared(no_language), None, "{no_language}");
        }
        assert!(THREE_LETTER_CODES.windows(2).all(|w| w[0].0 < w[1].0), "sorted, for the binary search");
        // Three bytes that are not letters are no language: the text is detected instead.
        for junk in ["\u{1}<>", "e\0n", "123-xx", "é"] {
            assert_eq!(normalize_declared(junk), None, "{junk:?}");
        }
    }
}
