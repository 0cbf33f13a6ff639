import TTLCore

/// A strided window of an activation (ONNX Slice and Split of computed values: ShuffleNet's
/// channel split, Inception's per-channel input transform). `starts`, `ends`, `axes` and
/// `steps` follow ONNX and are resolved against the input shape, so a dynamic batch stays
/// dynamic.
public struct SliceOp: GraphOperation {
    public var starts: [Int], ends: [Int], axes: [Int], steps: [Int]
    public init(starts: [Int], ends: [Int], axes: [Int], steps: [Int]) {
        self.starts = starts; self.ends = ends; self.axes = axes; self.steps = steps
    }
    public var type: String { "Slice" }

    func window(_ shape: Shape) throws(OperationError) -> Slice.Window {
        guard let w = Slice.Window(shape: shape, starts: starts, ends: ends, axes: axes, steps: steps) else {
            throw OperationError("slice starts \(starts), ends \(ends), axes \(axes), steps \(steps) do not fit \(shape)")
        }
        return w
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return [try window(s[0]).outputShape]
    }

    struct Cache { var shape: Shape; var window: Slice.Window }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let s = inputs[0].shape  // checked by shape inference first; the whole input otherwise
        let w = (try? window(s)) ?? Slice.Window(start: s.dimensions.map { _ in 0 }, step: s.dimensions.map { _ in 1 }, count: s.dimensions)
        return ForwardResult([Slice.forward(inputs[0], w)], cache: ctx.keepCache ? Cache(shape: inputs[0].shape, window: w) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        return [Slice.backward(outputGradient: dy[0], inputShape: c.shape, c.window)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}
