// Little-endian reads from untrusted bytes: every read is bounds-checked by the caller's
// `has(_:_:)` or returns nil, so nothing traps on a short or damaged file.
import Foundation

/// Bytes of a file (usually memory-mapped) with checked little-endian reads.
struct Bytes {
    let data: Data
    var count: Int { data.count }
    /// The first byte of `data` when it is a private read-only mapping of a file made by
    /// ``mapping(_:)``, whose pages ``evict(_:)`` may hand back; nil otherwise.
    private let mappedBase: UnsafeRawPointer?

    init(_ data: Data) {
        self.data = data
        mappedBase = nil
    }

    private init(mapped data: Data, base: UnsafeRawPointer) {
        self.data = data
        mappedBase = base
    }

    /// The file at `path`, mapped private and read-only (unmapped when the last copy of the
    /// data goes); read into memory when it cannot be mapped.
    static func mapping(_ url: URL) throws -> Bytes {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { return Bytes(try Data(contentsOf: url)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return Bytes(try Data(contentsOf: url)) }
        let size = Int(info.st_size)
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return Bytes(try Data(contentsOf: url)) }
        let data = Data(bytesNoCopy: p, count: size, deallocator: .custom { p, n in munmap(p, n) })
        // Data may keep a few bytes inline (and unmap at once): evict only what is the mapping.
        guard data.withUnsafeBytes({ $0.baseAddress }) == UnsafeRawPointer(p) else { return Bytes(data) }
        return Bytes(mapped: data, base: UnsafeRawPointer(p))
    }

    /// Tells the kernel that the pages under `slice` (a slice of `data`) are not needed for now,
    /// so that a tensor copied out of the file does not stay resident twice. Reading them again
    /// is still correct: the mapping is of the file, never written, and refills from it.
    func evict(_ slice: Data) {
        guard let base = mappedBase, !slice.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (slice.startIndex - data.startIndex) / page * page
        let end = min(data.count, slice.endIndex - data.startIndex)
        guard start < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// True when `length` bytes from `offset` lie inside the file (no overflow).
    func has(_ offset: Int, _ length: Int) -> Bool {
        guard offset >= 0, length >= 0 else { return false }
        let (end, overflow) = offset.addingReportingOverflow(length)
        return !overflow && end <= data.count
    }

    func u8(_ o: Int) -> UInt8? { has(o, 1) ? data[data.startIndex + o] : nil }

    func u16(_ o: Int) -> UInt16? {
        guard has(o, 2) else { return nil }
        let s = data.startIndex + o
        return UInt16(data[s]) | UInt16(data[s + 1]) << 8
    }

    func u32(_ o: Int) -> UInt32? {
        guard has(o, 4) else { return nil }
        let s = data.startIndex + o
        var v: UInt32 = 0
        for i in 0 ..< 4 { v |= UInt32(data[s + i]) << (8 * i) }
        return v
    }

    func u64(_ o: Int) -> UInt64? {
        guard has(o, 8) else { return nil }
        let s = data.startIndex + o
        var v: UInt64 = 0
        for i in 0 ..< 8 { v |= UInt64(data[s + i]) << (8 * i) }
        return v
    }

    /// `length` bytes from `offset`, sharing the file's storage.
    func slice(_ offset: Int, _ length: Int) -> Data? {
        guard has(offset, length) else { return nil }
        return data[data.startIndex + offset ..< data.startIndex + offset + length]
    }
}

/// `UInt64` from a file as an `Int`, nil when it does not fit.
func int(_ v: UInt64?) -> Int? {
    guard let v, v <= UInt64(Int.max) else { return nil }
    return Int(v)
}

/// Little-endian appends for the writers.
extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}
