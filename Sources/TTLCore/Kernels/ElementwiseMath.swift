// The elementwise functions beyond the activations of ActivationOp: ONNX Elu, Selu, Tanh, Neg,
// Exp, Sqrt, Erf (GELU's building block) and Softplus (https://onnx.ai/onnx/operators/).
// Each is a scalar value and its derivative, run over a tensor by `Tensor.map`/`zipMap`.
import Foundation

/// Elementwise math functions with their derivatives. Any shape.
public enum ElementwiseMath {
    public enum Function: Sendable, Equatable {
        /// `x > 0 ? x : alpha · (eˣ − 1)`.
        case elu(alpha: Float)
        /// `gamma · (x > 0 ? x : alpha · (eˣ − 1))`.
        case selu(alpha: Float, gamma: Float)
        case tanh, neg, exp, sqrt, erf
        /// `ln(1 + eˣ)`.
        case softplus
    }

    /// The function at `x`.
    @inlinable public static func value(_ f: Function, _ x: Float) -> Float {
        switch f {
        case let .elu(a): x > 0 ? x : a * expm1f(x)
        case let .selu(a, g): g * (x > 0 ? x : a * expm1f(x))
        case .tanh: tanhf(x)
        case .neg: -x
        case .exp: expf(x)
        case .sqrt: sqrtf(x)
        case .erf: erff(x)
        // ln(1 + eˣ) without overflow: max(x, 0) + ln(1 + e^−|x|).
        case .softplus: Swift.max(x, 0) + log1pf(expf(-Swift.abs(x)))
        }
    }

    /// The derivative at `x` (at ELU's kink, the slope from the right, as PyTorch).
    @inlinable public static func derivative(_ f: Function, _ x: Float) -> Float {
        switch f {
        case let .elu(a): x > 0 ? 1 : a * expf(x)
        case let .selu(a, g): g * (x > 0 ? 1 : a * expf(x))
        case .tanh: { let t = tanhf(x); return 1 - t * t }()
        case .neg: -1
        case .exp: expf(x)
        case .sqrt: 0.5 / sqrtf(x)
        case .erf: 2 / Float.pi.squareRoot() * expf(-x * x)
        case .softplus: 1 / (1 + expf(-x))
        }
    }

    /// `f` of every element. Any shape.
    public static func forward(_ f: Function, _ x: Tensor) -> Tensor { x.map { value(f, $0) } }

    /// `dy · f′(x)`.
    public static func backward(_ f: Function, outputGradient dy: Tensor, input x: Tensor) -> Tensor {
        dy.zipMap(x) { g, v in g * derivative(f, v) }
    }
}

/// Parametric ReLU (ONNX PRelu): `x > 0 ? x : slope · x`, `slope` broadcast to `x`.
public enum PReLU {
    /// - Parameters:
    ///   - x: any shape
    ///   - slope: a shape that broadcasts to `x`'s (`[C, 1, 1]` for NCHW)
    public static func forward(_ x: Tensor, slope: Tensor) -> Tensor {
        x.zipMap(Broadcast.expand(slope, to: x.shape)) { v, s in v > 0 ? v : s * v }
    }

    /// dx = dy · (x > 0 ? 1 : slope); dslope = Σ over the broadcast axes of dy · (x > 0 ? 0 : x).
    public static func backward(outputGradient dy: Tensor, input x: Tensor, slope: Tensor) -> (input: Tensor, slope: Tensor) {
        let s = Broadcast.expand(slope, to: x.shape)
        let dx = x.zipMap(s) { v, k in v > 0 ? 1 : k }.zipMap(dy, *)
        let ds = x.zipMap(dy) { v, g in v > 0 ? 0 : v * g }
        return (dx, Broadcast.sum(ds, to: slope.shape))
    }
}

/// Elementwise power with broadcasting (ONNX Pow): `x ^ y`.
public enum Power {
    /// - Returns: the broadcast shape of `x` and `y`
    public static func forward(_ x: Tensor, _ y: Tensor) -> Tensor {
        guard let s = Broadcast.shape(x.shape, y.shape) else { preconditionFailure("shapes \(x.shape) and \(y.shape) do not broadcast") }
        return Broadcast.expand(x, to: s).zipMap(Broadcast.expand(y, to: s)) { powf($0, $1) }
    }

    /// d/dx = y · x^(y−1); d/dy = x^y · ln x (0 where x^y is 0), each reduced to its operand's shape.
    public static func backward(outputGradient dz: Tensor, _ x: Tensor, _ y: Tensor) -> (x: Tensor, y: Tensor) {
        let s = dz.shape
        let (bx, by) = (Broadcast.expand(x, to: s), Broadcast.expand(y, to: s))
        let dxFull = bx.zipMap(by) { a, b in b == 0 ? 0 : b * powf(a, b - 1) }.zipMap(dz, *)
        let dyFull = bx.zipMap(by) { a, b in
            let p = powf(a, b)
            return p == 0 ? 0 : p * logf(a)
        }.zipMap(dz, *)
        return (Broadcast.sum(dxFull, to: x.shape), Broadcast.sum(dyFull, to: y.shape))
    }
}
