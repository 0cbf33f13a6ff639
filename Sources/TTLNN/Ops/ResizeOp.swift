import TTLCore

/// Nearest, bilinear or bicubic resizing of H and W (ONNX Resize, Upsample). Input
/// `[N, C, H, W]`; output `[N, C, outputHeight, outputWidth]`.
public struct ResizeOp: GraphOperation {
    public var mode: Resize.Mode
    public var coordinates: Resize.CoordinateMode
    public var nearest: Resize.NearestMode
    /// Cubic coefficient, exclude_outside and antialias.
    public var filter: Resize.Filter
    /// The value of tf_crop_and_resize outputs outside the input.
    public var extrapolationValue: Float
    /// tf_crop_and_resize's region, as fractions of H and W: `[top, left, bottom, right]`.
    public var regionOfInterest: [Double]
    public var outputHeight: Int, outputWidth: Int
    /// The scales of the coordinate mapping (the file's, or output / input for sizes, or the
    /// one scale a keep-aspect-ratio policy chose).
    public var scaleHeight: Double, scaleWidth: Double
    /// Whether the scales are the file's (else they come from sizes).
    public var scalesGiven: Bool
    /// For sizes under a `keep_aspect_ratio_policy` other than stretch: the policy, and the
    /// sizes the file asked for on the axes it named (the scales above are derived from them).
    public var aspectRatioPolicy: Resize.AspectRatioPolicy
    public var requestedAxes: [Int], requestedSizes: [Int]

    public init(mode: Resize.Mode, coordinates: Resize.CoordinateMode, nearest: Resize.NearestMode,
                outputHeight: Int, outputWidth: Int, scaleHeight: Double, scaleWidth: Double, scalesGiven: Bool,
                filter: Resize.Filter = Resize.Filter(), extrapolationValue: Float = 0, regionOfInterest: [Double] = [0, 0, 1, 1],
                aspectRatioPolicy: Resize.AspectRatioPolicy = .stretch, requestedAxes: [Int] = [], requestedSizes: [Int] = []) {
        self.mode = mode; self.coordinates = coordinates; self.nearest = nearest
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
        self.scaleHeight = scaleHeight; self.scaleWidth = scaleWidth
        self.scalesGiven = scalesGiven
        self.filter = filter; self.extrapolationValue = extrapolationValue; self.regionOfInterest = regionOfInterest
        self.aspectRatioPolicy = aspectRatioPolicy; self.requestedAxes = requestedAxes; self.requestedSizes = requestedSizes
    }

    public var type: String { "Resize" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        try Check.rank(s[0], 4, "Resize's input")
        guard outputHeight >= 1, outputWidth >= 1, scaleHeight > 0, scaleWidth > 0, scaleHeight.isFinite, scaleWidth.isFinite else {
            throw OperationError("output \(outputHeight)×\(outputWidth), scales \(scaleHeight), \(scaleWidth)")
        }
        guard regionOfInterest.count == 4, regionOfInterest.allSatisfy(\.isFinite), filter.cubicCoefficient.isFinite else {
            throw OperationError("region of interest \(regionOfInterest), cubic coefficient \(filter.cubicCoefficient)")
        }
        return [[s[0][0], s[0][1], outputHeight, outputWidth]]
    }

    func taps(_ s: Shape) -> (Resize.Taps, Resize.Taps) {
        let r = regionOfInterest
        return (Resize.taps(input: s[2], output: outputHeight, scale: scaleHeight, mode: mode, coordinates: coordinates, nearest: nearest,
                            filter: filter, roi: (r[0], r[2])),
                Resize.taps(input: s[3], output: outputWidth, scale: scaleWidth, mode: mode, coordinates: coordinates, nearest: nearest,
                            filter: filter, roi: (r[1], r[3])))
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let (rows, columns) = taps(inputs[0].shape)
        return ForwardResult([Resize.forward(inputs[0], rows: rows, columns: columns, extrapolation: extrapolationValue)],
                             cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let s = cache as! Shape
        let (rows, columns) = taps(s)
        return [Resize.backward(outputGradient: dy[0], inputShape: s, rows: rows, columns: columns)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int {
        let taps = switch mode { case .nearest: 1; case .linear: 4; case .cubic: 16 }
        return outputs[0].count * (filter.antialias ? 2 * taps : taps)
    }
}
