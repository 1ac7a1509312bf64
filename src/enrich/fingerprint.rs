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
    simhash_and_word_count(text).0
}

/// [`simhash`] and [`crate::enrich::text::word_count`] in one pass over the text: both walk the
/// same words, and the enricher needs both.
pub fn simhash_and_word_count(text: &str) -> (u64, usize) {
    let mut votes = BitVotes::default();
    let mut word = WordHash::new();
    // The word count's own state (see `text::word_count`): `'`, `’` and `-` after a letter keep
    // a counted word going, where `-` separates the fingerprint's words.
    let mut words = 0;
    let mut in_counted_word = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII (nearly all of English news) is classified and lower-cased by table; other
        // characters go through Unicode lower-casing.
        let class = SIMHASH_ASCII[bytes[i] as usize];
        if class > NOT_ASCII {
            words += usize::from(!in_counted_word);
            in_counted_word = true;
            // A run of ASCII letters and digits, the hot loop: one table load and one FNV step
            // a byte, one mispredicted exit a word.
            word.push(class);
            i += 1;
            while let Some(&b) = bytes.get(i) {
                let lower = SIMHASH_ASCII[b as usize];
                if lower <= NOT_ASCII {
                    break;
                }
                word.push(lower);
                i += 1;
            }
            continue;
        }
        match class {
            SEPARATOR => {
                if !word.is_empty() {
                    votes.add(word.finish());
                }
                in_counted_word &= bytes[i] == b'-';
                i += 1;
            }
            APOSTROPHE => i += 1,
            NOT_ASCII => {
                let c = text[i..].chars().next().expect("i is on a char boundary");
                if c.is_alphanumeric() {
                    words += usize::from(!in_counted_word);
                    in_counted_word = true;
                    let mut buf = [0u8; 4];
                    for lower in c.to_lowercase() {
                        lower.encode_utf8(&mut buf).bytes().for_each(|b| word.push(b));
                    }
                } else if c != '’' {
                    if !word.is_empty() {
                        votes.add(word.finish());
                    }
                    in_counted_word = false;
                }
                i += c.len_utf8();
            }
            _ => unreachable!("letters and digits are handled above"),
        }
    }
    if !word.is_empty() {
        votes.add(word.finish());
    }
    (votes.finish(), words)
}

const SEPARATOR: u8 = 0;
const APOSTROPHE: u8 = 1;
const NOT_ASCII: u8 = 2;

/// Each byte's part in a word: ASCII letters and digits map to their lower case (what is
/// hashed), `'` is skipped inside a word ("don't" = "dont"), other ASCII separates words, and
/// bytes of multi-byte characters are decoded.
static SIMHASH_ASCII: [u8; 256] = {
    let mut table = [SEPARATOR; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = if byte >= 0x80 {
            NOT_ASCII
        } else if byte.is_ascii_alphanumeric() {
            byte.to_ascii_lowercase()
        } else if byte == b'\'' {
            APOSTROPHE
        } else {
            SEPARATOR
        };
        b += 1;
    }
    table
};

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

    #[inline(always)]
    fn push(&mut self, byte: u8) {
        self.state = (self.state ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        self.len += 1;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The word's hash; resets for the next word.
    #[inline(always)]
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
/// eight u64 accumulators hold eight 8-bit counters each (bit `8k + i` of the hash is counted in
/// byte `i` of accumulator `k`), so one word costs eight table loads and adds instead of 64
/// updates; the byte counters are flushed into wide totals before they can overflow.
struct BitVotes {
    packed: [u64; 8],
    in_packed: u32,
    totals: [u32; 64],
    words: u32,
}

/// `SPREAD[b]` has byte `i` set to bit `i` of `b`: adding it counts the eight bits of `b` at once.
static SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < 8 {
            table[b] |= ((b as u64 >> i) & 1) << (8 * i);
            i += 1;
        }
        b += 1;
    }
    table
};

impl Default for BitVotes {
    fn default() -> Self {
        BitVotes { packed: [0; 8], in_packed: 0, totals: [0; 64], words: 0 }
    }
}

impl BitVotes {
    #[inline(always)]
    fn add(&mut self, hash: u64) {
        for (k, acc) in self.packed.iter_mut().enumerate() {
            *acc += SPREAD[((hash >> (8 * k)) & 0xff) as usize];
        }
        self.words += 1;
        self.in_packed += 1;
        if self.in_packed == 255 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (k, acc) in self.packed.iter_mut().enumerate() {
            for i in 0..8 {
                self.totals[8 * k + i] += ((*acc >> (8 * i)) & 0xff) as u32;
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

    #[test]
    fn the_fused_word_count_handles_joiners_and_non_ascii() {
        for text in ["-a- 'b' --c", "Zürich’s ‘best’ café—and ﬁne", "a’ ’b", "x\u{a0}y 2024-11-29", STORY]
        {
            assert_eq!(simhash_and_word_count(text).1, crate::enrich::text::word_count(text), "{text:.40}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fused_word_count_is_the_word_count(text in "(?s)[a-zA-Z0-9 '’\\-.,éßİ—\u{a0}\n]{0,200}") {
            proptest::prop_assert_eq!(simhash_and_word_count(&text).1, crate::enrich::text::word_count(&text));
        }
    }
}
