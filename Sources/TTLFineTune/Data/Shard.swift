// One of N deterministic parts of a dataset, for computing features on many machines at once.
import Foundation

/// Shard `index` of `count` (written `K/N`, K from 0): the images whose path relative to the
/// dataset folder hashes to K modulo N. The hash depends on nothing but that path, so every
/// machine agrees on the parts without talking, and adding images moves none of the others.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The whole dataset as one shard.
    public static let all = Shard(uncheckedIndex: 0, count: 1)

    init(uncheckedIndex index: Int, count: Int) { self.index = index; self.count = count }

    /// `index` in `0 ..< count`, or nil.
    public init?(index: Int, count: Int) {
        guard count >= 1, (0 ..< count).contains(index) else { return nil }
        self.init(uncheckedIndex: index, count: count)
    }

    /// Parses `K/N`, as Slurm's `$SLURM_ARRAY_TASK_ID/N` or Kubernetes's `$JOB_COMPLETION_INDEX/N` give it.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard, of `count`, that holds the image at `relativePath`.
    public static func index(of relativePath: String, count: Int) -> Int {
        var h = FNV1a()
        h.combine(relativePath)
        // FNV-1a's low bits follow the last bytes closely; a finaliser (SplitMix64's) mixes
        // every byte into the residue.
        var z = h.value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(count))
    }

    /// Whether the image at `relativePath` (relative to the dataset folder, `/`-separated) is in this shard.
    public func contains(_ relativePath: String) -> Bool {
        count == 1 || Self.index(of: relativePath, count: count) == index
    }
}

extension ImageFolder {
    /// Every image of the dataset, training and validation, in a fixed order.
    public var allSamples: [Sample] { train + validation }

    /// A sample's path relative to the dataset folder (`train/cat/1.jpg`, `cat/1.jpg`).
    public func relativePath(of sample: Sample) -> String {
        let base = root.standardizedFileURL.pathComponents, full = sample.url.standardizedFileURL.pathComponents
        guard full.count > base.count, Array(full.prefix(base.count)) == base else { return sample.url.path }
        return full.dropFirst(base.count).joined(separator: "/")
    }
}
