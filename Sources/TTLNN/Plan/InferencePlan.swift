import Dispatch
import Foundation
import Synchronization
import TTLCore

/// A model compiled once for the engine at one set of input shapes: the schedule with
/// fusions done (Conv → BatchNorm → activation → residual Add → activation as one oneDNN
/// convolution with post-ops), batch norms folded, weights reordered into the layouts the
/// primitives want, and a buffer plan that reuses activation memory. ``run(_:)`` only
/// executes it: activations stay in oneDNN's layout (`nChw8c`, `nChw16c`, …) from one
/// operation to the next, with reorders only at the graph's edges and around the few
/// operations that run as ttl's Swift kernels (anything oneDNN does not cover).
///
/// Not thread-safe by itself: every run happens on oneDNN's engine thread, which serializes them.
final class InferencePlan: @unchecked Sendable {
    enum Argument {
        case buffer(Int, Shape)
        case parameter(Tensor)
    }

    enum Action {
        /// A oneDNN step and the virtual buffers of its slots (`-1 - i`: input i of a concat).
        case step(OneDNNStep, label: String, bindings: [(slot: Int32, buffer: Int)])
        /// A node run by its Swift operation on plain tensors.
        case swift(any GraphOperation, label: String, inputs: [Argument], outputs: [(buffer: Int, shape: Shape)])
    }

    let actions: [Action]
    /// Graph inputs: the virtual buffer each is copied into.
    let feeds: [(name: String, buffer: Int)]
    /// Returned values: their plain buffers.
    let results: [(name: String, buffer: Int, shape: Shape)]
    /// Physical memory, one block per slot of the buffer plan, and the slot of each virtual buffer.
    private let slabs: [UnsafeMutableRawPointer]
    private let slabOf: [Int]
    /// Total bytes of activation memory (for reports).
    let activationBytes: Int
    /// How many actions are oneDNN steps and how many run as Swift.
    let stepCount: Int, swiftCount: Int
    /// The weights the plan was made from: it is valid while the model's are these same tensors.
    let parameters: [(path: String, tensor: Tensor)]

    init(actions: [Action], feeds: [(String, Int)], results: [(String, Int, Shape)], bufferBytes: [Int], parameters: [String: Tensor]) {
        self.actions = actions
        self.parameters = parameters.map { (path: $0.key, tensor: $0.value) }
        self.feeds = feeds.map { (name: $0.0, buffer: $0.1) }
        self.results = results.map { (name: $0.0, buffer: $0.1, shape: $0.2) }
        stepCount = actions.filter { if case .step = $0 { true } else { false } }.count
        swiftCount = actions.count - stepCount

        // Lifetimes of the virtual buffers, in action positions (feeds live from the start,
        // results to the end), then a greedy assignment to slots: a slot is free again after
        // the last action that touches its buffer, and grows to the largest buffer it holds.
        var first = [Int](repeating: Int.max, count: bufferBytes.count), last = [Int](repeating: -1, count: bufferBytes.count)
        func touch(_ b: Int, _ at: Int) { first[b] = min(first[b], at); last[b] = max(last[b], at) }
        for (_, b) in feeds { touch(b, -1) }
        for (at, a) in actions.enumerated() {
            switch a {
            case let .step(_, _, bindings): for (_, b) in bindings { touch(b, at) }
            case let .swift(_, _, inputs, outputs):
                for case let .buffer(b, _) in inputs { touch(b, at) }
                for o in outputs { touch(o.buffer, at) }
            }
        }
        for (_, b, _) in results { touch(b, actions.count) }
        var slotSize: [Int] = [], slotFreeAt: [Int] = [], slot = [Int](repeating: 0, count: bufferBytes.count)
        let byStart = (0 ..< bufferBytes.count).filter { last[$0] >= first[$0] }.sorted { first[$0] < first[$1] }
        for b in byStart {
            let need = bufferBytes[b]
            // The free slot closest in size, preferring one already large enough.
            var best: Int?
            for s in slotSize.indices where slotFreeAt[s] < first[b] {
                guard let c = best else { best = s; continue }
                let fits = slotSize[s] >= need, bestFits = slotSize[c] >= need
                if fits && (!bestFits || slotSize[s] < slotSize[c]) || !fits && !bestFits && slotSize[s] > slotSize[c] { best = s }
            }
            if let s = best {
                slotSize[s] = max(slotSize[s], need)
                slotFreeAt[s] = last[b]
                slot[b] = s
            } else {
                slot[b] = slotSize.count
                slotSize.append(need)
                slotFreeAt.append(last[b])
            }
        }
        slabs = slotSize.map { UnsafeMutableRawPointer.allocate(byteCount: max($0, 64), alignment: 64) }
        slabOf = slot
        activationBytes = slotSize.reduce(0, +)
        for a in actions {
            guard case let .step(step, _, bindings) = a else { continue }
            for (s, b) in bindings {
                if s < 0 { step.bindInput(Int(-1 - s), slabs[slot[b]]) } else { step.bind(OneDNNStep.Slot(rawValue: s)!, slabs[slot[b]]) }
            }
        }
    }

    deinit { for s in slabs { s.deallocate() } }

    private func pointer(_ buffer: Int) -> UnsafeMutableRawPointer { slabs[slabOf[buffer]] }

    /// Runs the plan on `feeds` (shaped as the plan was made for) and returns the results.
    func run(_ inputs: [String: Tensor]) throws(GraphError) -> [String: Tensor] {
        let outcome: Result<[String: Tensor], GraphError> = OneDNN.onEngineThread {
            for (name, b) in feeds {
                guard let t = inputs[name] else { return .failure(.missingInput(name)) }
                t.withUnsafeBufferPointer { p in pointer(b).copyMemory(from: p.baseAddress!, byteCount: p.count * 4) }
            }
            let profiling = Profiler.isEnabled
            for (ai, a) in actions.enumerated() {
                let started = profiling ? DispatchTime.now().uptimeNanoseconds : 0
                switch a {
                case let .step(step, label, _):
                    guard step.run() else { return .failure(.shape(node: label, op: "oneDNN", message: "the oneDNN primitive failed")) }
                    if profiling { Profiler.record("step \(ai): \(label) (\(step.implementation))", DispatchTime.now().uptimeNanoseconds - started) }
                case let .swift(operation, label, args, outs):
                    let tensors = args.map { arg -> Tensor in
                        switch arg {
                        case let .parameter(t): return t
                        case let .buffer(b, shape):
                            let src = pointer(b)
                            return Tensor(uninitialized: shape) { $0.baseAddress!.update(from: src.assumingMemoryBound(to: Float.self), count: shape.count) }
                        }
                    }
                    let r = operation.forward(tensors, ForwardContext(training: false, requiresGradient: tensors.map { _ in false }, keepCache: false))
                    for (o, t) in zip(outs, r.outputs) {
                        t.withUnsafeBufferPointer { p in pointer(o.buffer).copyMemory(from: p.baseAddress!, byteCount: p.count * 4) }
                    }
                    if profiling { Profiler.record("step \(ai): \(label) (Swift)", DispatchTime.now().uptimeNanoseconds - started) }
                }
            }
            var out: [String: Tensor] = [:]
            for (name, b, shape) in results {
                let src = pointer(b)
                out[name] = Tensor(uninitialized: shape) { $0.baseAddress!.update(from: src.assumingMemoryBound(to: Float.self), count: shape.count) }
            }
            return .success(out)
        }
        return try outcome.get()
    }
}

/// The plans of one model, by input shapes and outputs. Shared by copies of a model and
/// replaced whenever its graph or weights change.
final class PlanCache: @unchecked Sendable {
    private struct Key: Hashable { var shapes: [String: Shape]; var outputs: [String] }
    private enum Entry { case plan(InferencePlan), unsupported }
    private let entries = Mutex<[(Key, Entry)]>([])
    /// Plans kept at once (a training run needs its batch size and its last, smaller batch).
    private static let capacity = 3
    /// `TTL_ENGINE_VERBOSE=1` prints each plan made (2: every step) or why none could be.
    static let verbose = (ProcessInfo.processInfo.environment["TTL_ENGINE_VERBOSE"].flatMap(Int.init) ?? 0) > 0

    init() {}

    private init(_ kept: [(Key, Entry)]) { entries.withLock { $0 = kept } }

    /// A cache with the plans still valid for `parameters`: those whose weights are all still
    /// the same tensors. The others are dropped (this cache, shared with copies of the model
    /// that keep the old weights, is left as it is).
    func keeping(plansValidFor parameters: ParameterTree) -> PlanCache {
        let kept = entries.withLock { e in
            e.filter { _, entry in
                guard case let .plan(p) = entry else { return false }
                return p.parameters.allSatisfy { parameters.tensor($0.path)?.sharesStorage(with: $0.tensor) == true }
            }
        }
        return kept.isEmpty ? PlanCache() : PlanCache(kept)
    }

    /// The plan for these inputs and outputs, made on first use; nil when the model cannot be planned.
    func plan(for model: Model, shapes: [String: Shape], outputs: [String]) -> InferencePlan? {
        let key = Key(shapes: shapes, outputs: outputs)
        if let hit = entries.withLock({ e in e.first { $0.0 == key }?.1 }) {
            if case let .plan(p) = hit { return p }
            return nil
        }
        let made: InferencePlan?
        do {
            made = try OneDNN.onEngineThread {
                var builder = try PlanBuilder(model: model, shapes: shapes, outputs: outputs)
                return try builder.build()
            }
        } catch {
            made = nil
            if Self.verbose { FileHandle.standardError.write(Data("ttl engine: no plan (\(error)); the Swift executor runs this model\n".utf8)) }
        }
        if let made, Self.verbose {
            FileHandle.standardError.write(Data("ttl engine: plan for \(shapes.values.map(\.description).joined(separator: ", ")): \(made.stepCount) oneDNN steps, \(made.swiftCount) Swift, \(made.activationBytes >> 20) MiB of activations\n".utf8))
            if ProcessInfo.processInfo.environment["TTL_ENGINE_VERBOSE"] == "2" {
                for a in made.actions {
                    switch a {
                    case let .step(step, label, _): FileHandle.standardError.write(Data("  \(label): \(step.implementation) → \(step.output)\n".utf8))
                    case let .swift(_, label, _, _): FileHandle.standardError.write(Data("  \(label)\n".utf8))
                    }
                }
            }
        }
        entries.withLock { e in
            e.append((key, made.map(Entry.plan) ?? .unsupported))
            if e.count > Self.capacity { e.removeFirst() }
        }
        return made
    }
}

/// Why a model cannot be planned (the Swift executor then runs it).
struct PlanUnsupported: Error { var reason: String }

/// Compiles a model into an ``InferencePlan``. Runs on the engine thread.
struct PlanBuilder {
    let model: Model
    let order: [Int]
    let position: [Int: Int]
    let shapes: [String: Shape]
    let keep: Set<String>
    let outputs: [String]
    let feedShapes: [String: Shape]
    /// Nodes reading each value, in execution order.
    var readers: [String: [Int]] = [:]

    struct Value { var layout: OneDNNLayout; var buffer: Int; var shape: Shape }
    var values: [String: Value] = [:]
    var plainVersion: [String: Value] = [:]
    var bufferBytes: [Int] = []
    var valuesOnBuffer: [Int: [String]] = [:]
    var actions: [InferencePlan.Action] = []
    var done = Set<Int>()
    /// Every weight read, so that the plan knows when it goes stale.
    var used: [String: Tensor] = [:]

    init(model: Model, shapes feedShapes: [String: Shape], outputs: [String]) throws {
        self.model = model
        self.outputs = outputs
        self.feedShapes = feedShapes
        order = try model.schedule(for: outputs)
        var pos: [Int: Int] = [:]
        for (p, i) in order.enumerated() { pos[i] = p }
        position = pos
        shapes = try model.inferShapes(feedShapes, nodes: order)
        keep = Set(outputs)
        for i in order { for v in model.nodes[i].inputs where !v.isEmpty { readers[v, default: []].append(i) } }
    }

    // MARK: Bookkeeping

    mutating func newBuffer(bytes: Int) -> Int {
        bufferBytes.append(bytes)
        return bufferBytes.count - 1
    }

    mutating func define(_ name: String, _ value: Value) {
        values[name] = value
        valuesOnBuffer[value.buffer, default: []].append(name)
    }

    /// The single node reading `value`, when the value is not returned and that node is not done.
    func soleReader(_ value: String) -> Int? {
        guard !keep.contains(value), let r = readers[value], r.count == 1, !done.contains(r[0]) else { return nil }
        return r[0]
    }

    /// Whether buffer `b` may be overwritten by the action placed for the node at position
    /// `p`: no value on it is returned or read by any node after `p`, save those in `except`.
    func overwritable(_ b: Int, at p: Int, except: Set<Int> = [], strictlyBefore: Bool = false) -> Bool {
        for v in valuesOnBuffer[b] ?? [] {
            if keep.contains(v) || feedShapes[v] != nil { return false }
            for r in readers[v] ?? [] where !except.contains(r) {
                guard let rp = position[r] else { continue }
                if strictlyBefore ? rp >= p : rp > p { return false }
            }
        }
        return true
    }

    mutating func parameter(_ name: String) -> Tensor? {
        guard let t = model.parameters[name]?.tensor else { return nil }
        used[name] = t
        return t
    }

    /// The value in the plain layout, adding a reorder when it is not.
    mutating func plain(_ name: String) throws -> Value {
        guard let v = values[name] else { throw PlanUnsupported(reason: "value \(name) not computed") }
        if v.layout.isPlain { return v }
        if let p = plainVersion[name] { return p }
        guard let layout = OneDNNLayout.plain(v.layout.dims) else { throw PlanUnsupported(reason: "rank of \(name)") }
        let step = try OneDNNStep.reorder(from: v.layout, to: layout)
        let b = newBuffer(bytes: layout.byteCount)
        actions.append(.step(step, label: "Reorder to plain", bindings: [(OneDNNStep.Slot.source.rawValue, v.buffer), (OneDNNStep.Slot.destination.rawValue, b)]))
        let p = Value(layout: layout, buffer: b, shape: v.shape)
        plainVersion[name] = p
        valuesOnBuffer[b, default: []].append(name)
        return p
    }

    static func activation(_ op: any GraphOperation) -> OneDNNStep.Activation? {
        guard let a = op as? ActivationOp else { return nil }
        switch a.function {
        case .relu: return .relu(slope: 0)
        case let .clip(lo, hi): return .clip(lo, hi)
        case let .leakyReLU(s): return .relu(slope: s)
        case .sigmoid: return .sigmoid
        case .hardSwish: return .hardSwish
        case .hardSigmoid: return nil
        }
    }

    // MARK: Building

    mutating func build() throws -> InferencePlan {
        var feeds: [(String, Int)] = []
        for spec in model.inputs {
            guard let s = feedShapes[spec.name] else { continue }
            guard let layout = OneDNNLayout.plain(s.dimensions) else { throw PlanUnsupported(reason: "input rank") }
            let b = newBuffer(bytes: s.count * 4)
            define(spec.name, Value(layout: layout, buffer: b, shape: s))
            feeds.append((spec.name, b))
        }
        for i in order where !done.contains(i) {
            if try !planOneDNN(i) { try planSwift(i) }
        }
        var results: [(String, Int, Shape)] = []
        for o in outputs {
            guard values[o] != nil else { throw PlanUnsupported(reason: "output \(o) is not computed by a node") }
            let v = try plain(o)
            results.append((o, v.buffer, v.shape))
        }
        return InferencePlan(actions: actions, feeds: feeds, results: results, bufferBytes: bufferBytes, parameters: used)
    }

    /// A node the Swift kernels run: inputs made plain, outputs plain.
    mutating func planSwift(_ i: Int) throws {
        let n = model.nodes[i]
        var args: [InferencePlan.Argument] = []
        for v in n.inputs where !v.isEmpty {
            if values[v] != nil {
                let p = try plain(v)
                args.append(.buffer(p.buffer, p.shape))
            } else if let t = parameter(v) {
                args.append(.parameter(t))
            } else {
                throw PlanUnsupported(reason: "input \(v) of \(n.name)")
            }
        }
        var outs: [(buffer: Int, shape: Shape)] = []
        for o in n.outputs {
            guard let s = shapes[o], let layout = OneDNNLayout.plain(s.rank == 0 ? [1] : s.dimensions) else {
                throw PlanUnsupported(reason: "output \(o) of \(n.name)")
            }
            let b = newBuffer(bytes: max(s.count, 1) * 4)
            define(o, Value(layout: layout, buffer: b, shape: s))
            outs.append((b, s))
        }
        done.insert(i)
        actions.append(.swift(n.operation, label: "\(n.operation.type) (Swift)", inputs: args, outputs: outs))
    }

    /// Plans node `i` (and the nodes fused into it) as oneDNN steps; false when oneDNN does not cover it.
    mutating func planOneDNN(_ i: Int) throws -> Bool {
        let n = model.nodes[i]
        let ins = n.inputs.filter { !$0.isEmpty }
        guard let p = position[i], n.outputs.count == 1, let outShape = shapes[n.outputs[0]] else { return false }
        do {
            switch n.operation {
            case let conv as Conv2DOp: return try planConvolution(i, conv, ins, at: p)
            case let bn as BatchNormOp:
                guard ins.count == 5, let x = values[ins[0]], x.shape.rank == 4,
                      let scale = parameter(ins[1]), let shift = parameter(ins[2]), let mean = parameter(ins[3]), let variance = parameter(ins[4])
                else { return false }
                var out = n.outputs[0], post = OneDNNStep.Activation.none, fused: [Int] = []
                if let k = soleReader(out), let a = Self.activation(model.nodes[k].operation) {
                    post = a; out = model.nodes[k].outputs[0]; fused.append(k)
                }
                let step = try OneDNNStep.batchNorm(input: x.layout, epsilon: bn.epsilon, mean: mean, variance: variance, scale: scale, shift: shift, post: post)
                emit(step, "BatchNorm", source: x, output: out, shape: outShape, inPlace: overwritable(x.buffer, at: p), nodes: [i] + fused)
                return true
            case let act as ActivationOp:
                guard ins.count == 1, let x = values[ins[0]], let a = Self.activation(act) else { return false }
                let step = try OneDNNStep.eltwise(input: x.layout, a)
                emit(step, act.description, source: x, output: n.outputs[0], shape: outShape, inPlace: overwritable(x.buffer, at: p), nodes: [i])
                return true
            case let b as BinaryOp:
                return try planBinary(i, b, ins, at: p, outShape: outShape)
            case let pool as MaxPoolOp:
                guard ins.count == 1, let x = values[ins[0]], x.shape.rank == 4 else { return false }
                return try planPool(i, x, .max, pool.window, outShape: outShape)
            case let pool as AvgPoolOp:
                guard ins.count == 1, let x = values[ins[0]], x.shape.rank == 4 else { return false }
                return try planPool(i, x, pool.countIncludePad ? .averageIncludingPadding : .averageExcludingPadding, pool.window, outShape: outShape)
            case is GlobalAvgPoolOp:
                guard ins.count == 1, let x = values[ins[0]], x.shape.rank == 4 else { return false }
                return try planPool(i, x, .averageExcludingPadding, Window2D(kernel: Size2D(x.shape[2], x.shape[3])), outShape: outShape)
            case let g as GemmOp:
                return try planInnerProduct(i, g, ins, outShape: outShape)
            case let f as FlattenOp:
                // A flattened image feeding a Linear: the inner product reads the 4-D layout directly.
                guard ins.count == 1, let x = values[ins[0]], x.shape.rank == 4, f.axis == 1 || f.axis == -3, onlyLinearLayersRead(n.outputs[0])
                else { return false }
                alias(i, of: x, shape: outShape)
                return true
            case is IdentityOp:
                guard ins.count == 1, let x = values[ins[0]] else { return false }
                alias(i, of: x, shape: outShape)
                return true
            case let c as ConcatOp:
                let axis = c.axis < 0 ? c.axis + outShape.rank : c.axis
                guard outShape.rank == 4, axis == 1, ins.count >= 2, ins.count < 15 else { return false }
                var xs: [Value] = []
                for v in ins { guard let x = values[v] else { return false }; xs.append(x) }
                let step = try OneDNNStep.concat(xs.map(\.layout), axis: 1)
                let b = newBuffer(bytes: step.output.byteCount)
                var bindings: [(slot: Int32, buffer: Int)] = [(OneDNNStep.Slot.destination.rawValue, b)]
                for (k, x) in xs.enumerated() { bindings.append((Int32(-1 - k), x.buffer)) }
                actions.append(.step(step, label: "Concat", bindings: bindings))
                define(n.outputs[0], Value(layout: step.output, buffer: b, shape: outShape))
                done.insert(i)
                return true
            default:
                return false
            }
        } catch is OneDNNError {
            return false
        }
    }

    /// Whether every node reading `value` (through Identity and Dropout nodes) is a Linear
    /// layer the engine runs as an inner product, and the value is not returned.
    func onlyLinearLayersRead(_ value: String) -> Bool {
        guard !keep.contains(value), let rs = readers[value], !rs.isEmpty else { return false }
        return rs.allSatisfy { r in
            let node = model.nodes[r]
            if node.operation is IdentityOp { return onlyLinearLayersRead(node.outputs[0]) }
            guard let g = node.operation as? GemmOp else { return false }
            return innerProductWeights(g, node.inputs) != nil
        }
    }

    /// The output names the value of `x` under `shape` (same buffer, same layout).
    mutating func alias(_ i: Int, of x: Value, shape: Shape) {
        define(model.nodes[i].outputs[0], Value(layout: x.layout, buffer: x.buffer, shape: shape))
        done.insert(i)
    }

    /// Appends a one-source step writing `output`, in place when allowed.
    mutating func emit(_ step: OneDNNStep, _ label: String, source x: Value, output: String, shape: Shape, inPlace: Bool, nodes: [Int]) {
        let b = inPlace && step.output.byteCount <= bufferBytes[x.buffer] && step.output.same(as: x.layout) ? x.buffer : newBuffer(bytes: step.output.byteCount)
        actions.append(.step(step, label: "\(label) \(model.nodes[nodes[0]].name)", bindings: [(OneDNNStep.Slot.source.rawValue, x.buffer), (OneDNNStep.Slot.destination.rawValue, b)]))
        define(output, Value(layout: step.output, buffer: b, shape: shape))
        done.formUnion(nodes)
    }

    mutating func planPool(_ i: Int, _ x: Value, _ kind: OneDNNStep.PoolKind, _ w: Window2D, outShape: Shape) throws -> Bool {
        // oneDNN's floor rule with the bottom/right padding that yields the output size.
        let padH = (outShape[2] - 1) * w.stride.h + (w.kernel.h - 1) * w.dilation.h + 1 - x.shape[2] - w.padding.top
        let padW = (outShape[3] - 1) * w.stride.w + (w.kernel.w - 1) * w.dilation.w + 1 - x.shape[3] - w.padding.left
        // Counting padding, ceil mode's extra cells must not count: the Swift kernel runs that case.
        if kind == .averageIncludingPadding && (padH > w.padding.bottom || padW > w.padding.right) { return false }
        let step = try OneDNNStep.pooling(input: x.layout, outputDims: outShape.dimensions, kind: kind, kernel: w.kernel, stride: w.stride,
                                          dilation: w.dilation, padBefore: (w.padding.top, w.padding.left), padAfter: (max(padH, 0), max(padW, 0)))
        emit(step, kind == .max ? "MaxPool" : "AvgPool", source: x, output: model.nodes[i].outputs[0], shape: outShape, inPlace: false, nodes: [i])
        return true
    }

    mutating func planBinary(_ i: Int, _ op: BinaryOp, _ ins: [String], at p: Int, outShape: Shape) throws -> Bool {
        guard ins.count == 2, var a = values[ins[0]], var b = values[ins[1]], a.shape.rank == b.shape.rank else { return false }
        let kind: OneDNNStep.BinaryKind
        switch op.op {
        case .add: kind = .add
        case .sub: kind = .sub
        case .mul: kind = .mul
        case .div: kind = .div
        }
        if a.shape != outShape {
            guard b.shape == outShape, kind == .add || kind == .mul else { return false }
            swap(&a, &b)
        }
        let n = model.nodes[i]
        var out = n.outputs[0], post = OneDNNStep.Activation.none, fused = [i]
        if let k = soleReader(out), let act = Self.activation(model.nodes[k].operation) {
            post = act; out = model.nodes[k].outputs[0]; fused.append(k)
        }
        // The same shape in another layout: bring b into a's.
        if b.shape == a.shape && !b.layout.same(as: a.layout) {
            let r = try OneDNNStep.reorder(from: b.layout, to: a.layout)
            let rb = newBuffer(bytes: r.output.byteCount)
            actions.append(.step(r, label: "Reorder", bindings: [(OneDNNStep.Slot.source.rawValue, b.buffer), (OneDNNStep.Slot.destination.rawValue, rb)]))
            b = Value(layout: r.output, buffer: rb, shape: b.shape)
        }
        let step = try OneDNNStep.binary(kind, a.layout, b.layout, post: post)
        let inPlace = overwritable(a.buffer, at: p) && a.buffer != b.buffer
        let dst = inPlace && step.output.same(as: a.layout) ? a.buffer : newBuffer(bytes: step.output.byteCount)
        actions.append(.step(step, label: "\(op.type) \(n.name)", bindings: [(OneDNNStep.Slot.source.rawValue, a.buffer), (OneDNNStep.Slot.source1.rawValue, b.buffer),
                                                              (OneDNNStep.Slot.destination.rawValue, dst)]))
        define(out, Value(layout: step.output, buffer: dst, shape: outShape))
        done.formUnion(fused)
        return true
    }

    /// Weight `[outputs, features]` and bias of a Gemm that is a Linear layer on a computed value.
    func innerProductWeights(_ g: GemmOp, _ inputs: [String]) -> (weight: Tensor, bias: Tensor?)? {
        let o = g.options
        func parameter(_ name: String) -> Tensor? { model.parameters[name]?.tensor }
        guard !o.transposeA, o.alpha == 1, inputs.count >= 2, var w = parameter(inputs[1]), w.rank == 2 else { return nil }
        if !o.transposeB { w = Transpose.forward(w, permutation: [1, 0]) }
        var bias: Tensor?
        if inputs.count > 2, !inputs[2].isEmpty {
            guard o.beta == 1, let c = parameter(inputs[2]), c.count == w.shape[0], c.rank == 1 || (c.rank == 2 && c.shape[0] == 1) else { return nil }
            bias = c.reshaped([c.count])
        }
        return (w, bias)
    }

    mutating func planInnerProduct(_ i: Int, _ g: GemmOp, _ ins: [String], outShape: Shape) throws -> Bool {
        guard let x = values[ins[0]], let (w, bias) = innerProductWeights(g, model.nodes[i].inputs) else { return false }
        for name in model.nodes[i].inputs.dropFirst() where !name.isEmpty { _ = parameter(name) }
        let dims = x.layout.dims
        let features = dims.dropFirst().reduce(1, *)
        guard features == w.shape[1] else { return false }
        let step = try OneDNNStep.innerProduct(input: x.layout, weight: w.reshaped(Shape([w.shape[0]] + dims.dropFirst())), bias: bias)
        emit(step, "Linear", source: x, output: model.nodes[i].outputs[0], shape: outShape, inPlace: false, nodes: [i])
        return true
    }

    mutating func planConvolution(_ i: Int, _ conv: Conv2DOp, _ ins: [String], at p: Int) throws -> Bool {
        guard ins.count >= 2, let x = values[ins[0]], x.shape.rank == 4, let weight = parameter(ins[1]) else { return false }
        var bias = ins.count > 2 ? parameter(ins[2]) : nil
        if ins.count > 2 && bias == nil { return false }
        var scales: Tensor?
        let nodes = model.nodes
        var out = nodes[i].outputs[0], fused = [i]
        // Conv → BatchNorm: fold the batch norm into the weights and bias.
        if let j = soleReader(out), let bn = nodes[j].operation as? BatchNormOp, nodes[j].inputs.count == 5, nodes[j].inputs[0] == out,
           let s = parameter(nodes[j].inputs[1]), let sh = parameter(nodes[j].inputs[2]),
           let m = parameter(nodes[j].inputs[3]), let v = parameter(nodes[j].inputs[4]) {
            let (scale, shift) = BatchNorm.foldedAffine(.init(scale: s, bias: sh, mean: m, variance: v, epsilon: bn.epsilon))
            // The weights are scaled as oneDNN reorders them, without a copy here.
            scales = Tensor(shape: [scale.count], scalars: scale)
            let old = bias?.scalars ?? [Float](repeating: 0, count: scale.count)
            bias = Tensor(shape: [scale.count], scalars: (0 ..< scale.count).map { old[$0] * scale[$0] + shift[$0] })
            out = nodes[j].outputs[0]
            fused.append(j)
        }
        var pre = OneDNNStep.Activation.none
        if let k = soleReader(out), let a = Self.activation(nodes[k].operation) {
            pre = a; out = nodes[k].outputs[0]; fused.append(k)
        }
        guard let outShape = shapes[out] else { return false }
        // → Add of a value computed before, whose buffer is free once the Add has read it: the
        // convolution adds it as it writes (oneDNN's sum post-op), then the activation after.
        if let a = soleReader(out), let add = nodes[a].operation as? BinaryOp, add.op == .add, nodes[a].inputs.count == 2,
           let other = nodes[a].inputs.first(where: { $0 != out }), let r = values[other], r.shape == outShape,
           overwritable(r.buffer, at: p, except: [a], strictlyBefore: true), r.buffer != x.buffer, r.layout.byteCount == bufferBytes[r.buffer] {
            var post = OneDNNStep.Activation.none, final = nodes[a].outputs[0], chain = fused + [a]
            if let k = soleReader(final), let act = Self.activation(nodes[k].operation) {
                post = act; final = nodes[k].outputs[0]; chain.append(k)
            }
            if let step = try? OneDNNStep.convolution(input: x.layout, output: r.layout, outputDims: outShape.dimensions, weight: weight, scales: scales, bias: bias,
                                                      options: conv.options, pre: pre, sum: true, post: post),
               let finalShape = shapes[final] {
                actions.append(.step(step, label: "Conv+Add \(nodes[i].name)", bindings: [(OneDNNStep.Slot.source.rawValue, x.buffer), (OneDNNStep.Slot.destination.rawValue, r.buffer)]))
                define(final, Value(layout: step.output, buffer: r.buffer, shape: finalShape))
                done.formUnion(chain)
                return true
            }
        }
        let step = try OneDNNStep.convolution(input: x.layout, output: nil, outputDims: outShape.dimensions, weight: weight, scales: scales, bias: bias,
                                              options: conv.options, pre: pre)
        emit(step, "Conv", source: x, output: out, shape: outShape, inPlace: false, nodes: fused)
        return true
    }
}

/// What the engine made of a model for some input shapes (``Model/prepare(_:outputs:)``).
public struct PlanSummary: Sendable, CustomStringConvertible {
    /// oneDNN primitives run per pass (fused chains count once; reorders included).
    public var engineSteps: Int
    /// Operations left to ttl's Swift kernels, by type.
    public var swiftOperations: [String]
    /// Bytes of activation memory after reuse.
    public var activationBytes: Int
    /// The implementation of each engine step, in order (`jit:avx2`, `ttl:winograd_4x4_3x3:avx2`, …).
    public var kernels: [String] = []
    public var description: String {
        "\(engineSteps) oneDNN steps, \(swiftOperations.count) Swift operations\(swiftOperations.isEmpty ? "" : " (\(swiftOperations.joined(separator: ", ")))"), \(activationBytes >> 20) MiB of activations"
    }
}

extension Model {
    /// Compiles the model for these input shapes now (the first ``run(_:outputs:)`` would),
    /// and says what the plan holds; nil when the engine is the reference one or the model
    /// cannot be planned (it then runs on the Swift executor).
    public func prepare(_ shapes: [String: Shape], outputs: [String]? = nil) -> PlanSummary? {
        guard Engine.current == .oneDNN, let plan = plans.plan(for: self, shapes: shapes, outputs: outputs ?? self.outputs) else { return nil }
        var swift: [String] = [], kernels: [String] = []
        for action in plan.actions {
            switch action {
            case let .swift(op, _, _, _): swift.append(op.type)
            case let .step(step, _, _): kernels.append(step.implementation)
            }
        }
        return PlanSummary(engineSteps: plan.stepCount, swiftOperations: swift, activationBytes: plan.activationBytes, kernels: kernels)
    }
}
