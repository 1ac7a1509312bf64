//! Near-duplicate fingerprint: a 64-bit SimHash of the normalised words of the text.
//!
//! Normalisation lower-cases, folds typographic quotes and keeps only alphanumeric runs, so
//! re-flowed, re-punctuated or re-capitalised wire copies hash alike. Each word is hashed with
//! XXH3-64 (a fixed, specified algorithm with a fixed seed), so fingerprints are stable across
//! runs, machines and versions. A light edit (a few words changed, added or removed) moves only a
//! few bits: compare fingerprints by Hamming distance, ≤ 3 meaning "same story".

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Part of the fingerprint definition: changing it changes every fingerprint.
const SEED: u64 = 0x6e65_7773_2d65_6e72; // "news-enr"

/// SimHash of `text`. Empty text hashes to 0.
pub fn simhash(text: &str) -> u64 {
    let mut weights = [0i32; 64];
    let mut word = String::with_capacity(32);
    let mut add = |word: &str| {
        let h = xxh3_64_with_seed(word.as_bytes(), SEED);
        for (bit, w) in weights.iter_mut().enumerate() {
            *w += if h >> bit & 1 == 1 { 1 } else { -1 };
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() && !matches!(c, '\'' | '’') {
            add(&word);
            word.clear();
        }
    }
    if !word.is_empty() {
        add(&word);
    }
    weights.iter().enumerate().fold(0u64, |acc, (bit, &w)| if w > 0 { acc | 1 << bit } else { acc })
}

/// Hex form used in records: 16 lower-case hex digits.
pub fn format(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// Number of differing bits between two fingerprints.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = "China and the United States agreed on Monday to try to stabilize their intense \
        rivalry to avoid descending into conflict, but announced no major breakthrough during a rare \
        visit to Beijing by the secretary of state. Chinese President Xi Jinping hailed the progress \
        after shaking hands with Blinken at the Great Hall of the People, a large hall usually reserved \
        for heads of state. Blinken, the first US secretary of state to meet with the Chinese leader \
        since 2018, told reporters he raised contentious issues such as Taiwan, the democratic island \
        that Beijing claims as its own. The United States said that since 2021, China has refused or \
        failed to respond to more than a dozen Defense Department requests for high-level dialogues.";

    #[test]
    fn ignores_case_and_punctuation() {
        assert_eq!(format(simhash("the quick brown fox")), format(simhash("The QUICK, brown fox!")));
        assert_eq!(simhash(""), 0);
    }

    #[test]
    fn reformatting_does_not_change_it() {
        let reflowed = STORY.to_uppercase().replace(", ", " , ").replace(". ", ".\n\n");
        assert_eq!(simhash(STORY), simhash(&reflowed));
    }

    #[test]
    fn light_edits_stay_within_three_bits() {
        let edits = [
            STORY.replace("Monday", "Tuesday"),
            STORY.replace("a rare visit", "a rare two-day visit"),
            STORY.replace(" intense", ""),
            format!("BEIJING (Reuters) - {STORY}"),
            STORY.replace("more than a dozen", "over 12"),
        ];
        for edited in &edits {
            let d = hamming(simhash(STORY), simhash(edited));
            assert!(d <= 3, "distance {d} for edit {edited:.60}");
        }
    }

    #[test]
    fn different_stories_are_far_apart() {
        let other = "Michigan billionaire education activist Betsy DeVos was confirmed today to serve as \
            the secretary of education in President Trump's administration, after Vice President Mike \
            Pence cast a tie-breaking vote in the Senate.";
        assert!(hamming(simhash(STORY), simhash(other)) > 10);
    }
}
