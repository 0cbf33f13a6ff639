// 1-D windows: Conv, MaxPool and AveragePool of `[N, C, L]` run as their 2-D forms over
// `[N, C, 1, L]`, between two Reshapes. Exact: a window of height 1, stride 1 and no padding
// along the added axis reads the same elements in the same order.
import TTLCore
import TTLNN

extension GraphConverter {
    /// Whether input 0 of `n` is a rank-3 activation (a 1-D window's input).
    func isOneDimensional(_ n: ONNXNode) -> Bool {
        guard let x = n.input(0), let (s, _) = shapes(x) else { return false }
        return s.rank == 3
    }

    /// Converts the 1-D window node `n` through `convert`, which adds its 2-D form: `n` with a
    /// unit H axis in its window attributes, reading `[N, C, 1, L]`; the 2-D output is
    /// reshaped back to `[N, C', L']` under `n`'s output name.
    mutating func convertAsPlanar(_ n: ONNXNode, _ convert: (ONNXNode, inout GraphConverter) throws -> Void) throws {
        try n.onlyFirstOutput()
        let x = try required(n, 0)
        guard let (s1, s2) = shapes(x), s1.rank == 3 else { throw InvalidNode("a 1-D window needs a 3-D input") }
        var p = n.proto
        for k in p.attribute.indices {
            let a = p.attribute[k]
            switch a.name {
            case "kernel_shape", "strides", "dilations":
                guard a.ints.count == 1 else { throw InvalidNode("\(a.name) \(a.ints) for a 1-D window") }
                p.attribute[k].ints = [1] + a.ints
            case "pads":
                guard a.ints.count == 2 else { throw InvalidNode("pads \(a.ints) for a 1-D window") }
                p.attribute[k].ints = [0, a.ints[0], 0, a.ints[1]]
            default: break
            }
        }
        let (planarIn, planarOut) = (n.name + "/planar_input", n.name + "/planar_output")
        let (u1, u2): (Shape, Shape) = ([s1[0], s1[1], 1, s1[2]], [s2[0], s2[1], 1, s2[2]])
        try add(n.name + "/unsqueeze", ReshapeOp(try reshapeTarget(x, u1, u2)), [x], [planarIn])
        p.input[0] = planarIn
        p.output = [planarOut]
        try convert(ONNXNode(p, name: n.name, opset: n.opset), &self)
        guard let (o1, o2) = shapes(planarOut), o1.rank == 4 else { throw InvalidNode("no 2-D output") }
        let (q1, q2): (Shape, Shape) = ([o1[0], o1[1], o1[3]], [o2[0], o2[1], o2[3]])
        try add(n.name + "/squeeze", ReshapeOp(try reshapeTarget(planarOut, q1, q2)), [planarOut], [n.output])
    }
}
