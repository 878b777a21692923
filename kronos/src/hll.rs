//! A tiny HyperLogLog sketch for counting distinct destination ports, hosts and services per
//! source without remembering them.
//!
//! 32 one-byte registers (precision 5): 32 bytes per sketch, a standard error of about
//! 1.04 / √32 ≈ 18 %, exact-ish (linear counting) below ~80 distinct values. That is plenty to
//! tell 3 ports from 50 from 500, which is all the behaviour features need, and small enough to
//! keep several per tracked source.
//!
//! Hashing is deterministic ([`hash_u64`], SplitMix64's finaliser): the same traffic gives the
//! same features in `serve`, `train` and `score`, on every run.

use std::net::IpAddr;

/// Number of index bits.
const PRECISION: u32 = 5;
/// Number of registers, `2^PRECISION`.
const REGISTERS: usize = 1 << PRECISION;
/// Bias correction `α_m` for 32 registers (Flajolet et al.).
const ALPHA: f64 = 0.697;

/// A HyperLogLog sketch with 32 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hll {
    registers: [u8; REGISTERS],
}

impl Hll {
    /// Adds a value, given as its 64-bit hash (see [`hash_u64`], [`hash_ip`]).
    pub fn insert(&mut self, hash: u64) {
        let index = (hash >> (64 - PRECISION)) as usize;
        let rest = hash << PRECISION;
        // Position of the first 1 bit in the remaining 59 bits, 1-based; 60 when all are zero.
        let rank = (rest.leading_zeros().min(64 - PRECISION) + 1) as u8;
        let register = &mut self.registers[index];
        *register = (*register).max(rank);
    }

    /// The register-wise maximum of two sketches: a sketch of the union of both sets.
    pub fn union(&self, other: &Self) -> Self {
        let mut registers = self.registers;
        for (r, o) in registers.iter_mut().zip(other.registers) {
            *r = (*r).max(o);
        }
        Self { registers }
    }

    /// Estimated number of distinct values inserted (0 for an empty sketch).
    pub fn estimate(&self) -> f64 {
        let m = REGISTERS as f64;
        let mut inverse_sum = 0.0;
        let mut zeros = 0usize;
        for &r in &self.registers {
            inverse_sum += f64::from(r).exp2().recip();
            zeros += usize::from(r == 0);
        }
        let raw = ALPHA * m * m / inverse_sum;
        if raw <= 2.5 * m && zeros > 0 {
            // Small-range correction: linear counting over the empty registers.
            m * (m / zeros as f64).ln()
        } else {
            raw
        }
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.registers = [0; REGISTERS];
    }
}

/// A well-mixed 64-bit hash of a 64-bit value (SplitMix64's finaliser).
pub fn hash_u64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A 64-bit hash of an address (IPv4 and IPv6 never collide by construction of the input).
pub fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => hash_u64(u64::from(u32::from(a))),
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            hash_u64((bits >> 64) as u64 ^ hash_u64(bits as u64) ^ (1 << 63))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch_of(n: u64, salt: u64) -> Hll {
        let mut h = Hll::default();
        for i in 0..n {
            h.insert(hash_u64(i ^ (salt << 40)));
        }
        h
    }

    #[test]
    fn empty_and_repeated_values() {
        assert_eq!(Hll::default().estimate(), 0.0);
        let mut h = Hll::default();
        for _ in 0..1000 {
            h.insert(hash_u64(42));
        }
        assert!((h.estimate() - 1.0).abs() < 0.1, "{}", h.estimate());
    }

    #[test]
    fn estimates_are_within_the_expected_error() {
        for &(n, tolerance) in &[(3u64, 0.5), (20, 0.25), (500, 0.4), (10_000, 0.4)] {
            let e = sketch_of(n, 1).estimate();
            let rel = (e - n as f64).abs() / n as f64;
            assert!(rel < tolerance, "n={n} estimate={e}");
        }
        // Ordering, which is what the features rely on.
        assert!(sketch_of(3, 2).estimate() < sketch_of(50, 2).estimate());
        assert!(sketch_of(50, 2).estimate() < sketch_of(500, 2).estimate());
    }

    #[test]
    fn union_counts_both_sets_once() {
        let a = sketch_of(200, 3);
        let u = a.union(&a);
        assert_eq!(u, a);
        let mut b = Hll::default();
        for i in 100..300 {
            b.insert(hash_u64(i ^ (3 << 40)));
        }
        let e = a.union(&b).estimate();
        assert!((e - 300.0).abs() / 300.0 < 0.4, "{e}");
        let mut c = a;
        c.clear();
        assert_eq!(c, Hll::default());
    }

    #[test]
    fn address_hashes_differ_between_families() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "::a00:1".parse().unwrap();
        assert_ne!(hash_ip(v4), hash_ip(v6));
        assert_eq!(hash_ip(v4), hash_ip("10.0.0.1".parse().unwrap()));
    }
}
