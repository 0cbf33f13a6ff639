extension Reference {
    /// The elementwise activations, each as a function and its derivative.
    public enum Activation: Sendable {
        case relu
        /// Clamp to `[min, max]`.
        case clip(min: Double, max: Double)
        /// `x > 0 ? x : slope · x`.
        case leakyReLU(slope: Double)
        case sigmoid
        /// `max(0, min(1, alpha · x + beta))`.
        case hardSigmoid(alpha: Double, beta: Double)
        /// `x · max(0, min(1, x/6 + 1/2))`.
        case hardSwish

        /// The activation at `x`.
        public func value<T: ReferenceScalar>(_ x: T) -> T {
            switch self {
            case .relu: return x > 0 ? x : 0
            case let .clip(lo, hi): return min(max(x, T(lo)), T(hi))
            case let .leakyReLU(s): return x > 0 ? x : T(s) * x
            case .sigmoid: return 1 / (1 + T.exp(-x))
            case let .hardSigmoid(a, b): return min(1, max(0, T(a) * x + T(b)))
            case .hardSwish: return x * min(1, max(0, x / 6 + T(0.5)))
            }
        }

        /// The derivative at `x`; at a kink, the value PyTorch's backward uses.
        public func derivative<T: ReferenceScalar>(_ x: T) -> T {
            switch self {
            case .relu: return x > 0 ? 1 : 0
            case let .clip(lo, hi): return x >= T(lo) && x <= T(hi) ? 1 : 0
            case let .leakyReLU(s): return x > 0 ? 1 : T(s)
            case .sigmoid: let s = value(x); return s * (1 - s)
            case let .hardSigmoid(a, b): let t = T(a) * x + T(b); return t > 0 && t < 1 ? T(a) : 0
            case .hardSwish: return x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6
            }
        }
    }

    /// `f` applied to every element.
    public static func activation<T>(_ f: Activation, _ x: ReferenceTensor<T>) -> ReferenceTensor<T> {
        ReferenceTensor(shape: x.shape, scalars: x.scalars.map(f.value))
    }

    /// `dy · f′(x)` elementwise, `x` being the forward input.
    public static func activationBackward<T>(_ f: Activation, _ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>) -> ReferenceTensor<T> {
        ReferenceTensor(shape: x.shape, scalars: zip(dy.scalars, x.scalars).map { $0 * f.derivative($1) })
    }
}
