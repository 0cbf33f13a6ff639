import TTLCore

/// Max pooling node: `[N, C, H, W]` → `[N, C, H_out, W_out]`.
public struct MaxPoolOp: GraphOperation {
    /// Kernel, stride, dilation, padding and ceil mode.
    public var window: Window2D
    /// A max pooling node over `window`.
    public init(_ window: Window2D) { self.window = window }
    public var type: String { "MaxPool" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return [try pooledShape(s[0], window)]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let (y, cache) = MaxPool2D.forward(inputs[0], window: window, recordArgmax: ctx.keepCache)
        return ForwardResult([y], cache: ctx.keepCache ? cache : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [MaxPool2D.backward(outputGradient: dy[0], cache: cache as! MaxPool2D.Cache)]
    }

    /// Saturated: kernel sizes come from files (up to 2^24 each).
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int {
        Int(min(Double(outputs[0].count) * Double(window.kernel.h) * Double(window.kernel.w), 1e18))
    }
    public var description: String { "MaxPool \(window.kernel) s\(window.stride.h)" }
}

/// Average pooling node: `[N, C, H, W]` → `[N, C, H_out, W_out]`.
public struct AvgPoolOp: GraphOperation {
    /// Kernel, stride, dilation (ONNX opset 19), padding and ceil mode.
    public var window: Window2D
    /// Whether the divisor counts padded positions (ONNX `count_include_pad`).
    public var countIncludePad: Bool
    /// An average pooling node over `window`.
    public init(_ window: Window2D, countIncludePad: Bool) { self.window = window; self.countIncludePad = countIncludePad }
    public var type: String { "AveragePool" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return [try pooledShape(s[0], window)]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([AvgPool2D.forward(inputs[0], window: window, countIncludePad: countIncludePad)],
                      cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [AvgPool2D.backward(outputGradient: dy[0], inputShape: cache as! Shape, window: window, countIncludePad: countIncludePad)]
    }

    /// Saturated: kernel sizes come from files (up to 2^24 each).
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int {
        Int(min(Double(outputs[0].count) * Double(window.kernel.h) * Double(window.kernel.w), 1e18))
    }
    public var description: String { "AvgPool \(window.kernel) s\(window.stride.h)" }
}

/// Global average pooling node: `[N, C, H, W]` → `[N, C, 1, 1]`.
public struct GlobalAvgPoolOp: GraphOperation {
    /// A global average pooling node.
    public init() {}
    public var type: String { "GlobalAveragePool" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        try Check.rank(s[0], 4, "input")
        return [[s[0][0], s[0][1], 1, 1]]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([GlobalAvgPool.forward(inputs[0])], cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [GlobalAvgPool.backward(outputGradient: dy[0], inputShape: cache as! Shape)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { inputs[0].count }
}

/// Constant padding of H and W: `[N, C, H, W]` → `[N, C, H + t + b, W + l + r]`.
public struct PadOp: GraphOperation {
    /// Rows and columns added on each side of H and W.
    public var padding: Padding2D
    /// The value of the added elements.
    public var value: Float
    /// A node padding H and W by `padding` with `value` (default 0).
    public init(_ padding: Padding2D, value: Float = 0) { self.padding = padding; self.value = value }
    public var type: String { "Pad" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        try Check.rank(s[0], 4, "input")
        let p = padding
        guard min(p.top, p.left, p.bottom, p.right) >= 0 else { throw OperationError("negative padding \(p)") }
        // Pads come from files: sizes are added with overflow checks and bounded.
        func padded(_ d: Int, _ a: Int, _ b: Int) throws(OperationError) -> Int {
            let (x, o1) = d.addingReportingOverflow(a), (y, o2) = x.addingReportingOverflow(b)
            guard !o1, !o2 else { throw OperationError("padding \(p) of \(s[0]) overflows") }
            return y
        }
        let dims = [s[0][0], s[0][1], try padded(s[0][2], p.top, p.bottom), try padded(s[0][3], p.left, p.right)]
        guard let out = try? Shape(checking: dims) else { throw OperationError("cannot pad \(s[0]) by \(p): the result is too large") }
        return [out]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Pad2D.forward(inputs[0], padding: padding, value: value)], cache: ctx.keepCache ? () : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [Pad2D.backward(outputGradient: dy[0], padding: padding)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
    public var description: String { "Pad \(padding)" }
}

func pooledShape(_ s: Shape, _ window: Window2D) throws(OperationError) -> Shape {
    try Check.rank(s, 4, "input")
    let w = window
    guard min(w.kernel.h, w.kernel.w, w.stride.h, w.stride.w, w.dilation.h, w.dilation.w) >= 1,
          min(w.padding.top, w.padding.left, w.padding.bottom, w.padding.right) >= 0 else {
        throw OperationError("kernel, stride and dilation must be positive and padding non-negative")
    }
    // Padding may not exceed half the kernel (ONNX and PyTorch rule), so no window is all padding.
    guard max(w.padding.top, w.padding.bottom) < w.kernel.h * w.dilation.h, max(w.padding.left, w.padding.right) < w.kernel.w * w.dilation.w else {
        throw OperationError("padding \(w.padding) as large as the kernel \(w.kernel)")
    }
    let out = w.outputSize(height: s[2], width: s[3])
    guard out.h > 0, out.w > 0 else { throw OperationError("window \(w.kernel) larger than padded input \(s)") }
    return [s[0], s[1], out.h, out.w]
}
