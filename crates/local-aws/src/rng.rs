//! A tiny seeded PRNG (xorshift64*) for SNS fault injection and `rate` faults.
//!
//! Reproducibility matters more than quality here: a test that sets `seed` must see the same
//! duplicate/reorder decisions on every run, so the generator is deterministic and owned by the
//! twin rather than drawn from the OS. Pulling in `rand` for this would add a dependency tree
//! for ten lines of code.

/// xorshift64* generator; never yields the all-zero state.
#[derive(Debug, Clone)]
pub struct XorShift {
    state: u64,
}

impl XorShift {
    /// Seeds the generator; a zero seed is replaced because xorshift would stay at zero forever.
    pub fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed },
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p` (clamped to `[0, 1]`); consumes one draw even when `p` is 0 so
    /// that changing one rate does not shift the decisions made for another.
    pub fn chance(&mut self, p: f64) -> bool {
        let draw = self.next_f64();
        draw < p.clamp(0.0, 1.0)
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = XorShift::new(42);
        let mut b = XorShift::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = XorShift::new(0);
        assert_ne!(c.next_u64(), 0);
    }

    #[test]
    fn chance_roughly_matches_rate() {
        let mut r = XorShift::new(7);
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
    }
}
