//! A dropout mask stored as bits: one bit per element, 1 = kept (r_i = 1), 0 = dropped.
//!
//! Layout: element i is bit `i % 64` of word `i / 64`, least significant bit first, the
//! same for every lane width. Bits past the length are always 0, so two masks of the same
//! length are equal exactly when their words are, and [`Mask::count_kept`] is a popcount.
//! For a units × batch matrix in nalgebra's column-major layout, element i is unit
//! `i % units` of example `i / units`.
//!
//! The forward pass writes it and the backward pass reads it: 1/32 of the bytes a float mask
//! would take.

/// A dropout mask of `len` entries, packed 64 to a word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mask {
    len: usize,
    words: Vec<u64>,
}

impl Mask {
    /// A mask of `len` entries, all dropped, ready for a forward pass to fill.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The mask with r_i = `kept(i)`.
    pub fn from_fn(len: usize, mut kept: impl FnMut(usize) -> bool) -> Self {
        let mut m = Self::new(len);
        for i in 0..len {
            if kept(i) {
                m.words[i / 64] |= 1 << (i % 64);
            }
        }
        m
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mask has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// r_i: whether element i is kept.
    ///
    /// # Panics
    /// If `i >= len`.
    pub fn get(&self, i: usize) -> bool {
        assert!(
            i < self.len,
            "mask index {i} out of range (len {})",
            self.len
        );
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// The number of kept entries, Σ r_i.
    pub fn count_kept(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.get(i))
    }

    /// The packed words (bits past the length are 0).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The words, for a kernel that writes whole words (it must keep bits past `len` at 0).
    pub(crate) fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_lsb_first() {
        let m = Mask::from_fn(70, |i| i == 0 || i == 65);
        assert_eq!(m.words(), &[1, 2]);
        assert_eq!(m.count_kept(), 2);
        assert!(m.get(65) && !m.get(64));
        assert!(Mask::new(0).is_empty());
    }
}
