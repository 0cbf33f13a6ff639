import Dispatch
import Foundation
import TTLCore
import TTLNN

/// Throughput of a model on random inputs, as `ttl bench` reports it.
public struct BenchmarkResult {
    /// Images through the model per second, in the best run.
    public var imagesPerSecond: Double
    /// Wall time of one batch in the best run.
    public var secondsPerBatch: Double
    /// The process's peak resident memory so far, in MiB.
    public var peakMemoryMiB: Double
    /// Seconds to compile the model for the engine (oneDNN only; nil with the reference engine).
    public var planSeconds: Double?
    /// The engine that ran (`oneDNN 2.6.3 (avx2)`, `reference (Swift kernels)`).
    public var engine: String
    /// What the plan holds (oneDNN only).
    public var plan: PlanSummary?
}

/// Times a model as `ttl bench` does.
public enum Benchmark {
    /// Best of `repeats` timed runs after one warm-up: inference, or (`train`) a training step
    /// (forward, cross-entropy, backward) with only the head trainable, or the stages from
    /// `unfreezeFrom` (`layer4`) and the head.
    public static func run(_ model: Model, batch: Int, train: Bool, unfreezeFrom: String? = nil, repeats: Int = 3) throws -> BenchmarkResult {
        var model = model
        guard let spec = model.inputs.first else { throw TTLError.usage("the model has no input") }
        var rng = SplitMix64(seed: 1)
        let x = Tensor.uniform(spec.shape(batch: batch), -1, 1, using: &rng)
        let step: () throws -> Void
        var planSeconds: Double?, plan: PlanSummary?
        if train {
            let head = try model.findHead()
            model.freeze()
            if let stage = unfreezeFrom {
                do { try model.unfreeze(from: stage) } catch { throw TTLError.usage("--unfreeze-from \(stage): \(error)") }
            }
            model.unfreeze(prefix: head.weight)
            if let b = head.bias { model.unfreeze(prefix: b) }
            let labels = (0 ..< batch).map { $0 % head.outFeatures }
            step = {
                let (outs, tape) = try model.forward([spec.name: x], outputs: [head.logits])
                let (_, cache) = SoftmaxCrossEntropy.forward(logits: outs[head.logits]!, labels: labels)
                _ = model.backward(tape, outputGradients: [head.logits: SoftmaxCrossEntropy.backward(cache: cache, labels: labels)])
            }
        } else {
            let t0 = DispatchTime.now().uptimeNanoseconds
            plan = model.prepare([spec.name: x.shape])
            if plan != nil { planSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
            step = { _ = try model.run([spec.name: x]) }
        }
        try step()
        var best = Double.infinity
        for _ in 0 ..< max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try step()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return BenchmarkResult(imagesPerSecond: Double(batch) / best, secondsPerBatch: best, peakMemoryMiB: peakMemoryMiB(),
                               planSeconds: planSeconds, engine: Engine.summary, plan: plan)
    }

    /// Peak resident memory of this process (Linux: VmHWM from /proc; elsewhere getrusage).
    public static func peakMemoryMiB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb / 1024
        }
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576
        #endif
    }
}
