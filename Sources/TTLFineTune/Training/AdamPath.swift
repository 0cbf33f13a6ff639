// The default head on cached features: a linear probe's Adam path (PyTorch's recipe), its epoch
// count chosen on validation images, then trained again on every image at hand. The inner loop
// (``AdamHeadTrainer``) works on the feature matrices where they lie, with every buffer
// allocated once: a step is a gather of the batch's rows, two GEMMs (the logits and the weight
// gradient; no input gradient), the softmax cross-entropy and Adam's update in place.
// ``AdamPath/referenceTrain`` is the same path through the generic kernels (Gemm,
// SoftmaxCrossEntropy, AdamW on a ParameterTree), kept to test the fast one against.
import Foundation
import TTLCore
import TTLNN

/// The head on cached features as a linear probe trains it (PyTorch: `nn.Linear`,
/// `torch.optim.Adam(lr=1e-3)`, constant rate, shuffled batches of 32, no weight decay), on the
/// raw features from the head's initial weights; but the number of epochs is chosen on
/// validation images (the lowest validation loss of ``maxEpochs``, then the higher accuracy),
/// and the head is then trained again from the same initial weights for that many epochs on
/// the training and validation images together. Without validation images, a seeded stratified
/// fifth of the training images chooses, and the head is trained again on all of them.
/// One BLAS thread throughout: the same bits on any machine.
public enum AdamPath {
    /// Epochs of the path whose ends are scored on validation images.
    public static let maxEpochs = 30
    public static let batchSize = 32
    public static let learningRate: Float = 1e-3

    /// One epoch of a path: the per-image mean training loss and accuracy over the epoch's
    /// batches, and the validation figures at its end (nil on the final training on every image).
    public struct Step: Sendable {
        public var epoch: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        public var validationLoss: Double?
        public var validationAccuracy: Double?
        public var seconds: Double
        /// Whether this epoch is the best so far on validation (every epoch of the final training is).
        public var best: Bool
    }

    /// The head kept and how it was chosen.
    public struct Result: Sendable {
        /// `[classes, f]` row-major.
        public var weight: [Float]
        /// `[classes]` (empty without a bias).
        public var bias: [Float]
        /// The number of epochs chosen on validation.
        public var epochs: Int
        /// Every epoch: those of the path scored on validation, then those of the final training.
        public var steps: [Step]
        /// Whether the kept head was trained again on the training and validation images together.
        public var refit: Bool
    }

    /// Fits the head (see ``AdamPath``).
    /// - Parameters:
    ///   - train: `[nTrain, f]` row-major; `validation`: `[nVal, f]`
    ///   - weight: the initial `[classes, f]` weight; `bias`: the initial `[classes]` bias, empty for none
    ///   - step: called after every epoch
    public static func fit(train: [Float], trainLabels: [Int], validation: [Float], validationLabels: [Int], classes: Int, features f: Int,
                           weight: [Float], bias: [Float], seed: UInt64 = 0, maxEpochs: Int = AdamPath.maxEpochs,
                           step report: (Step) -> Void = { _ in }, shouldStop: () -> Bool = { false }) -> Result? {
        precondition(train.count == trainLabels.count * f && validation.count == validationLabels.count * f && weight.count == classes * f)
        precondition(f > 0 && classes > 0 && (bias.isEmpty || bias.count == classes))
        return BLAS.withThreadCount(1) { () -> Result? in
            let holdout = validationLabels.isEmpty
            let fitIdx: [Int], heldIdx: [Int]
            if holdout { (fitIdx, heldIdx) = HeadFit.holdout(trainLabels, classes: classes, seed: seed) } else { (fitIdx, heldIdx) = (Array(trainLabels.indices), []) }
            // The held-out fifth, gathered once (the validation split is already one matrix).
            let vx = holdout ? HeadFit.rows(train, heldIdx, features: f) : validation, vy = holdout ? heldIdx.map { trainLabels[$0] } : validationLabels
            return train.withUnsafeBufferPointer { tp -> Result? in
                validation.withUnsafeBufferPointer { vp -> Result? in
                    vx.withUnsafeBufferPointer { vxp -> Result? in
                        // Every example's row where it lies: the path's rows, then every row at hand.
                        let trainRows = rowPointers(tp, count: trainLabels.count, features: f)
                        let pathRows = holdout ? fitIdx.map { trainRows[$0] } : trainRows, pathLabels = holdout ? fitIdx.map { trainLabels[$0] } : trainLabels
                        let allRows = holdout ? trainRows : trainRows + rowPointers(vp, count: validationLabels.count, features: f)
                        let allLabels = holdout ? trainLabels : trainLabels + validationLabels
                        let trainer = AdamHeadTrainer(classes: classes, features: f, hasBias: !bias.isEmpty, batchSize: batchSize)
                        var scores = [Float](repeating: 0, count: vy.count * classes)

                        var steps: [Step] = []
                        var best = (epoch: 0, loss: Double.infinity, accuracy: -Double.infinity)
                        var t0 = DispatchTime.now().uptimeNanoseconds
                        if !vy.isEmpty {
                            trainer.reset(weight: weight, bias: bias)
                            var rng = SplitMix64(seed: seed)
                            for epoch in 1 ... max(maxEpochs, 1) where maxEpochs > 0 {
                                if shouldStop() { return nil }
                                let order = FineTuner.shuffled(pathRows.count, &rng)
                                guard let tr = trainer.epoch(rows: pathRows, labels: pathLabels, order: order, learningRate: learningRate) else { return nil }
                                let va = trainer.score(vxp, labels: vy, logits: &scores)
                                let better = va.loss < best.loss || (va.loss == best.loss && va.accuracy > best.accuracy)
                                if better { best = (epoch, va.loss, va.accuracy) }
                                let s = Step(epoch: epoch, trainLoss: tr.loss, trainAccuracy: tr.accuracy, validationLoss: va.loss, validationAccuracy: va.accuracy,
                                             seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, best: better)
                                t0 = DispatchTime.now().uptimeNanoseconds
                                steps.append(s); report(s)
                            }
                        }
                        // Nothing to choose on (a single image per class): the probe's 10 epochs.
                        let epochs = vy.isEmpty ? min(10, maxEpochs) : best.epoch
                        guard epochs > 0 else { return nil }
                        // Trained again on every image at hand, from the same start, in the same buffers.
                        trainer.reset(weight: weight, bias: bias)
                        var rng = SplitMix64(seed: seed)
                        let done = steps.count
                        t0 = DispatchTime.now().uptimeNanoseconds
                        for epoch in 1 ... epochs {
                            if shouldStop() { return nil }
                            let order = FineTuner.shuffled(allRows.count, &rng)
                            guard let tr = trainer.epoch(rows: allRows, labels: allLabels, order: order, learningRate: learningRate) else { return nil }
                            let s = Step(epoch: done + epoch, trainLoss: tr.loss, trainAccuracy: tr.accuracy, validationLoss: nil, validationAccuracy: nil,
                                         seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, best: true)
                            t0 = DispatchTime.now().uptimeNanoseconds
                            steps.append(s); report(s)
                        }
                        let (w, b) = trainer.head
                        return Result(weight: w, bias: b, epochs: epochs, steps: steps, refit: true)
                    }
                }
            }
        }
    }

    /// Pointers to the `count` rows of `f` values of a row-major matrix.
    static func rowPointers(_ x: UnsafeBufferPointer<Float>, count: Int, features f: Int) -> [UnsafePointer<Float>] {
        guard count > 0, let base = x.baseAddress else { return [] }
        return (0 ..< count).map { base + $0 * f }
    }

    /// `epochs` epochs of the path from `weight`/`bias` through the generic kernels (Gemm,
    /// SoftmaxCrossEntropy, AdamW on a ParameterTree), plainly: the reference
    /// ``AdamHeadTrainer`` is tested against. `after` sees each epoch's head and its mean
    /// training loss and accuracy. Returns nil when the loss stopped being finite.
    static func referenceTrain(x: [Float], labels: [Int], classes c: Int, features f: Int, weight: [Float], bias: [Float], epochs: Int, seed: UInt64,
                               after: (Int, ParameterTree, Double, Double) -> Void = { _, _, _, _ in }) -> ParameterTree? {
        var params = ParameterTree()
        params["weight"] = ParameterTree.Entry(Tensor(shape: [c, f], scalars: weight))
        if !bias.isEmpty { params["bias"] = ParameterTree.Entry(Tensor(shape: [c], scalars: bias)) }
        var optimizer = AdamW(weightDecay: 0)
        var rng = SplitMix64(seed: seed)
        let gemm = Gemm.Options(transposeB: true)
        for epoch in 1 ... max(epochs, 1) where epochs > 0 {
            let order = FineTuner.shuffled(labels.count, &rng)
            var totalLoss = 0.0, correct = 0.0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let idx = order[start ..< min(start + batchSize, order.count)]
                var xb = [Float](); xb.reserveCapacity(idx.count * f)
                for i in idx { xb += x[i * f ..< (i + 1) * f] }
                let xt = Tensor(shape: [idx.count, f], scalars: xb), y = idx.map { labels[$0] }
                let z = Gemm.forward(xt, params.tensor("weight")!, params.tensor("bias"), options: gemm)
                let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: 0)
                guard loss.isFinite else { return nil }
                let dz = SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: 0)
                let g = Gemm.backward(outputGradient: dz, xt, params.tensor("weight")!, cShape: bias.isEmpty ? nil : [c], options: gemm)
                var grads = ["weight": g.b]
                if let gc = g.c { grads["bias"] = gc }
                optimizer.step(&params, gradients: grads, learningRate: learningRate)
                totalLoss += Double(loss) * Double(idx.count)
                correct += FineTuner.accuracy(z, y) * Double(idx.count)
            }
            let n = Double(max(labels.count, 1))
            after(epoch, params, totalLoss / n, correct / n)
        }
        return params
    }
}

/// A linear softmax head `z = W x + b` trained by Adam (torch.optim.Adam's update, β 0.9 and
/// 0.999, ε 1e-8, no weight decay) over mini-batches of rows that stay where they lie. Every
/// buffer is allocated once, at creation; ``reset(weight:bias:)`` starts a new path in them.
final class AdamHeadTrainer {
    let classes: Int, features: Int, hasBias: Bool, batchSize: Int
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    /// `[classes, features]`, and Adam's moments of it.
    private let w, mW, vW: UnsafeMutablePointer<Float>
    /// `[classes]`, and Adam's moments of it (zeros and untouched without a bias).
    private let b, mB, vB: UnsafeMutablePointer<Float>
    /// The batch's rows `[batchSize, features]`, its logits (then their gradient) `[batchSize,
    /// classes]`, the weight gradient `[classes, features]`, the bias gradient `[classes]`.
    private let xb, z, dw, db: UnsafeMutablePointer<Float>
    /// Adam steps taken since the last reset.
    private(set) var steps = 0

    init(classes: Int, features: Int, hasBias: Bool, batchSize: Int) {
        precondition(classes > 0 && features > 0 && batchSize > 0)
        self.classes = classes; self.features = features; self.hasBias = hasBias; self.batchSize = batchSize
        let cf = classes * features
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        (w, mW, vW, dw) = (buffer(cf), buffer(cf), buffer(cf), buffer(cf))
        (b, mB, vB, db) = (buffer(classes), buffer(classes), buffer(classes), buffer(classes))
        xb = buffer(batchSize * features)
        z = buffer(batchSize * classes)
    }

    deinit {
        for p in [w, mW, vW, dw, b, mB, vB, db, xb, z] { p.deallocate() }
    }

    /// Starts a new path from `weight` (`[classes, features]`) and `bias` (`[classes]`, or empty
    /// without a bias), with Adam's moments at zero.
    func reset(weight: [Float], bias: [Float]) {
        let cf = classes * features
        precondition(weight.count == cf && bias.count == (hasBias ? classes : 0))
        weight.withUnsafeBufferPointer { w.update(from: $0.baseAddress!, count: cf) }
        bias.withUnsafeBufferPointer { if let p = $0.baseAddress { b.update(from: p, count: classes) } }
        if !hasBias { b.update(repeating: 0, count: classes) }
        for p in [mW, vW] { p.update(repeating: 0, count: cf) }
        for p in [mB, vB] { p.update(repeating: 0, count: classes) }
        steps = 0
    }

    /// The head now: `[classes, features]` and `[classes]` (empty without a bias).
    var head: (weight: [Float], bias: [Float]) {
        (Array(UnsafeBufferPointer(start: w, count: classes * features)), hasBias ? Array(UnsafeBufferPointer(start: b, count: classes)) : [])
    }

    /// One epoch: the rows in `order`, in batches of ``batchSize`` (the last one shorter), an
    /// Adam step each. Returns the per-row mean loss and accuracy of the logits each batch
    /// had before its step, or nil when a batch's loss is not finite.
    /// - Parameters:
    ///   - rows: each example's `features` values; `labels`: its class
    ///   - order: indices into `rows`
    func epoch(rows: [UnsafePointer<Float>], labels: [Int], order: [Int], learningRate lr: Float) -> (loss: Double, accuracy: Double)? {
        let (c, f) = (classes, features)
        var totalLoss = 0.0, hits = 0
        var start = 0
        while start < order.count {
            let nb = min(batchSize, order.count - start)
            for r in 0 ..< nb { (xb + r * f).update(from: rows[order[start + r]], count: f) }
            // Logits: the bias in every row, then + X Wᵀ.
            for r in 0 ..< nb { (z + r * c).update(from: b, count: c) }
            BLAS.sgemm(transposeB: true, m: nb, n: c, k: f, a: xb, lda: f, b: w, ldb: f, beta: 1, c: z, ldc: c)
            // Softmax cross-entropy (as SoftmaxCrossEntropy: exponentials summed in Float64),
            // the logits replaced by their gradient (softmax − onehot) / nb.
            let scale = 1 / Float(nb)
            var batchLoss = 0.0
            for r in 0 ..< nb {
                let row = z + r * c, y = labels[order[start + r]]
                var top = 0
                for j in 1 ..< c where row[j] > row[top] { top = j }
                if top == y { hits += 1 }
                let mx = row[top]
                var sum = 0.0
                for j in 0 ..< c { sum += Double(expf(row[j] - mx)) }
                let logZ = Double(mx) + Foundation.log(sum)
                batchLoss += logZ - Double(row[y])
                for j in 0 ..< c {
                    let p = Float(Foundation.exp(Double(row[j]) - logZ))
                    row[j] = (p - (j == y ? 1 : 0)) * scale
                }
            }
            let loss = Float(batchLoss / Double(nb))
            guard loss.isFinite else { return nil }
            totalLoss += Double(loss) * Double(nb)
            // dW = dZᵀ X, db = Σ rows of dZ.
            BLAS.sgemm(transposeA: true, m: c, n: f, k: nb, a: z, lda: c, b: xb, ldb: f, c: dw, ldc: f)
            step(learningRate: lr, rows: nb)
            start += nb
        }
        let n = Double(max(order.count, 1))
        return (totalLoss / n, Double(hits) / n)
    }

    /// Adam's update of W (and b) from ``dw`` and the logits' gradient in ``z`` (`rows` of them).
    private func step(learningRate lr: Float, rows nb: Int) {
        let c = classes
        steps += 1
        let c1 = 1 - Float(Foundation.pow(Double(beta1), Double(steps))), c2 = 1 - Float(Foundation.pow(Double(beta2), Double(steps)))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        // In C, vectorised (Swift's square root keeps every lane scalar); the same bits.
        func update(_ p: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                    _ g: UnsafeMutablePointer<Float>, _ n: Int) {
            AdamUpdate.apply(parameters: p, m: m, v: v, gradient: g, count: n, learningRate: lr, beta1: b1, beta2: b2,
                             correction1: c1, correction2: c2, epsilon: eps)
        }
        update(w, mW, vW, dw, c * features)
        if hasBias {
            db.update(repeating: 0, count: c)
            for r in 0 ..< nb { for k in 0 ..< c { db[k] += z[r * c + k] } }
            update(b, mB, vB, db, c)
        }
    }

    /// Mean cross-entropy and accuracy of the head on `x` (`[labels.count, features]`, one
    /// GEMM into `logits`, which holds `[labels.count, classes]`).
    func score(_ x: UnsafeBufferPointer<Float>, labels: [Int], logits: inout [Float]) -> (loss: Double, accuracy: Double) {
        let (n, c, f) = (labels.count, classes, features)
        guard n > 0, let xp = x.baseAddress else { return (.nan, .nan) }
        precondition(x.count == n * f && logits.count == n * c)
        return logits.withUnsafeMutableBufferPointer { zp -> (loss: Double, accuracy: Double) in
            let z = zp.baseAddress!
            for r in 0 ..< n { (z + r * c).update(from: b, count: c) }
            BLAS.sgemm(transposeB: true, m: n, n: c, k: f, a: xp, lda: f, b: w, ldb: f, beta: 1, c: z, ldc: c)
            var loss = 0.0, hits = 0
            for r in 0 ..< n {
                let row = z + r * c, y = labels[r]
                var top = 0
                for j in 1 ..< c where row[j] > row[top] { top = j }
                if top == y { hits += 1 }
                var sum = 0.0
                for j in 0 ..< c { sum += Double(expf(row[j] - row[top])) }
                loss += Double(row[top]) + Foundation.log(sum) - Double(row[y])
            }
            return (loss / Double(n), Double(hits) / Double(n))
        }
    }
}
