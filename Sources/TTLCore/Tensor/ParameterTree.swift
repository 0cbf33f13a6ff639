/// The weights of a model, each under a dotted path (`layer2.0.downsample.0.weight`, `fc.bias`).
///
/// This is the one meeting point of importers, exporters, freezing and optimizers
/// (STYLE.md §2): importers produce a tree, exporters consume one, and freezing and
/// optimizers select from it by path prefix. Entries keep their insertion order, which
/// is the order a model declares its weights in.
public struct ParameterTree: Sendable, Equatable {
    /// Whether an entry is learned by gradient descent or carried state (BN running statistics).
    public enum Kind: String, Sendable, Equatable {
        case parameter, buffer
    }

    /// A stored tensor and its kind, parameter or buffer.
    public struct Entry: Sendable, Equatable {
        /// The values.
        public var tensor: Tensor
        /// Parameter (learned) or buffer (carried state).
        public var kind: Kind
        /// An entry holding `tensor`, a parameter unless `kind` says otherwise.
        public init(_ tensor: Tensor, kind: Kind = .parameter) {
            self.tensor = tensor
            self.kind = kind
        }
    }

    /// Every path, in insertion order.
    public private(set) var paths: [String] = []
    private var entries: [String: Entry] = [:]

    /// An empty tree.
    public init() {}

    /// A tree of `pairs` in order, each entry of `kind`; a repeated path keeps its first place and its last tensor.
    public init(_ pairs: [(String, Tensor)], kind: Kind = .parameter) {
        for (path, tensor) in pairs { self[path] = Entry(tensor, kind: kind) }
    }

    /// Number of entries.
    public var count: Int { paths.count }
    /// Whether the tree has no entries.
    public var isEmpty: Bool { paths.isEmpty }

    /// The entry at `path`; setting `nil` removes it, setting a new path appends it.
    public subscript(path: String) -> Entry? {
        get { entries[path] }
        set {
            precondition(Self.isValidPath(path), "invalid parameter path '\(path)'")
            if let newValue {
                if entries.updateValue(newValue, forKey: path) == nil { paths.append(path) }
            } else if entries.removeValue(forKey: path) != nil {
                paths.removeAll { $0 == path }
            }
        }
    }

    /// The tensor at `path`, if any.
    public func tensor(_ path: String) -> Tensor? { entries[path]?.tensor }

    /// Entries in declaration order.
    public var entriesInOrder: [(path: String, entry: Entry)] { paths.map { ($0, entries[$0]!) } }

    /// Total number of scalars, optionally of one kind only.
    public func scalarCount(of kind: Kind? = nil) -> Int {
        paths.reduce(0) { acc, p in
            let e = entries[p]!
            return kind == nil || e.kind == kind ? acc + e.tensor.count : acc
        }
    }

    /// True when `path` equals `prefix` or lies below it at a component boundary:
    /// `layer4` matches `layer4.0.conv1.weight` but not `layer40.weight`.
    public static func path(_ path: String, isUnder prefix: String) -> Bool {
        if prefix.isEmpty { return true }
        guard path.hasPrefix(prefix) else { return false }
        return path.count == prefix.count || path[path.index(path.startIndex, offsetBy: prefix.count)] == "."
    }

    /// The entries under `prefix`, with their full paths.
    public func selecting(prefix: String) -> ParameterTree {
        var t = ParameterTree()
        for p in paths where Self.path(p, isUnder: prefix) { t[p] = entries[p] }
        return t
    }

    /// The entries under `prefix`, with the prefix and its dot removed.
    public func subtree(_ prefix: String) -> ParameterTree {
        var t = ParameterTree()
        for p in paths where Self.path(p, isUnder: prefix) && p != prefix {
            t[String(p.dropFirst(prefix.isEmpty ? 0 : prefix.count + 1))] = entries[p]
        }
        return t
    }

    /// Every entry with `prefix.` put in front of its path.
    public func prefixed(_ prefix: String) -> ParameterTree {
        var t = ParameterTree()
        for p in paths { t[prefix.isEmpty ? p : prefix + "." + p] = entries[p] }
        return t
    }

    /// The distinct next components below `prefix`, in order (`children(of: "layer1")` → `["0", "1"]`).
    public func children(of prefix: String = "") -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for p in paths where Self.path(p, isUnder: prefix) && p != prefix {
            let rest = prefix.isEmpty ? Substring(p) : p.dropFirst(prefix.count + 1)
            let head = String(rest.prefix { $0 != "." })
            if seen.insert(head).inserted { result.append(head) }
        }
        return result
    }

    /// Paths are non-empty dot-separated components, none empty.
    public static func isValidPath(_ path: String) -> Bool {
        !path.isEmpty && !path.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }

    /// Equal when both hold equal entries under the same paths, in the same order.
    public static func == (a: ParameterTree, b: ParameterTree) -> Bool {
        a.paths == b.paths && a.entries == b.entries
    }
}
