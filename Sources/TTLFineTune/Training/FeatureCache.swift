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

/// Features on disk under `folder/<backbone key>/<image key>.f32` (a checked header, then
/// little-endian float32; written in `<backbone key>/.tmp/` and renamed), with counts of what was computed and what was found. Several
/// processes, on several machines sharing the folder, may read and write it at once.
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

    /// An entry on disk: "TTLF", the feature count (UInt32), the FNV-1a hash of the features
    /// (UInt64), then the features; all little-endian. A reader checks all three, so that a
    /// torn, truncated or foreign file (a shared file system, a crashed writer) reads as missing.
    static let magic: [UInt8] = Array("TTLF".utf8)
    static let headerBytes = 16

    static func checksum(_ features: UnsafeRawBufferPointer) -> UInt64 {
        var h = FNV1a()
        h.combine(features)
        return h.value
    }

    static func encode(_ features: [Float]) -> Data {
        var data = Data(magic)
        withUnsafeBytes(of: UInt32(features.count).littleEndian) { data.append(contentsOf: $0) }
        let hash = features.withUnsafeBytes { checksum($0) }
        withUnsafeBytes(of: hash.littleEndian) { data.append(contentsOf: $0) }
        features.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// The features of an entry, or nil when it is not a whole, intact entry of `count` features.
    static func decode(_ data: Data, count: Int) -> [Float]? {
        guard data.count == headerBytes + count * 4 else { return nil }
        return data.withUnsafeBytes { raw -> [Float]? in
            guard Array(raw[0 ..< 4]) == magic,
                  raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian == count else { return nil }
            let payload = UnsafeRawBufferPointer(rebasing: raw[headerBytes...])
            guard raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian == checksum(payload) else { return nil }
            return (0 ..< count).map { Float(bitPattern: payload.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
        }
    }

    /// The cached features of an image, or nil when there is no intact entry.
    func load(_ backbone: String, _ image: String, count: Int) -> [Float]? {
        guard let data = read(backbone, image, bytes: Self.headerBytes + count * 4), let features = Self.decode(data, count: count) else { return nil }
        lock.withLock { found += 1 }
        return features
    }

    /// The whole entry file when it holds exactly `bytes` bytes (one `open` and `read` on a
    /// path made by concatenation: for thousands of small entries, URL and `Data(contentsOf:)`
    /// cost more than the reads), nil otherwise.
    func read(_ backbone: String, _ image: String, bytes: Int) -> Data? {
        guard let folder else { return nil }
        let path = folder.path + "/" + backbone + "/" + image + ".f32"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // One byte more than wanted: a longer file reads as not intact.
        var data = Data(count: bytes + 1)
        var got = 0
        let ok = data.withUnsafeMutableBytes { raw -> Bool in
            while got < raw.count {
                let r = Foundation.read(fd, raw.baseAddress! + got, raw.count - got)
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { return r == 0 }
                got += r
            }
            return true
        }
        guard ok, got == bytes else { return nil }
        data.count = bytes
        return data
    }

    /// Whether an intact entry of `count` features is there (without counting it as found).
    func contains(_ backbone: String, _ image: String, count: Int) -> Bool {
        guard let url = file(backbone, image), let data = try? Data(contentsOf: url) else { return false }
        return Self.decode(data, count: count) != nil
    }

    /// Folders already made by this cache, so that a store is one write and one rename.
    private var madeFolders = Set<String>()

    /// Where entries are written before they are renamed into place: a folder of its own
    /// beside them, so that finding stale temporaries never lists millions of entries.
    func temporaryFolder(_ backbone: String) -> URL? {
        folder?.appendingPathComponent(backbone).appendingPathComponent(".tmp")
    }

    /// Writes the entry under a temporary name and renames it into place, so that a reader
    /// (another process, on another machine too) sees either nothing or the whole entry;
    /// writers of the same image write the same bytes, so the last rename wins harmlessly.
    /// Failures only lose the entry: it is computed again next time.
    func store(_ backbone: String, _ image: String, _ features: [Float]) {
        lock.withLock { computed += 1 }
        guard let url = file(backbone, image), let tmp = temporaryFolder(backbone) else { return }
        let dir = tmp.path
        if !lock.withLock({ madeFolders.contains(dir) }) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            lock.withLock { _ = madeFolders.insert(dir) }
        }
        let path = url.path, temporary = "\(dir)/\(image).\(Self.hostTag).\(getpid()).\(UInt32.random(in: 0 ... .max)).tmp"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {  // the folder was removed since (clear, enforceLimit)
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { return }
        let entry = Self.encode(features)
        let written = entry.withUnsafeBytes { write(fd, $0.baseAddress, entry.count) }
        if close(fd) != 0 || written != entry.count || rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// The host name, in temporary names: process ids repeat across machines.
    static let hostTag: String = {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "host" }
        let s = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(s.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.prefix(64))
    }()

    /// Removes temporaries older than `age` seconds of a backbone's entries: what writers
    /// that crashed (or were killed) between writing and renaming left behind.
    @discardableResult
    public func removeStaleTemporaries(_ backbone: String, olderThan age: TimeInterval = 3600) -> Int {
        guard let dir = temporaryFolder(backbone),
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return 0 }
        var removed = 0
        let limit = Date().addingTimeInterval(-age)
        for name in names where name.hasSuffix(".tmp") {
            let path = dir.appendingPathComponent(name).path
            if let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, date < limit,
               unlink(path) == 0 { removed += 1 }
        }
        return removed
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
