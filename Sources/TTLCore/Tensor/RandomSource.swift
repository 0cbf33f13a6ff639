/// A small, fast, seedable random generator (SplitMix64), the same on every platform,
/// so that weight initialisation, shuffling and augmentation are reproducible from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The whole state of the generator: `SplitMix64(seed: g.state)` continues exactly where
    /// `g` is (checkpoints save it to resume a shuffle sequence).
    public private(set) var state: UInt64
    /// A generator starting from `seed` (any value, including a saved ``state``).
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`, 53 bits of resolution.
    public mutating func uniform(_ lo: Double = 0, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(UInt64(1) << 53)
    }
}

extension Tensor {
    /// A tensor of independent uniform draws in `[lo, hi)`.
    public static func uniform(_ shape: Shape, _ lo: Float, _ hi: Float, using rng: inout SplitMix64) -> Tensor {
        Tensor(uninitialized: shape) { buf in
            for i in 0 ..< buf.count { buf[i] = Float(rng.uniform(Double(lo), Double(hi))) }
        }
    }
}
