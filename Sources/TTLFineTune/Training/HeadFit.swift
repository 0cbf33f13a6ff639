// The head fitted to convergence on cached features, as linear-probe evaluations do
// (scikit-learn's LogisticRegression(solver="lbfgs"); CLIP's and DINO's linear probes):
// full-batch L-BFGS on the softmax cross-entropy with an L2 penalty, swept over a grid of
// penalties from strong to weak, each fit warm-started from the previous one, the penalty
// chosen on validation images only. Everything runs on one thread (BLAS included) in a fixed
// order, so the head is the same bits whatever the machine's core count.
//
// L-BFGS: Nocedal & Wright, Numerical Optimization (2nd ed.), Algorithm 7.4 (two-loop
// recursion) and 7.5, with a backtracking line search on the Armijo condition; a pair is kept
// only when its curvature sᵀy is positive, so the inverse-Hessian estimate stays positive definite.
import Foundation
import TTLCore
import TTLNN

/// Multinomial logistic regression on features `x` (`[n, f]`, row-major), labels in `0 ..< classes`:
/// minimises `(1/n) Σᵢ CE(softmax(W xᵢ + b), yᵢ) + (λ/2)·‖W‖²` over `W` (`[classes, f]`) and
/// `b` (`[classes]`, not penalised). scikit-learn's `LogisticRegression(C=c)` minimises the same
/// function times `c·n`: λ = 1/(c·n).
public struct SoftmaxRegression: Sendable {
    /// `[n, f]` row-major, in Float64 (so that the loss and gradient are accurate well past
    /// the tolerances L-BFGS stops at).
    public let x: [Double]
    public let labels: [Int]
    public let classes: Int
    public let features: Int
    /// Whether the model has a bias `b`.
    public let bias: Bool

    /// The problem; `labels.count` examples of `features` values each.
    public init(x: [Double], labels: [Int], classes: Int, features: Int, bias: Bool = true) {
        precondition(x.count == labels.count * features && labels.allSatisfy { (0 ..< classes).contains($0) })
        self.x = x; self.labels = labels; self.classes = classes; self.features = features; self.bias = bias
    }

    /// The problem on float32 features.
    public init(x: [Float], labels: [Int], classes: Int, features: Int, bias: Bool = true) {
        self.init(x: x.map(Double.init), labels: labels, classes: classes, features: features, bias: bias)
    }

    public var count: Int { labels.count }
    /// Parameters: `W` row-major then `b` (when ``bias``).
    public var parameterCount: Int { classes * features + (bias ? classes : 0) }

    /// Logits `[n, classes]` of `theta` on `x` (one call of BLAS).
    static func logits(_ x: [Double], count n: Int, _ theta: [Double], classes c: Int, features f: Int, bias: Bool) -> [Double] {
        var z = [Double](repeating: 0, count: n * c)
        guard n > 0 else { return z }
        x.withUnsafeBufferPointer { xp in
            theta.withUnsafeBufferPointer { wp in
                z.withUnsafeMutableBufferPointer { zp in
                    BLAS.dgemm(transposeB: true, m: n, n: c, k: f, a: xp.baseAddress!, lda: f, b: wp.baseAddress!, ldb: f,
                               c: zp.baseAddress!, ldc: c)
                }
            }
        }
        if bias {
            for i in 0 ..< n { for k in 0 ..< c { z[i * c + k] += theta[c * f + k] } }
        }
        return z
    }

    /// Mean cross-entropy (unpenalised) and accuracy of `logits` `[n, classes]`.
    static func score(_ z: [Double], labels: [Int], classes c: Int) -> (loss: Double, accuracy: Double) {
        guard !labels.isEmpty else { return (.nan, .nan) }
        var loss = 0.0, hits = 0
        for (i, y) in labels.enumerated() {
            let row = z[i * c ..< (i + 1) * c]
            var top = row.startIndex
            for j in row.indices where row[j] > row[top] { top = j }
            let m = Double(row[top])
            var s = 0.0
            for v in row { s += Foundation.exp(Double(v) - m) }
            loss += m + Foundation.log(s) - Double(row[row.startIndex + y])
            if top - row.startIndex == y { hits += 1 }
        }
        return (loss / Double(labels.count), Double(hits) / Double(labels.count))
    }

    /// The penalised loss at `theta` and its gradient.
    public func lossAndGradient(_ theta: [Double], l2: Double) -> (loss: Double, gradient: [Double]) {
        let (n, c, f) = (count, classes, features)
        let z = Self.logits(x, count: n, theta, classes: c, features: f, bias: bias)
        // G = (softmax(Z) − onehot(y)) / n, `[n, c]`.
        var g = [Double](repeating: 0, count: n * c)
        var loss = 0.0
        var p = [Double](repeating: 0, count: c)
        for i in 0 ..< n {
            var m = -Double.infinity
            for k in 0 ..< c { m = max(m, Double(z[i * c + k])) }
            var s = 0.0
            for k in 0 ..< c { p[k] = Foundation.exp(Double(z[i * c + k]) - m); s += p[k] }
            loss += m + Foundation.log(s) - Double(z[i * c + labels[i]])
            for k in 0 ..< c { g[i * c + k] = (p[k] / s - (k == labels[i] ? 1 : 0)) / Double(n) }
        }
        loss /= Double(max(n, 1))
        // dW = Gᵀ X, `[c, f]`.
        var dw = [Double](repeating: 0, count: c * f)
        if n > 0 {
            g.withUnsafeBufferPointer { gp in
                x.withUnsafeBufferPointer { xp in
                    dw.withUnsafeMutableBufferPointer { dp in
                        BLAS.dgemm(transposeA: true, m: c, n: f, k: n, a: gp.baseAddress!, lda: c, b: xp.baseAddress!, ldb: f,
                                   c: dp.baseAddress!, ldc: f)
                    }
                }
            }
        }
        var gradient = [Double](repeating: 0, count: parameterCount)
        var penalty = 0.0
        for j in 0 ..< c * f {
            gradient[j] = dw[j] + l2 * theta[j]
            penalty += theta[j] * theta[j]
        }
        if bias {
            for i in 0 ..< n { for k in 0 ..< c { gradient[c * f + k] += g[i * c + k] } }
        }
        return (loss + 0.5 * l2 * penalty, gradient)
    }

    /// The penalised loss and its gradient computed plainly, one example at a
    /// time: the reference ``lossAndGradient(_:l2:)`` is tested against.
    public func referenceLossAndGradient(_ theta: [Double], l2: Double) -> (loss: Double, gradient: [Double]) {
        let (n, c, f) = (count, classes, features)
        var gradient = [Double](repeating: 0, count: parameterCount)
        var loss = 0.0
        var z = [Double](repeating: 0, count: c)
        for i in 0 ..< n {
            for k in 0 ..< c {
                var v = bias ? theta[c * f + k] : 0
                for j in 0 ..< f { v += theta[k * f + j] * x[i * f + j] }
                z[k] = v
            }
            let m = z.max() ?? 0
            let s = z.reduce(0) { $0 + Foundation.exp($1 - m) }
            loss += (m + Foundation.log(s) - z[labels[i]]) / Double(n)
            for k in 0 ..< c {
                let g = (Foundation.exp(z[k] - m) / s - (k == labels[i] ? 1 : 0)) / Double(n)
                for j in 0 ..< f { gradient[k * f + j] += g * x[i * f + j] }
                if bias { gradient[c * f + k] += g }
            }
        }
        for j in 0 ..< c * f {
            loss += 0.5 * l2 * theta[j] * theta[j]
            gradient[j] += l2 * theta[j]
        }
        return (loss, gradient)
    }

    /// How a fit ended.
    public struct Fit: Sendable {
        /// `W` row-major then `b`.
        public var theta: [Double]
        /// The penalised loss at ``theta``.
        public var loss: Double
        /// Largest |gradient component| at ``theta``.
        public var gradientNorm: Double
        public var iterations: Int
        /// Loss and gradient evaluations.
        public var evaluations: Int
    }

    /// Minimises the penalised loss with L-BFGS from `start` (zeros when nil) until the largest
    /// gradient component is at most `tolerance`, the loss stops decreasing (relative change
    /// below 64 ε over an iteration), the line search finds no decrease, or `maxIterations`.
    public func fit(l2: Double, start: [Double]? = nil, tolerance: Double = 1e-5, maxIterations: Int = 500, memory: Int = 10) -> Fit {
        let d = parameterCount
        var theta = start ?? [Double](repeating: 0, count: d)
        precondition(theta.count == d)
        var (loss, grad) = lossAndGradient(theta, l2: l2)
        var evaluations = 1
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        func infNorm(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            var r = 0.0
            for i in a.indices { r += a[i] * b[i] }
            return r
        }
        var iterations = 0
        while iterations < maxIterations && infNorm(grad) > tolerance && loss.isFinite {
            // Two-loop recursion: direction = −H·grad.
            var q = grad
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                for j in 0 ..< d { q[j] -= alpha[i] * y[i][j] }
            }
            let gamma = s.isEmpty ? 1 / max(infNorm(grad), 1e-12) : dot(s[s.count - 1], y[y.count - 1]) / dot(y[y.count - 1], y[y.count - 1])
            for j in 0 ..< d { q[j] *= gamma }
            for i in 0 ..< s.count {
                let beta = rho[i] * dot(y[i], q)
                for j in 0 ..< d { q[j] += s[i][j] * (alpha[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(grad, direction)
            if !(slope < 0) {
                // Not a descent direction (rounding): restart from steepest descent.
                s.removeAll(); y.removeAll(); rho.removeAll()
                direction = grad.map { -$0 / max(infNorm(grad), 1e-12) }
                slope = dot(grad, direction)
            }
            // Backtracking on the Armijo condition, from the unit step.
            var step = 1.0
            var next = theta, nextLoss = loss, nextGrad = grad
            var accepted = false
            for _ in 0 ..< 40 {
                for j in 0 ..< d { next[j] = theta[j] + step * direction[j] }
                (nextLoss, nextGrad) = lossAndGradient(next, l2: l2)
                evaluations += 1
                if nextLoss.isFinite && nextLoss <= loss + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            iterations += 1
            guard accepted else { break }
            var sk = [Double](repeating: 0, count: d), yk = sk
            for j in 0 ..< d { sk[j] = next[j] - theta[j]; yk[j] = nextGrad[j] - grad[j] }
            let sy = dot(sk, yk)
            let decrease = loss - nextLoss
            theta = next; grad = nextGrad
            let previous = loss
            loss = nextLoss
            if sy > 1e-12 * dot(yk, yk) && sy > 0 {
                if s.count == memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sk); y.append(yk); rho.append(1 / sy)
            }
            // scipy's L-BFGS-B `factr` as scikit-learn sets it: the loss no longer decreases
            // beyond rounding.
            if decrease <= 64 * Double.ulpOfOne * max(abs(previous), 1) { break }
        }
        return Fit(theta: theta, loss: loss, gradientNorm: infNorm(grad), iterations: iterations, evaluations: evaluations)
    }
}

/// How a head on cached features is trained (``FineTuneOptions/headFit``).
public enum HeadFitMethod: String, Codable, Sendable, CaseIterable {
    /// The epoch loop: mini-batches, the optimizer and its schedule, ``FineTuneOptions/epochs`` times.
    case epochs
    /// ``HeadFit``: L-BFGS to convergence, the L2 penalty swept and chosen on validation images.
    case lbfgs
    /// ``AdamPath``: a linear probe's Adam path, its epoch count chosen on validation images,
    /// then trained again on the training and validation images together.
    case adam
}

/// The head on cached features: standardised features, an L2 sweep fitted with
/// ``SoftmaxRegression``, the penalty chosen on validation images only.
public enum HeadFit {
    /// The penalties tried, strongest first (λ of ``SoftmaxRegression``, on standardised
    /// features): 10 down to 10⁻⁶ in steps of half a decade.
    public static let penalties: [Double] = (0 ... 14).map { Foundation.pow(10, 1 - Double($0) / 2) }
    /// The sweep stops after this many penalties in a row without a lower validation loss.
    public static let patience = 3
    /// Each fit stops when its largest gradient component is at most this (scikit-learn's `tol`)...
    public static let tolerance = 1e-4
    /// ... or after this many L-BFGS iterations.
    public static let maxIterations = 300

    /// One fit of the sweep.
    public struct Step: Sendable {
        public var l2: Double
        public var trainLoss: Double
        public var trainAccuracy: Double
        /// nil for the final refit on every image.
        public var validationLoss: Double?
        public var validationAccuracy: Double?
        public var iterations: Int
        public var seconds: Double
        /// Whether this fit is the best so far (the refit on every image always is).
        public var best: Bool
    }

    /// The chosen head and how it was chosen.
    public struct Result: Sendable {
        /// `[classes, f]` row-major, on the raw (unstandardised) features.
        public var weight: [Float]
        /// `[classes]`.
        public var bias: [Float]
        public var l2: Double
        /// Every fit in order; the last one that is ``chosen`` is the one returned.
        public var steps: [Step]
        /// Index in ``steps`` of the fit returned.
        public var chosen: Int
    }

    /// Per-feature mean and 1/std of `x` (`[n, f]`); a feature constant on the training images gets scale 1.
    static func standardisation(_ x: [Float], count n: Int, features f: Int) -> (mean: [Double], scale: [Double]) {
        var mean = [Double](repeating: 0, count: f), sq = [Double](repeating: 0, count: f)
        for i in 0 ..< n { for j in 0 ..< f { mean[j] += Double(x[i * f + j]) } }
        for j in 0 ..< f { mean[j] /= Double(max(n, 1)) }
        for i in 0 ..< n { for j in 0 ..< f { let d = Double(x[i * f + j]) - mean[j]; sq[j] += d * d } }
        let scale = (0 ..< f).map { j -> Double in
            let sd = (sq[j] / Double(max(n, 1))).squareRoot()
            return sd > 1e-6 ? 1 / sd : 1
        }
        return (mean, scale)
    }

    static func apply(_ x: [Float], count n: Int, features f: Int, _ t: (mean: [Double], scale: [Double])) -> [Double] {
        var out = [Double](repeating: 0, count: n * f)
        for i in 0 ..< n { for j in 0 ..< f { out[i * f + j] = (Double(x[i * f + j]) - t.mean[j]) * t.scale[j] } }
        return out
    }

    /// Stratified, seeded holdout of a fifth of each class (at least one image of a class with
    /// two or more): the indices kept for fitting and those held out.
    static func holdout(_ labels: [Int], classes: Int, seed: UInt64) -> (fit: [Int], held: [Int]) {
        var rng = SplitMix64(seed: seed ^ 0x4845_4144_4649_5421)
        var fit: [Int] = [], held: [Int] = []
        for k in 0 ..< classes {
            var idx = labels.indices.filter { labels[$0] == k }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let h = idx.count >= 2 ? max(1, idx.count / 5) : 0
            held += idx[0 ..< h]; fit += idx[h...]
        }
        return (fit.sorted(), held.sorted())
    }

    static func rows(_ x: [Float], _ idx: [Int], features f: Int) -> [Float] {
        var out = [Float](); out.reserveCapacity(idx.count * f)
        for i in idx { out += x[i * f ..< (i + 1) * f] }
        return out
    }

    /// Fits the head. With validation images, every penalty is fitted on `train` and scored on
    /// `validation`, and the best (lowest validation cross-entropy, then highest accuracy) is
    /// returned: on a few validation images accuracy ties across most penalties (the strongest
    /// one, a nearly class-mean classifier, is already close), the loss does not. Without them, a seeded stratified fifth of `train` plays the validation
    /// split to choose the penalty, then the head is refitted on all of `train` at that penalty.
    /// One BLAS thread throughout: the same bits on any machine.
    /// - Parameters:
    ///   - train: `[nTrain, f]` row-major; `validation`: `[nVal, f]`
    ///   - step: called after every fit
    public static func fit(train: [Float], trainLabels: [Int], validation: [Float], validationLabels: [Int], classes: Int, features f: Int,
                           bias: Bool = true, seed: UInt64 = 0, penalties: [Double] = HeadFit.penalties,
                           tolerance: Double = HeadFit.tolerance, maxIterations: Int = HeadFit.maxIterations,
                           step report: (Step) -> Void = { _ in }, shouldStop: () -> Bool = { false }) -> Result? {
        precondition(!penalties.isEmpty && train.count == trainLabels.count * f && validation.count == validationLabels.count * f)
        return BLAS.withThreadCount(1) { () -> Result? in
            let refit = validationLabels.isEmpty
            let fitIdx: [Int], heldIdx: [Int]
            if refit { (fitIdx, heldIdx) = holdout(trainLabels, classes: classes, seed: seed) } else { (fitIdx, heldIdx) = (Array(trainLabels.indices), []) }
            let fx = refit ? rows(train, fitIdx, features: f) : train, fy = refit ? fitIdx.map { trainLabels[$0] } : trainLabels
            let vx = refit ? rows(train, heldIdx, features: f) : validation, vy = refit ? heldIdx.map { trainLabels[$0] } : validationLabels
            // Standardised on the images the fit sees.
            let t = standardisation(fx, count: fy.count, features: f)
            let problem = SoftmaxRegression(x: apply(fx, count: fy.count, features: f, t), labels: fy, classes: classes, features: f, bias: bias)
            let sv = apply(vx, count: vy.count, features: f, t)

            var steps: [Step] = []
            var fits: [[Double]] = []
            var start: [Double]? = nil
            var best = -1, bestScore = (accuracy: -Double.infinity, loss: Double.infinity), sinceBest = 0
            for l2 in penalties {
                let t0 = DispatchTime.now().uptimeNanoseconds
                if !steps.isEmpty && shouldStop() { return nil }
                let r = problem.fit(l2: l2, start: start, tolerance: tolerance, maxIterations: maxIterations)
                start = r.theta
                let tr = SoftmaxRegression.score(SoftmaxRegression.logits(problem.x, count: fy.count, r.theta, classes: classes, features: f, bias: bias),
                                                 labels: fy, classes: classes)
                let va = SoftmaxRegression.score(SoftmaxRegression.logits(sv, count: vy.count, r.theta, classes: classes, features: f, bias: bias),
                                                 labels: vy, classes: classes)
                let better = vy.isEmpty || va.loss < bestScore.loss || (va.loss == bestScore.loss && va.accuracy > bestScore.accuracy)
                let s = Step(l2: l2, trainLoss: tr.loss, trainAccuracy: tr.accuracy, validationLoss: vy.isEmpty ? nil : va.loss,
                             validationAccuracy: vy.isEmpty ? nil : va.accuracy, iterations: r.iterations,
                             seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, best: better)
                steps.append(s); fits.append(r.theta); report(s)
                if vy.isEmpty { best = steps.count - 1; break }   // nothing to choose on: the strongest penalty
                if better {
                    best = steps.count - 1; bestScore = (va.accuracy, va.loss); sinceBest = 0
                } else {
                    sinceBest += 1
                    if sinceBest >= patience { break }
                }
            }
            var theta = fits[best], chosen = best
            let l2 = steps[best].l2
            var transform = t
            if refit && !vy.isEmpty {
                let t0 = DispatchTime.now().uptimeNanoseconds
                transform = standardisation(train, count: trainLabels.count, features: f)
                let all = SoftmaxRegression(x: apply(train, count: trainLabels.count, features: f, transform), labels: trainLabels, classes: classes,
                                            features: f, bias: bias)
                if shouldStop() { return nil }
                let r = all.fit(l2: l2, start: theta, tolerance: tolerance, maxIterations: maxIterations)
                theta = r.theta
                let tr = SoftmaxRegression.score(SoftmaxRegression.logits(all.x, count: all.count, theta, classes: classes, features: f, bias: bias),
                                                 labels: trainLabels, classes: classes)
                let s = Step(l2: l2, trainLoss: tr.loss, trainAccuracy: tr.accuracy, validationLoss: nil, validationAccuracy: nil,
                             iterations: r.iterations, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, best: true)
                steps.append(s); report(s)
                chosen = steps.count - 1
            }
            // Fold the standardisation into the head: W' = W·diag(scale), b' = b − W'·mean.
            var weight = [Float](repeating: 0, count: classes * f), b = [Float](repeating: 0, count: classes)
            for k in 0 ..< classes {
                var shift = bias ? theta[classes * f + k] : 0
                for j in 0 ..< f {
                    let w = theta[k * f + j] * transform.scale[j]
                    weight[k * f + j] = Float(w)
                    shift -= w * transform.mean[j]
                }
                b[k] = Float(shift)
            }
            return Result(weight: weight, bias: b, l2: l2, steps: steps, chosen: chosen)
        }
    }
}

