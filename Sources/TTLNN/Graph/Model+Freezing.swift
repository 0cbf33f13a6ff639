import TTLCore

extension Model {
    /// Paths of the learnable parameters (not buffers), in declaration order.
    public var parameterPaths: [String] { parameters.paths.filter { parameters[$0]?.kind == .parameter } }

    /// Number of learnable scalars (buffers such as running statistics excluded, as PyTorch counts).
    public var parameterCount: Int { parameters.scalarCount(of: .parameter) }

    /// Number of learnable scalars that train.
    public var trainableParameterCount: Int {
        parameterPaths.reduce(0) { $0 + (frozen.contains($1) ? 0 : parameters[$1]!.tensor.count) }
    }

    /// Freezes every parameter under `prefix` (a dotted path prefix; empty for all).
    public mutating func freeze(prefix: String = "") {
        for p in parameterPaths where ParameterTree.path(p, isUnder: prefix) { frozen.insert(p) }
    }

    /// Unfreezes every parameter under `prefix` (empty for all).
    public mutating func unfreeze(prefix: String = "") {
        for p in parameterPaths where ParameterTree.path(p, isUnder: prefix) { frozen.remove(p) }
    }

    /// Learnable parameters in the order the graph first reads them (files may list their
    /// weights in any order; exporters often put the head first), then any the graph never reads.
    public var parameterPathsInExecutionOrder: [String] {
        var seen = Set<String>()
        var order: [String] = []
        for n in nodes {
            for v in n.inputs where parameters[v]?.kind == .parameter && seen.insert(v).inserted { order.append(v) }
        }
        return order + parameterPaths.filter { !seen.contains($0) }
    }

    /// The top-level stages in execution order: `["conv1", "bn1", "layer1", …, "fc"]` for a
    /// torchvision ResNet, `["conv1_conv", …, "conv5_block3_3_bn", "predictions"]` for Keras.
    public var stages: [String] {
        var seen = Set<String>()
        return parameterPathsInExecutionOrder.map { String($0.prefix { $0 != "." }) }.filter { seen.insert($0).inserted }
    }

    /// Index in ``parameterPathsInExecutionOrder`` of the first parameter of `stage`: a path or
    /// top-level component equal to it (`layer4`) or, for Keras-style flat names, starting with
    /// `stage_` (`conv5`).
    func firstIndex(ofStage stage: String) -> Int? {
        parameterPathsInExecutionOrder.firstIndex { p in
            let head = p.prefix { $0 != "." }
            return head == stage || ParameterTree.path(p, isUnder: stage) || head.hasPrefix(stage + "_")
        }
    }

    /// Freezes everything the graph runs before `stage` and unfreezes `stage` and everything
    /// after it (`unfreeze(from: "layer4")` trains layer4 and the head).
    public mutating func unfreeze(from stage: String) throws(FreezeError) {
        guard let start = firstIndex(ofStage: stage) else { throw FreezeError.unknownStage(stage, known: stages) }
        for (i, p) in parameterPathsInExecutionOrder.enumerated() {
            if i < start { frozen.insert(p) } else { frozen.remove(p) }
        }
    }
}

/// A freezing request that names nothing in the model.
public enum FreezeError: Error, Equatable, CustomStringConvertible {
    /// The stage asked for, and the stages the model has.
    case unknownStage(String, known: [String])
    public var description: String {
        switch self {
        case let .unknownStage(s, known): "no stage '\(s)' in the model; stages are \(known.joined(separator: ", "))"
        }
    }
}
