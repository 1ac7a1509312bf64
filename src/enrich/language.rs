//! Language detection (whichlang: 16 major languages, a linear model over character n-grams,
//! about a microsecond per kilobyte). Returns ISO 639-1 codes.

/// How much text the detector looks at: the title and the first paragraphs decide the language,
/// and bounding it keeps the cost flat for long articles.
const DETECTION_PREFIX_BYTES: usize = 256;

/// Texts with fewer letters than this are too short to detect reliably; we return `None`.
const MIN_LETTERS: usize = 12;

/// Detects the language of `text`, or `None` when the text is too short to tell.
pub fn detect(text: &str) -> Option<&'static str> {
    let mut end = text.len().min(DETECTION_PREFIX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &text[..end];
    if prefix.chars().filter(|c| c.is_alphabetic()).take(MIN_LETTERS).count() < MIN_LETTERS {
        return None;
    }
    Some(iso639_1(whichlang::detect_language(prefix)))
}

fn iso639_1(lang: whichlang::Lang) -> &'static str {
    use whichlang::Lang::*;
    match lang {
        Ara => "ar",
        Cmn => "zh",
        Deu => "de",
        Eng => "en",
        Fra => "fr",
        Hin => "hi",
        Ita => "it",
        Jpn => "ja",
        Kor => "ko",
        Nld => "nl",
        Por => "pt",
        Rus => "ru",
        Spa => "es",
        Swe => "sv",
        Tur => "tr",
        Vie => "vi",
    }
}

/// Normalises a declared language tag (`"EN"`, `"en-US"`, `"eng"`) to ISO 639-1 when possible.
pub fn normalize_declared(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.len() {
        2 if primary.chars().all(|c| c.is_ascii_alphabetic()) => Some(primary),
        3 => Some(match primary.as_str() {
            "eng" => "en".into(),
            "deu" | "ger" => "de".into(),
            "fra" | "fre" => "fr".into(),
            "spa" => "es".into(),
            "zho" | "chi" | "cmn" => "zh".into(),
            "rus" => "ru".into(),
            other => other.into(),
        }),
        _ => None,
    }
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

    #[test]
    fn too_short_is_unknown() {
        assert_eq!(detect("Hi!"), None);
        assert_eq!(detect("12345 67890 !!!"), None);
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
    }
}
