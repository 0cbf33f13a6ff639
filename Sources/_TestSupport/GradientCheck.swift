import TTLCore
import XCTest

/// Checks `backward` (the output gradient and the inputs → one gradient per input) against
/// central finite differences of `forward` for float32 kernels: a random output gradient from
/// `rng` (drawn after `forward` has run once), a step of 1e-2, the objective Σ forward·dy summed
/// in Float64; atol 2e-3, rtol 2e-2, the tolerance set by that step. Returns the output.
@discardableResult
public func checkGradient(_ name: String, _ inputs: [Tensor], rng: inout SeededRandom, forward: ([Tensor]) -> Tensor,
                          backward: (Tensor, [Tensor]) -> [Tensor], file: StaticString = #filePath, line: UInt = #line) -> Tensor {
    let y = forward(inputs)
    let dy = Tensor(shape: y.shape, scalars: rng.array(y.count, -1, 1).map(Float.init))
    let analytic = backward(dy, inputs)
    XCTAssertEqual(analytic.map(\.shape), inputs.map(\.shape), name, file: file, line: line)
    let h: Float = 1e-2
    func objective(_ x: [Tensor]) -> Double { zip(forward(x).scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    for k in inputs.indices where k < analytic.count {
        var numeric: [Double] = []
        for i in 0 ..< inputs[k].count {
            var plus = inputs, minus = inputs
            var p = plus[k].scalars, m = minus[k].scalars
            p[i] += h; m[i] -= h
            plus[k] = Tensor(shape: inputs[k].shape, scalars: p)
            minus[k] = Tensor(shape: inputs[k].shape, scalars: m)
            numeric.append((objective(plus) - objective(minus)) / (2 * Double(h)))
        }
        let c = closeness(analytic[k].scalars.map(Double.init), numeric, atol: 2e-3, rtol: 2e-2)
        XCTAssertTrue(c.passes, "\(name): gradient of input \(k): \(c)", file: file, line: line)
    }
    return y
}
