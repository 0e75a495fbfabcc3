//! One fast hash, seeded once per run, for the tables and digests of the analysis and the
//! enrichers: a multiply-and-rotate mix, a tenth of SipHash's cost on the small keys they hash
//! (pids, inodes, endpoints). Remote ports and addresses are chosen by others: the seed,
//! drawn from the standard library's random keys, keeps them from lining up keys on one
//! bucket or one digest.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A hash map keyed through `Seeded`.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, Seeded>;
/// A hash set keyed through `Seeded`.
pub(crate) type HashSet<T> = std::collections::HashSet<T, Seeded>;

/// This run's seed.
pub(crate) fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64))
}

/// One step of the mix: `h` (the seed, or the last step's result) with the word `x`.
pub(crate) fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

/// Builds `Mixer`s from this run's seed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seeded;

impl BuildHasher for Seeded {
    type Hasher = Mixer;

    fn build_hasher(&self) -> Mixer {
        Mixer(seed())
    }
}

/// The hasher: every word mixed in (bytes eight at a time, the last ones with their count).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mixer(u64);

impl Hasher for Mixer {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = mix(self.0, u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.0 = mix(
            self.0,
            u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59),
        );
    }

    fn write_u8(&mut self, n: u8) {
        self.0 = mix(self.0, u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.0 = mix(self.0, u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = mix(self.0, u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0, n);
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = mix(mix(self.0, n as u64), (n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = mix(self.0, n as u64);
    }

    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits and a tag from the top seven: both
        // from the well-mixed middle of a last product.
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_near_keys_apart() {
        let h = |x: &dyn Fn(&mut Mixer)| {
            let mut m = Seeded.build_hasher();
            x(&mut m);
            m.finish()
        };
        assert_eq!(h(&|m| m.write_u32(7)), h(&|m| m.write_u32(7)));
        assert_ne!(h(&|m| m.write_u32(7)), h(&|m| m.write_u32(8)));
        // Bytes: a short tail differs from the same bytes padded with zeros.
        assert_ne!(h(&|m| m.write(b"ab")), h(&|m| m.write(b"ab\0")));
        assert_eq!(
            h(&|m| m.write(b"0123456789")),
            h(&|m| m.write(b"0123456789"))
        );
        // Consecutive pids spread over the buckets of a small table.
        let buckets: std::collections::BTreeSet<u64> = (1000u32..1064)
            .map(|pid| h(&|m| m.write_u32(pid)) & 63)
            .collect();
        assert!(buckets.len() > 32, "{} of 64 buckets", buckets.len());
    }
}
