// Reads the state dict of a file written by torch.save — the zip format (PyTorch ≥ 1.6,
// https://github.com/pytorch/pytorch/blob/main/torch/serialization.py `_save`) or the legacy
// format (`_legacy_save`) — without executing any of its pickle (see Pickle.swift).
import Foundation
import TTLCore

/// A state dict read from a file: its tensors under their own dotted names, and what the file was.
public struct StateDict: Sendable {
    /// The file formats ttl reads, found from the bytes, not the extension.
    public enum Format: String, Sendable { case torchZip = "torch.save zip", torchLegacy = "torch.save legacy", safetensors }
    /// The tensors as Float32, under the state dict's names (a DataParallel `module.` prefix removed);
    /// `running_mean` and `running_var` are buffers.
    public var tree: ParameterTree
    /// Which format the file was.
    public var format: Format
    /// The dtypes the file stored its floating-point tensors in (`float32`, `float16`, …).
    public var dtypes: Set<String>
    /// A safetensors file's `__metadata__` (empty for torch.save files).
    public var metadata: [String: String] = [:]
    /// Where the state dict sat in a training checkpoint (`model_state_dict`), nil for a bare one.
    public var wrapper: String?
}

/// Reads PyTorch checkpoints and safetensors files into a ``StateDict``.
public enum TorchReader {
    /// The checkpoint keys a state dict is looked for under, in order, when the file holds a training checkpoint.
    public static let wrapperKeys = ["state_dict", "model_state_dict", "model", "net", "ema"]

    /// Whether the first bytes of `url` are a PyTorch file: a zip whose first member is
    /// `<name>/data.pkl` (torch.save and torch.jit.save write it first), the legacy format's pickle
    /// protocol 2 opening, or a safetensors header. A `.keras` zip (config.json first) is not.
    public static func recognises(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 512) else { return false }
        let b = Bytes(head)
        if b.u32(0) == 0x0403_4b50, let n = b.u16(26), let name = b.slice(30, Int(n)) {
            return String(decoding: name, as: UTF8.self).hasSuffix("/data.pkl")
        }
        if b.u8(0) == 0x80, b.u8(1) == 0x02, b.u8(2) == 0x8A, b.u8(3) == 0x0A { return true } // PROTO 2, LONG1 of the 10-byte magic number
        return Safetensors.looksLikeSafetensors(b)
    }

    /// Reads `url`, sniffing its format from its first bytes.
    /// The file is mapped, and the pages of each storage are handed back once its tensor is
    /// copied out: peak memory is the tensors, not the tensors and the file.
    public static func read(contentsOf url: URL) throws(TorchImportError) -> StateDict {
        let bytes: Bytes
        do { bytes = try Bytes.mapping(url) } catch { throw TorchImportError(file: url.path, .unreadable(error.localizedDescription)) }
        // A header the sniff does not take (JSON opening with whitespace) is still read as what the name says.
        if url.pathExtension.lowercased() == "safetensors", !TorchZip.isZip(bytes) { return try Safetensors.read(bytes, file: url.path) }
        return try read(bytes, file: url.path)
    }

    /// Reads the bytes of a file named `file` (used in errors).
    public static func read(_ data: Data, file: String) throws(TorchImportError) -> StateDict {
        try read(Bytes(data), file: file)
    }

    static func read(_ bytes: Bytes, file: String) throws(TorchImportError) -> StateDict {
        if TorchZip.isZip(bytes) { return try readZip(bytes, file: file) }
        if Safetensors.looksLikeSafetensors(bytes) { return try Safetensors.read(bytes, file: file) }
        if bytes.u8(0) == 0x80, bytes.u8(1) == 0x02 { return try readLegacy(bytes, file: file) }
        if bytes.has(257, 5), bytes.slice(257, 5) == Data("ustar".utf8) { throw TorchImportError(file: file, .tarFormat) }
        throw TorchImportError(file: file, .unknownFormat("\(bytes.count) bytes, starting neither with a zip header, a pickle nor a safetensors header"))
    }

    // MARK: zip

    static func readZip(_ bytes: Bytes, file: String) throws(TorchImportError) -> StateDict {
        let zip = try TorchZip(bytes, file: file)
        if zip.has("constants.pkl") || zip.hasFolder("code") { throw TorchImportError(file: file, .torchScript) }
        guard let pickle = try zip.member("data.pkl") else {
            throw TorchImportError(file: file, .zip(offset: 0, problem: "no '\(zip.prefix)data.pkl' (not a torch.save archive)"))
        }
        if let order = try zip.member("byteorder"), order != Data("little".utf8) {
            throw TorchImportError(file: file, .unknownFormat("byteorder '\(String(decoding: order, as: UTF8.self))'; ttl reads little-endian checkpoints"))
        }
        // Persistent ids: ('storage', storage_type, key, location, numel).
        let reader = PickleReader(pickle, file: file) { pid, offset throws(TorchImportError) in
            guard case let .tuple(t, _) = pid, t.count == 5, case .string("storage") = t[0], case let .global(.storage(type)) = t[1],
                  case let .string(key) = t[2], case .string = t[3], case let .int(count) = t[4], count >= 0 else {
                throw TorchImportError(file: file, .pickle(offset: offset, problem: "persistent id is not ('storage', type, key, location, numel)"))
            }
            return .storage(StorageRef(key: key, type: type, count: count))
        }
        let (root, _) = try reader.read()
        var cache: [String: Data] = [:]
        var state = try stateDict(root, format: .torchZip, file: file, fileSize: bytes.count) { s throws(TorchImportError) in
            if let d = cache[s.key] { return d }
            guard let record = try zip.member("data/" + s.key) else {
                throw TorchImportError(file: file, .storage(key: s.key, problem: "no record '\(zip.prefix)data/\(s.key)' in the archive"))
            }
            try check(record.count, holds: s, file: file)
            cache[s.key] = record
            return record
        } release: { bytes.evict($0) }
        // Labels and preprocessing of a model ttl exported (TorchExporter), beside the state dict.
        if let json = try zip.member("ttl_metadata.json"), let parsed = try? JSONParser.parse([UInt8](json)), case let .object(pairs) = parsed {
            for (k, v) in pairs { if case let .string(s) = v { state.metadata[k] = s } }
        }
        return state
    }

    static func check(_ byteCount: Int, holds s: StorageRef, file: String) throws(TorchImportError) {
        let (need, overflow) = s.count.multipliedReportingOverflow(by: s.type.elementSize)
        guard !overflow, byteCount == need else {
            throw TorchImportError(file: file, .storage(key: s.key, problem: "holds \(byteCount) bytes, but \(s.count) \(s.type.dtype) elements need \(overflow ? "more than 2^63" : "\(need)")"))
        }
    }

    // MARK: legacy

    /// The legacy format: pickles of the magic number, the protocol version (1001) and sys_info,
    /// the object's pickle, the pickle of the storage keys, then each storage as an int64 element
    /// count and its raw little-endian bytes.
    static func readLegacy(_ bytes: Bytes, file: String) throws(TorchImportError) -> StateDict {
        let all = bytes.data
        var storages: [String: StorageRef] = [:]
        let plain = PickleReader(all, file: file) { _, offset throws(TorchImportError) in
            throw TorchImportError(file: file, .pickle(offset: offset, problem: "persistent id outside the object's pickle"))
        }
        let (magic, p1) = try plain.read(from: 0)
        guard case let .bigInt(m) = magic, m == [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19] else {
            throw TorchImportError(file: file, .unknownFormat("a pickle, but not a torch.save file (no magic number)"))
        }
        let (version, p2) = try plain.read(from: p1)
        guard case .int(1001) = version else { throw TorchImportError(file: file, .unknownFormat("legacy protocol version \(version), not 1001")) }
        let (sysInfo, p3) = try plain.read(from: p2)
        if case let .dict(d) = sysInfo, case let .bool(little)? = d[.string("little_endian")], !little {
            throw TorchImportError(file: file, .unknownFormat("a big-endian checkpoint"))
        }
        // Persistent ids: ('storage', storage_type, key, location, numel, view_metadata), where
        // view_metadata is None or, from PyTorch before 1.0, (view_key, offset, size) in elements:
        // the view is elements offset ..< offset + size of storage `key`.
        var views: [String: StorageRef] = [:]
        let reader = PickleReader(all, file: file) { pid, offset throws(TorchImportError) in
            guard case let .tuple(t, _) = pid, t.count == 6, case .string("storage") = t[0], case let .global(.storage(type)) = t[1],
                  case let .string(key) = t[2], case .string = t[3], case let .int(count) = t[4], count >= 0 else {
                throw TorchImportError(file: file, .pickle(offset: offset, problem: "persistent id is not ('storage', type, key, location, numel, view)"))
            }
            let s = StorageRef(key: key, type: type, count: count)
            if let old = storages[key], old != s { throw TorchImportError(file: file, .storage(key: key, problem: "named twice with different types or sizes")) }
            storages[key] = s
            if case .none = t[5] { return .storage(s) }
            guard case let .tuple(v, _) = t[5], v.count == 3, case let .string(viewKey) = v[0], case let .int(start) = v[1], case let .int(size) = v[2],
                  start >= 0, size >= 0 else {
                throw TorchImportError(file: file, .pickle(offset: offset, problem: "storage view is not (key, offset, size) with offset and size ≥ 0"))
            }
            let (end, overflow) = start.addingReportingOverflow(size)
            guard !overflow, end <= count else {
                throw TorchImportError(file: file, .storage(key: key, problem: "view '\(viewKey)' (elements \(start) ..< \(overflow ? "past 2^63" : String(end))) reaches past the storage's \(count) elements"))
            }
            let view = StorageRef(key: key, type: type, count: size, viewOffset: start)
            if let old = views[viewKey], old != view {
                throw TorchImportError(file: file, .storage(key: key, problem: "view '\(viewKey)' named twice with different storages, offsets or sizes"))
            }
            views[viewKey] = view
            return .storage(view)
        }
        let (root, p4) = try reader.read(from: p3)
        let (keyList, p5) = try plain.read(from: p4)
        guard case let .list(keys) = keyList else { throw TorchImportError(file: file, .pickle(offset: p4, problem: "the storage key list is a \(keyList.typeName)")) }
        var records: [String: Data] = [:]
        var offset = p5
        for k in keys.items {
            guard case let .string(key) = k, let s = storages[key] else {
                throw TorchImportError(file: file, .pickle(offset: p4, problem: "storage key list names a storage the pickle does not"))
            }
            guard let n = bytes.u64(offset) else {
                throw TorchImportError(file: file, .storage(key: key, problem: "truncated: no element count at byte \(offset)"))
            }
            guard UInt64(s.count) == n else {
                throw TorchImportError(file: file, .storage(key: key, problem: "\(n) elements at byte \(offset), but the pickle says \(s.count)"))
            }
            let (size, overflow) = s.count.multipliedReportingOverflow(by: s.type.elementSize)
            guard !overflow, let record = bytes.slice(offset + 8, size) else {
                throw TorchImportError(file: file, .storage(key: key, problem: "truncated: \(s.count) elements at byte \(offset + 8) run past the end of the file"))
            }
            guard records[key] == nil else { throw TorchImportError(file: file, .storage(key: key, problem: "stored twice")) }
            records[key] = record
            offset += 8 + size
        }
        return try stateDict(root, format: .torchLegacy, file: file, fileSize: bytes.count) { s throws(TorchImportError) in
            guard let r = records[s.key] else { throw TorchImportError(file: file, .storage(key: s.key, problem: "no data after the pickle")) }
            let size = s.type.elementSize
            // A view's bounds were checked against the storage's element count, which its record holds.
            guard s.viewOffset <= r.count / size, s.count <= r.count / size - s.viewOffset else {
                throw TorchImportError(file: file, .storage(key: s.key, problem: "view past the storage's \(r.count) bytes"))
            }
            return r[r.startIndex + s.viewOffset * size ..< r.startIndex + (s.viewOffset + s.count) * size]
        } release: { bytes.evict($0) }
    }

    // MARK: state dict

    /// Finds the state dict in `root` (bare, or under one of ``wrapperKeys``) and materialises its tensors only.
    /// How many times the file's size the materialised float32 tensors may take.
    static let expansionLimit = 8

    /// `release` is given each storage's bytes once a tensor has been copied out of them.
    static func stateDict(_ root: PickleValue, format: StateDict.Format, file: String, fileSize: Int,
                          storage: (StorageRef) throws(TorchImportError) -> Data,
                          release: (Data) -> Void = { _ in }) throws(TorchImportError) -> StateDict {
        func isStateDict(_ v: PickleValue) -> Bool {
            guard case let .dict(d) = v, !d.keys.isEmpty else { return false }
            return d.entries.allSatisfy { k, v in
                guard case let .string(name) = k else { return false }
                if case .tensor = v { return true }
                return name.hasSuffix("_extra_state")
            }
        }
        var chosen: PickleDict?
        var wrapper: String?
        if isStateDict(root), case let .dict(d) = root {
            chosen = d
        } else if case let .dict(d) = root {
            for w in wrapperKeys {
                if let v = d[.string(w)], isStateDict(v), case let .dict(inner) = v { chosen = inner; wrapper = w; break }
            }
        }
        guard let dict = chosen else {
            let what: String
            if case let .dict(d) = root {
                what = "a dict with keys " + d.keys.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (d.keys.count > 8 ? ", …" : "")
            } else {
                what = "a \(root.typeName)"
            }
            throw TorchImportError(file: file, .noStateDict("no state dict of tensors: the file holds \(what) (looked for a dict of tensors, bare or under \(wrapperKeys.joined(separator: ", ")))"))
        }
        var names: [(String, TensorRef)] = []
        for (k, v) in dict.entries {
            guard case let .string(name) = k, case let .tensor(t) = v else { continue }
            names.append((name, t))
        }
        // DataParallel and DistributedDataParallel save their module under `module.`.
        if !names.isEmpty, names.allSatisfy({ $0.0.hasPrefix("module.") }) { names = names.map { (String($0.0.dropFirst(7)), $0.1) } }
        var tree = ParameterTree()
        var dtypes = Set<String>()
        // Views may share a storage (or repeat one with stride 0), so the float32 output is bounded
        // by the file's size times `expansionLimit` (float16 doubles, views repeat), plus 64 MiB.
        var budget = fileSize.multipliedReportingOverflow(by: expansionLimit).partialValue / 4 + (1 << 24)
        for (name, t) in names {
            if t.storage.type == .long, name.hasSuffix("num_batches_tracked") { continue }
            guard ParameterTree.isValidPath(name) else { throw TorchImportError(file: file, .tensor(key: name, problem: "not a dotted name")) }
            guard tree[name] == nil else { throw TorchImportError(file: file, .tensor(key: name, problem: "appears twice")) }
            _ = try TorchTensor.decoder(t.storage.type, key: name, file: file)
            let record = try storage(t.storage)
            // An invalid shape is left to materialise, which names the problem.
            let count = (try? Shape(checking: t.sizes).count) ?? 0
            guard count <= budget else {
                throw TorchImportError(file: file, .tensor(key: name, problem: "the state dict's views would expand past \(expansionLimit)× the file's size"))
            }
            budget -= count
            let tensor = try TorchTensor.materialise(t, key: name, storage: record, file: file, evict: release)
            release(record)
            dtypes.insert(t.storage.type.dtype)
            tree[name] = ParameterTree.Entry(tensor, kind: isBuffer(name) ? .buffer : .parameter)
        }
        return StateDict(tree: tree, format: format, dtypes: dtypes, wrapper: wrapper)
    }

    static func isBuffer(_ name: String) -> Bool { name.hasSuffix("running_mean") || name.hasSuffix("running_var") }
}
