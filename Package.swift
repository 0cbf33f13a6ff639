// swift-tools-version:6.0
import PackageDescription

// MARK: - Targets, layered one way (see ../shared/STYLE.md §1)
//
//   CBLAS        system BLAS (OpenBLAS via pkg-config on Linux; Accelerate on macOS)
//   COneDNN      a small C door to oneDNN 2.x (Debian's libdnnl-dev), the engine on Linux
//   TTLCore      Tensor, Shape, NPY, ParameterTree, Kernels/, Reference/, Engine/  → COneDNN
//   TTLNN        Model graph, executor with autograd, ops, freezing, architectures,
//                the engine's prepared plan                                        → TTLCore
//   TTLFineTune  images (libjpeg-turbo, libpng), data, optimizers, trainer         → TTLNN
//   TTLONNX      ONNX reader/writer (swift-protobuf, code generated once and committed) → TTLNN
//   TTLHDF5      Keras HDF5 reader/writer (libhdf5 via CHDF5)                     → TTLNN
//   TTLTorch     PyTorch checkpoints and safetensors, read without running pickle → TTLNN
//   TTL          the public library façade: model files, the model store         → all of the above
//   TTLCommand   the `ttl` command (swift-argument-parser), thin over TTL         → TTL
//   ttl-bench    release benchmarks of the kernels and whole networks
//   _TestSupport test-only helpers (assertClose, fixtures)

// No unsafeFlags anywhere (they stop other packages from depending on ttl by version): the
// test suite runs whole networks, so `make test` builds in release with testing enabled.

let package = Package(
    name: "ttl",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "TTLCore", targets: ["TTLCore"]),
        .library(name: "TTLNN", targets: ["TTLNN"]),
        .library(name: "TTLONNX", targets: ["TTLONNX"]),
        .library(name: "TTLHDF5", targets: ["TTLHDF5"]),
        .library(name: "TTL", targets: ["TTL"]),
        .executable(name: "ttl", targets: ["TTLCommand"]),
        .executable(name: "ttl-bench", targets: ["ttl-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),

        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"]), .brew(["jpeg-turbo"])]
        ),
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]
        ),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),

        // oneDNN through a C shim: its 2.x descriptor API stays in one C file. Debian ships no
        // pkg-config file for it, so the library is named here.
        .target(
            name: "COneDNN",
            linkerSettings: [.linkedLibrary("dnnl", .when(platforms: [.linux]))]
        ),

        // MARK: Core
        .target(
            name: "TTLCore",
            dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux])), "COneDNN"]
        ),

        // MARK: Runtime
        .target(name: "TTLNN", dependencies: ["TTLCore"]),

        // MARK: Fine-tuning
        .target(name: "TTLFineTune", dependencies: ["TTLNN", "CTurboJPEG", "CPNG"]),

        // MARK: Formats
        .target(
            name: "TTLONNX",
            dependencies: ["TTLNN", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto/onnx.proto"]
        ),
        .target(name: "TTLHDF5", dependencies: ["TTLNN", "CHDF5"]),
        .target(name: "TTLTorch", dependencies: ["TTLNN"]),

        // MARK: Library façade and tools
        .target(name: "TTL", dependencies: ["TTLCore", "TTLNN", "TTLONNX", "TTLHDF5", "TTLFineTune", "TTLTorch"]),
        .executableTarget(
            name: "TTLCommand",
            dependencies: ["TTL", "TTLONNX", "TTLHDF5", "TTLFineTune", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "ttl-bench", dependencies: ["TTLCore", "TTLNN", "TTLONNX"]),

        // MARK: Tests
        .target(name: "_TestSupport", dependencies: ["TTLCore"], path: "Sources/_TestSupport"),
        .testTarget(
            name: "TTLFineTuneTests",
            dependencies: ["TTLFineTune", "TTLONNX", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLTests",
            dependencies: ["TTL", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLONNXTests",
            dependencies: ["TTLONNX", "_TestSupport", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLHDF5Tests",
            dependencies: ["TTLHDF5", "TTLONNX", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLNNTests",
            dependencies: ["TTLNN", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLCoreTests",
            dependencies: ["TTLCore", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TTLTorchTests",
            dependencies: ["TTLTorch", "_TestSupport"],
            exclude: ["Fixtures"]
        ),
    ]
)
