// One-way adapters between Keras's tensor layouts and ttl's (STYLE.md §3). Keras keeps
// images channels-last and weights in the order its ops read them; ttl runs NCHW with
// PyTorch's weight layouts.
import TTLCore

/// How a convolution kernel is laid out.
enum KernelLayout {
    /// Keras Conv2D: `[kH, kW, C_in/groups, C_out]`.
    case hwio
    /// ttl and PyTorch: `[C_out, C_in/groups, kH, kW]`.
    case oihw
}

/// Keras layout → ttl layout.
enum KerasToTTL {
    /// `[kH, kW, C_in/g, C_out]` → `[C_out, C_in/g, kH, kW]`.
    static func convKernel(_ k: Tensor) -> Tensor { Transpose.forward(k, permutation: [3, 2, 0, 1]) }

    /// DepthwiseConv2D `[kH, kW, C, M]` → a grouped convolution's `[C·M, 1, kH, kW]`
    /// (output channel `c·M + m`, as TensorFlow orders them).
    static func depthwiseKernel(_ k: Tensor) -> Tensor {
        let s = k.shape
        return Transpose.forward(k, permutation: [2, 3, 0, 1]).reshaped([s[2] * s[3], 1, s[0], s[1]])
    }

    /// Dense `[in, out]` → Linear `[out, in]`.
    static func denseKernel(_ k: Tensor) -> Tensor { Transpose.forward(k, permutation: [1, 0]) }

    /// A per-channel vector stored in any broadcastable shape (`[C]`, `[1, 1, 1, C]`) → `[C]`.
    static func channelVector(_ t: Tensor) -> Tensor { t.reshaped([t.count]) }

    /// Keras BatchNormalization momentum (weight of the old running value) → PyTorch's (weight of the new).
    static func momentum(_ keras: Float) -> Float { 1 - keras }

    /// Keras's NHWC activations ↔ ttl's NCHW: the permutation that turns one into the other.
    static let nhwcToNCHW = [0, 3, 1, 2]
    static let nchwToNHWC = [0, 2, 3, 1]
}

/// ttl layout → Keras layout: the inverse of each ``KerasToTTL`` adapter.
enum TTLToKeras {
    static func convKernel(_ w: Tensor) -> Tensor { Transpose.forward(w, permutation: [2, 3, 1, 0]) }

    /// `[C·M, 1, kH, kW]` → `[kH, kW, C, M]`.
    static func depthwiseKernel(_ w: Tensor, multiplier m: Int) -> Tensor {
        let s = w.shape
        return Transpose.forward(w.reshaped([s[0] / m, m, s[2], s[3]]), permutation: [2, 3, 0, 1])
    }

    static func denseKernel(_ w: Tensor) -> Tensor { Transpose.forward(w, permutation: [1, 0]) }
    static func momentum(_ ttl: Float) -> Float { 1 - ttl }
}

/// TensorFlow's 'SAME' padding for one spatial axis: the output is ⌈input / stride⌉ and the
/// odd pixel of padding, if any, goes after (bottom/right), unlike PyTorch's symmetric pads.
func tfSamePadding(input: Int, kernel: Int, stride: Int, dilation: Int = 1) -> (before: Int, after: Int) {
    let out = (input + stride - 1) / stride
    let total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - input, 0)
    return (total / 2, total - total / 2)
}

/// Composes permutations: transposing by `first` then by `second` is transposing by the result.
func composePermutations(_ first: [Int], _ second: [Int]) -> [Int] { second.map { first[$0] } }
