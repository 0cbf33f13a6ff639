// Multi-label fine-tuning: a new head whose outputs are independent per label, trained with
// binary cross-entropy on logits on the frozen backbone's cached features (features do not
// depend on labels: the same cache serves single- and multi-label runs). The model that comes
// out ends in a Sigmoid after the head (so every export ends in one), and carries
// `multi_label` and a threshold per label, chosen on the validation images to maximise F1.
import Dispatch
import Foundation
import TTLCore
import TTLNN

/// One multi-label epoch's figures.
public struct MultiLabelEpochReport: Codable, Sendable {
    /// 1-based.
    public var epoch: Int
    /// Mean binary cross-entropy over the epoch's batches (per label and image).
    public var trainLoss: Double
    /// Mean validation binary cross-entropy at the epoch's end (nil without validation images).
    public var validationLoss: Double?
    /// Validation mean average precision at the epoch's end (nil without validation images).
    public var validationMAP: Double?
    /// Wall time of the epoch (the first one includes computing features).
    public var seconds: Double
    /// The learning rate at the epoch's last step.
    public var learningRate: Double
    /// True when this epoch's weights are the best so far (kept).
    public var best: Bool
}

/// What a multi-label fit produced.
public struct MultiLabelResult {
    /// The backbone with the new head and a final Sigmoid; labels, preprocessing,
    /// `multi_label` and thresholds in its metadata (``Model/info``).
    public var model: Model
    public var history: [MultiLabelEpochReport]
    /// The epoch whose weights ``model`` holds.
    public var bestEpoch: Int
    /// Per label, in ``MultiLabelData/labels`` order.
    public var thresholds: [Float]
    /// Why training stopped early, if it did.
    public var stoppedEarly: String?
}

/// Fine-tuning a multi-label head: ``fit(_:data:preprocessing:options:cache:progress:imagesDone:)``.
public enum MultiLabelFineTuner {
    /// Options a multi-label run does not support (yet): it trains the head on cached features only.
    public static func validate(_ options: FineTuneOptions) throws(FineTuneError) {
        try options.validate()
        if options.unfreezeFrom != nil || options.augment || options.freezeEpochs != nil {
            throw .invalidOptions("multi-label training fits the head on the frozen backbone's features; --unfreeze-from, --augment and --fine-tune are not supported with it")
        }
        if options.labelSmoothing != 0 { throw .invalidOptions("label smoothing is not supported with multi-label training") }
    }

    /// Fits a new multi-label head to `data` on the frozen backbone.
    public static func fit(_ backbone: Model, data: MultiLabelData, preprocessing: Preprocessing, options: FineTuneOptions,
                           cache: FeatureCache = FeatureCache(folder: nil), progress: (MultiLabelEpochReport) -> Void = { _ in },
                           imagesDone: (Int, Int) -> Void = { _, _ in }) throws -> MultiLabelResult {
        try validate(options)
        var model = backbone.removingNHWCAdapter()
        let c = data.labels.count
        let head: Head
        do { head = try model.replaceHead(classes: c, seed: options.seed) } catch { throw FineTuneError.model("\(error)") }
        model.freeze()
        let extractor = try FeatureExtractor(model, head: head, preprocessing: preprocessing)
        let f = head.inFeatures
        let started = DispatchTime.now().uptimeNanoseconds
        let all = try extractor.features(of: data.allImages, cache: cache, imagesDone: imagesDone, shouldStop: { false })
        if cache.computed > 0 { cache.enforceLimit(keeping: extractor.key) }
        var extractSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let nTrain = data.train.count, nVal = data.validation.count
        let trainX = Array(all[0 ..< nTrain * f]), valX = Array(all[nTrain * f ..< all.count])
        func multiHot(_ s: [MultiLabelSample]) -> [Float] {
            var t = [Float](repeating: 0, count: s.count * c)
            for (i, x) in s.enumerated() { for j in x.labels { t[i * c + j] = 1 } }
            return t
        }
        let trainT = multiHot(data.train), valT = multiHot(data.validation)

        var params = ParameterTree()
        params[head.weight] = model.parameters[head.weight]
        if let b = head.bias { params[b] = model.parameters[b] }
        var optimizer = FineTuner.makeOptimizer(options, state: OptimizerState())
        let gemm = Gemm.Options(transposeB: true)
        func logits(_ x: Tensor, _ p: ParameterTree) -> Tensor {
            Gemm.forward(x, p.tensor(head.weight)!, head.bias.flatMap { p.tensor($0) }, options: gemm)
        }
        let steps = max(1, (nTrain + options.batchSize - 1) / options.batchSize) * options.epochs
        var rng = SplitMix64(seed: options.seed)
        var step = 0
        var history: [MultiLabelEpochReport] = []
        var best = (loss: Double.infinity, epoch: 0, params: params)
        var stopped: String? = nil
        // One BLAS thread, as for single-label heads: the same bits on any number of cores.
        try BLAS.withThreadCount(1) {
            for epoch in 1 ... options.epochs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let order = FineTuner.shuffled(nTrain, &rng)
                var totalLoss = 0.0
                var lr = options.learningRate
                var bad = false
                for start in stride(from: 0, to: nTrain, by: options.batchSize) {
                    let idx = Array(order[start ..< min(start + options.batchSize, nTrain)])
                    var xb = [Float](), tb = [Float]()
                    xb.reserveCapacity(idx.count * f); tb.reserveCapacity(idx.count * c)
                    for i in idx { xb += trainX[i * f ..< (i + 1) * f]; tb += trainT[i * c ..< (i + 1) * c] }
                    let x = Tensor(shape: [idx.count, f], scalars: xb), t = Tensor(shape: [idx.count, c], scalars: tb)
                    let z = logits(x, params)
                    let (loss, bce) = BinaryCrossEntropy.forward(logits: z, targets: t)
                    guard loss.isFinite else { bad = true; break }
                    let dz = BinaryCrossEntropy.backward(cache: bce, targets: t)
                    let g = Gemm.backward(outputGradient: dz, x, params.tensor(head.weight)!, cShape: head.bias.map { _ in [c] }, options: gemm)
                    var grads = [head.weight: g.b]
                    if let b = head.bias, let gc = g.c { grads[b] = gc }
                    lr = options.schedule.rate(options.learningRate, step: step, totalSteps: steps)
                    optimizer.step(&params, gradients: grads, learningRate: lr)
                    step += 1
                    totalLoss += Double(loss) * Double(idx.count)
                }
                if bad || !FineTuner.allFinite(params, frozen: []) {
                    guard best.epoch > 0 else { throw FineTuneError.diverged(epoch: epoch) }
                    stopped = "the loss became NaN or infinite in epoch \(epoch); kept the weights of epoch \(best.epoch) (try a lower --lr)"
                    return
                }
                var validation: (loss: Double, map: Double?)? = nil
                if nVal > 0 {
                    let z = logits(Tensor(shape: [nVal, f], scalars: valX), params)
                    let (loss, bce) = BinaryCrossEntropy.forward(logits: z, targets: Tensor(shape: [nVal, c], scalars: valT))
                    let p = bce.probabilities.scalars
                    let aps = (0 ..< c).compactMap { j in
                        MultiLabelMetrics.averagePrecision(scores: (0 ..< nVal).map { p[$0 * c + j] }, targets: (0 ..< nVal).map { valT[$0 * c + j] == 1 })
                    }
                    validation = (Double(loss), aps.isEmpty ? nil : aps.reduce(0, +) / Double(aps.count))
                }
                let trainLoss = totalLoss / Double(max(nTrain, 1))
                let monitored = validation?.loss ?? trainLoss
                guard monitored.isFinite else {
                    guard best.epoch > 0 else { throw FineTuneError.diverged(epoch: epoch) }
                    stopped = "the loss became NaN or infinite in epoch \(epoch); kept the weights of epoch \(best.epoch) (try a lower --lr)"
                    return
                }
                // With validation images the best validation loss is kept; without, the last epoch.
                let isBest = validation == nil || monitored < best.loss
                if isBest { best = (monitored, epoch, params) }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 + extractSeconds
                extractSeconds = 0
                let report = MultiLabelEpochReport(epoch: epoch, trainLoss: trainLoss, validationLoss: validation?.loss, validationMAP: validation?.map ?? nil,
                                                   seconds: seconds, learningRate: Double(lr), best: isBest)
                history.append(report)
                progress(report)
                if let patience = options.patience, epoch - best.epoch >= patience, validation != nil {
                    stopped = "no better validation loss for \(patience) epochs; kept epoch \(best.epoch)"
                    return
                }
            }
        }
        // Thresholds on the kept weights' validation probabilities.
        var thresholds = [Float](repeating: 0.5, count: c)
        if nVal > 0 {
            let z = logits(Tensor(shape: [nVal, f], scalars: valX), best.params)
            let p = Sigmoid.forward(z).scalars
            for j in 0 ..< c {
                thresholds[j] = MultiLabelMetrics.bestThreshold(scores: (0 ..< nVal).map { p[$0 * c + j] }, targets: (0 ..< nVal).map { valT[$0 * c + j] == 1 })
            }
        }
        var out = model
        for (path, entry) in best.params.entriesInOrder { out.parameters[path] = entry }
        out.endingInSigmoid(head: head)
        out.info = ModelInfo(labels: data.labels, preprocessing: preprocessing, multiLabel: true, thresholds: thresholds)
        if let adapter = backbone.nhwcAdapterName { out = out.addingNHWCAdapter(named: adapter) }
        return MultiLabelResult(model: out, history: history, bestEpoch: best.epoch, thresholds: thresholds, stoppedEarly: stopped)
    }
}
