//! A deterministic generator for synthetic benchmark data, shared by `likeness bench` and
//! `benches/gui.rs` (which includes this file by path).

/// SplitMix64, a deterministic generator for synthetic benchmark data (Steele, Lea and Flood,
/// "Fast splittable pseudorandom number generators", OOPSLA 2014). Not for anything else.
pub struct SplitMix(pub u64);
impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Approximately standard normal (sum of 4 uniforms, scaled).
    pub fn normal(&mut self) -> f32 {
        let s: f64 = (0..4)
            .map(|_| (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
            .sum();
        ((s - 2.0) * (3.0f64).sqrt()) as f32
    }
}
