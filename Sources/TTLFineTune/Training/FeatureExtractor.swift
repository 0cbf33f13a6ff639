// The frozen backbone as a feature extractor: the model cut at the head's input, its cache key,
// and the extraction of features for a list of images through the cache.
import Foundation
import TTLCore
import TTLNN

/// The part of a backbone a frozen fine-tune runs once per image: everything before the head.
/// ``FineTuner`` uses it; `ttl features` runs it alone (on one shard of the images, on any
/// machine) to fill a cache the fine-tune then reads.
public struct FeatureExtractor {
    /// The backbone up to the head's input.
    let model: Model
    /// The value the head reads.
    let output: String
    /// The features per image.
    public let count: Int
    /// The cache key of this backbone with its preprocessing.
    public let key: String
    let preprocessing: Preprocessing

    /// Images go through the backbone in batches of this many; a shorter last batch is filled
    /// with blank images, so that an image's features are the same bits whichever images it
    /// goes through with (on another machine, in another shard, in another run).
    public static let batchSize = 32

    /// The extractor of a backbone as ``FineTuner/fit(_:data:preprocessing:options:cache:resumingFrom:progress:imagesDone:shouldStop:)``
    /// would use it: its head found (and replaced, for a convolution head) and cut off.
    public init(backbone: Model, preprocessing: Preprocessing) throws(FineTuneError) {
        var model = backbone.removingNHWCAdapter()
        let head: Head
        do { head = try model.replaceHead(classes: 2) } catch { throw FineTuneError.model("\(error)") }
        try self.init(model, head: head, preprocessing: preprocessing)
    }

    /// The extractor of `model` (whose head is `head`).
    init(_ model: Model, head: Head, preprocessing: Preprocessing) throws(FineTuneError) {
        do { self.model = try model.cut(at: head.features) } catch { throw FineTuneError.model("\(error)") }
        output = head.features
        count = head.inFeatures
        key = FeatureCache.key(backbone: self.model, preprocessing: preprocessing)
        self.preprocessing = preprocessing
    }

    /// The cache key of an image: a hash of its bytes (an unreadable file hashes as empty and
    /// fails later, when it is decoded).
    public static func imageKey(_ sample: Sample) -> String {
        var h = FNV1a()
        h.combine((try? Data(contentsOf: sample.url)) ?? Data())
        return h.hex
    }

    /// Of `samples`, those with intact features in `cache`.
    public func cached(_ samples: [Sample], in cache: FeatureCache) -> [Bool] {
        samples.map { cache.contains(key, Self.imageKey($0), count: count) }
    }

    /// Features of `samples`, `[samples.count · count]`: from the cache, or computed in batches
    /// of ``batchSize`` and stored. The next batch decodes while the backbone runs only when
    /// the machine has cores the backbone's threads leave free: on a machine it fills, a
    /// decoding thread would preempt one of the engine's threads and stall the others at their
    /// next barrier, so batches decode (in parallel) between backbone runs instead.
    /// - Parameters:
    ///   - imagesDone: (done, total) over the images not in the cache, starting with (0, total)
    ///   - shouldStop: asked after every batch; true throws ``Interrupted`` (what was computed is cached)
    public func features(of samples: [Sample], cache: FeatureCache, imagesDone: (Int, Int) -> Void = { _, _ in },
                         shouldStop: () -> Bool = { false }) throws -> [Float] {
        let f = count
        var out = [Float](repeating: 0, count: samples.count * f)
        var missing: [Int] = []
        var keys: [String] = []
        for (i, s) in samples.enumerated() {
            keys.append(Self.imageKey(s))
            if let cached = cache.load(key, keys[i], count: f) { out.replaceSubrange(i * f ..< (i + 1) * f, with: cached) } else { missing.append(i) }
        }
        guard !missing.isEmpty else { return out }
        cache.removeStaleTemporaries(key)
        imagesDone(0, missing.count)
        let b = Self.batchSize
        let chunks = stride(from: 0, to: missing.count, by: b).map { Array(missing[$0 ..< min($0 + b, missing.count)]) }
        func decode(_ k: Int) -> Result<Tensor, Error> {
            Result {
                let x = try FineTuner.load(ArraySlice(chunks[k].map { samples[$0] }), preprocessing)
                guard chunks[k].count < b else { return x }
                var padded = Tensor(zeros: Shape([b] + Array(x.shape.dimensions.dropFirst())))
                padded.withUnsafeMutableBufferPointer { dst in
                    x.withUnsafeBufferPointer { src in dst.baseAddress!.update(from: src.baseAddress!, count: src.count) }
                }
                return padded
            }
        }
        let overlap = ProcessInfo.processInfo.activeProcessorCount > ComputeThreads.count
        var next: Result<Tensor, Error>? = decode(0)
        var done = 0
        for (k, chunk) in chunks.enumerated() {
            let x = try (next ?? decode(k)).get()
            next = nil
            let group = DispatchGroup()
            let box = ResultBox()
            if overlap && k + 1 < chunks.count {
                let work = UncheckedWork { decode(k + 1) }
                DispatchQueue.global().async(group: group) { box.value = work.run() }
            }
            defer { group.wait(); next = box.value }
            let y: Tensor
            do { y = try model.run([model.inputs[0].name: x])[output]! } catch { throw FineTuneError.model("\(error)") }
            let values = y.scalars
            for (j, i) in chunk.enumerated() {
                let row = Array(values[j * f ..< (j + 1) * f])
                out.replaceSubrange(i * f ..< (i + 1) * f, with: row)
                cache.store(key, keys[i], row)
            }
            done += chunk.count
            imagesDone(done, missing.count)
            // What is computed is cached: a resumed run starts from here.
            if done < missing.count && shouldStop() { throw Interrupted() }
        }
        return out
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
