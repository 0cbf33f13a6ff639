import TTLCore
import XCTest
import _TestSupport

/// The vectorised Adam update gives the scalar Swift loop's bits, lanes and tail alike.
final class AdamUpdateTests: XCTestCase {
    func testMatchesScalarLoopBitForBit() {
        var rng = SplitMix64(seed: 11)
        for n in [0, 1, 15, 16, 17, 100, 1283] {
            let g = Tensor.uniform([max(n, 1)], -3, 3, using: &rng).scalars
            var p = Tensor.uniform([max(n, 1)], -1, 1, using: &rng).scalars
            var m = Tensor.uniform([max(n, 1)], -0.1, 0.1, using: &rng).scalars
            var v = Tensor.uniform([max(n, 1)], 0, 0.01, using: &rng).scalars
            var (ep, em, ev) = (p, m, v)
            let (lr, b1, b2, c1, c2, eps): (Float, Float, Float, Float, Float, Float) = (1e-3, 0.9, 0.999, 0.271, 0.00299, 1e-8)
            for i in 0 ..< n {
                em[i] = b1 * em[i] + (1 - b1) * g[i]
                ev[i] = b2 * ev[i] + (1 - b2) * g[i] * g[i]
                ep[i] -= lr * (em[i] / c1) / ((ev[i] / c2).squareRoot() + eps)
            }
            g.withUnsafeBufferPointer { gp in
                AdamUpdate.apply(parameters: &p, m: &m, v: &v, gradient: gp.baseAddress!, count: n, learningRate: lr, beta1: b1, beta2: b2,
                                 correction1: c1, correction2: c2, epsilon: eps)
            }
            XCTAssertEqual(p.map(\.bitPattern), ep.map(\.bitPattern), "n = \(n): parameters")
            XCTAssertEqual(m.map(\.bitPattern), em.map(\.bitPattern), "n = \(n): first moment")
            XCTAssertEqual(v.map(\.bitPattern), ev.map(\.bitPattern), "n = \(n): second moment")
        }
    }
}
