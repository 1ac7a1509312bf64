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
    // Words are lower-cased into a small buffer; ASCII (nearly all of English news) takes a
    // byte-wise fast path, other characters go through Unicode lower-casing.
    let mut word: Vec<u8> = Vec::with_capacity(64);
    let mut add = |word: &[u8]| {
        let h = xxh3_64_with_seed(word, SEED);
        // Branch-free so the compiler vectorises it.
        for (bit, w) in weights.iter_mut().enumerate() {
            *w += (((h >> bit) & 1) as i32) * 2 - 1;
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() {
                word.push(b.to_ascii_lowercase());
            } else if !word.is_empty() && b != b'\'' {
                add(&word);
                word.clear();
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("i is on a char boundary");
        if c.is_alphanumeric() {
            let mut buf = [0u8; 4];
            for lower in c.to_lowercase() {
                word.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
            }
        } else if !word.is_empty() && c != '’' {
            add(&word);
            word.clear();
        }
        i += c.len_utf8();
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
