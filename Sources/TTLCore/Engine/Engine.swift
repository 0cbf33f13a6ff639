import COneDNN
import Foundation
import Synchronization

/// Which implementation runs the heavy operations.
///
/// `.oneDNN` (the default where ttl was built against oneDNN and its CPU engine starts):
/// convolutions, pooling, batch norm, activations, additions and the final inner product
/// run through oneDNN, which picks its kernels by the CPU's feature bits (AVX2, AVX-512, …)
/// at run time. `.reference`: ttl's own Swift kernels, which every engine result is tested
/// against and which run where oneDNN is absent. `TTL_ENGINE=reference` forces them.
public enum Engine: String, Sendable, CaseIterable {
    case oneDNN = "onednn"
    case reference

    private static let selected = Mutex<Engine?>(nil)

    /// The engine in use: `TTL_ENGINE` (`onednn` or `reference`) when set, else oneDNN
    /// when it is available. Setting it (tests do) overrides the environment.
    public static var current: Engine {
        get {
            selected.withLock { engine in
                if let engine { return engine }
                var e: Engine = OneDNN.isAvailable ? .oneDNN : .reference
                if let s = ProcessInfo.processInfo.environment["TTL_ENGINE"]?.lowercased(), s == "reference" { e = .reference }
                engine = e
                return e
            }
        }
        set { selected.withLock { $0 = newValue == .oneDNN && !OneDNN.isAvailable ? .reference : newValue } }
    }

    /// The engines that can run here: oneDNN where it is available, and always the reference.
    public static var available: [Engine] { OneDNN.isAvailable ? [.oneDNN, .reference] : [.reference] }

    /// A one-line description for reports: `oneDNN 2.6.3 (avx2)` or `reference (Swift kernels)`.
    public static var summary: String {
        current == .oneDNN ? "oneDNN \(OneDNN.version) (\(OneDNN.isa))" : "reference (Swift kernels)"
    }
}

/// The door to oneDNN: its engine thread, memory layouts and steps (see `ttl_onednn.h`).
public enum OneDNN {
    private static let started = Mutex<(tried: Bool, ok: Bool, threads: Int)>((false, false, 0))

    /// Whether ttl was built against oneDNN and its CPU engine started.
    public static var isAvailable: Bool {
        guard ttl_onednn_available() != 0 else { return false }
        return start(threads: ComputeThreads.count)
    }

    /// Starts the engine (once) or changes its thread count; false when it cannot run.
    @discardableResult
    static func start(threads: Int) -> Bool {
        started.withLock { s in
            if s.tried && (!s.ok || s.threads == threads) { return s.ok }
            var err = [CChar](repeating: 0, count: 256)
            s.ok = ttl_onednn_start(Int32(threads), &err, err.count) == 0
            s.tried = true
            s.threads = threads
            return s.ok
        }
    }

    /// Sets the engine's OpenMP thread count when the engine has started.
    static func threadCountChanged(_ n: Int) {
        let running = started.withLock { $0.tried && $0.ok }
        if running { start(threads: n) }
    }

    /// Sets the layout convolutions write activations in, for plans made from now on:
    /// `"default"` (`nChw16c` where oneDNN runs AVX-512 kernels, else each primitive's
    /// choice: `nChw8c` on AVX2), `"any"`, `"nChw16c"`, `"nChw8c"` or `"nhwc"` (for
    /// comparisons and tests; `TTL_LAYOUT` sets it at start). False for an unknown name.
    @discardableResult
    public static func setActivationLayout(_ name: String) -> Bool {
        guard isAvailable else { return false }
        return ttl_onednn_set_activation_layout(name) == 0
    }

    /// The instruction set oneDNN dispatches to here ("avx2", "avx512_core", …).
    public static var isa: String { String(cString: ttl_onednn_isa()) }
    /// The library's version ("2.6.3").
    public static var version: String { String(cString: ttl_onednn_version()) }

    /// Runs `body` on the engine thread (every primitive is created and run there) and
    /// returns its result. Calls from several threads are serialized.
    public static func onEngineThread<R>(_ body: () throws -> R) rethrows -> R {
        try withoutActuallyEscaping(body) { body in
            var result: Result<R, any Error>?
            withoutActuallyEscaping({ result = Result { try body() } }) { work in
                let job = Job(work)
                let context = Unmanaged.passRetained(job).toOpaque()
                ttl_onednn_call({ ctx in Unmanaged<Job>.fromOpaque(ctx!).takeUnretainedValue().work() }, context)
                Unmanaged<Job>.fromOpaque(context).release()
            }
            return try result!.get()
        }
    }

    private final class Job {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }
}

/// Why oneDNN refused a primitive: the shapes are not implemented, or arguments disagree.
public struct OneDNNError: Error, CustomStringConvertible {
    /// oneDNN's message, with the primitive's kind.
    public var message: String
    public var description: String { message }
}

/// A memory layout of oneDNN: dims and their physical order (`nchw`, `nChw8c`, …).
public final class OneDNNLayout: @unchecked Sendable, CustomStringConvertible {
    let md: OpaquePointer

    init(owning md: OpaquePointer) { self.md = md }
    /// A copy of a layout oneDNN owns.
    convenience init(copying md: OpaquePointer) { self.init(owning: ttl_md_copy(md)!) }

    /// The plain row-major layout of `dims` (1, 2 or 4 of them; up to 5).
    public static func plain(_ dims: [Int]) -> OneDNNLayout? {
        let d = dims.map(Int64.init)
        guard let md = ttl_md_plain(Int32(d.count), d) else { return nil }
        return OneDNNLayout(owning: md)
    }

    deinit { ttl_md_free(md) }

    /// Bytes a buffer of this layout holds (blocked layouts pad channels up to the block).
    public var byteCount: Int { Int(ttl_md_bytes(md)) }
    /// The logical dimensions.
    public var dims: [Int] { (0 ..< Int(ttl_md_ndims(md))).map { Int(ttl_md_dim(md, Int32($0))) } }
    /// Whether this is the plain row-major layout of its dims.
    public var isPlain: Bool { ttl_md_is_plain(md) != 0 }
    public var description: String {
        var buf = [CChar](repeating: 0, count: 32)
        ttl_md_describe(md, &buf, buf.count)
        return cString(buf)
    }
    /// Whether two layouts are the same.
    public func same(as other: OneDNNLayout) -> Bool { ttl_md_equal(md, other.md) != 0 }
}

/// One oneDNN primitive with its weights in place; the caller binds the buffers of its slots.
public final class OneDNNStep: @unchecked Sendable {
    let step: OpaquePointer
    /// The layout the step writes.
    public let output: OneDNNLayout

    /// The slots of a step's buffers.
    public enum Slot: Int32 {
        case destination = 0, source = 1, source1 = 2
    }

    init(_ step: OpaquePointer) {
        self.step = step
        output = OneDNNLayout(copying: ttl_step_dst_md(step)!)
    }

    deinit { ttl_step_free(step) }

    /// Binds the buffer of a slot; it must hold the slot layout's ``OneDNNLayout/byteCount``.
    public func bind(_ slot: Slot, _ buffer: UnsafeMutableRawPointer) { ttl_step_bind(step, slot.rawValue, buffer) }
    /// Binds input `index` of a concatenation.
    public func bindInput(_ index: Int, _ buffer: UnsafeMutableRawPointer) { ttl_step_bind(step, Int32(1 + index), buffer) }
    /// Runs the step; on the engine thread only.
    public func run() -> Bool { ttl_step_run(step) == 0 }
    /// The implementation oneDNN picked (`jit:avx2`, `brg:avx512_core`, …).
    public var implementation: String { String(cString: ttl_step_impl(step)) }

    /// An activation of oneDNN's eltwise family.
    public enum Activation: Equatable, Sendable {
        case none, relu(slope: Float), clip(Float, Float), sigmoid, hardSwish, tanh

        var c: ttl_act {
            switch self {
            case .none: ttl_act(kind: Int32(TTL_ACT_NONE), alpha: 0, beta: 0)
            case let .relu(s): ttl_act(kind: Int32(TTL_ACT_RELU), alpha: s, beta: 0)
            case let .clip(lo, hi): ttl_act(kind: Int32(TTL_ACT_CLIP), alpha: lo, beta: hi)
            case .sigmoid: ttl_act(kind: Int32(TTL_ACT_SIGMOID), alpha: 0, beta: 0)
            case .hardSwish: ttl_act(kind: Int32(TTL_ACT_HARDSWISH), alpha: 0, beta: 0)
            case .tanh: ttl_act(kind: Int32(TTL_ACT_TANH), alpha: 0, beta: 0)
            }
        }
    }

    private static func make(_ what: String, _ body: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?) throws(OneDNNError) -> OneDNNStep {
        var err = [CChar](repeating: 0, count: 256)
        let p = err.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard let p else { throw OneDNNError(message: err[0] == 0 ? "oneDNN \(what) failed" : cString(err)) }
        return OneDNNStep(p)
    }

    /// Convolution (inference). `weight` `[C_out, C_in/groups, kH, kW]`, `bias` `[C_out]`;
    /// post-ops `pre`, then the sum of what the destination holds (`sum`), then `post`.
    /// `output`: the layout to write (needed with `sum`), or nil to let oneDNN choose.
    /// `scales` `[C_out]` multiply the weights as they are reordered (a folded batch norm).
    public static func convolution(input: OneDNNLayout, output: OneDNNLayout?, outputDims: [Int], weight: Tensor, scales: Tensor? = nil,
                                   bias: Tensor?, options: Conv2DOptions, pre: Activation = .none, sum: Bool = false,
                                   post: Activation = .none) throws(OneDNNError) -> OneDNNStep
    {
        if let scales { precondition(scales.count == weight.shape[0], "one scale per output channel") }
        let dd = outputDims.map(Int64.init), wd = weight.shape.dimensions.map(Int64.init)
        let o = options
        let stride = [Int64(o.stride.h), Int64(o.stride.w)], dil = [Int64(o.dilation.h), Int64(o.dilation.w)]
        let pl = [Int64(o.padding.top), Int64(o.padding.left)], pr = [Int64(o.padding.bottom), Int64(o.padding.right)]
        return try make("convolution") { err, n in
            weight.withUnsafeBufferPointer { w in
                withOptionalPointer(scales) { s in
                    withOptionalPointer(bias) { b in
                        ttl_conv_create(input.md, output?.md, dd, wd, Int64(o.groups), stride, dil, pl, pr, w.baseAddress, s, b,
                                        pre.c, sum ? 1 : 0, post.c, err, n)
                    }
                }
            }
        }
    }

    /// Pooling kinds.
    public enum PoolKind: Int32 { case max = 0, averageIncludingPadding = 1, averageExcludingPadding = 2 }

    /// Pooling over H and W to `outputDims` `[N, C, H_out, W_out]`; `padAfter` is the bottom/right
    /// padding that makes oneDNN's floor rule give the output size (ceil mode included).
    public static func pooling(input: OneDNNLayout, outputDims: [Int], kind: PoolKind, kernel: Size2D, stride: Size2D,
                               dilation: Size2D, padBefore: (Int, Int), padAfter: (Int, Int)) throws(OneDNNError) -> OneDNNStep {
        let dd = outputDims.map(Int64.init)
        let k = [Int64(kernel.h), Int64(kernel.w)], s = [Int64(stride.h), Int64(stride.w)], d = [Int64(dilation.h), Int64(dilation.w)]
        let pl = [Int64(padBefore.0), Int64(padBefore.1)], pr = [Int64(padAfter.0), Int64(padAfter.1)]
        return try make("pooling") { err, n in ttl_pool_create(input.md, dd, kind.rawValue, k, s, d, pl, pr, err, n) }
    }

    /// An activation on `input`, written in its layout.
    public static func eltwise(input: OneDNNLayout, _ activation: Activation) throws(OneDNNError) -> OneDNNStep {
        try make("eltwise") { err, n in ttl_eltwise_create(input.md, activation.c, err, n) }
    }

    /// Binary operations.
    public enum BinaryKind: Int32 { case add = 0, mul = 1, sub = 2, div = 3 }

    /// `a ∘ b` (b broadcast over its dims of size 1), then `post`; written in a's layout.
    public static func binary(_ kind: BinaryKind, _ a: OneDNNLayout, _ b: OneDNNLayout, post: Activation = .none) throws(OneDNNError) -> OneDNNStep {
        try make("binary") { err, n in ttl_binary_create(a.md, b.md, kind.rawValue, post.c, err, n) }
    }

    /// Inner product `[N, …] → [N, outputs]`: `weight` `[outputs, prod(input dims 1…)]`, `bias` `[outputs]`.
    public static func innerProduct(input: OneDNNLayout, weight: Tensor, bias: Tensor?) throws(OneDNNError) -> OneDNNStep {
        try make("inner product") { err, n in
            weight.withUnsafeBufferPointer { w in
                withOptionalPointer(bias) { b in ttl_inner_product_create(input.md, Int64(weight.shape[0]), w.baseAddress, b, err, n) }
            }
        }
    }

    /// Batch norm with stored statistics, then `post`.
    public static func batchNorm(input: OneDNNLayout, epsilon: Float, mean: Tensor, variance: Tensor, scale: Tensor, shift: Tensor,
                                 post: Activation = .none) throws(OneDNNError) -> OneDNNStep {
        try make("batch norm") { err, n in
            mean.withUnsafeBufferPointer { m in
                variance.withUnsafeBufferPointer { v in
                    scale.withUnsafeBufferPointer { s in
                        shift.withUnsafeBufferPointer { b in
                            ttl_batch_norm_create(input.md, epsilon, m.baseAddress, v.baseAddress, s.baseAddress, b.baseAddress, post.c, err, n)
                        }
                    }
                }
            }
        }
    }

    /// Concatenation along `axis`; input i binds with ``bindInput(_:_:)``.
    public static func concat(_ inputs: [OneDNNLayout], axis: Int) throws(OneDNNError) -> OneDNNStep {
        let mds: [OpaquePointer?] = inputs.map { Optional($0.md) }
        return try make("concat") { err, n in ttl_concat_create(Int32(mds.count), mds, Int32(axis), err, n) }
    }

    /// A layout change.
    public static func reorder(from: OneDNNLayout, to: OneDNNLayout) throws(OneDNNError) -> OneDNNStep {
        try make("reorder") { err, n in ttl_reorder_create(from.md, to.md, err, n) }
    }
}

private func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// A convolution for training through oneDNN (forward, backward data, backward weights) on
/// plain NCHW tensors, made once per shape and kept.
public final class OneDNNConvolution: @unchecked Sendable {
    private let handle: OpaquePointer
    private let inputShape: Shape, weightShape: Shape, outputShape: Shape
    private let hasBias: Bool

    private struct Key: Hashable { var input: Shape; var weight: Shape; var options: Conv2DOptions; var bias: Bool }
    /// Made convolutions, and nil for shapes oneDNN refused (not asked again every step).
    private static let cache = Mutex<[Key: OneDNNConvolution?]>([:])
    /// Convolutions kept at once (a fully unfrozen ResNet-152 has 155 shapes at most).
    private static let capacity = 512

    private init(handle: OpaquePointer, input: Shape, weight: Shape, output: Shape, bias: Bool) {
        self.handle = handle
        inputShape = input; weightShape = weight; outputShape = output; hasBias = bias
    }

    deinit { ttl_conv_train_free(handle) }

    /// The implementations oneDNN picked for the forward, backward data and backward weights
    /// (`jit:avx512_core`, `jit_wino_4x3:avx512_core`, …).
    public var implementations: [String] { (0 ..< 3).map { String(cString: ttl_conv_train_impl(handle, Int32($0))) } }

    /// The convolution for these shapes, made on first use; nil where oneDNN cannot run it.
    public static func shared(input: Shape, weight: Shape, options: Conv2DOptions, bias: Bool) -> OneDNNConvolution? {
        let key = Key(input: input, weight: weight, options: options, bias: bias)
        if let hit = cache.withLock({ $0[key] }) { return hit }  // a made one, or a refusal
        let output = Conv2D.outputShape(input: input, weight: weight, options: options)
        let o = options
        let made: OneDNNConvolution? = OneDNN.onEngineThread {
            var err = [CChar](repeating: 0, count: 256)
            let sd = input.dimensions.map(Int64.init), dd = output.dimensions.map(Int64.init), wd = weight.dimensions.map(Int64.init)
            let stride = [Int64(o.stride.h), Int64(o.stride.w)], dil = [Int64(o.dilation.h), Int64(o.dilation.w)]
            let pl = [Int64(o.padding.top), Int64(o.padding.left)], pr = [Int64(o.padding.bottom), Int64(o.padding.right)]
            guard let h = ttl_conv_train_create(sd, dd, wd, Int64(o.groups), stride, dil, pl, pr, bias ? 1 : 0, &err, err.count) else { return nil }
            return OneDNNConvolution(handle: h, input: input, weight: weight, output: output, bias: bias)
        }
        cache.withLock { c in
            if c.count >= capacity { c.removeAll() }
            c[key] = .some(made)
        }
        return made
    }

    /// `conv(x, w) + b`; nil if oneDNN failed.
    public func forward(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor? {
        precondition(x.shape == inputShape && w.shape == weightShape && (b != nil) == hasBias, "oneDNN convolution made for other shapes")
        return OneDNN.onEngineThread {
            var ok = false
            let y = x.withUnsafeBufferPointer { px in
                w.withUnsafeBufferPointer { pw in
                    Tensor(uninitialized: outputShape) { py in
                        if let b {
                            ok = b.withUnsafeBufferPointer { ttl_conv_train_forward(handle, px.baseAddress, pw.baseAddress, $0.baseAddress, py.baseAddress) } == 0
                        } else {
                            ok = ttl_conv_train_forward(handle, px.baseAddress, pw.baseAddress, nil, py.baseAddress) == 0
                        }
                        if !ok { py.update(repeating: 0) }
                    }
                }
            }
            return ok ? y : nil
        }
    }

    /// dL/dX from dL/dY; nil if oneDNN failed.
    public func backwardData(_ dy: Tensor, _ w: Tensor) -> Tensor? {
        OneDNN.onEngineThread {
            var ok = false
            let dx = dy.withUnsafeBufferPointer { pdy in
                w.withUnsafeBufferPointer { pw in
                    Tensor(uninitialized: inputShape) { pdx in
                        ok = ttl_conv_train_backward_data(handle, pdy.baseAddress, pw.baseAddress, pdx.baseAddress) == 0
                        if !ok { pdx.update(repeating: 0) }
                    }
                }
            }
            return ok ? dx : nil
        }
    }

    /// dL/dW and, when asked, dL/db from dL/dY and the forward's input; nil if oneDNN failed.
    public func backwardWeights(_ dy: Tensor, _ x: Tensor, wantBias: Bool) -> (weight: Tensor, bias: Tensor?)? {
        OneDNN.onEngineThread {
            var ok = false
            var db = wantBias && hasBias ? Tensor(zeros: [weightShape[0]]) : nil
            let dw = dy.withUnsafeBufferPointer { pdy in
                x.withUnsafeBufferPointer { px in
                    Tensor(uninitialized: weightShape) { pdw in
                        ok = withOptionalMutablePointer(&db) { ttl_conv_train_backward_weights(handle, pdy.baseAddress, px.baseAddress, pdw.baseAddress, $0) } == 0
                        if !ok { pdw.update(repeating: 0) }
                    }
                }
            }
            return ok ? (dw, db) : nil
        }
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
