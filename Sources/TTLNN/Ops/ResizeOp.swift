import TTLCore

/// Nearest or bilinear resizing of H and W (ONNX Resize, Upsample). Input `[N, C, H, W]`;
/// output `[N, C, outputHeight, outputWidth]`.
public struct ResizeOp: GraphOperation {
    public var mode: Resize.Mode
    public var coordinates: Resize.CoordinateMode
    public var nearest: Resize.NearestMode
    public var outputHeight: Int, outputWidth: Int
    /// The scales of the coordinate mapping (the file's, or output / input for sizes).
    public var scaleHeight: Double, scaleWidth: Double
    /// Whether the scales are the file's (else they are output / input, from sizes).
    public var scalesGiven: Bool

    public init(mode: Resize.Mode, coordinates: Resize.CoordinateMode, nearest: Resize.NearestMode,
                outputHeight: Int, outputWidth: Int, scaleHeight: Double, scaleWidth: Double, scalesGiven: Bool) {
        self.mode = mode; self.coordinates = coordinates; self.nearest = nearest
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
        self.scaleHeight = scaleHeight; self.scaleWidth = scaleWidth
        self.scalesGiven = scalesGiven
    }

    public var type: String { "Resize" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        try Check.rank(s[0], 4, "Resize's input")
        guard outputHeight >= 1, outputWidth >= 1, scaleHeight > 0, scaleWidth > 0, scaleHeight.isFinite, scaleWidth.isFinite else {
            throw OperationError("output \(outputHeight)×\(outputWidth), scales \(scaleHeight), \(scaleWidth)")
        }
        return [[s[0][0], s[0][1], outputHeight, outputWidth]]
    }

    func taps(_ s: Shape) -> ([Resize.Tap], [Resize.Tap]) {
        (Resize.taps(input: s[2], output: outputHeight, scale: scaleHeight, mode: mode, coordinates: coordinates, nearest: nearest),
         Resize.taps(input: s[3], output: outputWidth, scale: scaleWidth, mode: mode, coordinates: coordinates, nearest: nearest))
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let (rows, columns) = taps(inputs[0].shape)
        return ForwardResult([Resize.forward(inputs[0], rows: rows, columns: columns)], cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let s = cache as! Shape
        let (rows, columns) = taps(s)
        return [Resize.backward(outputGradient: dy[0], inputShape: s, rows: rows, columns: columns)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { outputs[0].count * (mode == .linear ? 6 : 1) }
}
