// The order in which Keras lists a Functional model's layers (`model.layers`), which is the
// order its files store weights in: Keras's `_map_graph_network` (tf.keras) / `map_graph`
// (Keras 3). Layers are sorted by depth, deepest (nearest the inputs) first; layers of equal
// depth keep the order a depth-first walk from the outputs, inputs in argument order, meets them.
import Foundation

/// A layer as the ordering sees it: its name, the layers it reads, its place among the outputs.
struct KerasGraphNode {
    var name: String
    var inbound: [String]
    var outputIndex: Int?
}

/// Layer names in Keras's `model.layers` order (layers no output depends on are left out, as Keras does).
func kerasLayerOrder(_ nodes: [KerasGraphNode]) -> [String] {
    let byName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var discovered: [String: Int] = [:]
    var postorder: [String] = []
    var finished = Set<String>()
    // Depth-first from each output (iterative: networks are deep).
    for output in nodes.filter({ $0.outputIndex != nil }).sorted(by: { $0.outputIndex! < $1.outputIndex! }) {
        var stack: [(name: String, next: Int)] = [(output.name, 0)]
        while let top = stack.last {
            if top.next == 0 {
                if finished.contains(top.name) { stack.removeLast(); continue }
                if discovered[top.name] == nil { discovered[top.name] = discovered.count }
            }
            let inbound = byName[top.name]?.inbound ?? []
            if top.next < inbound.count {
                stack[stack.count - 1].next += 1
                if !finished.contains(inbound[top.next]) { stack.append((inbound[top.next], 0)) }
            } else {
                stack.removeLast()
                if finished.insert(top.name).inserted { postorder.append(top.name) }
            }
        }
    }
    var depth: [String: Int] = [:]
    for name in postorder.reversed() {
        let d = depth[name, default: 0]
        for source in byName[name]?.inbound ?? [] { depth[source] = max(d + 1, depth[source] ?? 0) }
    }
    return postorder.sorted {
        let (a, b) = (depth[$0] ?? 0, depth[$1] ?? 0)
        return a != b ? a > b : discovered[$0]! < discovered[$1]!
    }
}

/// Keras's `to_snake_case`: `BatchNormalization` → `batch_normalization`, `ReLU` → `re_lu`.
func kerasSnakeCase(_ name: String) -> String {
    var s = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
    for pattern in ["(.)([A-Z][a-z]+)", "([a-z])([A-Z])"] {
        let re = try! NSRegularExpression(pattern: pattern)
        s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "$1_$2")
    }
    return s.lowercased()
}

extension KerasWeights {
    /// Keras 3 before 3.6 named its weight groups by class and counter only (`conv2d_3`), with
    /// no `name` attribute: the counters run over `model.layers` in order, so the layers of
    /// the model, in that order with their classes, tell which group is which layer.
    /// The same weights under other layer names (`old → new`; names not listed stay).
    func renamed(_ names: [String: String]) -> KerasWeights {
        var w = KerasWeights()
        for old in layers {
            let new = names[old] ?? old
            w.layers.append(new)
            w.byLayer[new] = byLayer[old]
            w.groupPath[new] = groupPath[old]
        }
        return w
    }

    func resolvingClassKeys(_ layers: [(name: String, className: String)]) -> KerasWeights {
        guard classKeyed else { return self }
        var seen: [String: Int] = [:]
        var keyToName: [String: String] = [:]
        for l in layers {
            let base = kerasSnakeCase(l.className)
            let n = seen[base, default: 0]
            seen[base] = n + 1
            keyToName[n == 0 ? base : "\(base)_\(n)"] = l.name
        }
        return renamed(keyToName)
    }
}
