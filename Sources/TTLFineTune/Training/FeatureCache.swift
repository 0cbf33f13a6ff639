// Backbone features of images, computed once: while the backbone is frozen and augmentation
// is off, an image's features depend only on the backbone's weights, the preprocessing and
// the image's bytes, so they are kept under a key hashed from all three.
import Foundation
import TTLCore
import TTLNN

/// 64-bit FNV-1a, a fast non-cryptographic hash for cache keys.
struct FNV1a {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }
    mutating func combine(_ data: Data) { data.withUnsafeBytes { combine($0) } }
    mutating func combine(_ s: String) { combine(Data(s.utf8)) }
    var hex: String { String(value, radix: 16) }
}

/// Features on disk under `folder/<backbone key>/<image key>.f32` (raw little-endian float32),
/// with counts of what was computed and what was found.
public final class FeatureCache: @unchecked Sendable {
    /// Where features are kept; nil keeps nothing.
    public let folder: URL?
    /// Images whose features the backbone computed since creation.
    public private(set) var computed = 0
    /// Images whose features came from the cache since creation.
    public private(set) var found = 0
    private let lock = NSLock()

    /// Bytes the cache may hold; past it, the least recently written backbones' features go
    /// first. Default 4 GB, or `$TTL_CACHE_LIMIT_MB`.
    public let limitBytes: Int

    /// `folder` nil keeps nothing on disk.
    public init(folder: URL?, limitBytes: Int? = nil) {
        self.folder = folder
        let env = ProcessInfo.processInfo.environment["TTL_CACHE_LIMIT_MB"].flatMap { Int($0) }.map { $0 << 20 }
        self.limitBytes = limitBytes ?? env ?? (4 << 30)
    }

    /// Removes whole backbone folders, oldest first, until the cache fits its limit (the
    /// folder of `keeping` stays).
    public func enforceLimit(keeping: String? = nil) {
        guard let folder, var total = Optional(size()), total > limitBytes else { return }
        let fm = FileManager.default
        let entries = ((try? fm.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.contentModificationDateKey])) ?? [])
            .filter { $0.lastPathComponent != keeping }
            .sorted { a, b in
                let da = (try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
                let db = (try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
                return da < db
            }
        for entry in entries where total > limitBytes {
            let bytes = FeatureCache(folder: entry).size()
            if (try? fm.removeItem(at: entry)) != nil { total -= bytes }
        }
    }

    /// A key for a backbone and preprocessing: their weights, structure and settings hashed.
    public static func key(backbone: Model, preprocessing: Preprocessing) -> String {
        var h = FNV1a()
        h.combine(preprocessing.json)
        for n in backbone.nodes { h.combine("\(n.name)|\(n.operation)|\(n.inputs.joined(separator: ","))\n") }
        for (path, entry) in backbone.parameters.entriesInOrder {
            h.combine(path)
            entry.tensor.withUnsafeBufferPointer { h.combine(UnsafeRawBufferPointer($0)) }
        }
        return h.hex
    }

    func file(_ backbone: String, _ image: String) -> URL? {
        folder?.appendingPathComponent(backbone).appendingPathComponent(image + ".f32")
    }

    func load(_ backbone: String, _ image: String, count: Int) -> [Float]? {
        guard let url = file(backbone, image), let data = try? Data(contentsOf: url), data.count == count * 4 else { return nil }
        lock.withLock { found += 1 }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Folders already made by this cache, so that a store is one write and one rename.
    private var madeFolders = Set<String>()

    /// Writes the features to a temporary name beside their file and renames it into place, so
    /// that a reader (another process too) sees either nothing or the whole entry. Failures
    /// only lose the entry: it is computed again next time.
    func store(_ backbone: String, _ image: String, _ features: [Float]) {
        lock.withLock { computed += 1 }
        guard let url = file(backbone, image) else { return }
        let dir = url.deletingLastPathComponent().path
        if !lock.withLock({ madeFolders.contains(dir) }) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            lock.withLock { _ = madeFolders.insert(dir) }
        }
        let path = url.path, temporary = "\(path).\(getpid()).\(UInt32.random(in: 0 ... .max)).tmp"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {  // the folder was removed since (clear, enforceLimit)
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { return }
        let bytes = features.count * MemoryLayout<Float>.size
        let written = features.withUnsafeBytes { write(fd, $0.baseAddress, bytes) }
        if close(fd) != 0 || written != bytes || rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Removes everything cached.
    public func clear() throws {
        guard let folder, FileManager.default.fileExists(atPath: folder.path) else { return }
        try FileManager.default.removeItem(at: folder)
    }

    /// Bytes on disk.
    public func size() -> Int {
        guard let folder, let e = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
        var total = 0
        for case let url as URL in e { total += (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0 }
        return total
    }
}
