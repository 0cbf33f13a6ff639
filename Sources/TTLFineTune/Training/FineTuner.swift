// Fine-tuning: a new head for the dataset's classes on a pretrained backbone.
// With the backbone frozen and no augmentation, the backbone runs once per image (features
// cached, see FeatureCache) and the head trains on the features; otherwise every epoch runs
// the network on decoded images, training what is unfrozen.
import Dispatch
import Foundation
import TTLCore
import TTLNN

public struct FineTuneOptions: Sendable {
    public enum OptimizerKind: String, Sendable, CaseIterable { case sgd, adamw }
    public var epochs = 5
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    public var optimizer: OptimizerKind = .adamw
    public var momentum: Float = 0.9
    public var nesterov = false
    /// Default: 0.01 for AdamW, 0 for SGD (PyTorch's defaults).
    public var weightDecay: Float? = nil
    public var schedule: Schedule = .cosine
    public var labelSmoothing: Float = 0
    public var seed: UInt64 = 0
    /// nil: only the head trains. Otherwise that stage and everything after it (`layer4`).
    public var unfreezeFrom: String? = nil
    public var augment = false
    /// Stop after this many epochs without a better validation loss.
    public var patience: Int? = nil
    public init() {}
}

/// One epoch's figures.
public struct EpochReport: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var seconds: Double
    public var imagesPerSecond: Double
    public var learningRate: Double
    /// True when this epoch's weights are the best so far (kept).
    public var best: Bool
}

public struct FineTuneResult {
    /// The backbone with the new head, the best epoch's weights, labels and preprocessing in metadata.
    public var model: Model
    public var history: [EpochReport]
    public var bestEpoch: Int
    /// Why training stopped early, if it did (patience, a non-finite loss).
    public var stoppedEarly: String?
}

public enum FineTuneError: Error, CustomStringConvertible {
    case model(String)
    case image(ImageError)
    public var description: String {
        switch self {
        case let .model(m): m
        case let .image(e): "\(e)"
        }
    }
}

public enum FineTuner {
    /// Fits a new head (and any unfrozen stages) to `data`.
    /// - Parameters:
    ///   - progress: called after every epoch
    ///   - imagesDone: called as images go through the backbone (done, total), for progress bars
    public static func fit(_ backbone: Model, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                           cache: FeatureCache = FeatureCache(folder: nil), progress: (EpochReport) -> Void = { _ in },
                           imagesDone: (Int, Int) -> Void = { _, _ in }) throws -> FineTuneResult {
        // Images are decoded NCHW; a channels-last (Keras) model trains without its input
        // transpose and gets it back at the end.
        var model = backbone.removingNHWCAdapter()
        let head: Head
        do { head = try model.replaceHead(classes: data.classes.count, seed: options.seed) } catch { throw FineTuneError.model("\(error)") }
        model.freeze()
        if let stage = options.unfreezeFrom {
            do { try model.unfreeze(from: stage) } catch { throw FineTuneError.model("\(error)") }
        }
        model.unfreeze(prefix: head.weight)
        if let b = head.bias { model.unfreeze(prefix: b) }
        var result: FineTuneResult
        if options.unfreezeFrom == nil && !options.augment {
            result = try fitHeadOnFeatures(model, head: head, data: data, preprocessing: preprocessing, options: options, cache: cache,
                                           imagesDone: imagesDone, progress: progress)
        } else {
            result = try fitEndToEnd(model, head: head, data: data, preprocessing: preprocessing, options: options, progress: progress)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let labels = (try? encoder.encode(data.classes)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        result.model.metadata["labels"] = labels
        result.model.metadata["preprocessing"] = preprocessing.json
        if let adapter = backbone.nhwcAdapterName { result.model = result.model.addingNHWCAdapter(named: adapter) }
        return result
    }

    static func makeOptimizer(_ o: FineTuneOptions) -> any Optimizer {
        switch o.optimizer {
        case .sgd: SGD(momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay ?? 0)
        case .adamw: AdamW(weightDecay: o.weightDecay ?? 0.01)
        }
    }

    /// Decodes and preprocesses images into a `[N, 3, size, size]` batch, in parallel; `augment` draws a random
    /// resized crop and flip per image from `seed`.
    public static func load(_ samples: ArraySlice<Sample>, _ p: Preprocessing, augment: Bool = false, seed: UInt64 = 0) throws -> Tensor {
        let n = samples.count, plane = 3 * p.size * p.size
        var out = Tensor(zeros: [n, 3, p.size, p.size])
        let list = Array(samples)
        var failure: (any Error)? = nil
        let lock = NSLock()
        out.withUnsafeMutableBufferPointer { buf in
            parallelFor(n, costPerItem: 1 << 20) { i in
                do {
                    let url = list[i].url
                    var image: RGBImage
                    if augment {
                        image = try ImageDecoder.decode(contentsOf: url)
                        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
                        image = Augmentation.randomResizedCrop(image, using: &rng)
                    } else {
                        image = try ImageDecoder.decode(contentsOf: url, minimumSize: p.minimumDecodeSize)
                    }
                    let t = (augment ? Preprocessing(size: p.size, resize: .squash, mean: p.mean, std: p.std) : p).apply(image)
                    t.withUnsafeBufferPointer { src in (buf.baseAddress! + i * plane).update(from: src.baseAddress!, count: plane) }
                } catch {
                    lock.withLock { failure = failure ?? error }
                }
            }
        }
        if let failure = failure as? ImageError { throw FineTuneError.image(failure) }
        if let failure { throw failure }
        return out
    }

    // MARK: Frozen backbone: cached features, head only

    static func fitHeadOnFeatures(_ model: Model, head: Head, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                                  cache: FeatureCache, imagesDone: (Int, Int) -> Void, progress: (EpochReport) -> Void) throws -> FineTuneResult {
        let extractor: Model
        do { extractor = try model.cut(at: head.features) } catch { throw FineTuneError.model("\(error)") }
        let key = FeatureCache.key(backbone: extractor, preprocessing: preprocessing)
        let f = head.inFeatures
        let totalImages = data.train.count + data.validation.count
        var doneImages = 0
        func features(_ samples: [Sample]) throws -> [Float] {
            var out = [Float](repeating: 0, count: samples.count * f)
            var missing: [Int] = []
            var keys: [String] = []
            for (i, s) in samples.enumerated() {
                var h = FNV1a()
                h.combine((try? Data(contentsOf: s.url)) ?? Data())
                keys.append(h.hex)
                if let cached = cache.load(key, h.hex, count: f) { out.replaceSubrange(i * f ..< (i + 1) * f, with: cached) } else { missing.append(i) }
            }
            // Chunks of 32 images: while the backbone runs on one, the next is decoded.
            let chunks = stride(from: 0, to: missing.count, by: 32).map { Array(missing[$0 ..< min($0 + 32, missing.count)]) }
            func decode(_ k: Int) -> Result<Tensor, Error> {
                Result { try load(ArraySlice(chunks[k].map { samples[$0] }), preprocessing) }
            }
            var next: Result<Tensor, Error>? = chunks.isEmpty ? nil : decode(0)
            for (k, chunk) in chunks.enumerated() {
                let x = try next!.get()
                let group = DispatchGroup()
                let box = ResultBox()
                if k + 1 < chunks.count {
                    let work = UncheckedWork { decode(k + 1) }
                    DispatchQueue.global().async(group: group) { box.value = work.run() }
                }
                defer { group.wait(); next = box.value }
                let y: Tensor
                do { y = try extractor.run([extractor.inputs[0].name: x])[head.features]! } catch { throw FineTuneError.model("\(error)") }
                let values = y.scalars
                for (j, i) in chunk.enumerated() {
                    let row = Array(values[j * f ..< (j + 1) * f])
                    out.replaceSubrange(i * f ..< (i + 1) * f, with: row)
                    cache.store(key, keys[i], row)
                }
                doneImages += chunk.count
                imagesDone(doneImages, totalImages)
            }
            doneImages += samples.count - missing.count
            return out
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let trainX = try features(data.train), valX = try features(data.validation)
        cache.enforceLimit(keeping: key)
        let extractSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let trainY = data.train.map(\.label), valY = data.validation.map(\.label)

        var params = ParameterTree()
        params[head.weight] = model.parameters[head.weight]
        if let b = head.bias { params[b] = model.parameters[b] }
        var optimizer = makeOptimizer(options)
        let gemm = Gemm.Options(transposeB: true)
        func logits(_ x: Tensor, _ p: ParameterTree) -> Tensor {
            Gemm.forward(x, p.tensor(head.weight)!, head.bias.flatMap { p.tensor($0) }, options: gemm)
        }
        func evaluate(_ xs: [Float], _ ys: [Int], _ p: ParameterTree) -> (loss: Double, accuracy: Double) {
            guard !ys.isEmpty else { return (.nan, .nan) }
            let z = logits(Tensor(shape: [ys.count, f], scalars: xs), p)
            let (loss, _) = SoftmaxCrossEntropy.forward(logits: z, labels: ys, labelSmoothing: options.labelSmoothing)
            return (Double(loss), accuracy(z, ys))
        }

        var rng = SplitMix64(seed: options.seed)
        let steps = max(1, (trainY.count + options.batchSize - 1) / options.batchSize) * options.epochs
        var step = 0
        var history: [EpochReport] = []
        var best = (loss: Double.infinity, epoch: 0, params: params)
        var stopped: String? = nil
        for epoch in 1 ... options.epochs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var order = Array(trainY.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
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
                lr = options.schedule.rate(options.learningRate, step: step, totalSteps: steps)
                optimizer.step(&params, gradients: grads, learningRate: lr)
                step += 1
                totalLoss += Double(loss) * Double(idx.count)
                correct += accuracy(z, y) * Double(idx.count)
            }
            if bad || !params.entriesInOrder.allSatisfy({ $0.entry.tensor.scalars.allSatisfy(\.isFinite) }) {
                stopped = "the loss became NaN or infinite in epoch \(epoch); kept the weights of epoch \(best.epoch == 0 ? epoch - 1 : best.epoch) (try a lower --lr)"
                break
            }
            let val = evaluate(valX, valY, params)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 + (epoch == 1 ? extractSeconds : 0)
            let monitored = valY.isEmpty ? totalLoss / Double(trainY.count) : val.loss
            let isBest = valY.isEmpty ? true : monitored < best.loss
            if isBest { best = (monitored, epoch, params) }
            let report = EpochReport(epoch: epoch, trainLoss: totalLoss / Double(trainY.count), trainAccuracy: correct / Double(trainY.count),
                                     validationLoss: valY.isEmpty ? nil : val.loss, validationAccuracy: valY.isEmpty ? nil : val.accuracy,
                                     seconds: seconds, imagesPerSecond: Double(trainY.count + valY.count) / max(seconds, 1e-9),
                                     learningRate: Double(lr), best: isBest)
            history.append(report)
            progress(report)
            if let patience = options.patience, !valY.isEmpty, epoch - best.epoch >= patience {
                stopped = "no better validation loss for \(patience) epochs; kept epoch \(best.epoch)"
                break
            }
        }
        var out = model
        for (path, entry) in best.params.entriesInOrder { out.parameters[path] = entry }
        return FineTuneResult(model: out, history: history, bestEpoch: best.epoch, stoppedEarly: stopped)
    }

    static func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
        let c = logits.shape[1], z = logits.scalars
        var hits = 0
        for (i, y) in labels.enumerated() {
            let row = z[i * c ..< (i + 1) * c]
            if row.firstIndex(of: row.max()!)! - i * c == y { hits += 1 }
        }
        return labels.isEmpty ? .nan : Double(hits) / Double(labels.count)
    }

    // MARK: End to end: unfrozen stages or augmentation

    static func fitEndToEnd(_ model: Model, head: Head, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                            progress: (EpochReport) -> Void) throws -> FineTuneResult {
        var model = model
        let input = model.inputs[0].name
        var optimizer = makeOptimizer(options)
        var rng = SplitMix64(seed: options.seed)
        let steps = max(1, (data.train.count + options.batchSize - 1) / options.batchSize) * options.epochs
        var step = 0
        var history: [EpochReport] = []
        var best = (loss: Double.infinity, epoch: 0, params: model.parameters)
        var stopped: String? = nil
        for epoch in 1 ... options.epochs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var order = Array(data.train.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var totalLoss = 0.0, correct = 0.0, lr = options.learningRate
            var bad = false
            for start in stride(from: 0, to: order.count, by: options.batchSize) {
                let idx = Array(order[start ..< min(start + options.batchSize, order.count)])
                let x = try load(ArraySlice(idx.map { data.train[$0] }), preprocessing, augment: options.augment, seed: rng.next())
                let y = idx.map { data.train[$0].label }
                let (outs, tape): ([String: Tensor], Tape)
                do { (outs, tape) = try model.forward([input: x], outputs: [head.logits]) } catch { throw FineTuneError.model("\(error)") }
                let z = outs[head.logits]!
                let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing)
                guard loss.isFinite else { bad = true; break }
                let grads = model.backward(tape, outputGradients: [head.logits: SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: options.labelSmoothing)])
                lr = options.schedule.rate(options.learningRate, step: step, totalSteps: steps)
                optimizer.step(&model.parameters, gradients: grads, learningRate: lr)
                step += 1
                totalLoss += Double(loss) * Double(idx.count)
                correct += accuracy(z, y) * Double(idx.count)
            }
            if bad {
                stopped = "the loss became NaN or infinite in epoch \(epoch); kept the weights of epoch \(best.epoch) (try a lower --lr)"
                break
            }
            var valLoss = 0.0, valCorrect = 0.0
            for start in stride(from: 0, to: data.validation.count, by: options.batchSize) {
                let slice = data.validation[start ..< min(start + options.batchSize, data.validation.count)]
                let x = try load(slice, preprocessing)
                let z: Tensor
                do { z = try model.run([input: x], outputs: [head.logits])[head.logits]! } catch { throw FineTuneError.model("\(error)") }
                let y = slice.map(\.label)
                valLoss += Double(SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing).loss) * Double(y.count)
                valCorrect += accuracy(z, y) * Double(y.count)
            }
            let nVal = Double(data.validation.count), nTrain = Double(data.train.count)
            let monitored = nVal == 0 ? totalLoss / nTrain : valLoss / nVal
            let isBest = nVal == 0 || monitored < best.loss
            if isBest { best = (monitored, epoch, model.parameters) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let report = EpochReport(epoch: epoch, trainLoss: totalLoss / nTrain, trainAccuracy: correct / nTrain,
                                     validationLoss: nVal == 0 ? nil : valLoss / nVal, validationAccuracy: nVal == 0 ? nil : valCorrect / nVal,
                                     seconds: seconds, imagesPerSecond: (nTrain + nVal) / max(seconds, 1e-9), learningRate: Double(lr), best: isBest)
            history.append(report)
            progress(report)
            if let patience = options.patience, nVal > 0, epoch - best.epoch >= patience {
                stopped = "no better validation loss for \(patience) epochs; kept epoch \(best.epoch)"
                break
            }
        }
        model.parameters = best.params
        return FineTuneResult(model: model, history: history, bestEpoch: best.epoch, stoppedEarly: stopped)
    }
}

/// The next chunk's decoded images, handed from the decoding thread to the training loop
/// (the `DispatchGroup` wait orders the write before the read).
final class ResultBox: @unchecked Sendable {
    var value: Result<Tensor, Error>?
}

/// A closure sent to one other thread, which alone runs it.
struct UncheckedWork<T>: @unchecked Sendable {
    let run: () -> T
}

/// Training-time image augmentation (torchvision RandomResizedCrop's defaults and a horizontal flip).
enum Augmentation {
    /// A crop of 8–100 % of the area with aspect ratio 3/4–4/3 (10 tries, then the centre),
    /// flipped horizontally half the time.
    static func randomResizedCrop(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        let (w, h) = (image.width, image.height)
        var (cw, ch, x0, y0) = (w, h, 0, 0)
        for _ in 0 ..< 10 {
            let area = Double(w * h) * rng.uniform(0.08, 1)
            let ratio = exp(rng.uniform(log(3.0 / 4), log(4.0 / 3)))
            let tw = Int((area * ratio).squareRoot().rounded()), th = Int((area / ratio).squareRoot().rounded())
            if tw > 0 && th > 0 && tw <= w && th <= h {
                (cw, ch) = (tw, th)
                x0 = Int(rng.next() % UInt64(w - tw + 1))
                y0 = Int(rng.next() % UInt64(h - th + 1))
                break
            }
        }
        let flip = rng.next() & 1 == 1
        var pixels = [UInt8](repeating: 0, count: cw * ch * 3)
        for y in 0 ..< ch {
            for x in 0 ..< cw {
                let sx = x0 + (flip ? cw - 1 - x : x)
                for c in 0 ..< 3 { pixels[(y * cw + x) * 3 + c] = image.pixels[((y0 + y) * w + sx) * 3 + c] }
            }
        }
        return RGBImage(width: cw, height: ch, pixels: pixels)
    }
}
