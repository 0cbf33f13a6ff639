// Reads and writes safetensors files (https://github.com/huggingface/safetensors, "Format"):
// an 8-byte little-endian header length N, N bytes of JSON (`{"name": {"dtype", "shape",
// "data_offsets": [begin, end]}, "__metadata__": {str: str}}`), then the data, each tensor
// row-major little-endian, offsets relative to the data's start. The reader caps N at 100 MB,
// refuses duplicate keys and unknown dtypes, and requires the tensors to tile the data exactly:
// offsets contiguous from 0, each tensor's length its element count times its element size
// (overflow-checked), the last end the data's size.
import Foundation
import TTLCore

public enum Safetensors {
    /// The largest header accepted, as in the reference implementation.
    public static let maximumHeaderSize = 100_000_000

    static func looksLikeSafetensors(_ b: Bytes) -> Bool {
        // A plausible header length (below 2^40: a claim past the 100 MB cap still reaches the
        // reader, which refuses it by name), then JSON opening with `{"` or `{}`.
        guard let n = b.u64(0), n >= 2, n < 1 << 40, b.u8(8) == UInt8(ascii: "{") else { return false }
        return b.u8(9) == UInt8(ascii: "\"") || b.u8(9) == UInt8(ascii: "}")
    }

    static let dtypes: [String: StorageType] = ["F32": .float, "F16": .half, "BF16": .bfloat16, "F64": .double, "I64": .long]

    /// Reads a safetensors file into a state dict.
    public static func read(contentsOf url: URL) throws(TorchImportError) -> StateDict {
        let bytes: Bytes
        do { bytes = try Bytes.mapping(url) } catch { throw TorchImportError(file: url.path, .unreadable(error.localizedDescription)) }
        return try read(bytes, file: url.path)
    }

    static func read(_ bytes: Bytes, file: String) throws(TorchImportError) -> StateDict {
        func fail(_ o: Int, _ m: String) -> TorchImportError { TorchImportError(file: file, .header(offset: o, problem: m)) }
        guard let n64 = bytes.u64(0) else { throw fail(0, "truncated: no 8-byte header length") }
        guard n64 <= UInt64(maximumHeaderSize) else { throw fail(0, "header length \(n64) is more than the cap of \(maximumHeaderSize) bytes") }
        let n = Int(n64)
        guard let headerBytes = bytes.slice(8, n) else { throw fail(0, "header length \(n) runs past the end of the \(bytes.count)-byte file") }
        let json: JSONValue
        do { json = try JSONParser.parse([UInt8](headerBytes)) } catch { throw fail(8 + error.offset, error.message) }
        guard case let .object(pairs) = json else { throw fail(8, "the header is not a JSON object") }
        let dataStart = 8 + n, dataSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        struct Item { var name: String; var type: StorageType; var shape: [Int]; var begin: Int; var end: Int }
        var items: [Item] = []
        for (name, value) in pairs {
            if name == "__metadata__" {
                guard case let .object(m) = value else { throw fail(8, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard case let .string(s) = v else { throw fail(8, "__metadata__ value '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ m: String) -> TorchImportError { TorchImportError(file: file, .tensor(key: name, problem: m)) }
            guard case let .object(fields) = value else { throw bad("header entry is not an object") }
            let f = Dictionary(fields, uniquingKeysWith: { a, _ in a })
            guard case let .string(dtype)? = f["dtype"] else { throw bad("no dtype") }
            guard let type = dtypes[dtype] else { throw TorchImportError(file: file, .unsupportedDType(key: name, dtype: dtype)) }
            guard case let .array(shapeValues)? = f["shape"] else { throw bad("no shape") }
            var shape: [Int] = []
            for s in shapeValues {
                guard case let .integer(d) = s, d >= 0 else { throw bad("shape \(shapeValues) has a value that is not a non-negative integer") }
                shape.append(d)
            }
            guard case let .array(o)? = f["data_offsets"], o.count == 2, case let .integer(begin) = o[0], case let .integer(end) = o[1],
                  begin >= 0, end >= begin else { throw bad("data_offsets are not [begin, end] with 0 ≤ begin ≤ end") }
            guard shape.count <= TorchTensor.maximumRank else { throw bad("rank \(shape.count), more than \(TorchTensor.maximumRank)") }
            let count: Int
            do { count = try Shape(checking: shape).count } catch { throw bad("\(error)") }
            let (length, overflow) = count.multipliedReportingOverflow(by: type.elementSize)
            guard !overflow, end - begin == length else {
                throw bad("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(overflow ? "more than 2^63" : "\(length)")")
            }
            items.append(Item(name: name, type: type, shape: shape, begin: begin, end: end))
        }
        // The tensors tile the data: sorted by offset, each starts where the previous ended.
        var position = 0
        for item in items.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard item.begin == position else {
                throw TorchImportError(file: file, .tensor(key: item.name, problem: item.begin < position
                        ? "data_offsets [\(item.begin), \(item.end)] overlap the previous tensor (ending at \(position))"
                        : "data_offsets [\(item.begin), \(item.end)] leave bytes \(position)..<\(item.begin) unused"))
            }
            guard item.end <= dataSize else {
                throw TorchImportError(file: file, .tensor(key: item.name, problem: "data_offsets [\(item.begin), \(item.end)] run past the \(dataSize) bytes of data: truncated"))
            }
            position = item.end
        }
        guard position == dataSize else { throw fail(dataStart + position, "\(dataSize - position) bytes after the last tensor") }

        var tree = ParameterTree()
        var dtypes = Set<String>()
        var named = items.map { ($0.name, $0) }
        if !named.isEmpty, named.allSatisfy({ $0.0.hasPrefix("module.") }) { named = named.map { (String($0.0.dropFirst(7)), $0.1) } }
        for (name, item) in named {
            if item.type == .long, name.hasSuffix("num_batches_tracked") { continue }
            guard ParameterTree.isValidPath(name) else { throw TorchImportError(file: file, .tensor(key: name, problem: "not a dotted name")) }
            let count = item.shape.reduce(1, *)
            guard let slice = bytes.slice(dataStart + item.begin, item.end - item.begin) else {
                throw TorchImportError(file: file, .tensor(key: name, problem: "data runs past the end of the file"))
            }
            let ref = TensorRef(storage: StorageRef(key: name, type: item.type, count: count), offset: 0, sizes: item.shape,
                                strides: rowMajorStrides(item.shape))
            let t = try TorchTensor.materialise(ref, key: name, storage: slice, file: file, evict: bytes.evict)
            bytes.evict(slice)
            dtypes.insert(item.type.dtype)
            tree[name] = ParameterTree.Entry(t, kind: TorchReader.isBuffer(name) ? .buffer : .parameter)
        }
        return StateDict(tree: tree, format: .safetensors, dtypes: dtypes, metadata: metadata)
    }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in shape.indices.reversed() { strides[i] = s; s *= shape[i] }
        return strides
    }

    // MARK: writing

    /// The bytes of a safetensors file holding `tree` as F32 under its own paths, in order,
    /// with `metadata` as `__metadata__`. With `batchNormCounters`, each batch norm (a path
    /// ending `running_var`) gets the int64 `num_batches_tracked` scalar PyTorch's strict
    /// `load_state_dict` expects, as 0.
    public static func encode(_ tree: ParameterTree, metadata: [String: String] = [:], batchNormCounters: Bool = true) -> [UInt8] {
        var entries: [String] = []
        var blobs: [(Tensor?, Int)] = [] // a tensor, or an int64 counter's value
        var offset = 0
        if !metadata.isEmpty {
            entries.append("\"__metadata__\":{" + metadata.keys.sorted().map { JSONWriter.quote($0) + ":" + JSONWriter.quote(metadata[$0] ?? "") }.joined(separator: ",") + "}")
        }
        for (path, entry) in tree.entriesInOrder {
            let t = entry.tensor
            let size = t.count * 4
            entries.append(JSONWriter.quote(path) + ":{\"dtype\":\"F32\",\"shape\":[" + t.shape.dimensions.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(offset + size)]}")
            blobs.append((t, 0))
            offset += size
            if batchNormCounters, path.hasSuffix("running_var") {
                let counter = String(path.dropLast("running_var".count)) + "num_batches_tracked"
                if tree[counter] == nil {
                    entries.append(JSONWriter.quote(counter) + ":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[\(offset),\(offset + 8)]}")
                    blobs.append((nil, 0))
                    offset += 8
                }
            }
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) } // padded with spaces, as the reference writer does
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        out.appendLE(UInt64(header.count))
        out += header
        for (t, counter) in blobs {
            if let t {
                t.withUnsafeBufferPointer { p in for v in p { out.appendLE(v.bitPattern) } }
            } else {
                out.appendLE(Int64(counter))
            }
        }
        return out
    }

    /// Writes ``encode(_:metadata:batchNormCounters:)`` to `url` through a temporary file renamed into place.
    public static func write(_ tree: ParameterTree, metadata: [String: String] = [:], batchNormCounters: Bool = true, to url: URL) throws(TorchImportError) {
        try writeAtomically(Data(encode(tree, metadata: metadata, batchNormCounters: batchNormCounters)), to: url)
    }
}

func writeAtomically(_ data: Data, to url: URL) throws(TorchImportError) {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
        try data.write(to: temporary)
        if FileManager.default.fileExists(atPath: url.path) {
            _ = try FileManager.default.replaceItemAt(url, withItemAt: temporary)
        } else {
            try FileManager.default.moveItem(at: temporary, to: url)
        }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw TorchImportError(file: url.path, .cannotWrite(error.localizedDescription))
    }
}
