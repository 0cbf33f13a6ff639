// Reads the zip archives that torch.save writes (PyTorch ≥ 1.6; PKWARE APPNOTE.TXT §4.3 and
// §4.5.3 for ZIP64). PyTorch stores every record uncompressed, pads the local header's extra
// field so that storages start 64-byte aligned, may leave CRCs at 0 and writes ZIP64 records
// for large archives. Sizes come from the central directory, each data offset from its local
// header; every offset and size is checked against the file.
import Foundation

struct TorchZip {
    /// A member's data: where it starts in the file and how long it is.
    struct Entry { var offset: Int; var size: Int; var method: UInt16; var header: Int }

    let bytes: Bytes
    let file: String
    /// Member names in archive order.
    private(set) var names: [String] = []
    private(set) var entries: [String: Entry] = [:]
    /// The folder every member sits in (`archive/` for `archive/data.pkl`), with its slash.
    private(set) var prefix = ""

    static func isZip(_ b: Bytes) -> Bool { b.u32(0) == 0x0403_4b50 || b.u32(0) == 0x0605_4b50 }

    init(_ bytes: Bytes, file: String) throws(TorchImportError) {
        self.bytes = bytes
        self.file = file
        func fail(_ o: Int, _ m: String) -> TorchImportError { TorchImportError(file: file, .zip(offset: o, problem: m)) }
        let n = bytes.count
        guard n >= 22 else { throw fail(0, "truncated: \(n) bytes, shorter than an end-of-central-directory record") }
        // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB, at the end.
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65535) {
            if bytes.u32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail(n, "truncated or not a zip archive: no end-of-central-directory record") }
        var count = Int(bytes.u16(eocd + 10) ?? 0)
        var cdSize = Int(bytes.u32(eocd + 12) ?? 0), cdStart = Int(bytes.u32(eocd + 16) ?? 0)
        var cdLimit = eocd
        // ZIP64: a locator right before the record points at the ZIP64 end-of-central-directory record.
        if eocd >= 20, bytes.u32(eocd - 20) == 0x0706_4b50 {
            guard let z = int(bytes.u64(eocd - 12)), bytes.u32(z) == 0x0606_4b50, bytes.has(z, 56), z < eocd - 20 else {
                throw fail(eocd - 20, "ZIP64 locator points at no ZIP64 end-of-central-directory record")
            }
            guard let c = int(bytes.u64(z + 32)), let s = int(bytes.u64(z + 40)), let o = int(bytes.u64(z + 48)) else {
                throw fail(z, "ZIP64 end-of-central-directory record holds sizes past 2^63")
            }
            count = c; cdSize = s; cdStart = o; cdLimit = z
        }
        guard cdStart <= cdLimit, cdSize <= cdLimit - cdStart else {
            throw fail(eocd, "central directory (\(cdSize) bytes at byte \(cdStart)) runs past the end of the archive")
        }
        // Each central entry is at least 46 bytes: a count that cannot fit is refused before the loop.
        guard count <= cdSize / 46 else { throw fail(eocd, "\(count) entries cannot fit in a \(cdSize)-byte central directory") }
        var p = cdStart
        let end = cdStart + cdSize
        for _ in 0 ..< count {
            guard p + 46 <= end, bytes.u32(p) == 0x0201_4b50,
                  let method = bytes.u16(p + 10), let c32 = bytes.u32(p + 20), let u32 = bytes.u32(p + 24),
                  let nameLength = bytes.u16(p + 28), let extraLength = bytes.u16(p + 30), let commentLength = bytes.u16(p + 32),
                  let h32 = bytes.u32(p + 42)
            else { throw fail(p, "damaged central directory entry") }
            let nameStart = p + 46, extraStart = nameStart + Int(nameLength)
            guard extraStart + Int(extraLength) + Int(commentLength) <= end, let nameBytes = bytes.slice(nameStart, Int(nameLength)) else {
                throw fail(p, "central directory entry runs past the directory")
            }
            guard let name = String(bytes: nameBytes, encoding: .utf8), !name.isEmpty else { throw fail(p, "member name is not UTF-8") }
            var compressed = Int(c32), size = Int(u32), header = Int(h32)
            // The ZIP64 extra field (tag 1) holds, in order, the fields saturated at 0xFFFFFFFF.
            if c32 == 0xFFFF_FFFF || u32 == 0xFFFF_FFFF || h32 == 0xFFFF_FFFF {
                var q = extraStart, found = false
                while q + 4 <= extraStart + Int(extraLength), let tag = bytes.u16(q), let len = bytes.u16(q + 2) {
                    if tag == 1 {
                        var r = q + 4
                        let fieldEnd = q + 4 + Int(len)
                        func next() -> Int? {
                            guard r + 8 <= fieldEnd, let v = int(bytes.u64(r)) else { return nil }
                            r += 8
                            return v
                        }
                        if u32 == 0xFFFF_FFFF { guard let v = next() else { throw fail(q, "short ZIP64 extra field of '\(name)'") }; size = v }
                        if c32 == 0xFFFF_FFFF { guard let v = next() else { throw fail(q, "short ZIP64 extra field of '\(name)'") }; compressed = v }
                        if h32 == 0xFFFF_FFFF { guard let v = next() else { throw fail(q, "short ZIP64 extra field of '\(name)'") }; header = v }
                        found = true
                        break
                    }
                    q += 4 + Int(len)
                }
                guard found else { throw fail(p, "'\(name)' has 32-bit sizes saturated but no ZIP64 extra field") }
            }
            guard entries[name] == nil else { throw fail(p, "duplicate member '\(name)'") }
            // The data starts after the local header's name and extra field (whose lengths may
            // differ from the central directory's: PyTorch pads the local one for alignment).
            guard bytes.u32(header) == 0x0403_4b50, let ln = bytes.u16(header + 26), let le = bytes.u16(header + 28) else {
                throw fail(header, "no local header for '\(name)'")
            }
            guard bytes.slice(header + 30, Int(ln)) == nameBytes else { throw fail(header, "local header names another member than '\(name)'") }
            let dataStart = header + 30 + Int(ln) + Int(le)
            guard bytes.has(dataStart, compressed) else {
                throw fail(header, "'\(name)' (\(compressed) bytes at byte \(dataStart)) runs past the end of the archive: truncated")
            }
            if method == 0, compressed != size { throw fail(p, "stored member '\(name)' has compressed size \(compressed) ≠ size \(size)") }
            entries[name] = Entry(offset: dataStart, size: method == 0 ? size : compressed, method: method, header: header)
            names.append(name)
            p = extraStart + Int(extraLength) + Int(commentLength)
        }
        // torch.save puts every member in one folder named after the file it was saved to.
        guard let first = names.first, let slash = first.firstIndex(of: "/") else { throw fail(cdStart, "no member inside a folder (torch.save writes <name>/data.pkl)") }
        let folder = String(first[...slash])
        guard names.allSatisfy({ $0.hasPrefix(folder) }) else { throw fail(cdStart, "members are not all in one folder '\(folder)'") }
        prefix = folder
    }

    /// Whether the archive has `member` (relative to the common folder).
    func has(_ member: String) -> Bool { entries[prefix + member] != nil }

    /// Whether any member lies below `folder/` (relative to the common folder).
    func hasFolder(_ folder: String) -> Bool { names.contains { $0.hasPrefix(prefix + folder + "/") } }

    /// The bytes of `member` (relative to the common folder), nil when absent; compressed members are refused.
    func member(_ member: String) throws(TorchImportError) -> Data? {
        guard let e = entries[prefix + member] else { return nil }
        guard e.method == 0 else {
            throw TorchImportError(file: file, .zip(offset: e.header, problem: "'\(prefix + member)' is compressed (method \(e.method)); torch.save stores records uncompressed"))
        }
        return bytes.slice(e.offset, e.size)
    }
}
