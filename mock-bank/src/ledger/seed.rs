//! Stable seeding of the generator's random streams, and the few distributions it draws from.
//!
//! Every random decision comes from a `ChaCha8Rng` whose 32-byte seed is derived with splitmix64 from the parts that
//! name the stream: (seed, bank id, customer index, account slot, stream name, month/cycle). Nothing here may use
//! `StdRng`, `thread_rng`, `DefaultHasher` or anything else whose output differs between machines or releases.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// splitmix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
pub(crate) const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable hash of names (bank id, stream names).
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Names of the independent random streams.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stream {
    /// Names, address, phone, birth date (`customer()`).
    Identity = fnv1a(b"identity"),
    /// Products, account terms, household habits (`accounts()`).
    Plan = fnv1a(b"plan"),
    /// One month of exogenous activity of one account (purchases, bills, payroll, transfers).
    Month = fnv1a(b"month"),
    /// Fraud of one card account in one month.
    Fraud = fnv1a(b"fraud"),
    /// Balance-driven decisions of one account on one day (card payments, sweeps, rescues).
    Decision = fnv1a(b"decision"),
}

/// A position in the tree of streams; `rng()` turns it into a generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamKey(u64);

impl StreamKey {
    pub(crate) fn root(seed: u64, bank_id: &str) -> Self {
        Self(splitmix64(seed ^ splitmix64(fnv1a(bank_id.as_bytes()))))
    }

    /// The child stream named by `part`.
    pub(crate) fn with(self, part: u64) -> Self {
        Self(splitmix64(self.0 ^ splitmix64(part.wrapping_add(0x2545_F491_4F6C_DD1D))))
    }

    pub(crate) fn stream(self, stream: Stream) -> Self {
        self.with(stream as u64)
    }

    pub(crate) fn rng(self) -> ChaCha8Rng {
        let mut seed = [0u8; 32];
        let mut h = self.0;
        for chunk in seed.chunks_exact_mut(8) {
            h = splitmix64(h);
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        ChaCha8Rng::from_seed(seed)
    }

    pub(crate) fn value(self) -> u64 {
        self.0
    }
}

/// Uniform in [0, 1).
pub(crate) fn unit<R: RngExt + ?Sized>(rng: &mut R) -> f64 {
    rng.random::<f64>()
}

/// Uniform in [lo, hi).
pub(crate) fn uniform<R: RngExt + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// `true` with probability `p` (clamped to [0, 1]).
pub(crate) fn chance<R: RngExt + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit(rng) < p.clamp(0.0, 1.0)
}

/// Integer uniform in `lo..=hi`.
pub(crate) fn between<R: RngExt + ?Sized>(rng: &mut R, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

/// Standard normal (Box-Muller).
pub(crate) fn normal<R: RngExt + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal amount in cents with the given median (dollars) and shape `sigma`, at least one cent.
pub(crate) fn lognormal_cents<R: RngExt + ?Sized>(rng: &mut R, median_dollars: f64, sigma: f64) -> i64 {
    let dollars = median_dollars * (sigma * normal(rng)).exp();
    ((dollars * 100.0).round() as i64).max(1)
}

/// Poisson count (Knuth's method below 30, a rounded normal above).
pub(crate) fn poisson<R: RngExt + ?Sized>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product = unit(rng);
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= unit(rng);
    }
    count
}

/// One element of a non-empty slice.
pub(crate) fn pick<'a, T, R: RngExt + ?Sized>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Index chosen with the given weights (non-empty, positive total).
pub(crate) fn weighted<R: RngExt + ?Sized>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = unit(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A stratified quantile in [0, 1) for item `index` of a population: consecutive indexes spread evenly
/// (golden-ratio sequence), shifted by a seed-dependent offset. Used where a population share must hold closely
/// even in small banks (pay frequencies, revolvers), where independent draws would wander.
pub(crate) fn stratified(index: u32, offset: u64) -> f64 {
    const PHI_FRAC: f64 = 0.618_033_988_749_894_8;
    let shift = (offset >> 11) as f64 / (1u64 << 53) as f64;
    (index as f64 * PHI_FRAC + shift).fract()
}

/// Upper-case alphanumeric reference of `len` characters (confirmation numbers, order ids).
pub(crate) fn push_reference<R: RngExt + ?Sized>(rng: &mut R, out: &mut String, len: usize) {
    const ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for _ in 0..len {
        out.push(ALNUM[rng.random_range(0..36)] as char);
    }
}

/// `len` decimal digits.
pub(crate) fn push_digits<R: RngExt + ?Sized>(rng: &mut R, out: &mut String, len: usize) {
    for _ in 0..len {
        out.push((b'0' + rng.random_range(0..10u8)) as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_distinct() {
        let a = StreamKey::root(7, "continental").with(3).stream(Stream::Month).with(5);
        let b = StreamKey::root(7, "continental").with(3).stream(Stream::Month).with(5);
        let c = StreamKey::root(7, "liberty").with(3).stream(Stream::Month).with(5);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Pinned value: the mixer must never change, or every generated bank changes with it.
        assert_eq!(StreamKey::root(0, "x").value(), StreamKey::root(0, "x").value());
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn poisson_mean_matches_lambda() {
        let mut rng = StreamKey::root(1, "t").rng();
        let n = 20_000;
        let total: u32 = (0..n).map(|_| poisson(&mut rng, 3.5)).sum();
        let mean = f64::from(total) / f64::from(n);
        assert!((mean - 3.5).abs() < 0.1, "mean {mean}");
    }

    #[test]
    fn stratified_shares_hold_in_small_populations() {
        let n = 500;
        let under = (0..n).filter(|i| stratified(*i, 12345) < 0.19).count();
        assert!((90..=100).contains(&under), "{under}");
    }
}
