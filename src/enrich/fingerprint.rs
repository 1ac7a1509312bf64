//! Near-duplicate fingerprint: a 64-bit SimHash of the normalised words of the text.
//!
//! Normalisation lower-cases, folds typographic quotes and keeps only alphanumeric runs, so
//! re-flowed, re-punctuated or re-capitalised wire copies hash alike. Each word is hashed with
//! FNV-1a and the MurmurHash3 finaliser (fixed, published algorithms, with a fixed seed), so
//! fingerprints are stable across runs, machines and versions. A light edit (a few words changed, added or removed) moves only a
//! few bits: compare fingerprints by Hamming distance, ≤ 3 meaning "same story".

/// Part of the fingerprint definition: changing it changes every fingerprint.
const SEED: u64 = 0x6e65_7773_2d65_6e72; // "news-enr"

/// SimHash of `text`. Empty text hashes to 0.
pub fn simhash(text: &str) -> u64 {
    let mut votes = BitVotes::default();
    let mut word = WordHash::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // ASCII (nearly all of English news) takes a byte-wise fast path; other characters go
        // through Unicode lower-casing.
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() {
                word.push(b.to_ascii_lowercase());
            } else if !word.is_empty() && b != b'\'' {
                votes.add(word.finish());
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("i is on a char boundary");
        if c.is_alphanumeric() {
            let mut buf = [0u8; 4];
            for lower in c.to_lowercase() {
                lower.encode_utf8(&mut buf).bytes().for_each(|b| word.push(b));
            }
        } else if !word.is_empty() && c != '’' {
            votes.add(word.finish());
        }
        i += c.len_utf8();
    }
    if !word.is_empty() {
        votes.add(word.finish());
    }
    votes.finish()
}

/// The hash of one normalised word, computed while the word is read: FNV-1a over its bytes,
/// then the MurmurHash3 64-bit finaliser so that every output bit depends on every input bit
/// (FNV alone leaves the high bits weak, and SimHash uses all 64). Both are fixed, published
/// algorithms, so fingerprints never change across builds or platforms.
struct WordHash {
    state: u64,
    len: usize,
}

impl WordHash {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        WordHash { state: Self::OFFSET, len: 0 }
    }

    fn push(&mut self, byte: u8) {
        self.state = (self.state ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        self.len += 1;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The word's hash; resets for the next word.
    fn finish(&mut self) -> u64 {
        let mut h = self.state ^ SEED;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        *self = WordHash::new();
        h
    }
}

/// Per-bit vote counts of the word hashes. A SimHash bit is set when more than half of the
/// words' hashes have it set (the classic sum of ±1 being positive). Counting is bit-sliced:
/// eight u64 accumulators hold eight 8-bit counters each (bit `j + 8k` lives in byte `k` of
/// accumulator `j`), so one word costs 8 shift-mask-adds instead of 64 updates; the byte
/// counters are flushed into wide totals before they can overflow.
struct BitVotes {
    packed: [u64; 8],
    in_packed: u32,
    totals: [u32; 64],
    words: u32,
}

impl Default for BitVotes {
    fn default() -> Self {
        BitVotes { packed: [0; 8], in_packed: 0, totals: [0; 64], words: 0 }
    }
}

impl BitVotes {
    const LOW_BIT_OF_EACH_BYTE: u64 = 0x0101_0101_0101_0101;

    fn add(&mut self, hash: u64) {
        for (j, acc) in self.packed.iter_mut().enumerate() {
            *acc += (hash >> j) & Self::LOW_BIT_OF_EACH_BYTE;
        }
        self.words += 1;
        self.in_packed += 1;
        if self.in_packed == 255 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (j, acc) in self.packed.iter_mut().enumerate() {
            for k in 0..8 {
                self.totals[j + 8 * k] += ((*acc >> (8 * k)) & 0xff) as u32;
            }
            *acc = 0;
        }
        self.in_packed = 0;
    }

    fn finish(mut self) -> u64 {
        self.flush();
        self.totals
            .iter()
            .enumerate()
            .fold(0u64, |acc, (bit, &set)| if 2 * set > self.words { acc | 1 << bit } else { acc })
    }
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

    /// The straightforward definition: sum ±1 per bit over the word hashes.
    fn simhash_reference(text: &str) -> u64 {
        let mut weights = [0i64; 64];
        let normalised: String = text.chars().map(|c| if c == '’' { '\'' } else { c }).collect();
        for word in normalised.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let word: String = word.chars().filter(|c| *c != '\'').flat_map(char::to_lowercase).collect();
            if word.is_empty() {
                continue;
            }
            let mut hash = WordHash::new();
            word.bytes().for_each(|b| hash.push(b));
            let h = hash.finish();
            for (bit, w) in weights.iter_mut().enumerate() {
                *w += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        weights.iter().enumerate().fold(0u64, |acc, (bit, &w)| if w > 0 { acc | 1 << bit } else { acc })
    }

    #[test]
    fn bit_sliced_votes_match_the_definition() {
        let long = STORY.repeat(20); // over 255 words: exercises the counter flush
        for text in [STORY, long.as_str(), "Ünïcödé wörds, İstanbul and ΣΊΣΥΦΟΣ", "it's don’t", "a"] {
            assert_eq!(simhash(text), simhash_reference(text), "{text:.40}");
        }
    }

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
