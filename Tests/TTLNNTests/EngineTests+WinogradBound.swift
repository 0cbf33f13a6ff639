import Foundation
import TTLCore
@testable import TTLNN
import XCTest
import _TestSupport

/// The error bound ttl's Winograd F(4×4, 3×3) convolution is held to.
///
/// Winograd computes y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A for each 4×4 output tile. Its
/// rounding errors scale with the magnitudes of those transformed terms, not with |y|: where
/// the terms cancel (|y| small) a tolerance relative to |y| (the engine tests' usual
/// 1e-5 + 1e-4·|y|) can be exceeded by a correct kernel, which is what a sample other than
/// seed 7 did (by ~1.2e-6, in nhwc). The first-order bound of a float computation is
/// γ_n · (the same computation on absolute values) with γ_n = n·u/(1 − n·u), u = 2⁻²⁴ and n
/// the longest chain of roundings (Higham, *Accuracy and Stability of Numerical Algorithms*,
/// §3; for Winograd, Barabasz et al. 2020, "Error analysis and improving the accuracy of
/// Winograd convolution for deep neural networks"). So the reference here is a direct
/// convolution in double precision, and for every output element the bound is
///
///     γ_{C+25} · ( |Aᵀ| [ Σ_c (|G| |g_c| |Gᵀ|) ⊙ (|Bᵀ| |d_c| |B|) ] |A| + |bias| + |residual| )
///       + Σ_taps |w| · (error of the input, when the input is itself computed)
///
/// where C + 25 counts: ≤ 6 roundings in Bᵀ d B, ≤ 8 in G g Gᵀ (its constants 1/6, 1/12, 1/24
/// are rounded too) and 1 for a folded batch norm's scale, 1 for each product and C for the
/// sum over input channels, ≤ 8 in the output transform, 1 for the bias. (The residual sum
/// and the activations add one each where present; ReLU, leaky ReLU and clip are 1-Lipschitz.)
/// A wrong tap, tile, channel or epilogue gives errors of the order of |y| itself, orders of
/// magnitude above this bound; the tests also check that the bound stays well below max |y|.
enum WinogradBound {
    static let u = 0x1p-24
    static func gamma(_ n: Int) -> Double { Double(n) * u / (1 - Double(n) * u) }

    // The matrices of ttl_winograd.c (Lavin & Gray 2015, points 0, ±1, ±2), in absolute value.
    static let bt: [[Double]] = [[4, 0, 5, 0, 1, 0], [0, 4, 4, 1, 1, 0], [0, 4, 4, 1, 1, 0], [0, 2, 1, 2, 1, 0], [0, 2, 1, 2, 1, 0], [0, 4, 0, 5, 0, 1]]
    static let g: [[Double]] = [[1.0 / 4, 0, 0], [1.0 / 6, 1.0 / 6, 1.0 / 6], [1.0 / 6, 1.0 / 6, 1.0 / 6], [1.0 / 24, 1.0 / 12, 1.0 / 6],
                                [1.0 / 24, 1.0 / 12, 1.0 / 6], [0, 0, 1]]
    static let at: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, 1, 2, 2, 0], [0, 1, 1, 4, 4, 0], [0, 1, 1, 8, 8, 1]]

    /// A 3×3 stride-1 convolution in double with, per output element, the terms of the bound.
    /// `x` `[N, C, H, W]`, `weights` `[K, C, 3, 3]` (a folded batch norm's scale already
    /// multiplied in), `bias` `[K]`. Returns `y` `[N, K, OH, OW]`, `winograd` (the bracket
    /// above) and `propagated` (Σ_taps |w| · inputError).
    struct Result { var y: [Double]; var winograd: [Double]; var propagated: [Double]; var oh: Int; var ow: Int }

    static func convolution(_ x: [Double], inputError: [Double]?, n: Int, c: Int, h: Int, w: Int, weights: [Double], k: Int, bias: [Double]?,
                            padding p: Padding2D) -> Result {
        let oh = h + p.top + p.bottom - 2, ow = w + p.left + p.right - 2
        var y = [Double](repeating: 0, count: n * k * oh * ow), win = y, prop = y
        func xAt(_ b: Int, _ ch: Int, _ r: Int, _ col: Int) -> Double {
            r < 0 || r >= h || col < 0 || col >= w ? 0 : x[((b * c + ch) * h + r) * w + col]
        }
        func eAt(_ b: Int, _ ch: Int, _ r: Int, _ col: Int) -> Double {
            guard let e = inputError, r >= 0, r < h, col >= 0, col < w else { return 0 }
            return e[((b * c + ch) * h + r) * w + col]
        }
        // |G| |g| |Gᵀ| for every (k, c): [k][c][6][6].
        var uAbs = [Double](repeating: 0, count: k * c * 36)
        for ko in 0 ..< k {
            for ci in 0 ..< c {
                let base = (ko * c + ci) * 9
                for a in 0 ..< 6 {
                    for b in 0 ..< 6 {
                        var s = 0.0
                        for i in 0 ..< 3 { for j in 0 ..< 3 { s += g[a][i] * abs(weights[base + i * 3 + j]) * g[b][j] } }
                        uAbs[(ko * c + ci) * 36 + a * 6 + b] = s
                    }
                }
            }
        }
        let th = (oh + 3) / 4, tw = (ow + 3) / 4
        var vAbs = [Double](repeating: 0, count: c * 36)
        for b in 0 ..< n {
            for ty in 0 ..< th {
                for tx in 0 ..< tw {
                    let r0 = ty * 4 - p.top, c0 = tx * 4 - p.left
                    // |Bᵀ| |d| |B| of every input channel's 6×6 tile (zeros outside the image).
                    for ci in 0 ..< c {
                        for a in 0 ..< 6 {
                            for bb in 0 ..< 6 {
                                var s = 0.0
                                for i in 0 ..< 6 where bt[a][i] != 0 {
                                    for j in 0 ..< 6 where bt[bb][j] != 0 { s += bt[a][i] * abs(xAt(b, ci, r0 + i, c0 + j)) * bt[bb][j] }
                                }
                                vAbs[ci * 36 + a * 6 + bb] = s
                            }
                        }
                    }
                    for ko in 0 ..< k {
                        var m = [Double](repeating: 0, count: 36)
                        for ci in 0 ..< c { for e in 0 ..< 36 { m[e] += uAbs[(ko * c + ci) * 36 + e] * vAbs[ci * 36 + e] } }
                        for i in 0 ..< 4 {
                            for j in 0 ..< 4 {
                                let oy = ty * 4 + i, ox = tx * 4 + j
                                guard oy < oh, ox < ow else { continue }
                                var sw = 0.0
                                for a in 0 ..< 6 { for bb in 0 ..< 6 { sw += at[i][a] * m[a * 6 + bb] * at[j][bb] } }
                                var direct = bias?[ko] ?? 0, pe = 0.0
                                for ci in 0 ..< c {
                                    for di in 0 ..< 3 {
                                        for dj in 0 ..< 3 {
                                            let wv = weights[((ko * c + ci) * 3 + di) * 3 + dj]
                                            direct += wv * xAt(b, ci, oy - p.top + di, ox - p.left + dj)
                                            pe += abs(wv) * eAt(b, ci, oy - p.top + di, ox - p.left + dj)
                                        }
                                    }
                                }
                                let o = ((b * k + ko) * oh + oy) * ow + ox
                                y[o] = direct
                                win[o] = sw + abs(bias?[ko] ?? 0)
                                prop[o] = pe
                            }
                        }
                    }
                }
            }
        }
        return Result(y: y, winograd: win, propagated: prop, oh: oh, ow: ow)
    }

    /// A 1×1 convolution without bias in double (the tests' stem, run by oneDNN's direct
    /// kernel) and its first-order error bound γ_C · Σ|x·w|.
    static func pointwise(_ x: [Double], n: Int, c: Int, hw: Int, weights: [Double], k: Int) -> (y: [Double], error: [Double]) {
        var y = [Double](repeating: 0, count: n * k * hw), e = y
        for b in 0 ..< n {
            for ko in 0 ..< k {
                for q in 0 ..< hw {
                    var s = 0.0, a = 0.0
                    for ci in 0 ..< c {
                        let t = weights[ko * c + ci] * x[(b * c + ci) * hw + q]
                        s += t
                        a += abs(t)
                    }
                    y[(b * k + ko) * hw + q] = s
                    e[(b * k + ko) * hw + q] = gamma(c) * a
                }
            }
        }
        return (y, e)
    }
}

extension EngineTests {
    /// The engine's result `got` against the double-precision `expected` within `bound`,
    /// element by element; and the bound informative: below `informative` · max |expected|,
    /// so that a wrong tap, tile, channel or epilogue (errors of the order of |y|) cannot
    /// hide under it. (The bound is a worst case: on seeds 7–11 the largest error seen was
    /// 2.7 % of it, about 1·u times the transformed terms.)
    func assertWithinBound(_ got: Tensor, _ expected: [Double], _ bound: [Double], informative: Double, _ name: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        let g = got.scalars
        XCTAssertEqual(g.count, expected.count, name, file: file, line: line)
        guard g.count == expected.count else { return }
        var worst = 0.0, at = 0
        for i in g.indices {
            let ratio = abs(Double(g[i]) - expected[i]) / bound[i]
            if !(ratio <= worst) { worst = ratio; at = i }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(name): element \(at) is \(g[at]), the double-precision reference \(expected[at]), bound \(bound[at])",
                                 file: file, line: line)
        let scale = expected.map(abs).max() ?? 0
        XCTAssertLessThan(bound.max() ?? 0, informative * scale, "\(name): the bound says nothing", file: file, line: line)
    }

    /// One Winograd convolution (after a 1×1 stem that puts the activations into oneDNN's
    /// layout) against the double-precision reference and its bound.
    func winogradConvolutionWithinBound(cIn: Int, cOut: Int, bias: Bool, padding: Padding2D, _ name: String) throws {
        let stem = random([cIn, 3, 1, 1]), w = random([cOut, cIn, 3, 3], -0.3, 0.3), b = bias ? random([cOut]) : nil
        var params = [("stem", stem), ("w", w)]
        if let b { params.append(("b", b)) }
        let conv = Node("conv", Conv2DOp(Conv2DOptions(padding: padding)), inputs: ["s", "w"] + (bias ? ["b"] : []))
        let m = try model([1, 3, 13, 11], [Node("s", Conv2DOp(Conv2DOptions()), inputs: ["x", "stem"]), conv], params)
        let x = random([3, 3, 13, 11])
        Engine.current = .oneDNN
        XCTAssertNotNil(m.prepare(["x": x.shape]), name)
        try assertWinograd(m, x.shape, name)
        let got = try XCTUnwrap(m.run(["x": x])["conv"])
        let again = try XCTUnwrap(m.run(["x": x])["conv"])
        XCTAssertTrue(again.bitwiseEqual(got), "\(name): second run")

        let s = WinogradBound.pointwise(x.scalars.map(Double.init), n: 3, c: 3, hw: 13 * 11, weights: stem.scalars.map(Double.init), k: cIn)
        let r = WinogradBound.convolution(s.y, inputError: s.error, n: 3, c: cIn, h: 13, w: 11, weights: w.scalars.map(Double.init), k: cOut,
                                          bias: b?.scalars.map(Double.init), padding: padding)
        let n = cIn + 25
        // (Here the bound is 0.1–0.2 % of max |y|.)
        assertWithinBound(got, r.y, zip(r.winograd, r.propagated).map { WinogradBound.gamma(n) * $0 + $1 }, informative: 5e-3, name)
    }

    /// The ResNet block of `winogradCases` (Conv → BN → leaky ReLU, Conv → BN → Add → ReLU6,
    /// both convolutions Winograd, the second with the residual sum fused) against the
    /// double-precision reference, the first convolution's bound carried through the second.
    func winogradBlockWithinBound(_ name: String) throws {
        let c = 16
        let stem = random([c, 3, 1, 1]), w1 = random([c, c, 3, 3], -0.3, 0.3), w2 = random([c, c, 3, 3], -0.3, 0.3)
        let bn1 = batchNorm(c, "bn1"), bn2 = batchNorm(c, "bn2")
        let nodes = [
            Node("s", Conv2DOp(Conv2DOptions()), inputs: ["x", "stem"]),
            Node("conv1", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["s", "w1"]),
            bnNode("bn1", "conv1", "bn1"),
            Node("relu1", ActivationOp(.leakyReLU(slope: 0.1)), inputs: ["bn1"]),
            Node("conv2", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["relu1", "w2"]),
            bnNode("bn2", "conv2", "bn2"),
            Node("add", BinaryOp(.add), inputs: ["bn2", "s"]),
            Node("relu2", ActivationOp(.clip(min: 0, max: 6)), inputs: ["add"]),
        ]
        let block = try model([1, 3, 10, 10], nodes, [("stem", stem), ("w1", w1), ("w2", w2)] + bn1 + bn2)
        let x = random([4, 3, 10, 10])
        Engine.current = .oneDNN
        let summary = try XCTUnwrap(block.prepare(["x": x.shape]))
        if winogradApplies() { XCTAssertEqual(summary.kernels.filter { $0.hasPrefix("ttl:winograd") }.count, 2, "\(name): \(summary.kernels)") }
        let got = try XCTUnwrap(block.run(["x": x])["relu2"])

        // The folded batch norms exactly as the plan folds them (in float), taken as given.
        func folded(_ p: [(String, Tensor)], _ w: Tensor) -> (weights: [Double], shift: [Double]) {
            let t = Dictionary(uniqueKeysWithValues: p)
            let (scale, shift) = BatchNorm.foldedAffine(.init(scale: t[p[0].0]!, bias: t[p[1].0]!, mean: t[p[2].0]!, variance: t[p[3].0]!, epsilon: 1e-5))
            let per = w.count / scale.count
            return (w.scalars.enumerated().map { Double($0.element) * Double(scale[$0.offset / per]) }, shift.map(Double.init))
        }
        let (f1, sh1) = folded(bn1, w1), (f2, sh2) = folded(bn2, w2)
        let s = WinogradBound.pointwise(x.scalars.map(Double.init), n: 4, c: 3, hw: 100, weights: stem.scalars.map(Double.init), k: c)
        let r1 = WinogradBound.convolution(s.y, inputError: s.error, n: 4, c: c, h: 10, w: 10, weights: f1, k: c, bias: sh1, padding: Padding2D(1))
        // Leaky ReLU: 1-Lipschitz, one rounding (the 0.1·x).
        let a1 = r1.y.map { $0 < 0 ? 0.1 * $0 : $0 }
        let e1 = r1.y.indices.map { WinogradBound.gamma(c + 25) * r1.winograd[$0] + r1.propagated[$0] + WinogradBound.u * abs(a1[$0]) }
        let r2 = WinogradBound.convolution(a1, inputError: e1, n: 4, c: c, h: 10, w: 10, weights: f2, k: c, bias: sh2, padding: Padding2D(1))
        // + the residual s (one more rounding, and s's own error), then ReLU6 (1-Lipschitz).
        let pre = r2.y.indices.map { r2.y[$0] + s.y[$0] }
        let expected = pre.map { min(max($0, 0), 6) }
        let bound = r2.y.indices.map { WinogradBound.gamma(c + 26) * (r2.winograd[$0] + abs(s.y[$0])) + r2.propagated[$0] + s.error[$0] }
        // (The first convolution's worst case carried through the second makes this one
        // 1.5 % of max |y|: still far below what a wrong residual, shift or clip would give.)
        assertWithinBound(got, expected, bound, informative: 5e-2, name)
    }
}
