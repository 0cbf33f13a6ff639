// Writes a model's weights back as PyTorch files under their own names: safetensors (see
// Safetensors.swift) or a torch.save zip archive that `torch.load(path, weights_only=True)`
// reads. The archive holds `<name>/data.pkl` (a protocol-2 pickle of an OrderedDict of
// `_rebuild_tensor_v2` calls, each on its own float32 storage), `byteorder`, `data/<i>` (each
// 64-byte aligned, as torch writes them), `version`, and ttl's `ttl_metadata.json` (labels and
// preprocessing), which torch.load ignores.
import Foundation
import TTLCore
import TTLNN

public enum TorchExporter {
    /// The file types ``write(_:metadata:to:)`` picks from the extension.
    public static let extensions = ["safetensors", "pth", "pt", "bin"]

    /// Writes `tree` to `url`: `.safetensors`, or a torch.save zip for `.pth`, `.pt` and `.bin`.
    /// `metadata` (string → string) goes into `__metadata__` or `ttl_metadata.json`; every batch
    /// norm gets the `num_batches_tracked` counter strict `load_state_dict` expects.
    public static func write(_ tree: ParameterTree, metadata: [String: String] = [:], to url: URL) throws(TorchImportError) {
        switch url.pathExtension.lowercased() {
        case "safetensors": try Safetensors.write(tree, metadata: metadata, to: url)
        case "pth", "pt", "bin":
            let name = url.deletingPathExtension().lastPathComponent
            let folder = name.isEmpty || name.contains("/") ? "archive" : name
            try writeAtomically(Data(try encodeZip(tree, metadata: metadata, folder: folder, file: url.path)), to: url)
        default:
            throw TorchImportError(file: url.path, .cannotWrite("unknown extension '.\(url.pathExtension)' (\(extensions.joined(separator: ", ")))"))
        }
    }

    // MARK: torch.save zip

    /// The tensors in order, with the counters strict loading expects after each batch norm's `running_var`.
    static func entries(_ tree: ParameterTree) -> [(String, Tensor?)] {
        var out: [(String, Tensor?)] = []
        for (path, entry) in tree.entriesInOrder {
            out.append((path, entry.tensor))
            if path.hasSuffix("running_var") {
                let counter = String(path.dropLast("running_var".count)) + "num_batches_tracked"
                if tree[counter] == nil { out.append((counter, nil)) }
            }
        }
        return out
    }

    static func encodeZip(_ tree: ParameterTree, metadata: [String: String], folder: String, file: String) throws(TorchImportError) -> [UInt8] {
        let items = entries(tree)
        var p = PickleWriter()
        p.proto()
        p.global("collections", "OrderedDict"); p.emptyTuple(); p.reduce()
        p.mark()
        for (i, (key, tensor)) in items.enumerated() {
            let sizes = tensor?.shape.dimensions ?? []
            p.string(key)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.mark()
            p.mark(); p.string("storage"); p.global("torch", tensor == nil ? "LongStorage" : "FloatStorage")
            p.string("\(i)"); p.string("cpu"); p.int(tensor?.count ?? 1); p.tuple(); p.persistentID()
            p.int(0)
            p.mark(); for s in sizes { p.int(s) }; p.tuple()
            p.mark(); for s in Safetensors.rowMajorStrides(sizes) { p.int(s) }; p.tuple()
            p.bool(false)
            p.global("collections", "OrderedDict"); p.emptyTuple(); p.reduce()
            p.tuple()
            p.reduce()
        }
        p.setItems()
        p.stop()

        var zip = ZipWriter()
        zip.add(folder + "/data.pkl", p.bytes)
        zip.add(folder + "/byteorder", Array("little".utf8))
        for (i, (_, tensor)) in items.enumerated() {
            var data: [UInt8] = []
            if let tensor {
                data.reserveCapacity(tensor.count * 4)
                tensor.withUnsafeBufferPointer { b in for v in b { data.appendLE(v.bitPattern) } }
            } else {
                data.appendLE(Int64(0))
            }
            zip.add(folder + "/data/\(i)", data)
        }
        zip.add(folder + "/version", Array("3\n".utf8))
        if !metadata.isEmpty {
            let json = "{" + metadata.keys.sorted().map { JSONWriter.quote($0) + ":" + JSONWriter.quote(metadata[$0] ?? "") }.joined(separator: ",") + "}"
            zip.add(folder + "/ttl_metadata.json", Array(json.utf8))
        }
        guard let bytes = zip.finish() else { throw TorchImportError(file: file, .cannotWrite("more than 4 GiB; ttl writes zip archives without ZIP64")) }
        return bytes
    }
}

/// Protocol-2 pickle opcodes for the writer.
struct PickleWriter {
    var bytes: [UInt8] = []
    mutating func proto() { bytes += [0x80, 0x02] }
    mutating func global(_ module: String, _ name: String) { bytes.append(0x63); bytes += Array((module + "\n" + name + "\n").utf8) }
    mutating func mark() { bytes.append(0x28) }
    mutating func tuple() { bytes.append(0x74) }
    mutating func emptyTuple() { bytes.append(0x29) }
    mutating func reduce() { bytes.append(0x52) }
    mutating func setItems() { bytes.append(0x75) }
    mutating func persistentID() { bytes.append(0x51) }
    mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }
    mutating func stop() { bytes.append(0x2E) }
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58); bytes.appendLE(UInt32(u.count)); bytes += u
    }
    mutating func int(_ v: Int) {
        if v >= 0, v < 256 { bytes += [0x4B, UInt8(v)] } else if v >= Int(Int32.min), v <= Int(Int32.max) {
            bytes.append(0x4A); bytes.appendLE(Int32(v))
        } else {
            bytes += [0x8A, 8]; bytes.appendLE(Int64(v))
        }
    }
}

/// A zip archive of stored (uncompressed) members, each member's data 64-byte aligned by padding
/// its local header's extra field, as PyTorch's writer does (PKWARE APPNOTE.TXT §4.3).
struct ZipWriter {
    private var out: [UInt8] = []
    private var central: [UInt8] = []
    private var count = 0

    mutating func add(_ name: String, _ data: [UInt8]) {
        let n = Array(name.utf8)
        let offset = out.count
        let crc = CRC32.checksum(data)
        // Pad the extra field (one field of an unassigned id) so that the data starts at a multiple of 64.
        let unpadded = offset + 30 + n.count + 4
        let pad = (64 - unpadded % 64) % 64
        out.appendLE(UInt32(0x0403_4b50)); out.appendLE(UInt16(20)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(0)); out.appendLE(UInt16(0x21)) // time 00:00, date 1980-01-01
        out.appendLE(crc); out.appendLE(UInt32(truncatingIfNeeded: data.count)); out.appendLE(UInt32(truncatingIfNeeded: data.count))
        out.appendLE(UInt16(n.count)); out.appendLE(UInt16(4 + pad))
        out += n
        out.appendLE(UInt16(0x4246)); out.appendLE(UInt16(pad)); out += [UInt8](repeating: 0x5A, count: pad)
        out += data
        central.appendLE(UInt32(0x0201_4b50)); central.appendLE(UInt16(20)); central.appendLE(UInt16(20)); central.appendLE(UInt16(0))
        central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0x21))
        central.appendLE(crc); central.appendLE(UInt32(truncatingIfNeeded: data.count)); central.appendLE(UInt32(truncatingIfNeeded: data.count))
        central.appendLE(UInt16(n.count)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0))
        central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt32(0)); central.appendLE(UInt32(truncatingIfNeeded: offset))
        central += n
        count += 1
    }

    /// The archive's bytes; nil past the 32-bit limits of a zip without ZIP64.
    mutating func finish() -> [UInt8]? {
        let start = out.count
        guard start + central.count < Int(UInt32.max), count < Int(UInt16.max) else { return nil }
        out += central
        out.appendLE(UInt32(0x0605_4b50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(count)); out.appendLE(UInt16(count))
        out.appendLE(UInt32(central.count)); out.appendLE(UInt32(start)); out.appendLE(UInt16(0))
        return out
    }
}

/// CRC-32 (ISO-HDLC, the zip checksum), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0 ..< 256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBufferPointer { b in for byte in b { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) } }
        return c ^ 0xFFFF_FFFF
    }
}
