// Reads the members of a `.keras` file: a zip archive (PKWARE APPNOTE.TXT §4.3) holding
// `config.json`, `metadata.json` and `model.weights.h5`, which Keras writes uncompressed
// ("stored"). Every offset and size read from the archive is checked against the file.
import Foundation

struct ZipArchive {
    let data: Data
    let file: String
    /// Member name → (offset of its local header, compressed size, size, method).
    private(set) var entries: [String: (header: Int, stored: Int, size: Int, method: UInt16)] = [:]

    init(contentsOf url: URL, name: String) throws(KerasError) {
        file = name
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { throw .zip(file: name, message: "cannot read the file") }
        self.data = data
        // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB, at the end.
        let n = data.count
        guard n >= 22 else { throw .zip(file: name, message: "not a zip archive (\(n) bytes)") }
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65535) {
            if u32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw .zip(file: name, message: "not a zip archive (no end-of-central-directory record)") }
        let count = Int(u16(eocd + 10))
        let size = Int(u32(eocd + 12)), start = Int(u32(eocd + 16))
        guard start + size <= eocd else { throw .zip(file: name, message: "central directory at byte \(start) runs past the end") }
        var p = start
        for _ in 0 ..< count {
            guard p + 46 <= eocd, u32(p) == 0x0201_4b50 else { throw .zip(file: name, message: "damaged central directory at byte \(p)") }
            let method = u16(p + 10)
            let compressed = Int(u32(p + 20)), plain = Int(u32(p + 24))
            let nameLength = Int(u16(p + 28)), extra = Int(u16(p + 30)), comment = Int(u16(p + 32))
            let header = Int(u32(p + 42))
            guard p + 46 + nameLength <= eocd else { throw .zip(file: name, message: "damaged central directory at byte \(p)") }
            let member = String(decoding: data[data.startIndex + p + 46 ..< data.startIndex + p + 46 + nameLength], as: UTF8.self)
            entries[member] = (header, compressed, plain, method)
            p += 46 + nameLength + extra + comment
        }
    }

    var names: [String] { entries.keys.sorted() }

    /// The bytes of `member`, which must be stored uncompressed.
    func member(_ member: String) throws(KerasError) -> Data {
        guard let e = entries[member] else { throw .zip(file: file, message: "the archive has no '\(member)'") }
        guard e.method == 0 else {
            throw .zip(file: file, message: "'\(member)' is compressed (method \(e.method)); ttl reads .keras archives as Keras writes them, uncompressed")
        }
        let h = e.header
        guard h + 30 <= data.count, u32(h) == 0x0403_4b50 else { throw .zip(file: file, message: "damaged local header of '\(member)' at byte \(h)") }
        let start = h + 30 + Int(u16(h + 26)) + Int(u16(h + 28))
        guard e.stored == e.size, start + e.size <= data.count else {
            throw .zip(file: file, message: "'\(member)' (\(e.size) bytes at byte \(start)) runs past the end of the archive")
        }
        return data[data.startIndex + start ..< data.startIndex + start + e.size]
    }

    private func u16(_ o: Int) -> UInt16 { UInt16(data[data.startIndex + o]) | UInt16(data[data.startIndex + o + 1]) << 8 }
    private func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
}
