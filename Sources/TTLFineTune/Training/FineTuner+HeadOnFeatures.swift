// The head trained alone on the frozen backbone's cached features: the epoch loop
// (``HeadFitMethod/epochs``) and the L-BFGS fit with its penalty sweep (``HeadFitMethod/lbfgs``).
import Dispatch
import Foundation
import TTLCore
import TTLNN

extension FineTuner {
    static func trainHeadOnFeatures(_ model: Model, head: Head, phase: Phase, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                                    cache: FeatureCache, state: inout RunState, progress: (EpochReport) -> Void,
                                    imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws {
        let features = try cachedFeatures(model, head: head, data: data, preprocessing: preprocessing, cache: cache,
                                          imagesDone: imagesDone, shouldStop: shouldStop)
        let (trainX, valX, trainY, valY) = (features.train, features.validation, features.trainLabels, features.validationLabels)
        var extractSeconds = features.seconds
        let f = head.inFeatures

        var params = ParameterTree()
        params[head.weight] = state.parameters[head.weight]
        if let b = head.bias { params[b] = state.parameters[b] }
        var optimizer = makeOptimizer(options, state: state.optimizer)
        let gemm = Gemm.Options(transposeB: true)
        func logits(_ x: Tensor, _ p: ParameterTree) -> Tensor {
            Gemm.forward(x, p.tensor(head.weight)!, head.bias.flatMap { p.tensor($0) }, options: gemm)
        }
        let steps = max(1, (trainY.count + options.batchSize - 1) / options.batchSize) * phase.epochs.count
        // One BLAS thread: a threaded GEMM's sums depend on how many threads split it, and a
        // head must come out the same bits however many cores the machine (or Slurm task) has; on
        // cached features an epoch is small next to extracting them.
        try BLAS.withThreadCount(1) {
            for epoch in state.epochsDone + 1 ... phase.epochs.upperBound {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let order = shuffled(trainY.count, &state.rng)
                var totalLoss = 0.0, correct = 0.0
                var lr: Float = options.learningRate
                var bad = false
                for start in stride(from: 0, to: order.count, by: options.batchSize) {
                    let idx = Array(order[start ..< min(start + options.batchSize, order.count)])
                    var xb = [Float](); xb.reserveCapacity(idx.count * f)
                    for i in idx { xb += trainX[i * f ..< (i + 1) * f] }
                    let x = Tensor(shape: [idx.count, f], scalars: xb), y = idx.map { trainY[$0] }
                    let z = logits(x, params)
                    let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing)
                    guard loss.isFinite else { bad = true; break }
                    let dz = SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: options.labelSmoothing)
                    let g = Gemm.backward(outputGradient: dz, x, params.tensor(head.weight)!, cShape: head.bias.map { _ in [head.outFeatures] }, options: gemm)
                    var grads = [head.weight: g.b]
                    if let b = head.bias, let gc = g.c { grads[b] = gc }
                    lr = options.schedule.rate(options.learningRate, step: state.step, totalSteps: steps)
                    optimizer.step(&params, gradients: grads, learningRate: lr)
                    state.step += 1
                    totalLoss += Double(loss) * Double(idx.count)
                    correct += accuracy(z, y) * Double(idx.count)
                }
                for (path, entry) in params.entriesInOrder { state.parameters[path] = entry }
                state.optimizer = optimizer.state
                if bad || !allFinite(params, frozen: []) {
                    state.stopped = try diverged(epoch, state)
                    return
                }
                var validation: (loss: Double, accuracy: Double)? = nil
                if !valY.isEmpty {
                    let z = logits(Tensor(shape: [valY.count, f], scalars: valX), params)
                    let (loss, _) = SoftmaxCrossEntropy.forward(logits: z, labels: valY, labelSmoothing: options.labelSmoothing)
                    validation = (Double(loss), accuracy(z, valY))
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 + extractSeconds
                extractSeconds = 0
                let n = Double(trainY.count)
                try finishEpoch(epoch, phase: phase, train: (totalLoss / n, correct / n), validation: validation, learningRate: lr, seconds: seconds,
                                data: data, options: options, state: &state, progress: progress)
                if state.stopped != nil { return }
                if epoch < options.totalEpochs && shouldStop() { throw Interrupted() }
            }
        }
    }

    /// The ``HeadFitMethod/lbfgs`` and ``HeadFitMethod/adam`` heads: the features as
    /// ``trainHeadOnFeatures`` gets them, then ``HeadFit/fit`` or ``AdamPath/fit``. Each fit of
    /// the sweep (or epoch of the path, and of the final training on every image) becomes one
    /// report of the history, numbered as epochs; the chosen one is kept. Ctrl-C between fits
    /// stops with a checkpoint of no finished epoch: a resumed run fits again from the cached features.
    static func fitHeadOnFeatures(_ model: Model, head: Head, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                                  cache: FeatureCache, state: inout RunState, progress: (EpochReport) -> Void,
                                  imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws {
        let features = try cachedFeatures(model, head: head, data: data, preprocessing: preprocessing, cache: cache,
                                          imagesDone: imagesDone, shouldStop: shouldStop)
        var extractSeconds = features.seconds
        let f = head.inFeatures
        let images = Double(data.train.count + data.validation.count)
        var history: [EpochReport] = []
        func record(_ seconds: Double, _ make: (Double) -> EpochReport) {
            let report = make(seconds + extractSeconds)
            extractSeconds = 0
            history.append(report)
            progress(report)
        }
        let (trainX, valX, trainY, valY) = (features.train, features.validation, features.trainLabels, features.validationLabels)
        guard var w = state.parameters[head.weight] else { throw FineTuneError.model("the head's weight '\(head.weight)' is missing") }
        let weight: [Float], bias: [Float], kept: Int, keptLoss: Double
        if options.headFit == .adam {
            let start = head.bias.flatMap { state.parameters.tensor($0)?.scalars } ?? []
            guard let fitted = AdamPath.fit(train: trainX, trainLabels: trainY, validation: valX, validationLabels: valY, classes: head.outFeatures,
                                            features: f, weight: w.tensor.scalars, bias: start, seed: options.seed, step: { s in
                record(s.seconds) { seconds in
                    EpochReport(epoch: history.count + 1, trainLoss: s.trainLoss, trainAccuracy: s.trainAccuracy, validationLoss: s.validationLoss,
                                validationAccuracy: s.validationAccuracy, seconds: seconds, imagesPerSecond: images / max(seconds, 1e-9),
                                learningRate: Double(AdamPath.learningRate), best: s.best)
                }
            }, shouldStop: shouldStop) else { throw Interrupted() }
            (weight, bias, kept) = (fitted.weight, fitted.bias, fitted.steps.count)
            keptLoss = fitted.steps[kept - 1].trainLoss
        } else {
            guard let fitted = HeadFit.fit(train: trainX, trainLabels: trainY, validation: valX, validationLabels: valY,
                                           classes: head.outFeatures, features: f, bias: head.bias != nil, seed: options.seed, step: { s in
                record(s.seconds) { seconds in
                    EpochReport(epoch: history.count + 1, trainLoss: s.trainLoss, trainAccuracy: s.trainAccuracy,
                                validationLoss: s.validationLoss, validationAccuracy: s.validationAccuracy, seconds: seconds,
                                imagesPerSecond: images / max(seconds, 1e-9), learningRate: 0, best: s.best, l2: s.l2, iterations: s.iterations)
                }
            }, shouldStop: shouldStop) else { throw Interrupted() }
            (weight, bias, kept) = (fitted.weight, fitted.bias, fitted.chosen + 1)
            let s = fitted.steps[fitted.chosen]
            keptLoss = s.validationLoss ?? s.trainLoss
        }
        w.tensor = Tensor(shape: [head.outFeatures, f], scalars: weight)
        state.parameters[head.weight] = w
        if let path = head.bias, var b = state.parameters[path] {
            b.tensor = Tensor(shape: [head.outFeatures], scalars: bias)
            state.parameters[path] = b
        }
        state.history += history
        state.epochsDone = history.count
        state.best = RunState.Best(loss: keptLoss, epoch: kept, parameters: state.parameters)
    }

    /// The frozen backbone's features of every training and validation image, from the cache
    /// where present (computed and stored where not), with their labels and the seconds it took.
    /// - Returns: `train` `[trainCount × inFeatures]`, `validation` `[validationCount × inFeatures]`, row-major.
    static func cachedFeatures(_ model: Model, head: Head, data: ImageFolder, preprocessing: Preprocessing, cache: FeatureCache,
                               imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws
        -> (train: [Float], validation: [Float], trainLabels: [Int], validationLabels: [Int], seconds: Double) {
        let extractor = try FeatureExtractor(model, head: head, preprocessing: preprocessing)
        let started = DispatchTime.now().uptimeNanoseconds
        let all = try extractor.features(of: data.allSamples, cache: cache, imagesDone: imagesDone, shouldStop: shouldStop)
        // Only a cache that grew can have passed its limit (a walk over every entry costs more than reading them).
        if cache.computed > 0 { cache.enforceLimit(keeping: extractor.key) }
        guard all.allSatisfy(\.isFinite) else { throw FineTuneError.model("the backbone's features are not all finite numbers: no head can be fitted") }
        let split = data.train.count * head.inFeatures
        return (Array(all[0 ..< split]), Array(all[split ..< all.count]), data.train.map(\.label), data.validation.map(\.label),
                Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
}
