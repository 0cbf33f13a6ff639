// A pickle reader that executes nothing (https://github.com/python/cpython/blob/3.11/Lib/pickletools.py
// documents the opcodes). It interprets the protocol-2 subset that torch.save writes for a
// state dict and refuses every other opcode. GLOBAL resolves only to the symbols of
// ``PickleGlobal`` — containers, storage classes and tensor rebuilds — which are data, not
// code: REDUCE on them builds a value, it never calls Python. Each opcode checks the types
// of its operands (SETITEM only on dicts, APPEND only on lists, BUILD only on an OrderedDict's
// state), and stack depth, memo size, object count, nesting and string lengths are capped.
import Foundation

/// The symbols a GLOBAL may name. Anything else is refused before it is pushed.
enum PickleGlobal: Equatable {
    case orderedDict
    case storage(StorageType)
    case rebuildTensorV2, rebuildParameter, rebuildParameterWithState, rebuildFromTypeV2
    /// `torch.Tensor`, only ever an argument of `_rebuild_from_type_v2` (the type to rebuild as).
    case tensorType
    case codecsEncode

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): self = .rebuildFromTypeV2
        case ("torch", "Tensor"): self = .tensorType
        case ("_codecs", "encode"): self = .codecsEncode
        case ("torch", _):
            guard let s = StorageType(rawValue: name) else { return nil }
            self = .storage(s)
        default: return nil
        }
    }
}

/// torch's typed storage classes and their element sizes.
enum StorageType: String, Equatable {
    case float = "FloatStorage", double = "DoubleStorage", half = "HalfStorage", bfloat16 = "BFloat16Storage"
    case long = "LongStorage", int = "IntStorage", short = "ShortStorage", char = "CharStorage", byte = "ByteStorage", bool = "BoolStorage"

    var elementSize: Int {
        switch self {
        case .double, .long: 8
        case .float, .int: 4
        case .half, .bfloat16, .short: 2
        case .char, .byte, .bool: 1
        }
    }

    /// torch's dtype name.
    var dtype: String {
        switch self {
        case .float: "float32"
        case .double: "float64"
        case .half: "float16"
        case .bfloat16: "bfloat16"
        case .long: "int64"
        case .int: "int32"
        case .short: "int16"
        case .char: "int8"
        case .byte: "uint8"
        case .bool: "bool"
        }
    }
}

/// A storage named by a persistent id: its record key, element type and element count; for a
/// storage view of the legacy format, the element of the record it starts at (`count` is then
/// the view's size).
struct StorageRef: Equatable {
    var key: String
    var type: StorageType
    var count: Int
    var viewOffset = 0
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view of a storage. Nothing is read or
/// allocated until it is materialised, so tensors outside the state dict (optimizer state) cost nothing.
struct TensorRef: Equatable {
    var storage: StorageRef
    var offset: Int
    var sizes: [Int]
    var strides: [Int]
}

final class PickleList {
    var items: [PickleValue] = []
    var depth = 1
}

/// Hashable dict keys; a state dict's are strings, an optimizer state's integers.
enum PickleKey: Hashable, CustomStringConvertible {
    case string(String), int(Int), bool(Bool), none
    var description: String {
        switch self {
        case let .string(s): s
        case let .int(i): "\(i)"
        case let .bool(b): b ? "True" : "False"
        case .none: "None"
        }
    }
}

final class PickleDict {
    private(set) var keys: [PickleKey] = []
    private(set) var values: [PickleKey: PickleValue] = [:]
    var depth = 1
    /// Built by `collections.OrderedDict()`: BUILD may then set its instance state (`_metadata`), which is ignored.
    let isOrderedDict: Bool
    init(ordered: Bool) { isOrderedDict = ordered }
    subscript(key: PickleKey) -> PickleValue? {
        get { values[key] }
        set {
            guard let newValue else { return }
            if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }
    var entries: [(PickleKey, PickleValue)] { keys.compactMap { k in values[k].map { (k, $0) } } }
}

indirect enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
    /// An integer too large for `Int` (LONG1 of 9–16 bytes), little-endian two's complement.
    case bigInt([UInt8])
    /// A tuple and its nesting depth, kept so that depth checks stay O(1) on shared (memoised) tuples.
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(StorageRef)
    case tensor(TensorRef)

    var depth: Int {
        switch self {
        case let .tuple(_, d): d
        case let .list(l): l.depth
        case let .dict(d): d.depth
        default: 1
        }
    }

    static func makeTuple(_ items: [PickleValue]) -> PickleValue { .tuple(items, depth: 1 + (items.map(\.depth).max() ?? 0)) }

    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global: "global"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// The interpreter. `persistentLoad` turns a BINPERSID id (a tuple) into a storage.
struct PickleReader {
    /// Limits on what a pickle may build.
    struct Limits {
        var stackDepth = 1 << 20
        var memoEntries = 1 << 22
        var objects = 1 << 24
        var nesting = 64
        var stringBytes = 1 << 26
        var longBytes = 16
    }

    /// The bytes, indexed from 0 (often the whole mapped file: the reader touches only the pickle's part).
    let bytes: Data
    let file: String
    var limits = Limits()
    let persistentLoad: (PickleValue, Int) throws(TorchImportError) -> PickleValue

    init(_ bytes: Data, file: String, persistentLoad: @escaping (PickleValue, Int) throws(TorchImportError) -> PickleValue) {
        self.bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        self.file = file
        self.persistentLoad = persistentLoad
    }

    init(_ bytes: [UInt8], file: String, persistentLoad: @escaping (PickleValue, Int) throws(TorchImportError) -> PickleValue) {
        self.init(Data(bytes), file: file, persistentLoad: persistentLoad)
    }

    /// Runs the pickle from `start` to its STOP; returns the value and the offset after STOP.
    func read(from start: Int = 0) throws(TorchImportError) -> (PickleValue, Int) {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        var objects = 0
        var pc = start
        var at = start
        func fail(_ m: String) -> TorchImportError { TorchImportError(file: file, .pickle(offset: at, problem: m)) }
        func take(_ n: Int) throws(TorchImportError) -> Data {
            guard n >= 0, n <= bytes.count - pc else { throw fail("truncated: needs \(n) more bytes at byte \(pc), the pickle has \(bytes.count - pc)") }
            defer { pc += n }
            return bytes[pc ..< pc + n]
        }
        func uint(_ n: Int) throws(TorchImportError) -> Int {
            var v = 0
            for (i, b) in try take(n).enumerated() { v |= Int(b) << (8 * i) }
            return v
        }
        func line() throws(TorchImportError) -> String {
            guard let nl = bytes[pc...].prefix(256).firstIndex(of: 0x0A) else { throw fail("GLOBAL operand without a newline within 256 bytes") }
            defer { pc = nl + 1 }
            return String(decoding: bytes[pc ..< nl], as: UTF8.self)
        }
        func push(_ v: PickleValue) throws(TorchImportError) {
            guard stack.count < limits.stackDepth else { throw fail("stack deeper than \(limits.stackDepth)") }
            guard v.depth <= limits.nesting else { throw fail("objects nested deeper than \(limits.nesting)") }
            objects += 1
            guard objects <= limits.objects else { throw fail("more than \(limits.objects) objects") }
            stack.append(v)
        }
        func pop() throws(TorchImportError) -> PickleValue {
            guard let v = stack.popLast() else { throw fail("stack underflow") }
            if let m = marks.last, stack.count < m { throw fail("pops across a MARK") }
            return v
        }
        func popMark() throws(TorchImportError) -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK to pop to") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func key(_ v: PickleValue) throws(TorchImportError) -> PickleKey {
            switch v {
            case let .string(s): return .string(s)
            case let .int(i): return .int(i)
            case let .bool(b): return .bool(b)
            case .none: return .none
            default: throw fail("dict key of type \(v.typeName)")
            }
        }
        func setItems(_ pairs: ArraySlice<PickleValue>, into target: PickleValue) throws(TorchImportError) {
            guard case let .dict(d) = target else { throw fail("SETITEM(S) on a \(target.typeName), not a dict") }
            guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
            var i = pairs.startIndex
            while i < pairs.endIndex {
                let v = pairs[i + 1]
                guard v.depth < limits.nesting else { throw fail("objects nested deeper than \(limits.nesting)") }
                d[try key(pairs[i])] = v
                d.depth = max(d.depth, v.depth + 1)
                i += 2
            }
        }
        func append(_ items: [PickleValue], to target: PickleValue) throws(TorchImportError) {
            guard case let .list(l) = target else { throw fail("APPEND(S) on a \(target.typeName), not a list") }
            for v in items {
                guard v.depth < limits.nesting else { throw fail("objects nested deeper than \(limits.nesting)") }
                l.items.append(v)
                l.depth = max(l.depth, v.depth + 1)
            }
        }
        func memoize(_ index: Int) throws(TorchImportError) {
            guard let top = stack.last else { throw fail("BINPUT on an empty stack") }
            guard memo.count < limits.memoEntries || memo[index] != nil else { throw fail("memo larger than \(limits.memoEntries) entries") }
            memo[index] = top
        }
        func recall(_ index: Int) throws(TorchImportError) {
            guard let v = memo[index] else { throw fail("BINGET of memo entry \(index), never stored") }
            try push(v)
        }

        while true {
            at = pc
            guard pc < bytes.count else { throw fail("truncated: the pickle ends without STOP") }
            let op = bytes[pc]
            pc += 1
            switch op {
            case 0x80: // PROTO
                let p = try uint(1)
                guard p <= 2 else { throw fail("pickle protocol \(p); torch.save writes protocol 2") }
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                guard let g = PickleGlobal(module: module, name: name) else {
                    throw TorchImportError(file: file, .forbiddenGlobal(module: module, name: name, offset: at))
                }
                try push(.global(g))
            case 0x71: try memoize(try uint(1)) // BINPUT
            case 0x72: try memoize(try uint(4)) // LONG_BINPUT
            case 0x68: try recall(try uint(1)) // BINGET
            case 0x6A: try recall(try uint(4)) // LONG_BINGET
            case 0x28: // MARK
                guard marks.count < limits.stackDepth else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case 0x74: try push(.makeTuple(try popMark())) // TUPLE
            case 0x85: try push(.makeTuple([try pop()])) // TUPLE1
            case 0x86: // TUPLE2
                let b = try pop(), a = try pop()
                try push(.makeTuple([a, b]))
            case 0x87: // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try push(.makeTuple([a, b, c]))
            case 0x29: try push(.makeTuple([])) // EMPTY_TUPLE
            case 0x5D: try push(.list(PickleList())) // EMPTY_LIST
            case 0x7D: try push(.dict(PickleDict(ordered: false))) // EMPTY_DICT
            case 0x58: // BINUNICODE
                let n = try uint(4)
                guard n <= limits.stringBytes else { throw fail("string of \(n) bytes, more than the cap of \(limits.stringBytes)") }
                let raw = try take(n)
                guard let s = String(bytes: raw, encoding: .utf8) else { throw fail("string is not UTF-8") }
                try push(.string(s))
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4))))) // BININT
            case 0x4B: try push(.int(try uint(1))) // BININT1
            case 0x4D: try push(.int(try uint(2))) // BININT2
            case 0x47: // BINFLOAT, big-endian
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: v)))
            case 0x8A: // LONG1
                let n = try uint(1)
                guard n <= limits.longBytes else { throw fail("LONG1 of \(n) bytes, more than the cap of \(limits.longBytes)") }
                let raw = Array(try take(n))
                if n == 0 {
                    try push(.int(0))
                } else if n <= 8 {
                    var v: UInt64 = 0
                    for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * i) }
                    if n < 8, raw[n - 1] & 0x80 != 0 { v |= ~0 << (8 * n) } // sign-extend
                    try push(.int(Int(Int64(bitPattern: v))))
                } else {
                    try push(.bigInt(raw))
                }
            case 0x4E: try push(.none) // NONE
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case 0x51: // BINPERSID
                let pid = try pop()
                try push(try persistentLoad(pid, at))
            case 0x52: // REDUCE
                let args = try pop(), callable = try pop()
                try push(try reduce(callable, args, fail))
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                guard let target = stack.last else { throw fail("SETITEM on an empty stack") }
                try setItems([k, v], into: target)
            case 0x75: // SETITEMS
                let items = try popMark()
                guard let target = stack.last else { throw fail("SETITEMS on an empty stack") }
                try setItems(items[...], into: target)
            case 0x61: // APPEND
                let v = try pop()
                guard let target = stack.last else { throw fail("APPEND on an empty stack") }
                try append([v], to: target)
            case 0x65: // APPENDS
                let items = try popMark()
                guard let target = stack.last else { throw fail("APPENDS on an empty stack") }
                try append(items, to: target)
            case 0x62: // BUILD
                let state = try pop()
                guard let target = stack.last else { throw fail("BUILD on an empty stack") }
                // The only state torch pickles this way is a state dict's `_metadata` (an
                // OrderedDict's instance dict); it is dropped.
                guard case let .dict(d) = target, d.isOrderedDict else { throw fail("BUILD on a \(target.typeName), not an OrderedDict") }
                switch state {
                case .dict, .none, .tuple: break
                default: throw fail("BUILD with a state of type \(state.typeName)")
                }
            case 0x2E: // STOP
                guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) values on the stack") }
                return (stack[0], pc)
            default:
                throw TorchImportError(file: file, .forbiddenOpcode(opcode: op, offset: at))
            }
        }
    }

    /// REDUCE on an allowlisted symbol: builds a container or a tensor view, or encodes a string.
    private func reduce(_ callable: PickleValue, _ args: PickleValue, _ fail: (String) -> TorchImportError) throws(TorchImportError) -> PickleValue {
        guard case let .global(g) = callable else { throw fail("REDUCE on a \(callable.typeName), not an allowed global") }
        guard case let .tuple(a, _) = args else { throw fail("REDUCE with arguments of type \(args.typeName), not a tuple") }
        switch g {
        case .orderedDict:
            guard a.isEmpty else { throw fail("OrderedDict() with \(a.count) arguments") }
            return .dict(PickleDict(ordered: true))
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count == 6 || a.count == 7, case let .storage(s) = a[0], case let .int(offset) = a[1],
                  case let .tuple(size, _) = a[2], case let .tuple(stride, _) = a[3] else {
                throw fail("_rebuild_tensor_v2 with arguments (\(a.map(\.typeName).joined(separator: ", ")))")
            }
            func ints(_ t: [PickleValue]) throws(TorchImportError) -> [Int] {
                var r: [Int] = []
                for v in t {
                    guard case let .int(i) = v else { throw fail("_rebuild_tensor_v2: size or stride of type \(v.typeName)") }
                    r.append(i)
                }
                return r
            }
            return .tensor(TensorRef(storage: s, offset: offset, sizes: try ints(size), strides: try ints(stride)))
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state])
            guard a.count == (g == .rebuildParameter ? 3 : 4), case .tensor = a[0] else {
                throw fail("_rebuild_parameter with arguments (\(a.map(\.typeName).joined(separator: ", ")))")
            }
            return a[0]
        case .rebuildFromTypeV2:
            // (func, new_type, args, state): func is itself an allowed rebuild, new_type torch.Tensor.
            guard a.count == 4, case let .global(f) = a[0], f == .rebuildTensorV2 || f == .rebuildParameter || f == .rebuildParameterWithState,
                  case .global(.tensorType) = a[1], case .tuple = a[2] else {
                throw fail("_rebuild_from_type_v2 with arguments (\(a.map(\.typeName).joined(separator: ", ")))")
            }
            return try reduce(a[0], a[2], fail)
        case .codecsEncode:
            // Protocol 2 pickles `bytes` as _codecs.encode(str, 'latin1').
            guard a.count == 2, case let .string(s) = a[0], case let .string(enc) = a[1], enc == "latin1" || enc == "latin-1" else {
                throw fail("_codecs.encode with arguments other than (str, 'latin1')")
            }
            var out: [UInt8] = []
            for u in s.unicodeScalars {
                guard u.value < 256 else { throw fail("_codecs.encode: a character past latin-1") }
                out.append(UInt8(u.value))
            }
            return .bytes(out)
        case .storage, .tensorType:
            throw fail("REDUCE on a type, which would construct an object")
        }
    }
}
