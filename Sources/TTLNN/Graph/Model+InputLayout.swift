import TTLCore

/// How a model's image input is laid out.
public enum ImageLayout: String, Sendable {
    /// `[N, C, H, W]`: PyTorch, ONNX exports of it, ttl's kernels.
    case nchw
    /// `[N, H, W, C]`: Keras. ttl runs such a model through a transpose right after its input.
    case nhwc
}

extension Model {
    /// The name of the node that turns an NHWC input into NCHW, if the first input feeds
    /// exactly one node and it is that transpose.
    var nhwcAdapter: Node? {
        guard let input = inputs.first, input.dimensions.count == 4 else { return nil }
        let readers = nodes.filter { $0.inputs.contains(input.name) }
        guard readers.count == 1, let t = readers[0].operation as? TransposeOp, t.permutation == [0, 3, 1, 2] else { return nil }
        return readers[0]
    }

    /// The layout of the first input: NHWC when it goes straight into an NHWC → NCHW transpose.
    public var imageLayout: ImageLayout { nhwcAdapter == nil ? .nchw : .nhwc }

    /// The image input's `(channels, height, width)`, whatever its layout; nil when the
    /// first input is not an image or its size varies.
    public var imageInputSize: (channels: Int, height: Int, width: Int)? {
        guard let d = inputs.first?.dimensions, d.count == 4 else { return nil }
        let (c, h, w) = imageLayout == .nhwc ? (d[3], d[1], d[2]) : (d[1], d[2], d[3])
        guard let c, let h, let w else { return nil }
        return (c, h, w)
    }

    /// The name of the NHWC → NCHW transpose after the input, if the model has one.
    public var nhwcAdapterName: String? { nhwcAdapter?.name }

    /// The same network taking `[N, C, H, W]` under the same input name: the NHWC adapter
    /// removed. A model without the adapter is returned as it is.
    public func removingNHWCAdapter() -> Model {
        guard let adapter = nhwcAdapter, let first = inputs.first else { return self }
        let d = first.dimensions
        let spec = InputSpec(name: first.name, dimensions: [d[0], d[3], d[1], d[2]])
        let moved = adapter.outputs[0]
        let nodes = self.nodes.filter { $0.name != adapter.name }.map { n in
            var n = n
            n.inputs = n.inputs.map { $0 == moved ? first.name : $0 }
            return n
        }
        return rebuilt(inputs: [spec] + inputs.dropFirst(), nodes: nodes, outputs: outputs.map { $0 == moved ? first.name : $0 })
    }

    /// The same network taking `[N, H, W, C]` through an NHWC → NCHW transpose named `adapter`
    /// (Keras's convention). The new input keeps the old input's name.
    public func addingNHWCAdapter(named adapter: String? = nil) -> Model {
        guard imageLayout == .nchw, let first = inputs.first, first.dimensions.count == 4 else { return self }
        let d = first.dimensions
        let name = adapter ?? first.name + "_to_nchw"
        // The old input's value keeps flowing; it is now the transpose's output.
        let spec = InputSpec(name: first.name, dimensions: [d[0], d[2], d[3], d[1]])
        var nodes = self.nodes.map { n in
            var n = n
            n.inputs = n.inputs.map { $0 == first.name ? name : $0 }
            return n
        }
        nodes.insert(Node(name, TransposeOp([0, 3, 1, 2]), inputs: [first.name]), at: 0)
        return rebuilt(inputs: [spec] + inputs.dropFirst(), nodes: nodes, outputs: outputs.map { $0 == first.name ? name : $0 })
    }

    private func rebuilt(inputs: [InputSpec], nodes: [Node], outputs: [String]) -> Model {
        do {
            var m = try Model(inputs: inputs, outputs: outputs, nodes: nodes, parameters: parameters)
            m.frozen = frozen
            m.metadata = metadata
            return m
        } catch {
            preconditionFailure("re-wiring the input adapter broke the graph: \(error)")
        }
    }
}
