// Release benchmarks.
//   swift build -c release --product ttl-bench
//   .build/release/ttl-bench [--threads T] [--repeat R]
//       GFLOP/s of the raw BLAS GEMM of ResNet-18's 3×3 convolutions at batch 32 and of Conv2D
//       forward/backward on them, so the cost of im2col (forward ÷ GEMM) reads off directly.
//   .build/release/ttl-bench --network NAME [--batch B] [--train] [--threads T] [--repeat R]
//       images/s of a whole built-in network (resnet18, resnet50, efficientnet-lite0, …):
//       inference, or with --train a training step with only the head trainable; and the
//       process's peak resident memory.
//   .build/release/ttl-bench --model FILE.onnx [--batch B] [--threads T] [--repeat R] [--profile]
//       the same for a model file (inference only); with --profile, the time of every step of
//       the engine's plan (named by its first node), for comparison with onnxruntime's own
//       per-node profile (`scripts/bench_engine.py --profile`). With --plan: only the time
//       to prepare the plan, R times (the first is what `ttl bench` reports; later ones find
//       oneDNN's kernels already generated), wall and CPU (all threads) milliseconds.
//   .build/release/ttl-bench --depthwise [--batch B] [--threads T] [--repeat R]
//       milliseconds of Conv2D forward and backward on EfficientNet-Lite0's depthwise layers
//       (TF 'SAME' padding, as the network has it), and GMAC/s of the forward.
//   .build/release/ttl-bench --pointwise [--batch B] [--threads T] [--repeat R]
//       milliseconds and GFLOP/s of Conv2D forward on EfficientNet-Lite0's 1×1 convolutions
//       of the 28×28, 14×14 and 7×7 stages.
import Dispatch
import Foundation
import TTLCore
import TTLNN
import TTLONNX

struct Layer {
    let name: String
    let batch, channels, size: Int  // square input plane, 3×3 same-padding convolution, C_in = C_out
    var m: Int { channels }
    var k: Int { channels * 9 }
    var n: Int { batch * size * size }
    var flops: Double { 2 * Double(m) * Double(k) * Double(n) }
}

#if os(Linux)
// As the `ttl` command does (see its main.swift): libgomp's short spin unless the caller chose.
if getenv("OMP_WAIT_POLICY") == nil && getenv("GOMP_SPINCOUNT") == nil {
    setenv("GOMP_SPINCOUNT", "1000", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}
#endif

var threads = ComputeThreads.count
var repeats = 3
var network: String? = nil
var modelFile: String? = nil
var batch = 32
var train = false
var depthwise = false
var pointwise = false
var planOnly = false
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--threads": threads = Int(args.popFirst() ?? "") ?? threads
    case "--repeat": repeats = Int(args.popFirst() ?? "") ?? repeats
    case "--network": network = args.popFirst()
    case "--model": modelFile = args.popFirst()
    case "--batch": batch = Int(args.popFirst() ?? "") ?? batch
    case "--train": train = true
    case "--profile": Profiler.isEnabled = true
    case "--plan": planOnly = true
    case "--depthwise": depthwise = true
    case "--pointwise": pointwise = true
    default:
        print("usage: ttl-bench [--threads T] [--repeat R] [--network NAME [--batch B] [--train] [--profile] | --model FILE.onnx [--batch B] [--profile | --plan] | --depthwise [--batch B] | --pointwise [--batch B]]")
        exit(2)
    }
}
ComputeThreads.count = threads

func seconds(_ repeats: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0 ..< repeats {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

func random(_ shape: Shape, seed: UInt64) -> Tensor {
    var state = seed
    return Tensor(uninitialized: shape) { buf in
        for i in 0 ..< buf.count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buf[i] = Float(Int32(truncatingIfNeeded: state >> 33)) / Float(Int32.max)
        }
    }
}

/// Peak resident set size of this process, from /proc (Linux), in MiB.
func peakMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kb / 1024
}

func buildNetwork(_ name: String) -> Model? {
    if let c = ResNet.named[name] { return ResNet.build(c) }
    if name == "efficientnet-lite0" { return EfficientNetLite.build(.lite0) }
    if name.hasPrefix("keras-"), let c = KerasResNet.named[String(name.dropFirst(6))] { return KerasResNet.build(c) }
    return nil
}

if let network = network ?? modelFile {
    let loaded: Model?
    if let modelFile {
        do { loaded = try ONNXImporter.load(contentsOf: URL(fileURLWithPath: modelFile)) } catch {
            print("ttl-bench: \(modelFile): \(error)")
            exit(2)
        }
        if train { print("ttl-bench: --train takes a built-in --network"); exit(2) }
    } else {
        loaded = buildNetwork(network)
    }
    guard var model = loaded else {
        print("ttl-bench: unknown network '\(network)'")
        exit(2)
    }
    let spec = model.inputs[0]
    let x = random(spec.shape(batch: batch), seed: 5)
    if planOnly {
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        _ = Engine.current  // the engine thread and oneDNN start outside the timing
        for r in 0 ..< max(repeats, 1) {
            var fresh = model
            fresh.outputs = model.outputs  // a new plan cache
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            let summary = fresh.prepare([spec.name: x.shape])
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6, cpu = (cpuSeconds() - c0) * 1000
            print(String(format: "plan %d: %.1f ms wall, %.1f ms CPU: %@", r, wall, cpu, summary?.description ?? "no plan"))
        }
        exit(0)
    }
    let flops = Double((try? model.summary().flopsPerImage) ?? 0)
    var time: Double
    if train {
        let head = try! model.findHead()
        model.freeze()
        model.unfreeze(prefix: String(head.weight.prefix { $0 != "." }))
        let labels = (0 ..< batch).map { $0 % head.outFeatures }
        time = seconds(repeats) {
            let (outs, tape) = try! model.forward([spec.name: x], outputs: [head.logits])
            let (_, cache) = SoftmaxCrossEntropy.forward(logits: outs[head.logits]!, labels: labels)
            _ = model.backward(tape, outputGradients: [head.logits: SoftmaxCrossEntropy.backward(cache: cache, labels: labels)])
        }
    } else {
        // Profiles leave out the first run (the plan, first-touch page faults, oneDNN's lazily
        // generated GEMM kernels), so that they show what later runs spend.
        if Profiler.isEnabled {
            _ = try! model.run([spec.name: x])
            _ = Profiler.report()
        }
        time = seconds(repeats) { _ = try! model.run([spec.name: x]) }
    }
    print(String(format: "%@ %@ batch %d, %d threads: %.1f images/s (%.3f s/batch, %.1f GFLOP/s), peak memory %.0f MiB",
                 network, train ? "training step (head only)" : "inference", batch, threads, Double(batch) / time, time,
                 flops * Double(batch) / time / 1e9, peakMemoryMiB()))
    if Profiler.isEnabled {
        // Plan steps in their order ("step N: …"), anything else after them.
        func stepNumber(_ label: String) -> Int {
            label.hasPrefix("step ") ? Int(label.dropFirst(5).prefix { $0.isNumber }) ?? Int.max : Int.max
        }
        let entries = Profiler.report().sorted { stepNumber($0.type) < stepNumber($1.type) }
        for (type, s) in entries { print(String(format: "  %8.3f ms  %@", s / Double(repeats) * 1000, type)) }
    }
    exit(0)
}

if depthwise {
    // (channels, input size, kernel, stride) of EfficientNet-Lite0's depthwise convolutions at 224×224.
    let layers = [(32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2), (240, 28, 5, 1), (240, 28, 3, 2),
                  (480, 14, 3, 1), (480, 14, 5, 1), (672, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1), (1152, 7, 3, 1)]
    print("ttl-bench: depthwise, batch \(batch), \(threads) threads, best of \(repeats)")
    print("layer                    padding              fwd ms   fwd GMAC/s   bwd ms (dX, dW)")
    for (c, size, k, s) in layers {
        let padding = Padding2D.same(input: Size2D(size), kernel: Size2D(k), stride: Size2D(s))
        let options = Conv2DOptions(stride: Size2D(s), padding: padding, groups: c)
        let x = random([batch, c, size, size], seed: 3), w = random([c, 1, k, k], seed: 4)
        var y = Tensor(zeros: [1])
        let fwd = seconds(repeats) { y = Conv2D.forward(input: x, weight: w, bias: nil, options: options) }
        let bwd = seconds(repeats) { _ = Conv2D.backward(outputGradient: y, input: x, weight: w, options: options, wantBias: false) }
        let macs = Double(y.count * k * k)
        let name = "\(c)@\(size)×\(size) k\(k) s\(s)"
        print(name.padding(toLength: 25, withPad: " ", startingAt: 0)
              + "\(padding)".padding(toLength: 19, withPad: " ", startingAt: 0)
              + String(format: "%8.2f  %11.2f  %9.2f", fwd * 1e3, macs / fwd / 1e9, bwd * 1e3))
    }
    exit(0)
}

if pointwise {
    // (C_in, C_out, plane side) of EfficientNet-Lite0's late 1×1 convolutions at 224×224.
    let layers = [(40, 240, 28), (240, 40, 28), (80, 480, 14), (480, 80, 14), (112, 672, 14), (672, 112, 14),
                  (192, 1152, 7), (1152, 192, 7), (1152, 320, 7), (320, 1280, 7)]
    print("ttl-bench: pointwise, batch \(batch), \(threads) threads, best of \(repeats)")
    print("layer                      fwd ms   GFLOP/s")
    for (cin, cout, size) in layers {
        let x = random([batch, cin, size, size], seed: 3), w = random([cout, cin, 1, 1], seed: 4)
        let t = seconds(repeats) { _ = Conv2D.forward(input: x, weight: w, bias: nil, options: Conv2DOptions()) }
        let name = "\(cin)→\(cout) @\(size)×\(size)"
        print(name.padding(toLength: 25, withPad: " ", startingAt: 0)
              + String(format: "%8.2f  %8.1f", t * 1e3, 2 * Double(batch * cin * cout * size * size) / t / 1e9))
    }
    exit(0)
}

let env = ProcessInfo.processInfo.environment
print("ttl-bench: \(threads) threads, \(BLAS.implementation), OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)"), best of \(repeats)")
print("layer                 M×K×N                 GEMM GF/s  conv fwd GF/s  im2col cost  conv bwd GF/s")

let layers = [
    Layer(name: "layer1 64@56×56", batch: 32, channels: 64, size: 56),
    Layer(name: "layer2 128@28×28", batch: 32, channels: 128, size: 28),
    Layer(name: "layer4 512@7×7", batch: 32, channels: 512, size: 7),
]
for layer in layers {
    let a = random([layer.m, layer.k], seed: 1), b = random([layer.k, layer.n], seed: 2)
    var c = Tensor(zeros: [layer.m, layer.n])
    let gemmTime = seconds(repeats) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(m: layer.m, n: layer.n, k: layer.k, a: pa.baseAddress!, lda: layer.k,
                               b: pb.baseAddress!, ldb: layer.n, c: pc.baseAddress!, ldc: layer.n)
                }
            }
        }
    }
    let x = random([layer.batch, layer.channels, layer.size, layer.size], seed: 3)
    let w = random([layer.channels, layer.channels, 3, 3], seed: 4)
    let options = Conv2DOptions(padding: Padding2D(1))
    var y = Tensor(zeros: [1])
    let convTime = seconds(repeats) { y = Conv2D.forward(input: x, weight: w, bias: nil, options: options) }
    // Backward computes two GEMMs of the forward's size (dW and dX), so it counts 2× the FLOPs.
    let backTime = seconds(repeats) {
        _ = Conv2D.backward(outputGradient: y, input: x, weight: w, options: options, wantBias: false)
    }
    let dims = "\(layer.m)×\(layer.k)×\(layer.n)"
    print(layer.name.padding(toLength: 22, withPad: " ", startingAt: 0)
          + dims.padding(toLength: 22, withPad: " ", startingAt: 0)
          + String(format: "%9.1f  %13.1f  %10.1f%%  %13.1f", layer.flops / gemmTime / 1e9, layer.flops / convTime / 1e9,
                   (convTime / gemmTime - 1) * 100, 2 * layer.flops / backTime / 1e9))
}
