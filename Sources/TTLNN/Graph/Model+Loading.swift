import TTLCore

/// What loading a ``ParameterTree`` into a model did, path by path.
public struct LoadReport: Sendable, Equatable, CustomStringConvertible {
    /// A path whose tensor in the tree has another shape than the model's.
    public struct Mismatch: Sendable, Equatable {
        /// The parameter path.
        public var path: String
        /// The shape in the model.
        public var expected: Shape
        /// The shape in the tree.
        public var found: Shape
        /// A mismatch at `path`.
        public init(path: String, expected: Shape, found: Shape) { self.path = path; self.expected = expected; self.found = found }
    }
    /// Paths whose tensors were copied in.
    public var applied: [String] = []
    /// Model paths the tree did not have (they keep their current values).
    public var missing: [String] = []
    /// Tree paths the model does not have.
    public var unused: [String] = []
    /// Paths present in both with different shapes (not applied).
    public var mismatched: [Mismatch] = []

    /// True when nothing was missing, unused or mis-shaped: every model path was applied.
    public var isComplete: Bool { missing.isEmpty && unused.isEmpty && mismatched.isEmpty }

    public var description: String {
        var parts = ["\(applied.count) applied"]
        if !missing.isEmpty { parts.append("\(missing.count) missing (\(Self.list(missing)))") }
        if !unused.isEmpty { parts.append("\(unused.count) unused (\(Self.list(unused)))") }
        if !mismatched.isEmpty {
            parts.append("\(mismatched.count) mis-shaped (" + mismatched.prefix(3).map { "\($0.path): model \($0.expected), file \($0.found)" }
                .joined(separator: "; ") + (mismatched.count > 3 ? "; …" : "") + ")")
        }
        return parts.joined(separator: ", ")
    }

    static func list(_ paths: [String]) -> String {
        paths.prefix(3).joined(separator: ", ") + (paths.count > 3 ? ", …" : "")
    }
}

/// A load that left paths missing, unused or mis-shaped without the caller allowing it.
public struct LoadError: Error, CustomStringConvertible {
    /// What the refused load found; nothing was applied.
    public var report: LoadReport
    public var description: String { "weights do not match the model: \(report)" }
}

extension Model {
    /// Which imperfections a load may have and still succeed.
    public struct LoadPolicy: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Model paths the tree lacks keep their current values.
        public static let allowMissing = LoadPolicy(rawValue: 1)
        /// Tree paths the model lacks are ignored.
        public static let allowUnused = LoadPolicy(rawValue: 2)
        /// Paths whose shapes differ are skipped and keep the model's values.
        public static let allowMismatched = LoadPolicy(rawValue: 4)
        /// Every model path and only those, each with the model's shape (the default).
        public static let strict: LoadPolicy = []
    }

    /// Copies the tensors of `tree` into the model's parameters and buffers, path by path.
    /// Fails, changing nothing, when a path is missing, unused or mis-shaped unless `policy` allows it.
    @discardableResult
    public mutating func load(_ tree: ParameterTree, policy: LoadPolicy = .strict) throws(LoadError) -> LoadReport {
        var report = LoadReport()
        for path in parameters.paths {
            guard let incoming = tree.tensor(path) else { report.missing.append(path); continue }
            let expected = parameters[path]!.tensor.shape
            if incoming.shape == expected {
                report.applied.append(path)
            } else {
                report.mismatched.append(.init(path: path, expected: expected, found: incoming.shape))
            }
        }
        report.unused = tree.paths.filter { parameters[$0] == nil }
        if (!report.missing.isEmpty && !policy.contains(.allowMissing))
            || (!report.unused.isEmpty && !policy.contains(.allowUnused))
            || (!report.mismatched.isEmpty && !policy.contains(.allowMismatched)) {
            throw LoadError(report: report)
        }
        for path in report.applied { parameters[path]!.tensor = tree.tensor(path)! }
        return report
    }
}
