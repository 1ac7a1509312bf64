//! Unit tests, one or more per rule of the taxonomy: phrase matching, variants, boundaries,
//! regexes, context rules, exclusions, title weight, density, threshold, and validation errors
//! that name the file, the tag and the line.

use super::*;
use crate::enrich::text::{combine, Document};

/// A one-tag taxonomy: `tag_body` is everything after the `[[tag]]` header's id/label/description.
fn one_tag(tag_body: &str) -> String {
    format!("version = \"t1\"\n\n[[tag]]\nid = \"t\"\nlabel = \"T\"\ndescription = \"test tag\"\n{tag_body}")
}

fn tax(src: &str) -> Taxonomy {
    match Taxonomy::from_toml_str(src, "test.toml") {
        Ok(t) => t,
        Err(e) => panic!("taxonomy should be valid: {e}\n{src}"),
    }
}

fn err(src: &str) -> String {
    Taxonomy::from_toml_str(src, "test.toml").expect_err("taxonomy should be invalid").to_string()
}

/// Every tag with evidence (passing or not) for `title` + `body`.
fn cands(t: &Taxonomy, title: &str, body: &str) -> Vec<TagMatch> {
    let (full, title_len) = combine(title, body);
    t.candidates(&Document::new(&full, title_len))
}

fn tagged(t: &Taxonomy, title: &str, body: &str) -> Vec<TagMatch> {
    let (full, title_len) = combine(title, body);
    t.tag(&Document::new(&full, title_len))
}

/// Evidence of tag `id` as (term, count), or empty.
fn terms(t: &Taxonomy, id: &str, title: &str, body: &str) -> Vec<(String, u32)> {
    cands(t, title, body)
        .into_iter()
        .find(|m| m.id == id)
        .map(|m| m.evidence.into_iter().map(|e| (e.term, e.count)).collect())
        .unwrap_or_default()
}

fn score(t: &Taxonomy, id: &str, title: &str, body: &str) -> f64 {
    cands(t, title, body).into_iter().find(|m| m.id == id).map_or(0.0, |m| m.score)
}

/// A neutral filler sentence without any phrase of the test taxonomies.
const FILLER: &str = "The committee met on Tuesday and discussed the budget for the coming year. ";

fn filler(bytes: usize) -> String {
    FILLER.repeat(bytes / FILLER.len() + 1)
}

const SIMPLE: &str = r#"
[tag.terms.name]
weight = 1.5
phrases = ["taiwan", "taiwanese", "u.s.", "people's liberation army", "military-to-military"]
"#;

// ---------------------------------------------------------------------------------------------
// Phrases

#[test]
fn phrases_match_case_insensitively_as_whole_words() {
    let t = tax(&one_tag(SIMPLE));
    assert_eq!(terms(&t, "t", "", "TAIWAN and Taiwan's and pro-Taiwan"), vec![("taiwan".to_owned(), 3)]);
    assert!(terms(&t, "t", "", "Taiwanx and ataiwan and taiwan2").is_empty());
    assert_eq!(terms(&t, "t", "", "Taiwanese"), vec![("taiwanese".to_owned(), 1)]);
}

#[test]
fn phrases_match_next_to_typographic_quotes_and_non_ascii_letters_block_them() {
    let t = tax(&one_tag(SIMPLE));
    assert_eq!(terms(&t, "t", "", "“Taiwan” — ‘Taiwan’"), vec![("taiwan".to_owned(), 2)]);
    assert!(terms(&t, "t", "", "éTaiwan Taiwané").is_empty());
}

#[test]
fn hyphens_match_spaces_and_en_dashes_and_apostrophes_match_typographic_ones() {
    let t = tax(&one_tag(SIMPLE));
    let got = terms(&t, "t", "", "military to military, military–to–military, Military-To-Military");
    assert_eq!(got, vec![("military-to-military".to_owned(), 3)]);
    let got = terms(&t, "t", "", "the People’s Liberation Army and the People's Liberation Army");
    assert_eq!(got, vec![("people's liberation army".to_owned(), 2)]);
}

#[test]
fn a_written_space_matches_only_a_space() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"trade war\"]\n"));
    assert_eq!(terms(&t, "t", "", "a trade war, a trade-war"), vec![("trade war".to_owned(), 1)]);
}

#[test]
fn phrases_ending_in_punctuation_need_no_boundary_after_them() {
    let t = tax(&one_tag(SIMPLE));
    assert_eq!(terms(&t, "t", "", "U.S.-led and the U.S."), vec![("u.s.".to_owned(), 2)]);
}

#[test]
fn the_longest_phrase_wins_within_a_tag() {
    let t = tax(&one_tag(
        "[tag.terms.a]\nweight = 1.0\nphrases = [\"taiwan\"]\n[tag.terms.b]\nweight = 3.0\nphrases = [\"taiwan strait\"]\n",
    ));
    let got = terms(&t, "t", "", "ships in the Taiwan Strait near Taiwan");
    assert_eq!(got, vec![("taiwan strait".to_owned(), 1), ("taiwan".to_owned(), 1)]);
}

/// Text wrapped at a fixed width (e-mail, wire feeds) breaks lines inside sentences: a phrase
/// across such a break matches, as the sentence goes on past it; not across a break that ends a
/// sentence (a line going on with a capital, a blank line).
#[test]
fn a_phrase_matches_across_a_line_wrapped_inside_a_sentence() {
    let t = tax(&one_tag("[tag.terms.a]\nweight = 3.0\nphrases = [\"military talks\"]\n"));
    let count = |body: &str| {
        let doc = Document::new(body, 0);
        t.candidates(&doc).into_iter().find(|m| m.id == "t").map_or(0, |m| m.evidence[0].count)
    };
    assert_eq!(count("They agreed to resume military\ntalks and military  \r\n  talks."), 2);
    assert_eq!(count("They held military\n\ntalks."), 0, "a blank line");
    assert_eq!(count("They held military.\ntalks resumed"), 0, "a line that ends a sentence");
    let doc = Document::new("They agreed to resume military\ntalks.", 0);
    let found = t.candidates(&doc).into_iter().find(|m| m.id == "t").unwrap();
    assert_eq!(found.evidence[0].first_offset, "They agreed to resume ".len(), "points into the text as given");
}

/// Wire copy is often double-spaced and text from HTML has no-break spaces: a phrase's space
/// matches any run of horizontal white space, and the evidence points into the text as given.
#[test]
fn a_phrase_space_matches_any_run_of_horizontal_white_space() {
    let t = tax(&one_tag(
        "exclude = [\"made in taiwan\"]\n[tag.terms.a]\nweight = 1.0\nphrases = [\"taiwan\"]\n[tag.terms.b]\nweight = 3.0\nphrases = [\"taiwan strait\", \"people's liberation army\"]\n",
    ));
    for space in ["  ", "\t", "\u{a0}", "\u{202f}", " \u{a0} \t", "\u{2009}"] {
        let title = format!("Ships  in the Taiwan{space}Strait");
        let body =
            format!("The People's{space}Liberation  Army sailed. Made{space}in Taiwan. Taiwan{space}Strait again.");
        let (full, title_len) = combine(&title, &body);
        let doc = Document::new(&full, title_len);
        let found = t.candidates(&doc).into_iter().find(|m| m.id == "t").expect("tagged");
        let evidence: Vec<_> = found.evidence.iter().map(|e| (e.term.as_str(), e.count, e.title_count)).collect();
        assert_eq!(
            evidence,
            [("taiwan strait", 2, 1), ("people's liberation army", 1, 0)],
            "{space:?}: {:?}",
            found.evidence
        );
        for e in &found.evidence {
            let at = &full[e.first_offset..];
            assert!(
                at.to_lowercase().starts_with(&e.term[..6]),
                "{space:?}: {} at {:?}",
                e.term,
                &at[..20.min(at.len())]
            );
        }
        assert_eq!(found.evidence[0].first_offset, full.find("Taiwan").unwrap(), "{space:?}");
        assert_eq!(found.excluded.len(), 1, "{space:?}: the exclusion matches across the run too");
        assert_eq!(full[found.excluded[0].first_offset..].get(..4), Some("Made"), "{space:?}");
        // The sentences are the document's own: the title, and the two of the body.
        let sentences: Vec<&str> = found.sentences.iter().map(|&i| doc.sentence(i)).collect();
        assert_eq!(
            sentences,
            [
                title.as_str(),
                &*format!("The People's{space}Liberation  Army sailed."),
                &*format!("Taiwan{space}Strait again.")
            ]
        );
    }
    // Scores are normalised by the article's length, runs included, as for any other padding.
    let single = format!("Taiwan Strait. {}", filler(2000));
    let double = single.replace(' ', "  ");
    assert!(score(&t, "t", "", &double) < score(&t, "t", "", &single));
    // A line break is not horizontal white space: phrases do not run across lines.
    assert_eq!(terms(&t, "t", "", "Taiwan\nStrait"), vec![("taiwan".to_owned(), 1)]);
}

/// Some sources write accents decomposed (NFD: a letter, then a combining accent). Such text is
/// tagged as its composed form is, with the evidence in the text as given, and a phrase written
/// decomposed in the file is compiled composed.
#[test]
fn decomposed_accents_match_as_composed_ones() {
    let t = tax(&one_tag("exclude = [\"café taiwán\"]\n[tag.terms.a]\nphrases = [\"taiwán\", \"kie\u{308}v\"]\n"));
    let body =
        "El estrecho de Taiwa\u{301}n. Kie\u{308}v ha hablado. TAIWA\u{301}N y Taiwán. Cafe\u{301}  Taiwa\u{301}n.";
    let found = cands(&t, "", body).into_iter().find(|m| m.id == "t").expect("tagged");
    let evidence: Vec<_> = found.evidence.iter().map(|e| (e.term.as_str(), e.count, e.first_offset)).collect();
    assert_eq!(
        evidence,
        [("taiwán", 3, body.find("Taiwa\u{301}n").unwrap()), ("kiëv", 1, body.find("Kie\u{308}v").unwrap())]
    );
    assert_eq!(found.excluded.len(), 1, "the exclusion matches the decomposed text too");
    assert_eq!(found.excluded[0].first_offset, body.find("Cafe\u{301}").unwrap());
    let doc = Document::new(body, 0);
    let sentences: Vec<&str> = found.sentences.iter().map(|&i| doc.sentence(i)).collect();
    assert_eq!(sentences, ["El estrecho de Taiwa\u{301}n.", "Kie\u{308}v ha hablado.", "TAIWA\u{301}N y Taiwán."]);
    // Phrases are read as texts are, not fully normalised: a sign that NFC would replace by a
    // letter (the ångström sign U+212B) still matches the text that writes it.
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"\u{212b}ngstr\u{f6}m unit\"]\n"));
    assert_eq!(terms(&t, "t", "", "One \u{212b}ngstr\u{f6}m unit."), vec![("\u{212b}ngstr\u{f6}m unit".to_owned(), 1)]);
}

/// Typeset text hides soft hyphens inside words ("Tai&shy;wan" from HTML) and writes
/// hyphens as U+2010 or the non-breaking U+2011: phrases match through both, and evidence
/// points at the text as given.
#[test]
fn soft_hyphens_and_unicode_hyphens_match_phrases() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"taiwan strait\", \"tsai ing-wen\", \"cross-strait\"]\n"));
    let body = "Ships crossed the Tai\u{ad}wan Strait. Tsai Ing\u{2011}wen spoke of cross\u{2010}strait ties.";
    let found = cands(&t, "", body).into_iter().find(|m| m.id == "t").expect("tagged");
    let evidence: Vec<_> = found.evidence.iter().map(|e| (e.term.as_str(), e.first_offset)).collect();
    let at = |s: &str| body.find(s).unwrap();
    let mut want = vec![
        ("taiwan strait", at("Tai\u{ad}wan")),
        ("tsai ing-wen", at("Tsai")),
        ("cross-strait", at("cross\u{2010}")),
    ];
    want.sort();
    let mut evidence = evidence;
    evidence.sort();
    assert_eq!(evidence, want);
}

#[test]
fn a_shorter_phrase_is_found_when_the_longest_runs_into_a_longer_word() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"taiwan\", \"taiwan strait\"]\n"));
    assert_eq!(terms(&t, "t", "", "the Taiwan Straits"), vec![("taiwan".to_owned(), 1)]);
}

#[test]
fn tags_do_not_hide_each_others_phrases() {
    let src = r#"version = "t"
[[tag]]
id = "scs"
label = "SCS"
description = "d"
[tag.terms.a]
phrases = ["south china sea"]
[[tag]]
id = "china"
label = "China"
description = "d"
[tag.terms.a]
phrases = ["china", "sea"]
"#;
    let t = tax(src);
    assert_eq!(terms(&t, "scs", "", "patrols in the South China Sea"), vec![("south china sea".to_owned(), 1)]);
    let got = terms(&t, "china", "", "patrols in the South China Sea");
    assert_eq!(got, vec![("china".to_owned(), 1), ("sea".to_owned(), 1)]);
}

#[test]
fn case_sensitive_groups_match_only_as_written() {
    let t = tax(&one_tag("[tag.terms.a]\ncase_sensitive = true\nphrases = [\"US\"]\n"));
    assert_eq!(terms(&t, "t", "", "the US told us; Us"), vec![("US".to_owned(), 1)]);
}

/// Letters beyond ASCII are matched in lower case, upper case (headlines) and capitalised, as
/// well as written; case-sensitive groups only as written.
#[test]
fn phrases_with_letters_beyond_ascii_match_in_their_case_forms() {
    let t = tax(&one_tag(
        "[tag.terms.a]\nphrases = [\"taiwán\", \"тайвань\", \"ελλάδα\"]\n[tag.terms.b]\ncase_sensitive = true\nphrases = [\"Ölkrise\"]\n",
    ));
    let body = "TAIWÁN. Taiwán. taiwán. ТАЙВАНЬ. Тайвань. тайвань. ΕΛΛΆΔΑ. Ελλάδα. ÖLKRISE. ölkrise. Ölkrise.";
    let got = terms(&t, "t", "", body);
    let expected = [("taiwán", 3), ("тайвань", 3), ("ελλάδα", 2), ("Ölkrise", 1)].map(|(s, n)| (s.to_owned(), n));
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for e in &expected {
        assert!(got.contains(e), "{e:?} in {got:?}");
    }
    // Mixed case among the letters beyond ASCII is not found (ASCII letters fold as always).
    assert!(terms(&t, "t", "", "тАЙВАНЬ").is_empty());
    assert_eq!(terms(&t, "t", "", "tAIWÁN"), vec![("taiwán".to_owned(), 1)]);
}

/// A taxonomy may list a phrase in two cases (it had to, before case forms): it loads, and the
/// one written in the text's case counts, with its own group.
#[test]
fn a_phrase_written_in_another_ones_case_form_is_its_own() {
    let t = tax(&one_tag(
        "[tag.terms.low]\nweight = 1.0\nphrases = [\"тайвань\"]\n[tag.terms.capital]\nweight = 2.0\nphrases = [\"Тайвань\"]\n",
    ));
    assert_eq!(terms(&t, "t", "", "Тайвань."), vec![("Тайвань".to_owned(), 1)]);
    assert_eq!(terms(&t, "t", "", "тайвань."), vec![("тайвань".to_owned(), 1)]);
    let upper = terms(&t, "t", "", "ТАЙВАНЬ.");
    assert!(upper.len() == 1 && upper[0].1 == 1, "one of the two: {upper:?}");
    // Written twice in one case, a phrase is still a duplicate; so are two spellings that differ
    // only in ASCII case, which were always one pattern.
    let e = err(&one_tag("[tag.terms.a]\nphrases = [\"тайвань\", \"тайвань\"]\n"));
    assert!(e.contains("duplicates phrase"), "{e}");
    let e = err(&one_tag("[tag.terms.a]\nphrases = [\"zürich\"]\n[tag.terms.b]\nphrases = [\"Zürich\"]\n"));
    assert!(e.contains("phrase \"Zürich\" duplicates phrase \"zürich\""), "{e}");
}

/// An exclusion is checked as written: its case forms need not contain a case-sensitive phrase.
#[test]
fn an_exclusion_of_a_case_sensitive_phrase_beyond_ascii_loads_and_vetoes_it() {
    let t = tax(&one_tag("exclude = [\"домен РФ\"]\n[tag.terms.x]\ncase_sensitive = true\nphrases = [\"РФ\"]\n"));
    assert_eq!(terms(&t, "t", "", "РФ. Домен РФ. домен РФ."), vec![("РФ".to_owned(), 2)]);
}

#[test]
fn the_fast_scan_finds_exactly_what_the_exact_scan_finds() {
    let t = Taxonomy::builtin();
    let texts = [
        crate::enrich::taxonomy::BUILTIN_TAXONOMY,
        "naïve Taiwan café—Taiwan’s “one-China” policy; US-China relations, U.S.-China ties.",
        "x".repeat(63).as_str(),
        &format!("{}Taiwan Strait{}taiwan", "a ".repeat(31), " b".repeat(40)),
    ]
    .map(str::to_owned);
    // Plus pseudo-random texts made of phrase fragments, separators and runs crossing 64 bytes.
    // "people" and "one" start longer phrases only ("people's liberation army", "one china"):
    // the filter's second step. Non-ASCII letters that start no phrase ("é", "ü") keep the fast
    // scan; the built-in taxonomy's Chinese, Korean and Cyrillic phrases send texts holding
    // those scripts to the exact scan, so they are tried with a taxonomy without such phrases.
    let latin = [
        "taiwan",
        " ",
        "-",
        "strait",
        "’",
        "é",
        "US",
        "china",
        ".",
        "military",
        "to",
        "x",
        "\n",
        "talks",
        "people",
        "'s",
        "’s",
        "liberation army",
        "one",
        "ONE",
        "u.s",
        "fentanyl",
        "s",
        "ü",
        "–",
    ];
    let with_cjk = [&latin[..], &["的", "台湾", "대만은", "Пентагон"]].concat();
    let random = |pieces: &[&str]| -> Vec<String> {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        (0..300)
            .map(|_| {
                let mut s = String::new();
                for _ in 0..60 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                }
                s
            })
            .collect()
    };
    let ascii_only = tax(&one_tag(SIMPLE));
    assert!(!ascii_only.matcher().compiled.filter.has_non_ascii_starts());
    assert!(t.matcher().compiled.filter.has_non_ascii_starts());
    for (taxonomy, pieces) in [(&t, &latin[..]), (&ascii_only, &with_cjk[..])] {
        let m = taxonomy.matcher();
        let mut compared = 0;
        for text in texts.iter().chain(&random(pieces)) {
            if m.compiled.filter.needs_exact_scan(text.as_bytes()) {
                continue;
            }
            compared += 1;
            let fast = m.scan_for_test(text.as_bytes(), false);
            let exact = m.scan_for_test(text.as_bytes(), true);
            assert_eq!(fast, exact, "scans differ on {text:?}");
        }
        assert!(compared >= 300, "the fast scan was compared on {compared} texts only");
    }
}

#[test]
fn phrases_of_unspaced_scripts_match_anywhere_in_a_run_and_latin_words_beside_them_are_whole() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"台湾\", \"賴清德\", \"フェンタニル\", \"taiwan\"]\n"));
    assert_eq!(
        terms(&t, "t", "", "中国军机逼近台湾海峡，賴清德表示。米国のフェンタニル対策。在Taiwan的"),
        vec![
            ("台湾".to_owned(), 1),
            ("賴清德".to_owned(), 1),
            ("フェンタニル".to_owned(), 1),
            ("taiwan".to_owned(), 1)
        ]
    );
    // A Latin word still needs its own boundaries: "xTaiwan" is not "Taiwan".
    assert!(terms(&t, "t", "", "xTaiwan的").is_empty());
}

#[test]
fn a_chinese_phrase_running_past_an_earlier_match_is_found() {
    let t = tax("version = \"t1\"\n[[tag]]\nid = \"us\"\nlabel = \"US\"\ndescription = \"d\"\n\
         [tag.terms.a]\nphrases = [\"美国\", \"中美\"]\n\
         [[tag]]\nid = \"mil\"\nlabel = \"M\"\ndescription = \"d\"\n\
         [tag.terms.a]\nphrases = [\"国防部\", \"国防\"]\n");
    // "美国" is matched first; "国防部" starts inside it and runs past it.
    assert_eq!(terms(&t, "mil", "", "美国防部长说"), vec![("国防部".to_owned(), 1)]);
    assert_eq!(terms(&t, "us", "", "美国防部长说"), vec![("美国".to_owned(), 1)]);
    // What lies wholly inside an earlier match was counted with it, not again.
    assert_eq!(terms(&t, "us", "", "其中美国"), vec![("中美".to_owned(), 1), ("美国".to_owned(), 1)]);
    assert_eq!(terms(&t, "mil", "", "国防部国防"), vec![("国防部".to_owned(), 1), ("国防".to_owned(), 1)]);
}

#[test]
fn hangul_phrases_need_a_boundary_before_them_only() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"대만\", \"펜타닐\"]\n"));
    // Particles follow the noun ("대만은", "대만의"), so a longer word matches too ("매우
    // 대만족", very satisfied, needs an exclusion); inside a word it does not.
    assert_eq!(
        terms(&t, "t", "", "대만은 중국의 대만 정책에 펜타닐을"),
        vec![("대만".to_owned(), 2), ("펜타닐".to_owned(), 1)]
    );
    assert_eq!(terms(&t, "t", "", "고객들은 매우 대만족"), vec![("대만".to_owned(), 1)]);
    assert!(terms(&t, "t", "", "고객들은 큰대만족").is_empty());
}

#[test]
fn context_rules_see_chinese_sentences() {
    let t = tax(&one_tag(
        "[tag.terms.a]\nweight = 0.0\nphrases = [\"军方\"]\n[tag.terms.b]\nweight = 0.0\nphrases = [\"热线\"]\n\
         [[tag.context]]\ngroups = [\"a\", \"b\"]\nweight = 2.0\n",
    ));
    assert_eq!(score(&t, "t", "", "两国军方恢复热线。"), score(&t, "t", "", "两国军方恢复热线。天气很好。"));
    assert!(score(&t, "t", "", "两国军方恢复热线。") > 0.0);
    assert_eq!(score(&t, "t", "", "两国军方开会。他们没有恢复热线。"), 0.0, "different sentences");
}

#[test]
fn only_texts_holding_the_first_byte_of_a_non_ascii_phrase_take_the_exact_scan() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"Пентагон\", \"台湾\", \"taiwan\"]\n"));
    let filter = &t.matcher().compiled.filter;
    for (text, exact) in [
        ("plain “quoted” English – with dashes… and café", false),
        ("Пентагон", true),
        ("the Кремль said", true), // the same lead byte as "П": the exact scan decides
        ("ĉ ü é ß", false),
        ("逼近台湾海峡", true),
        ("", false),
    ] {
        for pad in 0..9 {
            let padded = format!("{}{text}", "x".repeat(pad));
            assert_eq!(filter.needs_exact_scan(padded.as_bytes()), exact, "{padded:?}");
        }
    }
    assert!(!tax(&one_tag(SIMPLE)).matcher().compiled.filter.needs_exact_scan("Пентагон".as_bytes()));
}

#[test]
fn phrases_starting_with_a_non_ascii_letter_are_found() {
    let t = tax(&one_tag("[tag.terms.a]\nphrases = [\"Ürümqi\", \"taiwan\"]\n"));
    assert_eq!(
        terms(&t, "t", "", "from Ürümqi to Taiwan, not xÜrümqi"),
        vec![("Ürümqi".to_owned(), 1), ("taiwan".to_owned(), 1)]
    );
}

// ---------------------------------------------------------------------------------------------
// Regex terms

const REGEX_TAG: &str = r#"
exclude = ["no 5 kg of fentanyl"]
[tag.terms.a]
weight = 3.0
phrases = ["fentanyl"]
regex = ['\d+\s*kg of (?:fentanyl|carfentanil)', 'carfentanil']
"#;

#[test]
fn regex_terms_count_by_matched_text_once_a_phrase_of_the_tag_matched() {
    let t = tax(&one_tag(REGEX_TAG));
    let got = terms(&t, "t", "", "Police seized 12 kg of carfentanil and 3 KG of Carfentanil. Fentanyl again.");
    assert!(got.contains(&("12 kg of carfentanil".to_owned(), 1)), "{got:?}");
    assert!(got.contains(&("3 kg of carfentanil".to_owned(), 1)), "{got:?}");
    assert!(got.contains(&("fentanyl".to_owned(), 1)), "{got:?}");
    // Without a phrase hit the regexes do not run.
    assert!(terms(&t, "t", "", "Police seized 12 kg of carfentanil.").is_empty());
}

#[test]
fn regex_matches_are_whole_words_and_do_not_double_count_phrases() {
    let t = tax(&one_tag(REGEX_TAG));
    let got = terms(&t, "t", "", "fentanyl; xcarfentanil and carfentanils are not words of it");
    assert_eq!(got, vec![("fentanyl".to_owned(), 1)]);
    // "12 kg of fentanyl" overlaps the phrase hit "fentanyl", so it is not counted again.
    let got = terms(&t, "t", "", "12 kg of fentanyl");
    assert_eq!(got, vec![("fentanyl".to_owned(), 1)]);
}

#[test]
fn exclusions_veto_regex_hits_too() {
    let t = tax(&one_tag(REGEX_TAG));
    let got = terms(&t, "t", "", "There was no 5 kg of fentanyl here, only carfentanil and fentanyl.");
    let mut got: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, ["carfentanil", "fentanyl"]);
}

/// Many distinct matched texts (past the point where counting switches from a scan to maps),
/// with repeats in other cases, phrase hits and exclusions among them: every regex hit is
/// counted once under its case-folded text, and none that overlaps a phrase, an exclusion or an
/// earlier regex's hit.
#[test]
fn a_broad_regex_with_many_distinct_matches_counts_each_text_once() {
    let src = r#"
version = "t1"
[scoring]
max_evidence = 1000

[[tag]]
id = "t"
label = "T"
description = "test tag"
exclude = ["vetoed word"]
[tag.terms.a]
weight = 3.0
phrases = ["fentanyl"]
regex = ['[a-z]+ber', '[a-z]+']
"#;
    let t = tax(src);
    let words: Vec<String> = (0..60).map(|i| format!("{}x", "q".repeat(i + 1))).collect();
    let mut body = String::from("fentanyl ");
    let mut want: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
    for round in 0..3 {
        for (i, w) in words.iter().enumerate() {
            let written = if round == 1 { w.to_uppercase() } else { w.clone() };
            body.push_str(&written);
            body.push_str(if i % 7 == 0 { ". fentanyl vetoed word number " } else { " " });
            *want.entry(w.clone()).or_default() += 1;
            if i % 7 == 0 {
                // "number" is the first regex's, "vetoed word" is excluded, "fentanyl" a phrase.
                *want.entry("number".into()).or_default() += 1;
                *want.entry("fentanyl".into()).or_default() += 1;
            }
        }
    }
    *want.entry("fentanyl".into()).or_default() += 1;
    let got: std::collections::BTreeMap<String, u32> = terms(&t, "t", "", &body).into_iter().collect();
    assert_eq!(got, want);
}

#[test]
fn a_span_overlaps_exactly_the_spans_it_shares_a_byte_with() {
    use super::matcher::{overlaps_any, sort_spans};
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: u32| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % u64::from(n)) as u32
    };
    for _ in 0..2000 {
        let mut spans: Vec<(u32, u32)> = (0..next(12))
            .map(|_| {
                let a = next(60);
                (a, a + 1 + next(15))
            })
            .collect();
        let mut reach = Vec::new();
        sort_spans(&mut spans, &mut reach);
        let start = next(80);
        let end = start + 1 + next(10);
        let brute = spans.iter().any(|&(a, b)| a < end && start < b);
        assert_eq!(overlaps_any(&spans, &reach, start, end), brute, "{spans:?} against {start}..{end}");
    }
}

/// `candidates` (what `explain` shows) lists the exclusions that vetoed a tag's phrases, also
/// for a tag left with no evidence; tagging itself does not see them.
#[test]
fn candidates_name_the_exclusions_that_vetoed_phrases() {
    let t = tax(&one_tag("exclude = [\"made in taiwan\"]\n[tag.terms.a]\nweight = 3.0\nphrases = [\"taiwan\"]\n"));
    let only_vetoed = cands(&t, "Made in Taiwan", "Chips made in taiwan sell well.");
    assert_eq!(only_vetoed.len(), 1, "{only_vetoed:?}");
    assert_eq!((only_vetoed[0].score, only_vetoed[0].evidence.len()), (0.0, 0));
    let excluded: Vec<(&str, u32, u32)> =
        only_vetoed[0].excluded.iter().map(|e| (e.term.as_str(), e.count, e.title_count)).collect();
    assert_eq!(excluded, [("made in taiwan", 2, 1)]);
    assert!(tagged(&t, "Made in Taiwan", "Chips made in taiwan sell well.").is_empty());

    let both = cands(&t, "", "Taiwan votes. The chips were made in Taiwan.");
    assert_eq!(both[0].evidence.iter().map(|e| (e.term.as_str(), e.count)).collect::<Vec<_>>(), [("taiwan", 1)]);
    assert_eq!(
        both[0].excluded.iter().map(|e| (e.term.as_str(), e.first_offset)).collect::<Vec<_>>(),
        [("made in taiwan", 29)]
    );
    assert!(cands(&t, "", "Nothing here.").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Context rules

const CONTEXT_TAG: &str = r#"
[tag.terms.core]
weight = 3.0
phrases = ["hotline"]
[tag.terms.military]
weight = 0.0
phrases = ["military", "defense minister"]
[tag.terms.channel]
weight = 0.0
phrases = ["talks", "call"]
[tag.terms.buying]
weight = 0.0
phrases = ["purchase"]
[[tag.context]]
groups = ["military", "channel"]
unless = ["buying"]
weight = 2.0
"#;

#[test]
fn context_rules_fire_within_a_sentence_and_make_their_terms_count() {
    let t = tax(&one_tag(CONTEXT_TAG));
    let got = terms(&t, "t", "", "The military held talks with its neighbour. Nothing else happened.");
    assert_eq!(got, vec![("military".to_owned(), 1), ("talks".to_owned(), 1)]);
    // The same words in different sentences prove nothing.
    assert!(terms(&t, "t", "", "The military was there. Talks went on elsewhere.").is_empty());
}

#[test]
fn context_rules_respect_unless() {
    let t = tax(&one_tag(CONTEXT_TAG));
    assert!(terms(&t, "t", "", "The defense minister held talks on the purchase of jets.").is_empty());
}

#[test]
fn context_rule_windows_span_neighbouring_sentences() {
    let body = "The military was there. Talks went on. Unrelated sentence. Another one.";
    let t = tax(&one_tag(&CONTEXT_TAG.replace("weight = 2.0\n", "weight = 2.0\nwindow = 1\n")));
    assert_eq!(terms(&t, "t", "", body), vec![("military".to_owned(), 1), ("talks".to_owned(), 1)]);
}

#[test]
fn context_rules_add_to_the_score_per_sentence() {
    let t = tax(&one_tag(CONTEXT_TAG));
    let one = score(&t, "t", "", &format!("The military held talks. {}", filler(2000)));
    let two = score(&t, "t", "", &format!("The military held talks. The military had a call. {}", filler(2000)));
    assert!(one > 0.0 && two > one, "{one} {two}");
}

// ---------------------------------------------------------------------------------------------
// Exclusions

#[test]
fn exclusions_veto_the_phrases_inside_them_and_only_those() {
    let t = tax(&one_tag(&format!("exclude = [\"made in taiwan\", \"taiwan-made\"]\n{SIMPLE}")));
    assert!(terms(&t, "t", "", "A router made in Taiwan, with Taiwan-made chips and Taiwan made parts.").is_empty());
    let got = terms(&t, "t", "", "A router made in Taiwan. Taiwan's president spoke.");
    assert_eq!(got, vec![("taiwan".to_owned(), 1)]);
}

// ---------------------------------------------------------------------------------------------
// Scoring: title weight, density, repeats, threshold

const SCORING: &str = r#"version = "s"
[scoring]
half_saturation = 4.0
reference_length = 3000
min_length = 2000
length_exponent = 0.5
title_weight = 2.0

[[tag]]
id = "t"
label = "T"
description = "d"
[tag.terms.a]
weight = 3.0
phrases = ["fentanyl", "carfentanil"]
"#;

fn expected(evidence: f64, len: usize) -> f64 {
    let e = evidence / ((len.clamp(2000, 24_000) as f64) / 3000.0).sqrt();
    e / (e + 4.0)
}

#[test]
fn score_follows_the_documented_formula() {
    let t = tax(SCORING);
    let body = format!("Fentanyl was found. {}", filler(4000));
    let (full, _) = combine("", &body);
    let s = score(&t, "t", "", &body);
    assert!((s - expected(3.0, full.len())).abs() < 1e-9, "{s}");
}

/// Counter-evidence: a group of negative weight subtracts what a group of that positive weight
/// would add, per sentence and in the title, down to nothing; it is never the tag's evidence or
/// its sentences, and `candidates` (explain) lists it.
#[test]
fn counter_evidence_subtracts_and_is_never_evidence() {
    let t = tax(&format!(
        "{SCORING}[tag.terms.fiction]\nweight = -2.0\nphrases = [\"film\", \"novel\"]\n\n[tag.terms.b]\nweight = 0\nphrases = [\"seized\"]\n\n[[tag.context]]\ngroups = [\"a\", \"b\"]\nunless = [\"fiction\"]\n"
    ));
    let body = format!("Fentanyl was found. The film shows it. Fentanyl again, in a film. {}", filler(4000));
    let (full, _) = combine("", &body);
    let s = score(&t, "t", "", &body);
    let two = 1.0 + 2f64.ln();
    assert!((s - expected(3.0 * two - 2.0 * two, full.len())).abs() < 1e-9, "{s}");
    let m = cands(&t, "", &body).into_iter().find(|m| m.id == "t").unwrap();
    assert_eq!(m.evidence.iter().map(|e| (e.term.as_str(), e.count)).collect::<Vec<_>>(), [("fentanyl", 2)]);
    assert_eq!(m.counter.iter().map(|e| (e.term.as_str(), e.count)).collect::<Vec<_>>(), [("film", 2)]);
    assert_eq!(m.sentences, [0, 2], "the counter-evidence's own sentence is not the tag's");
    // In the title too, and never below nothing.
    let title = score(&t, "t", "A novel", &body);
    assert!(title < s, "{title} {s}");
    let heavy = format!("Fentanyl. A film. A novel. Films and a film. {}", filler(3000));
    assert_eq!(score(&t, "t", "Novel, film", &heavy), 0.0);
    assert!(tagged(&t, "Novel, film", &heavy).is_empty());
    // Without a positive hit, counter-evidence alone is no candidate.
    assert!(cands(&t, "", "A film and a novel.").is_empty());
    // It can veto a context rule (`unless`), but not be one of its groups.
    let e = err(&one_tag(
        "[tag.terms.a]\nphrases = [\"x\"]\n[tag.terms.n]\nweight = -1\nphrases = [\"y\"]\n[[tag.context]]\ngroups = [\"a\", \"n\"]\n",
    ));
    assert!(e.contains("group `n` is counter-evidence (negative weight)"), "{e}");
    let e = err(&one_tag("[tag.terms.a]\nphrases = [\"x\"]\n[tag.terms.n]\nweight = -101\nphrases = [\"y\"]\n"));
    assert!(e.contains("weight"), "{e}");
}

#[test]
fn a_title_mention_weighs_more_than_the_same_mention_in_the_body() {
    let t = tax(SCORING);
    let body = filler(3000);
    let in_body = score(&t, "t", "Council news", &format!("Fentanyl was found. {body}"));
    let in_title = score(&t, "t", "Fentanyl found", &body);
    assert!(in_title > in_body, "{in_title} {in_body}");
    let (full, _) = combine("Fentanyl found", &body);
    assert!((in_title - expected(3.0 + 2.0 * 3.0, full.len())).abs() < 1e-9);
}

#[test]
fn a_single_passing_mention_in_a_long_article_does_not_pass() {
    let t = tax(SCORING);
    let long = format!("{} Drugs such as fentanyl were mentioned. {}", filler(4000), filler(4000));
    assert!(tagged(&t, "Council news", &long).is_empty());
    assert!(score(&t, "t", "Council news", &long) < 0.35);
}

/// A long-read about the subject, which names it in sentence after sentence, stays tagged at any
/// length: past `max_length` the text is scored as if that long. Before, evidence growing as
/// (1 + ln sentences) against a length correction growing as its square root untagged an
/// article that named fentanyl in every sentence past about 30 KB.
#[test]
fn a_long_read_about_the_subject_stays_tagged_and_one_mention_in_it_does_not_pass() {
    let t = tax(SCORING);
    let about = |sentences: usize| "Fentanyl deaths rose again in the county this year. ".repeat(sentences);
    for sentences in [600, 20_000] {
        let text = about(sentences);
        assert!(!tagged(&t, "", &text).is_empty(), "{} bytes: {}", text.len(), score(&t, "t", "", &text));
    }
    let long = format!("{} Drugs such as fentanyl were mentioned. {}", filler(200_000), filler(200_000));
    assert!((score(&t, "t", "", &long) - expected(3.0, 24_000)).abs() < 1e-9, "scored as max_length long");
    assert!(tagged(&t, "", &long).is_empty());
}

#[test]
fn number_errors_name_no_rust_types_and_spell_no_huge_numbers() {
    for (value, expected) in [
        ("3000.5", "invalid type: floating point `3000.5`, expected a whole number, 0 or more"),
        ("1e300", "invalid type: floating point `1e300`, expected a whole number, 0 or more"),
    ] {
        let bad = SCORING.replace("reference_length = 3000", &format!("reference_length = {value}"));
        let e = Taxonomy::from_toml_str(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains(expected), "{e}");
        assert!(e.len() < 200, "{e}");
    }
}

#[test]
fn max_length_below_min_length_is_refused_naming_both() {
    let bad = SCORING.replace("min_length = 2000\n", "min_length = 2000\nmax_length = 1000\n");
    let e = Taxonomy::from_toml_str(&bad, "t.toml").unwrap_err().to_string();
    assert!(e.contains("`max_length` (1000) must not be below `min_length` (2000)"), "{e}");
    assert!(e.contains("t.toml:6"), "{e}");
}

#[test]
fn density_matters_the_same_evidence_weighs_less_in_a_longer_text() {
    let t = tax(SCORING);
    let text = |n| format!("Fentanyl. Carfentanil. Fentanyl again. {}", filler(n));
    assert!(score(&t, "t", "", &text(2000)) > score(&t, "t", "", &text(8000)));
}

#[test]
fn repeats_have_diminishing_returns_and_count_per_sentence_and_group() {
    let t = tax(SCORING);
    // Short enough that every variant is scored as `min_length` long: only evidence differs.
    let body = filler(1000);
    let once = score(&t, "t", "", &format!("Fentanyl here. {body}"));
    let same_sentence = score(&t, "t", "", &format!("Fentanyl, fentanyl and carfentanil here. {body}"));
    let three = score(&t, "t", "", &format!("Fentanyl here. Fentanyl there. Fentanyl everywhere. {body}"));
    assert!((same_sentence - once).abs() < 1e-12, "synonyms in one sentence are one point");
    assert!((three - expected(3.0 * (1.0 + 3f64.ln()), 0)).abs() < 1e-9);
    assert!(three < 3.0 * once);
}

#[test]
fn the_threshold_decides_what_tag_returns_and_candidates_shows_the_rest() {
    let t = tax(SCORING);
    let body = format!("Fentanyl here. Fentanyl there. Fentanyl everywhere. {}", filler(2500));
    let s = score(&t, "t", "", &body);
    assert!(s > 0.5 && !tagged(&t, "", &body).is_empty());
    let strict = tax(&SCORING.replace("description = \"d\"\n", "description = \"d\"\nthreshold = 0.9\n"));
    assert!(tagged(&strict, "", &body).is_empty());
    assert_eq!(cands(&strict, "", &body).len(), 1);
}

#[test]
fn evidence_reports_counts_offsets_title_counts_and_sentences() {
    let t = tax(SCORING);
    let title = "Fentanyl seized";
    let body = "Police found fentanyl. Nothing here. Carfentanil and fentanyl too.";
    let m = cands(&t, title, body).remove(0);
    let (full, title_len) = combine(title, body);
    let doc = Document::new(&full, title_len);
    let fent = m.evidence.iter().find(|e| e.term == "fentanyl").unwrap();
    assert_eq!((fent.count, fent.title_count, fent.first_offset), (3, 1, 0));
    let carf = m.evidence.iter().find(|e| e.term == "carfentanil").unwrap();
    assert_eq!(&full[carf.first_offset..carf.first_offset + 11], "Carfentanil");
    assert_eq!(m.sentences, vec![0, 1, 3]);
    assert!(m.sentences.iter().all(|&i| doc.sentence(i).to_lowercase().contains("fentanyl")));
    assert_eq!(m.evidence[0].term, "fentanyl", "strongest first");
}

#[test]
fn evidence_is_capped_at_max_evidence() {
    let src = SCORING.replace("title_weight = 2.0", "title_weight = 2.0\nmax_evidence = 1");
    let t = tax(&src);
    assert_eq!(cands(&t, "", "Fentanyl and carfentanil.")[0].evidence.len(), 1);
}

#[test]
fn documents_without_hits_get_no_tags() {
    let t = Taxonomy::builtin();
    assert!(tagged(&t, "", "").is_empty());
    assert!(tagged(&t, "Weather", &filler(3000)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Validation: every error names the file, the line and (where there is one) the tag.

fn assert_err(src: &str, line: usize, tag: Option<&str>, needle: &str) {
    let e = err(src);
    assert!(e.starts_with(&format!("test.toml:{line}:")), "wrong line in: {e}");
    if let Some(tag) = tag {
        assert!(e.contains(&format!("tag `{tag}`")), "tag not named in: {e}");
    }
    assert!(e.contains(needle), "{needle:?} not in: {e}");
}

#[test]
fn unknown_keys_are_errors_naming_tag_and_line() {
    let src = one_tag("[tag.terms.a]\nphrases = [\"x\"]\nwieght = 2.0\n");
    assert_err(&src, 9, Some("t"), "unknown field `wieght`");
    assert_err("version = \"1\"\ncolour = 1\n", 2, None, "unknown field `colour`");
}

#[test]
fn missing_keys_name_the_tag() {
    let src = one_tag("[tag.terms.a]\nphrases = [\"x\"]\n").replace("label = \"T\"\n", "");
    assert_err(&src, 3, Some("t"), "missing field `label`");
}

#[test]
fn syntax_errors_name_the_line() {
    // An unclosed array is noticed at the end of the file; messages stay on one line.
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"x\"\n"), 9, Some("t"), "invalid array; expected `]`");
}

#[test]
fn duplicate_tag_ids_are_errors() {
    let tag = "[[tag]]\nid = \"a\"\nlabel = \"A\"\ndescription = \"d\"\n[tag.terms.x]\nphrases = [\"x\"]\n";
    let src = format!("version = \"1\"\n{tag}{tag}");
    assert_err(&src, 9, Some("a"), "duplicate tag id `a` (first defined on line 3)");
}

#[test]
fn bad_ids_empty_labels_and_missing_terms_are_errors() {
    let src = "version = \"1\"\n[[tag]]\nid = \"Bad Id\"\nlabel = \"A\"\ndescription = \"d\"\n";
    assert_err(src, 3, Some("Bad Id"), "lower-case ASCII");
    assert_err(&one_tag("").replace("label = \"T\"", "label = \" \""), 5, Some("t"), "`label` must not be empty");
    assert_err(&one_tag(""), 4, Some("t"), "no term groups");
    assert_err("version = \"1\"\n", 1, None, "defines no tags");
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"x\"]\n").replace("\"t1\"", "\" \""), 1, None, "`version`");
}

#[test]
fn empty_and_malformed_phrases_are_errors() {
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"x\", \"  \"]\n"), 8, Some("t"), "empty phrase");
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"-x\"]\n"), 8, Some("t"), "must start with a letter or digit");
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"a - b\"]\n"), 8, Some("t"), "doubled space/hyphen");
    assert_err(&one_tag("[tag.terms.a]\nweight = 1.0\n"), 7, Some("t"), "neither `phrases` nor `regex`");
}

#[test]
fn duplicate_phrases_including_variants_are_errors() {
    let src = one_tag("[tag.terms.a]\nphrases = [\"cross-strait\"]\n[tag.terms.b]\nphrases = [\"Cross Strait\"]\n");
    assert_err(&src, 10, Some("t"), "duplicates phrase \"cross-strait\" on line 8");
}

#[test]
fn bad_regexes_are_errors() {
    assert_err(&one_tag("[tag.terms.a]\nphrases = [\"x\"]\nregex = ['(unclosed']\n"), 9, Some("t"), "invalid regex");
    assert_err(
        &one_tag("[tag.terms.a]\nphrases = [\"x\"]\nregex = ['a*']\n"),
        9,
        Some("t"),
        "matches the empty string",
    );
    assert_err(&one_tag("[tag.terms.a]\nregex = ['abc']\n"), 4, Some("t"), "no phrases of positive weight");
}

#[test]
fn thresholds_and_weights_out_of_range_are_errors() {
    let src = one_tag("threshold = 1.5\n[tag.terms.a]\nphrases = [\"x\"]\n");
    assert_err(&src, 7, Some("t"), "`threshold` must be strictly between 0 and 1");
    assert_err(
        &one_tag("[tag.terms.a]\nweight = -101.0\nphrases = [\"x\"]\n"),
        8,
        Some("t"),
        "`weight` must be between",
    );
    // Counter-evidence alone can never score.
    let e = err(&one_tag("[tag.terms.a]\nweight = -1.0\nphrases = [\"x\"]\n"));
    assert!(e.contains("no group or context rule has a positive weight"), "{e}");
    assert_err(
        "version = \"1\"\n[scoring]\nhalf_saturation = 0.0\n",
        3,
        None,
        "`half_saturation` must be greater than 0",
    );
}

#[test]
fn context_rules_referring_to_nothing_are_errors() {
    let base = "[tag.terms.a]\nphrases = [\"x\"]\n[tag.terms.b]\nweight = 0.0\nphrases = [\"y\"]\n";
    let src = one_tag(&format!("{base}[[tag.context]]\ngroups = [\"a\", \"nope\"]\n"));
    assert_err(&src, 13, Some("t"), "unknown term group `nope` (known: a, b)");
    let src = one_tag(&format!("{base}[[tag.context]]\ngroups = [\"a\"]\n"));
    assert_err(&src, 13, Some("t"), "at least two term groups");
    let src = one_tag(&format!("{base}[[tag.context]]\ngroups = [\"a\", \"b\"]\nunless = [\"b\"]\n"));
    assert_err(&src, 14, Some("t"), "both required and in `unless`");
    // A weight-0 group that no rule uses can never count.
    assert_err(&one_tag(base), 11, Some("t"), "weight 0 and no context rule uses it");
}

#[test]
fn exclusions_that_veto_nothing_are_errors() {
    let src = one_tag("exclude = [\"made in china\"]\n[tag.terms.a]\nphrases = [\"taiwan\"]\n");
    assert_err(&src, 7, Some("t"), "vetoes nothing");
    let src = one_tag("exclude = [\"taiwan\"]\n[tag.terms.a]\nphrases = [\"taiwan\"]\n");
    assert_err(&src, 7, Some("t"), "exclusion \"taiwan\" duplicates phrase \"taiwan\" on line 9");
}

#[test]
fn load_names_the_file_when_it_cannot_be_read_or_is_invalid() {
    let e = Taxonomy::load(std::path::Path::new("/nonexistent/taxonomy.toml")).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/taxonomy.toml: cannot read"), "{e}");
    let dir = std::env::temp_dir().join(format!("taxonomy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, one_tag("[tag.terms.a]\nphrases = [\"\"]\n")).unwrap();
    let e = Taxonomy::load(&path).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(e.starts_with(&format!("{}:8:", path.display())) && e.contains("tag `t`"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The built-in taxonomy

#[test]
fn the_builtin_taxonomy_is_valid_and_has_the_required_tags() {
    let t = Taxonomy::builtin();
    assert!(!t.version().is_empty());
    let ids: Vec<&str> = t.tags().map(|i| i.id).collect();
    for id in [
        "taiwan",
        "fentanyl",
        "military_communications",
        "us_china_relations",
        "espionage_surveillance",
        "trade_supply_chains",
        "detained_citizens",
    ] {
        assert!(ids.contains(&id), "missing {id}");
    }
    assert!(t.tags().all(|i| !i.label.is_empty() && !i.description.is_empty()));
}

#[test]
fn taxonomy_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Taxonomy>();
    let t = std::sync::Arc::new(Taxonomy::builtin());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                tagged(&t, "Taiwan Strait tensions", "Taiwan. Cross-strait talks. Taiwan again.").len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1);
    }
}

#[test]
fn positions_count_lines_from_one_and_columns_in_characters() {
    let ctx = spec::Ctx::new("t.toml", "ab\ncdé\n\nx");
    let at = |offset| {
        let p = ctx.pos(offset);
        (p.line, p.column)
    };
    assert_eq!(at(0), (1, 1));
    assert_eq!(at(2), (1, 3)); // the newline ends line 1
    assert_eq!(at(3), (2, 1));
    assert_eq!(at(7), (2, 4)); // after "cdé": é is one character of two bytes
    assert_eq!(at(8), (3, 1));
    assert_eq!(at(9), (4, 1));
    assert_eq!(at(100), (4, 2)); // clamped to the end
}

/// Messages list the tags of a small taxonomy in full, and of a large one the first 20 and the
/// count (thousands of ids made one log line of tens of kilobytes).
#[test]
fn tag_lists_in_messages_are_bounded() {
    let many = |n: usize| {
        let mut src = String::from("version = \"t1\"\n");
        for i in 0..n {
            src += &format!(
                "[[tag]]\nid = \"t{i}\"\nlabel = \"T\"\ndescription = \"d\"\n[tag.terms.a]\nweight = 1.0\nphrases = [\"w{i}\"]\n"
            );
        }
        tax(&src).tag_list()
    };
    assert_eq!(many(3), "t0, t1, t2");
    let long = many(25);
    assert!(long.starts_with("t0, t1, ") && long.ends_with("t19, … (25 tags)"), "{long}");
}

/// `[[tag.example]]` texts are enriched when the taxonomy is compiled: one the tag should get
/// but does not, or should not get but does, is an error at the example's line with its score,
/// threshold and evidence (so an edit that breaks one is refused, at start-up and at a reload),
/// and the lines of any other failing examples. `from_toml_str_unchecked` (for `explain`)
/// compiles such a taxonomy and lists every failure.
#[test]
fn examples_are_checked_when_the_taxonomy_is_compiled() {
    let terms = "[tag.terms.core]\nweight = 5.0\nphrases = [\"taiwan\"]\n";
    let example = |fields: &str| one_tag(&format!("{terms}[[tag.example]]\n{fields}"));
    tax(&example("text = \"Taiwan, Taiwan and Taiwan again.\"\ntagged = true\n[[tag.example]]\ntext = \"Nothing here.\"\ntagged = false\n"));
    tax(&example("title = \"Taiwan and Taiwan\"\ntext = \"\"\ntagged = true\n"));

    let missed = example("text = \"Formosa is an island.\"\ntagged = true\n");
    let line = missed.lines().position(|l| l.starts_with("text = ")).unwrap() + 1;
    assert_eq!(
        err(&missed),
        format!("test.toml:{line}:8: tag `t`: example should get the tag, but it scores 0.0000 < 0.5 (evidence: none)")
    );
    // 5 × (1 + ln 2) for two sentences plus 5 for the title, over the 2,000-byte minimum
    // length: e = 13.466 / (2000/3000)^0.5 = 16.492, score = 16.492 / (16.492 + 4) = 0.8048.
    let wrongly = err(&example("title = \"Taiwan\"\ntext = \"Taiwan and Taiwan.\"\ntagged = false\n"));
    assert!(wrongly.contains("tag `t`: example should not get the tag, but it scores 0.8048 >= 0.5"), "{wrongly}");
    assert!(wrongly.ends_with("(evidence: \"taiwan\")"), "{wrongly}");

    let three = example(
        "text = \"Formosa.\"\ntagged = true\n[[tag.example]]\ntext = \"Ilha Formosa.\"\ntagged = true\n\
         [[tag.example]]\ntext = \"Taiwan and Taiwan. Taiwan.\"\ntagged = false\n",
    );
    let lines: Vec<usize> =
        three.lines().enumerate().filter(|(_, l)| l.starts_with("text = ")).map(|(i, _)| i + 1).collect();
    let e = err(&three);
    assert!(e.starts_with(&format!("test.toml:{}:8: ", lines[0])), "{e}");
    assert!(e.ends_with(&format!("; 2 more example(s) fail, at line(s) {}, {}", lines[1], lines[2])), "{e}");
    let unchecked = Taxonomy::from_toml_str_unchecked(&three, "test.toml").unwrap();
    let failing: Vec<String> = unchecked.failing_examples().iter().map(ToString::to_string).collect();
    assert_eq!(failing.len(), 3, "{failing:?}");
    assert!(failing[2].starts_with(&format!("test.toml:{}:8: tag `t`: example should not get the tag", lines[2])));

    assert!(err(&example("text = \"x\"\ntagged = true\nexpect = 1\n")).contains("unknown field `expect`"));
    assert!(err(&example("text = \" \"\ntagged = true\n")).contains("example has no text"));
    assert!(err(&example("text = \"x\"\n")).contains("missing field `tagged`"));
    let long = format!("title = \"{}\"\ntext = \"{}\"\ntagged = true\n", "a".repeat(12_000), "b".repeat(9_000));
    assert!(err(&example(&long)).contains("example is over 20000 bytes (`title` and `text` together)"));
}
