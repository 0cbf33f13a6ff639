import Dispatch
import Synchronization
import TTLCore

/// Time spent per operation type, when enabled (`ttl-bench --profile`).
public enum Profiler {
    private static let totals = Mutex<[String: UInt64]>([:])
    private static let enabled = Atomic<Bool>(false)
    /// Whether operations are timed; off by default.
    public static var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }
    static func record(_ type: String, _ nanoseconds: UInt64) { totals.withLock { $0[type, default: 0] += nanoseconds } }
    /// Seconds per operation type since the last reset, largest first.
    public static func report(reset: Bool = true) -> [(type: String, seconds: Double)] {
        totals.withLock { t in
            defer { if reset { t = [:] } }
            return t.map { ($0.key, Double($0.value) / 1e9) }.sorted { $0.seconds > $1.seconds }
        }
    }
}

/// What a training forward keeps for backward: one entry per node that gradients flow through.
/// Nodes of a frozen backbone have no entry and keep no activations.
public struct Tape {
    struct Entry {
        var node: Int
        var cache: Any
        var needed: [Bool]
        var outputShapes: [Shape]
    }
    var entries: [Entry] = []
    /// Values whose gradients backward returns: trainable parameters and requested inputs.
    var targets: Set<String> = []
    /// How many node caches are held (for tests and memory reports).
    public var cachedNodeCount: Int { entries.count }
}

extension Model {
    /// Indices of the nodes that `outputs` depend on, in execution order.
    public func schedule(for outputs: [String]) throws(GraphError) -> [Int] {
        let producers = self.producers
        var needed = Set<Int>()
        var stack: [String] = []
        for o in outputs {
            guard producers[o] != nil || inputs.contains(where: { $0.name == o }) || parameters[o] != nil else { throw .unknownNode(o) }
            stack.append(o)
        }
        while let v = stack.popLast() {
            guard let p = producers[v], needed.insert(p).inserted else { continue }
            stack.append(contentsOf: nodes[p].inputs.filter { !$0.isEmpty })
        }
        return needed.sorted()
    }

    /// Shapes of every value computed for these input shapes; throws naming the first node
    /// whose inputs do not fit.
    public func inferShapes(_ inputShapes: [String: Shape], nodes subset: [Int]? = nil) throws(GraphError) -> [String: Shape] {
        var shapes = inputShapes
        for i in subset ?? Array(nodes.indices) {
            let n = nodes[i]
            var ins: [Shape] = []
            for v in n.inputs {
                if v.isEmpty { continue }
                if let s = shapes[v] ?? parameters[v]?.tensor.shape { ins.append(s) } else { throw .missingInput(v) }
            }
            let outs: [Shape]
            do { outs = try n.operation.checkedOutputShapes(ins) } catch {
                throw .shape(node: n.name, op: n.operation.type, message: error.message)
            }
            guard outs.count == n.outputs.count else {
                throw .shape(node: n.name, op: n.operation.type, message: "gives \(outs.count) outputs, graph names \(n.outputs.count)")
            }
            for (name, s) in zip(n.outputs, outs) { shapes[name] = s }
        }
        return shapes
    }

    /// Inference: runs the nodes needed for `outputs` (default: the graph outputs), freeing
    /// each activation after its last use.
    /// - Parameter feeds: a tensor for each graph input, shaped as its ``InputSpec`` says
    ///
    /// With the oneDNN engine (``Engine/current``), the first run for given input shapes
    /// compiles the model into a plan (fusions, folded batch norms, reordered weights, a buffer
    /// plan) that later runs only execute; a model the plan cannot take runs as below.
    public func run(_ feeds: [String: Tensor], outputs: [String]? = nil) throws(GraphError) -> [String: Tensor] {
        let wanted = outputs ?? self.outputs
        if Engine.current == .oneDNN, let shapes = plannableShapes(feeds),
           let plan = plans.plan(for: self, shapes: shapes, outputs: wanted) {
            return try plan.run(feeds)
        }
        return try execute(feeds, outputs: wanted, training: false, gradientInputs: [], keepTape: false).outputs
    }

    /// The shapes of the feeds when every graph input is fed with a shape it accepts; nil
    /// otherwise (the executor then reports what is wrong).
    func plannableShapes(_ feeds: [String: Tensor]) -> [String: Shape]? {
        var shapes: [String: Shape] = [:]
        for spec in inputs {
            guard let t = feeds[spec.name], spec.accepts(t.shape), t.count > 0 else { return nil }
            shapes[spec.name] = t.shape
        }
        return shapes
    }

    /// A training (or gradient-taking) forward pass. Batch norms whose parameters train use
    /// batch statistics and update their running statistics in ``parameters``; frozen ones run
    /// in inference mode. Keeps, in the returned ``Tape``, what backward needs, and nothing for
    /// nodes no gradient flows through.
    /// - Parameters:
    ///   - training: false to take gradients in inference mode (all batch norms use running statistics)
    ///   - gradientInputs: graph inputs whose gradients ``backward(_:outputGradients:)`` should also return
    public mutating func forward(_ feeds: [String: Tensor], outputs: [String]? = nil, training: Bool = true,
                                 gradientInputs: Set<String> = []) throws(GraphError) -> (outputs: [String: Tensor], tape: Tape) {
        let r = try execute(feeds, outputs: outputs ?? self.outputs, training: training, gradientInputs: gradientInputs, keepTape: true)
        for (path, t) in r.updates { parameters[path]?.tensor = t }
        return (r.outputs, r.tape)
    }

    /// Gradients of every trainable parameter (by path) and of the requested inputs, given
    /// the gradients of some outputs of the forward pass that made `tape`.
    public func backward(_ tape: Tape, outputGradients: [String: Tensor]) -> [String: Tensor] {
        var grads = outputGradients
        for entry in tape.entries.reversed() {
            let n = nodes[entry.node]
            guard n.outputs.contains(where: { grads[$0] != nil }) else { continue }
            let dys = zip(n.outputs, entry.outputShapes).map { name, shape in grads.removeValue(forKey: name) ?? Tensor(zeros: shape) }
            let dxs = n.operation.backward(dys, cache: entry.cache, needed: entry.needed)
            let inputNames = n.inputs.filter { !$0.isEmpty }
            for (k, name) in inputNames.enumerated() where entry.needed[k] {
                guard let g = dxs[k] else { continue }
                if let existing = grads[name] {
                    grads[name] = Binary.forward(.add, existing, g)
                } else {
                    grads[name] = g
                }
            }
        }
        return grads.filter { tape.targets.contains($0.key) }
    }

    /// The nodes of `order` that no gradient flows through, when there are some and some that
    /// gradients do flow through, and the values the first hand to the second (or return).
    func frozenPrefix(_ order: [Int], outputs: Set<String>, gradientInputs: Set<String>) -> (nodes: Set<Int>, boundary: [String])? {
        var flowing = Set<Int>(), carriesGradient = gradientInputs
        for i in order where nodes[i].inputs.contains(where: { carriesGradient.contains($0) || isTrainable($0) }) {
            flowing.insert(i)
            carriesGradient.formUnion(nodes[i].outputs)
        }
        let frozen = Set(order).subtracting(flowing)
        guard !flowing.isEmpty, !frozen.isEmpty else { return nil }
        var readByFlowing = Set<String>()
        for i in flowing { readByFlowing.formUnion(nodes[i].inputs) }
        var boundary: [String] = []
        for i in order where frozen.contains(i) {
            for o in nodes[i].outputs where readByFlowing.contains(o) || outputs.contains(o) { boundary.append(o) }
        }
        return boundary.isEmpty ? nil : (frozen, boundary)
    }

    func execute(_ feeds: [String: Tensor], outputs: [String], training: Bool, gradientInputs: Set<String>, keepTape: Bool) throws(GraphError)
        -> (outputs: [String: Tensor], tape: Tape, updates: [String: Tensor])
    {
        let order = try schedule(for: outputs)
        var inputShapes: [String: Shape] = [:]
        for spec in inputs {
            guard let t = feeds[spec.name] else {
                if order.contains(where: { nodes[$0].inputs.contains(spec.name) }) || outputs.contains(spec.name) { throw .missingInput(spec.name) }
                continue
            }
            guard spec.accepts(t.shape) else { throw .inputShape(spec.name, expected: spec.dimensions, got: t.shape) }
            inputShapes[spec.name] = t.shape
        }
        _ = try inferShapes(inputShapes, nodes: order)

        // Last position at which each value is read, so it can be dropped right after.
        var lastUse: [String: Int] = [:]
        for (position, i) in order.enumerated() { for v in nodes[i].inputs { lastUse[v] = position } }
        let keep = Set(outputs)

        var values = feeds
        var requiresGradient = gradientInputs
        var tape = Tape()
        tape.targets = gradientInputs
        var updates: [String: Tensor] = [:]
        let fusions = self.fusions(order: order, keep: keep)
        let addFusions = self.addActivationFusions(order: order, keep: keep)
        var fusedAway = Set<Int>()
        // A training pass with the oneDNN engine: the nodes no gradient flows through (a frozen
        // backbone) run as one inference plan, and the executor takes over where gradients start.
        if keepTape, Engine.current == .oneDNN, let (prefix, boundary) = frozenPrefix(order, outputs: keep, gradientInputs: gradientInputs),
           let shapes = plannableShapes(feeds), let plan = plans.plan(for: self, shapes: shapes, outputs: boundary) {
            for (name, t) in try plan.run(feeds) { values[name] = t }
            fusedAway = prefix
        }
        for (position, i) in order.enumerated() {
            if fusedAway.contains(i) { continue }
            let n = nodes[i]
            let names = n.inputs.filter { !$0.isEmpty }
            // Fuse only where no gradient flows through the chain and its batch norm does not train.
            if let f = fusions[i], let x = values[names[0]],
               !keepTape || (!requiresGradient.contains(names[0]) && !names.contains(where: isTrainable)
                   && !nodes[f.batchNorm].inputs[1 ... 2].contains(where: isTrainable)) {
                let started = Profiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
                values[f.output] = runFused(f, input: x)
                if Profiler.isEnabled { Profiler.record("Conv+BN \(parameters.tensor(names[1])!.shape) \(nodes[i].operation)", DispatchTime.now().uptimeNanoseconds - started) }
                fusedAway.insert(f.batchNorm)
                if let k = f.activation { fusedAway.insert(k) }
                if lastUse[names[0]] == position && !keep.contains(names[0]) { values.removeValue(forKey: names[0]) }
                continue
            }
            if let f = addFusions[i], names.count == 2, !keepTape || !names.contains(where: { requiresGradient.contains($0) || isTrainable($0) }),
               let a = values[names[0]] ?? parameters[names[0]]?.tensor, let b = values[names[1]] ?? parameters[names[1]]?.tensor {
                let started = Profiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
                values[f.output] = runFused(f, a, b)
                if Profiler.isEnabled { Profiler.record("Add+activation (fused)", DispatchTime.now().uptimeNanoseconds - started) }
                fusedAway.insert(f.activation)
                for v in Set(names) where lastUse[v] == position && !keep.contains(v) { values.removeValue(forKey: v) }
                continue
            }
            var args: [Tensor] = []
            args.reserveCapacity(names.count)
            for v in names {
                if let t = values[v] ?? updates[v] ?? parameters[v]?.tensor { args.append(t) } else { throw .missingInput(v) }
            }
            var needs = [Bool](repeating: false, count: names.count)
            if keepTape {
                for (k, v) in names.enumerated() where requiresGradient.contains(v) || isTrainable(v) {
                    needs[k] = true
                    if parameters[v] != nil { tape.targets.insert(v) }
                }
            }
            let flows = needs.contains(true)
            let started = Profiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
            let result = n.operation.forward(args, ForwardContext(training: training, requiresGradient: needs, keepCache: flows))
            if Profiler.isEnabled { Profiler.record(n.operation.type, DispatchTime.now().uptimeNanoseconds - started) }
            for (name, t) in zip(n.outputs, result.outputs) {
                values[name] = t
                if flows { requiresGradient.insert(name) }
            }
            if training {
                for (k, t) in result.stateUpdates where parameters[names[k]] != nil { updates[names[k]] = t }
            }
            if flows, let cache = result.cache {
                tape.entries.append(Tape.Entry(node: i, cache: cache, needed: needs, outputShapes: result.outputs.map(\.shape)))
            }
            for v in names where lastUse[v] == position && !keep.contains(v) { values.removeValue(forKey: v) }
        }
        var out: [String: Tensor] = [:]
        for o in outputs { out[o] = values[o] ?? parameters[o]?.tensor }
        return (out, tape, updates)
    }
}
