// Release benchmark of the GEMMs and convolutions of ResNet-18 at batch 32.
//   swift build -c release --product ttl-bench && .build/release/ttl-bench [--threads T] [--repeat R]
// Prints GFLOP/s for the raw BLAS GEMM of each layer and for Conv2D forward/backward on it,
// so the cost of im2col (forward GFLOP/s ÷ GEMM GFLOP/s) can be read off directly.
import Dispatch
import Foundation
import TTLCore

struct Layer {
    let name: String
    let batch, channels, size: Int  // square input plane, 3×3 same-padding convolution, C_in = C_out
    var m: Int { channels }
    var k: Int { channels * 9 }
    var n: Int { batch * size * size }
    var flops: Double { 2 * Double(m) * Double(k) * Double(n) }
}

var threads = ComputeThreads.count
var repeats = 3
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--threads": threads = Int(args.popFirst() ?? "") ?? threads
    case "--repeat": repeats = Int(args.popFirst() ?? "") ?? repeats
    default:
        print("usage: ttl-bench [--threads T] [--repeat R]")
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
