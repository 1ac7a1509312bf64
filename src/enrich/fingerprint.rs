//! Near-duplicate fingerprint: a 64-bit SimHash of the normalised words of the text.
//!
//! Normalisation lower-cases, folds typographic quotes and keeps only alphanumeric runs, so
//! re-flowed, re-punctuated or re-capitalised wire copies hash alike. Each word is hashed with
//! FNV-1a and the MurmurHash3 finaliser (fixed, published algorithms, with a fixed seed), so
//! fingerprints are stable across runs, machines and versions. A light edit (a few words
//! changed, added or removed) moves only a few bits: compare fingerprints by Hamming distance,
//! ≤ 3 meaning "same story" (mostly: the README gives the measured share).

/// Part of the fingerprint definition: changing it changes every fingerprint.
const SEED: u64 = 0x6e65_7773_2d65_6e72; // "news-enr"

/// SimHash of `text`. Empty text hashes to 0.
pub fn simhash(text: &str) -> u64 {
    simhash_and_word_count(text).0
}

/// [`simhash`] and [`crate::enrich::text::word_count`] in one pass over the text: both walk the
/// same words, and the enricher needs both.
///
/// A word's FNV-1a is a serial chain of multiplies, and a branch at every word end is
/// mispredicted about every other word; together they made this pass as slow as the taxonomy.
/// So the text is cut in two at a space and both halves are read side by side, one byte of
/// each per step (two independent chains), by a branch-free step that stores the current
/// word's state every time and advances the output only where a word ends; the votes are
/// counted afterwards. Apostrophes and non-ASCII characters, rare in English news, take a
/// branch of their own. The word count is the number of fingerprint words less the hyphens
/// that join two of them into one counted word ("military-to-military").
pub fn simhash_and_word_count(text: &str) -> (u64, usize) {
    let bytes = text.as_bytes();
    let half = bytes.len() / 2;
    // After an ASCII separator other than `-`, no word of either kind is open.
    let cut = bytes[half..].iter().position(|&b| CLASS[b as usize] == SEPARATOR).map_or(bytes.len(), |p| half + p + 1);
    HASHES.with(|cell| {
        let mut hashes = cell.borrow_mut();
        let (mut a, mut b) = (Lane::new(0, cut), Lane::new(cut, bytes.len()));
        if hashes.len() < a.capacity() + b.capacity() {
            hashes.resize(a.capacity() + b.capacity(), 0);
        }
        let (ha, hb) = hashes.split_at_mut(a.capacity());
        loop {
            read_side_by_side(bytes, &mut a, &mut b, ha, hb);
            if a.at < a.end && a.at_special(bytes) {
                a.special(text, ha);
            } else if b.at < b.end && b.at_special(bytes) {
                b.special(text, hb);
            } else {
                break; // a lane has ended
            }
        }
        a.finish(text, ha);
        b.finish(text, hb);
        let mut votes = BitVotes::default();
        for lane in [&mut ha[..a.ended], &mut hb[..b.ended]] {
            for state in lane.iter_mut() {
                *state = finish_word_hash(*state);
            }
            votes.add_all(lane);
        }
        (votes.finish(), a.ended + b.ended - hyphen_joins(text))
    })
}

thread_local! {
    /// FNV-1a states of the words of the current text, reused across calls.
    static HASHES: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Both lanes, one byte each per step, until either ends or reaches an apostrophe or a
/// non-ASCII byte. The state is copied into locals so that it stays in registers.
///
/// Most of the way the lanes go eight bytes at a time: one test per chunk for the bytes that
/// need the rare branch, and the chunk's word states stored into an eight-slot window (a word
/// ends at most every other byte: four per chunk), so the byte steps carry no checks of their
/// own.
#[inline(never)]
fn read_side_by_side(bytes: &[u8], a: &mut Lane, b: &mut Lane, ha: &mut [u64], hb: &mut [u64]) {
    let steps = (a.end - a.at).min(b.end - b.at);
    let (pa, pb) = (&bytes[a.at..a.at + steps], &bytes[b.at..b.at + steps]);
    let (mut sa, mut wa, mut ea) = (a.state, a.in_word, a.ended);
    let (mut sb, mut wb, mut eb) = (b.state, b.in_word, b.ended);
    let mut i = 0;
    while i + CHUNK <= steps {
        let (xa, xb) = (chunk_at(pa, i), chunk_at(pb, i));
        let (Some(oa), Some(ob)) = (ha.get_mut(ea..ea + CHUNK), hb.get_mut(eb..eb + CHUNK)) else {
            break;
        };
        if needs_special(u64::from_le_bytes(*xa)) || needs_special(u64::from_le_bytes(*xb)) {
            break;
        }
        let (oa, ob): (&mut [u64; CHUNK], &mut [u64; CHUNK]) =
            (oa.try_into().expect("a chunk's window"), ob.try_into().expect("a chunk's window"));
        // `ka` and `kb` stay below CHUNK; the masks only tell the compiler so.
        let (mut ka, mut kb) = (0, 0);
        for j in 0..CHUNK {
            oa[ka & (CHUNK - 1)] = sa;
            ka += step(CLASS[xa[j] as usize], &mut sa, &mut wa);
            ob[kb & (CHUNK - 1)] = sb;
            kb += step(CLASS[xb[j] as usize], &mut sb, &mut wb);
        }
        (ea, eb) = (ea + ka, eb + kb);
        i += CHUNK;
    }
    while i < steps {
        let (ca, cb) = (CLASS[pa[i] as usize], CLASS[pb[i] as usize]);
        if is_special(ca) | is_special(cb) {
            break;
        }
        ha[ea] = sa;
        ea += step(ca, &mut sa, &mut wa);
        hb[eb] = sb;
        eb += step(cb, &mut sb, &mut wb);
        i += 1;
    }
    (a.state, a.in_word, a.ended, a.at) = (sa, wa, ea, a.at + i);
    (b.state, b.in_word, b.ended, b.at) = (sb, wb, eb, b.at + i);
}

/// Bytes per lane per chunk of [`read_side_by_side`].
const CHUNK: usize = 8;

fn chunk_at(lane: &[u8], at: usize) -> &[u8; CHUNK] {
    lane[at..at + CHUNK].try_into().expect("a whole chunk")
}

/// Whether any of eight bytes is non-ASCII or `'`. Exact: a zero byte of `x ^ '''` always
/// fires the borrow test (which may also flag bytes above it; that does not matter here).
#[inline(always)]
fn needs_special(x: u64) -> bool {
    use crate::swar::{splat, zero_bytes, HIGH};
    (x & HIGH | zero_bytes(x ^ splat(b'\''))) != 0
}

/// One ASCII byte other than `'`, branch-free. Returns 1 when it ends a word, whose hash is
/// then the state before the step: callers store that state at every step, at the slot of the
/// next ended word, and advance the slot by the result.
#[inline(always)]
fn step(class: u8, state: &mut u64, in_word: &mut bool) -> usize {
    let letter = class >= WORD;
    let ends = usize::from(*in_word & !letter);
    let next = (*state ^ u64::from(class)).wrapping_mul(FNV_PRIME);
    *state = if letter { next } else { FNV_OFFSET };
    *in_word = letter;
    ends
}

fn is_special(class: u8) -> bool {
    class == APOSTROPHE || class == NOT_ASCII
}

/// One half of the text being read.
struct Lane {
    at: usize,
    end: usize,
    /// FNV-1a state of the word being read (the offset basis between words).
    state: u64,
    in_word: bool,
    /// Words ended so far: their states are the lane's `hashes[..ended]`.
    ended: usize,
}

impl Lane {
    fn new(at: usize, end: usize) -> Self {
        Lane { at, end, state: FNV_OFFSET, in_word: false, ended: 0 }
    }

    /// Hash slots the lane needs: a word ends at most every other byte, and one at the end;
    /// plus the window of a last chunk (see [`read_side_by_side`]).
    fn capacity(&self) -> usize {
        (self.end - self.at) / 2 + 2 + CHUNK
    }

    fn at_special(&self, bytes: &[u8]) -> bool {
        is_special(CLASS[bytes[self.at] as usize])
    }

    /// Reads the rest of the lane alone, and ends its last word.
    fn finish(&mut self, text: &str, hashes: &mut [u64]) {
        let bytes = text.as_bytes();
        while self.at < self.end {
            let class = CLASS[bytes[self.at] as usize];
            if is_special(class) {
                self.special(text, hashes);
            } else {
                hashes[self.ended] = self.state;
                self.ended += step(class, &mut self.state, &mut self.in_word);
                self.at += 1;
            }
        }
        self.end_word(hashes);
    }

    /// Reads an apostrophe (skipped inside a word: "don't" = "dont") or a non-ASCII character.
    #[cold]
    fn special(&mut self, text: &str, hashes: &mut [u64]) {
        if text.as_bytes()[self.at] == b'\'' {
            self.at += 1;
            return;
        }
        let c = text[self.at..].chars().next().expect("lanes stop on char boundaries");
        self.at += c.len_utf8();
        if c.is_alphanumeric() {
            self.in_word = true;
            let mut buf = [0u8; 4];
            for lower in c.to_lowercase() {
                for &b in lower.encode_utf8(&mut buf).as_bytes() {
                    self.state = (self.state ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
            }
        } else if c != '’' {
            self.end_word(hashes);
        }
    }

    fn end_word(&mut self, hashes: &mut [u64]) {
        if self.in_word {
            hashes[self.ended] = self.state;
            self.ended += 1;
            self.in_word = false;
            self.state = FNV_OFFSET;
        }
    }
}

/// How many runs of `-`, `'` and `’` holding a `-` stand between two letters or digits: each
/// joins two fingerprint words into one counted word (`text::word_count` keeps a word going
/// through all three; the fingerprint splits at `-` and skips apostrophes).
fn hyphen_joins(text: &str) -> usize {
    let is_joiner = |c: char| matches!(c, '-' | '\'' | '’');
    let mut joins = 0;
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'-', &text.as_bytes()[from..]) {
        let at = from + p;
        let before = text[..at].trim_end_matches(is_joiner);
        let after = text[at..].trim_start_matches(is_joiner);
        let joined = before.chars().next_back().is_some_and(char::is_alphanumeric)
            && after.chars().next().is_some_and(char::is_alphanumeric);
        joins += usize::from(joined);
        from = text.len() - after.len();
    }
    joins
}

/// Byte classes below [`WORD`]; ASCII letters and digits map to their lower case (what is
/// hashed; all are ≥ `'0'`).
const SEPARATOR: u8 = 0;
const APOSTROPHE: u8 = 1;
const NOT_ASCII: u8 = 2;
const WORD: u8 = b'0';

/// Each byte's part in a word: ASCII letters and digits map to their lower case, `'` is skipped
/// inside a word ("don't" = "dont"), other ASCII separates words, and bytes of multi-byte
/// characters are decoded.
static CLASS: [u8; 256] = {
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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash of one normalised word from its FNV-1a state: the MurmurHash3 64-bit finaliser so
/// that every output bit depends on every input bit (FNV alone leaves the high bits weak, and
/// SimHash uses all 64). Both are fixed, published algorithms, so fingerprints never change
/// across builds or platforms.
#[inline(always)]
fn finish_word_hash(fnv_state: u64) -> u64 {
    let mut h = fnv_state ^ SEED;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Per-bit vote counts of the word hashes. A SimHash bit is set when more than half of the
/// words' hashes have it set (the classic sum of ±1 being positive).
///
/// Counting is bit-sliced in two levels, because counting each hash's 64 bits one by one cost
/// more than hashing its word. Hashes come in blocks of sixteen through a carry-save adder tree
/// (Harley–Seal, as in fast population counts): bit planes worth 1, 2, 4 and 8 votes, about
/// five bitwise operations per hash, and a plane worth 16 per block. Only that plane, and the
/// few hashes left over after the last whole block, are counted per bit, in [`BytePlanes`].
#[derive(Default)]
struct BitVotes {
    ones: u64,
    twos: u64,
    fours: u64,
    eights: u64,
    sixteens: BytePlanes,
    singles: BytePlanes,
    words: u32,
}

/// A carry-save adder into a plane: the bitwise sum of `plane`, `a` and `b` leaves its low bits
/// in `plane` and returns the carries (worth twice as much).
#[inline(always)]
fn csa(plane: &mut u64, a: u64, b: u64) -> u64 {
    let u = *plane ^ a;
    let carries = (*plane & a) | (u & b);
    *plane = u ^ b;
    carries
}

/// Per-bit counts of the words added: eight u64 accumulators hold eight 8-bit counters each
/// (bit `8k + i` of a word is counted in byte `i` of accumulator `k`), so one word costs eight
/// table loads and adds instead of 64 updates; the byte counters are flushed into wide totals
/// before they can overflow.
struct BytePlanes {
    packed: [u64; 8],
    in_packed: u32,
    totals: [u32; 64],
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

impl Default for BytePlanes {
    fn default() -> Self {
        BytePlanes { packed: [0; 8], in_packed: 0, totals: [0; 64] }
    }
}

impl BytePlanes {
    #[inline(always)]
    fn add(&mut self, word: u64) {
        for (k, acc) in self.packed.iter_mut().enumerate() {
            *acc += SPREAD[((word >> (8 * k)) & 0xff) as usize];
        }
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

    fn totals(mut self) -> [u32; 64] {
        self.flush();
        self.totals
    }
}

impl BitVotes {
    /// Adds the hashes: whole blocks of sixteen through the adder tree, the rest one by one.
    fn add_all(&mut self, hashes: &[u64]) {
        let blocks = hashes.chunks_exact(16);
        let rest = blocks.remainder();
        for block in blocks {
            self.add_block(block.try_into().expect("a block of sixteen"));
        }
        for &hash in rest {
            self.singles.add(hash);
        }
        self.words += hashes.len() as u32;
    }

    /// Sixteen hashes into the planes: afterwards the count of every bit is still
    /// 16·sixteens + 8·eights + 4·fours + 2·twos + ones (+ singles).
    #[inline(always)]
    fn add_block(&mut self, h: &[u64; 16]) {
        let fours_of = |v: &mut Self, at: usize| {
            let twos_a = csa(&mut v.ones, h[at], h[at + 1]);
            let twos_b = csa(&mut v.ones, h[at + 2], h[at + 3]);
            csa(&mut v.twos, twos_a, twos_b)
        };
        let fours_a = fours_of(self, 0);
        let fours_b = fours_of(self, 4);
        let eights_a = csa(&mut self.fours, fours_a, fours_b);
        let fours_a = fours_of(self, 8);
        let fours_b = fours_of(self, 12);
        let eights_b = csa(&mut self.fours, fours_a, fours_b);
        let sixteens = csa(&mut self.eights, eights_a, eights_b);
        self.sixteens.add(sixteens);
    }

    fn finish(self) -> u64 {
        let (sixteens, singles) = (self.sixteens.totals(), self.singles.totals());
        let plane = |p: u64, bit: usize| (p >> bit & 1) as u32;
        (0..64).fold(0u64, |acc, bit| {
            let set = 16 * sixteens[bit]
                + 8 * plane(self.eights, bit)
                + 4 * plane(self.fours, bit)
                + 2 * plane(self.twos, bit)
                + plane(self.ones, bit)
                + singles[bit];
            if 2 * set > self.words {
                acc | 1 << bit
            } else {
                acc
            }
        })
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
            let fnv = word.bytes().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME));
            let h = finish_word_hash(fnv);
            for (bit, w) in weights.iter_mut().enumerate() {
                *w += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        weights.iter().enumerate().fold(0u64, |acc, (bit, &w)| if w > 0 { acc | 1 << bit } else { acc })
    }

    /// Fingerprints are stable across versions: these values come from the published FNV-1a 64
    /// test vectors and from `scripts/fingerprint_reference.py`, an independent implementation of
    /// the documented definition. A change here changes every stored fingerprint.
    #[test]
    fn fingerprints_are_the_published_definition() {
        let fnv = |s: &str| s.bytes().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME));
        assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(finish_word_hash(fnv("taiwan")), 0x819e_ebfc_8215_7a64);
        assert_eq!(simhash("The quick brown fox jumps over the lazy dog"), 0x6cdc_5e0c_8043_02e1);
        assert_eq!(simhash("Taiwan's president met U.S. officials in Taipei on Monday."), 0x2e10_4003_408b_3ba6);
    }

    #[test]
    fn bit_sliced_votes_match_the_definition() {
        // Over 255 blocks of sixteen words: exercises the byte counters' flush.
        let long = STORY.repeat(50);
        assert!(long.split_whitespace().count() > 255 * 16);
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

    /// The straightforward majority of the hashes' bits.
    fn majority_reference(hashes: &[u64]) -> u64 {
        (0..64).fold(0u64, |acc, bit| {
            let set = hashes.iter().filter(|&&h| h >> bit & 1 == 1).count();
            if 2 * set > hashes.len() {
                acc | 1 << bit
            } else {
                acc
            }
        })
    }

    #[test]
    fn a_bit_set_in_every_hash_does_not_overflow_its_counter() {
        // Past 255 blocks of sixteen with every bit set, then one hash fewer with none set.
        let (set, clear) = (vec![u64::MAX; 4200], vec![0; 4199]);
        let mut votes = BitVotes::default();
        votes.add_all(&set);
        votes.add_all(&clear);
        assert_eq!(votes.finish(), u64::MAX);
        let mut votes = BitVotes::default();
        votes.add_all(&set[1..]);
        votes.add_all(&clear);
        assert_eq!(votes.finish(), 0, "a tie is not a majority");
    }

    proptest::proptest! {
        /// Any split into lanes, any number of blocks and leftovers, skewed bits (so that the
        /// counts sit near the majority) and enough hashes for the flushes.
        #[test]
        fn the_adder_tree_counts_the_votes(
            lanes in proptest::collection::vec(
                proptest::collection::vec((proptest::num::u64::ANY, proptest::num::u64::ANY), 0..700),
                1..4,
            ),
            many in proptest::bool::weighted(0.1),
        ) {
            // A hash and-ed or or-ed with another is biased towards 0 or 1 per bit.
            let skew = |(a, b): &(u64, u64)| if a & 1 == 0 { a & b } else { a | b };
            let mut lanes: Vec<Vec<u64>> = lanes.iter().map(|l| l.iter().map(skew).collect()).collect();
            if many {
                let copy = lanes[0].clone();
                lanes[0] = copy.iter().cycle().take(copy.len() * 8).copied().collect();
            }
            let mut votes = BitVotes::default();
            for lane in &lanes {
                votes.add_all(lane);
            }
            let all: Vec<u64> = lanes.concat();
            proptest::prop_assert_eq!(votes.finish(), majority_reference(&all));
        }

        /// Long enough for both halves to have words, with the characters of the rare branch
        /// and the joiners at the cut.
        #[test]
        fn the_two_lane_pass_is_the_definition(text in "(?s)[a-zA-Z0-9 '’\\-.,éßİ—\u{a0}\n]{0,300}") {
            proptest::prop_assert_eq!(simhash(&text), simhash_reference(&text));
            proptest::prop_assert_eq!(simhash_and_word_count(&text).1, crate::enrich::text::word_count(&text));
        }

        /// Mostly plain ASCII, so that both lanes run through many eight-byte chunks, with a
        /// rare apostrophe or non-ASCII letter that stops a chunk anywhere.
        #[test]
        fn the_chunked_pass_is_the_definition(text in "([a-zA-Z0-9 .,\\-]{0,60}['é]?){0,10}") {
            proptest::prop_assert_eq!(simhash(&text), simhash_reference(&text));
            proptest::prop_assert_eq!(simhash_and_word_count(&text).1, crate::enrich::text::word_count(&text));
        }

        #[test]
        fn the_fused_word_count_is_the_word_count(text in "(?s)[a-zA-Z0-9 '’\\-.,éßİ—\u{a0}\n]{0,200}") {
            proptest::prop_assert_eq!(simhash_and_word_count(&text).1, crate::enrich::text::word_count(&text));
        }
    }
}
