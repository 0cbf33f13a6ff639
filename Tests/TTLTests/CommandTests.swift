import Foundation
import TTL
import TTLCore
import TTLFineTune
import TTLNN
import XCTest
import _TestSupport

/// The `ttl` command, run as a user runs it, its whole output compared.
final class CommandTests: CommandTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TTLONNXTests/Fixtures/models")
    func testImportShowListRunExportRemove() throws {
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let r = try ttl("import", model, "--name", "tiny")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, """
            imported model.onnx as 'tiny'
            parameters:   20,103
            FLOPs/image:  0.43 M
            input:        input [N, 3, 32, 32] NCHW
            opset:        17
            producer:     pytorch 2.13.0
            head:         node '/fc/Gemm', 32 → 7
            images:       32×32 centre crop, mean 0.485,0.456,0.406, std 0.229,0.224,0.225
                          (ImageNet's defaults: the model carries no preprocessing)

            """)
        XCTAssertEqual(try ttl("list").out, "tiny  0.1 MB\n")
        XCTAssertEqual(try ttl("import", model, "--name", "tiny").err, "ttl: a model named 'tiny' is already stored (use --force to replace it, or --name)\n")

        let input = Self.fixtures.appendingPathComponent("torchscript_folded_bn/input.npy").path
        let output = home.appendingPathComponent("out.npy").path
        XCTAssertEqual(try ttl("run", "tiny", "--input", input, "--output", output).status, 0)
        let y = try NPY.readTensor(URL(fileURLWithPath: output))
        let expected = try NPY.readTensor(Self.fixtures.appendingPathComponent("torchscript_folded_bn/output.npy"))
        assertClose(y, expected, atol: 1e-4, rtol: 0, "ttl run against onnxruntime")

        let exported = home.appendingPathComponent("tiny-export.onnx").path
        XCTAssertEqual(try ttl("export", "tiny", "--output", exported).out, "wrote \(exported)\n")
        XCTAssertEqual(try ttl("run", exported, "--input", input, "--output", output).status, 0, "an exported file runs as a MODEL path")

        let bench = try ttl("bench", "tiny", "--batch", "4", "--repeats", "1")
        XCTAssertTrue(bench.out.contains("images/s") && bench.out.contains("peak memory"), bench.out)

        XCTAssertEqual(try ttl("remove", "tiny").out, "removed 'tiny'\n")
        XCTAssertEqual(try ttl("list").status, 0)
        let gone = try ttl("show", "tiny")
        XCTAssertEqual(gone.status, 1)
        XCTAssertEqual(gone.err, "ttl: no model 'tiny' in the store and no such file (the store is empty; add one with `ttl import FILE`)\n")
    }

    /// Bad input: one line on standard error, exit status 1, nothing written, store unchanged.
    func testBadInputLeavesNothingBehind() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx"))
        let truncated = home.appendingPathComponent("truncated.onnx")
        try data.prefix(300).write(to: truncated)
        let r = try ttl("import", truncated.path)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "ttl: \(truncated.path): not a valid ONNX protobuf (the data ends in the middle of a field: truncated file)\n")
        XCTAssertEqual(r.out, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("models").path), "store unchanged")

        let missing = try ttl("run", "tiny", "--input", "x.npy", "--output", home.appendingPathComponent("o.npy").path)
        XCTAssertEqual(missing.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("o.npy").path))

        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        try Data("not numpy".utf8).write(to: home.appendingPathComponent("bad.npy"))
        let badInput = try ttl("run", model, "--input", home.appendingPathComponent("bad.npy").path, "--output", home.appendingPathComponent("o.npy").path)
        XCTAssertEqual(badInput.err, "ttl: \(home.appendingPathComponent("bad.npy").path): not a .npy file (bad magic at byte 0)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("o.npy").path))

        XCTAssertEqual(try ttl("export", model, "--output", home.appendingPathComponent("m.pb").path).status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("m.pb").path))
        XCTAssertEqual(try ttl("import", home.appendingPathComponent("nothing.onnx").path).err, "ttl: \(home.appendingPathComponent("nothing.onnx").path): no such file\n")

        // A model whose scores are NaN: predict and evaluate refuse in one line naming the image.
        var broken = try ModelFile.load(URL(fileURLWithPath: model))
        let bias = try broken.findHead().bias!
        broken.parameters[bias] = .init(Tensor(repeating: .nan, shape: broken.parameters.tensor(bias)!.shape))
        let nanModel = home.appendingPathComponent("nan.onnx")
        try ModelFile.save(broken, to: nanModel)
        let colours = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLFineTuneTests/Fixtures/dataset").path
        let nan = try ttl("predict", nanModel.path, colours + "/red/red_1.png")
        XCTAssertEqual(nan.status, 1)
        XCTAssertEqual(nan.err.split(separator: "\n").last, "ttl: \(colours)/red/red_1.png: the model's output for this image is not a finite number (NaN or infinity); its weights may be damaged")
        XCTAssertEqual(try ttl("evaluate", nanModel.path, "--data", colours).status, 1)
    }

    /// Keras files through the same commands: import (stored as ONNX), run (NHWC in, Keras's
    /// output out), export back to .h5; a broken file is one line, exit 1, store unchanged.
    func testKerasImportRunExport() throws {
        let keras = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLHDF5Tests/Fixtures")
        let r = try ttl("import", keras.appendingPathComponent("resnet_v1_tiny.tfkeras.h5").path, "--name", "kr")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, """
            imported resnet_v1_tiny.tfkeras.h5 as 'kr'
            parameters:   14,383
            FLOPs/image:  5.19 M
            input:        input_1 [N, 32, 32, 3] NHWC
            producer:     Keras 2.21.0
            head:         node 'predictions', 32 → 7, then softmax 'predictions_softmax'
            images:       32×32 centre crop, mean 0.485,0.456,0.406, std 0.229,0.224,0.225
                          (ImageNet's defaults: the model carries no preprocessing)

            """)
        let out = home.appendingPathComponent("y.npy")
        XCTAssertEqual(try ttl("run", "kr", "--input", keras.appendingPathComponent("resnet_v1_tiny.input.npy").path, "--output", out.path).status, 0)
        assertClose(try NPY.readTensor(out), try NPY.readTensor(keras.appendingPathComponent("resnet_v1_tiny.output.npy")), atol: 1e-5, rtol: 1e-5)
        let exported = home.appendingPathComponent("kr.h5")
        XCTAssertEqual(try ttl("export", "kr", "--output", exported.path).out, "wrote \(exported.path)\n")
        XCTAssertEqual(try ttl("import", exported.path, "--name", "kr2").status, 0)

        let bad = keras.appendingPathComponent("bad_kernel_shape.h5").path
        let b = try ttl("import", bad)
        XCTAssertEqual(b.status, 1)
        XCTAssertEqual(b.out, "")
        XCTAssertEqual(b.err, "ttl: \(bad): 'model_weights/conv2d/conv2d/kernel:0' has shape [3, 3, 4, 4], expected [3, 3, 3, 4]\n")
        let notHDF5 = home.appendingPathComponent("model.h5")
        try Data("hello".utf8).write(to: notHDF5)
        XCTAssertEqual(try ttl("import", notHDF5.path).err, "ttl: \(notHDF5.path): not an HDF5 file\n")
        let weightsOnly = keras.appendingPathComponent("resnet_v1_tiny.weights.h5").path
        XCTAssertEqual(try ttl("import", weightsOnly).err,
                       "ttl: \(weightsOnly): holds weights only; name the architecture with --arch (resnet101, resnet101v2, resnet152, resnet152v2, resnet50, resnet50v2)\n")
        // One byte of flatten_tfkeras.h5's variable-length string storage changed: libhdf5 1.10
        // crashes reading it (found by flipping bytes; if the fixture is ever regenerated with
        // other bytes, find another such offset). ttl reads Keras files in a child process first.
        var damaged = try Data(contentsOf: keras.appendingPathComponent("flatten_tfkeras.h5"))
        XCTAssertEqual(damaged[3961], 0)
        damaged[3961] = 0xAA
        let damagedURL = home.appendingPathComponent("damaged.h5")
        try damaged.write(to: damagedURL)
        let crash = try ttl("import", damagedURL.path)
        XCTAssertEqual(crash.status, 1)
        XCTAssertEqual(crash.err, "ttl: \(damagedURL.path): damaged HDF5 file: libhdf5 crashed reading it\n")
        XCTAssertEqual(try ttl("list").out, "kr  0.1 MB\nkr2  0.1 MB\n", "store unchanged by the failures")
    }

    func testFineTunePredictEvaluate() throws {
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let data = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLFineTuneTests/Fixtures/dataset").path
        let r = try ttl("finetune", "--data", data, "--model", model, "--epochs", "30", "--lr", "0.05", "--batch-size", "8",
                        "--resize", "squash", "--seed", "3", "--val-split", "0.25", "--output", "colors")
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.first, "fine-tuning model on 3 classes (blue, green, red): 18 training and 6 validation images")
        XCTAssertEqual(lines.count, 33)
        XCTAssertEqual(lines[1], "features: 24 computed, 0 from the cache in \(home.path)/cache/features")
        XCTAssertTrue(lines[2].hasPrefix("epoch 1/30  train loss "), String(lines[2]))
        XCTAssertTrue(lines.last!.hasPrefix("kept epoch ") && lines.last!.hasSuffix("saved to colors"), String(lines.last!))
        XCTAssertTrue(r.err.contains("note: the model carries no preprocessing"), r.err)
        // Output to a pipe carries no progress bar and no control characters.
        XCTAssertFalse((r.out + r.err).unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" }, r.out)

        // `ttl show` tells what the model is for and how it was trained.
        let shown = try ttl("show", "colors")
        XCTAssertEqual(shown.status, 0, shown.err)
        let facts = shown.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(facts.contains("labels:       3: blue, green, red"), shown.out)
        XCTAssertTrue(facts.contains("images:       32×32 squashed, mean 0.485,0.456,0.406, std 0.229,0.224,0.225"), shown.out)
        XCTAssertTrue(facts.contains("trained:      from model on 'dataset': 3 classes, 18 training and 6 validation images"), shown.out)
        XCTAssertTrue(facts.contains("              30 epochs, adamw at 0.05 (cosine), weight decay 0.01, backbone frozen"), shown.out)
        XCTAssertTrue(facts.contains { $0.hasPrefix("              kept epoch ") && $0.contains("validation loss") }, shown.out)

        let predicted = try ttl("predict", "colors", data + "/red/red_1.png", "--top", "2")
        XCTAssertEqual(predicted.status, 0, predicted.err)
        XCTAssertTrue(predicted.out.hasPrefix(data + "/red/red_1.png: red 0."), predicted.out)
        let evaluated = try ttl("evaluate", "colors", "--data", data)
        XCTAssertTrue(evaluated.out.hasPrefix("accuracy: "), evaluated.out)
        XCTAssertTrue(evaluated.out.contains("confusion matrix"))

        // The fine-tuned model exported to ONNX carries its labels and preprocessing.
        let exported = home.appendingPathComponent("colors.onnx")
        XCTAssertEqual(try ttl("export", "colors", "--output", exported.path).status, 0)
        let back = try ModelFile.load(exported)
        XCTAssertEqual(back.metadata["labels"], "[\"blue\",\"green\",\"red\"]")
        XCTAssertEqual(back.metadata["preprocessing"], "{\"mean\":[0.485,0.456,0.406],\"resize\":\"squash\",\"size\":32,\"std\":[0.229,0.224,0.225]}")
        XCTAssertEqual(back.metadata[TrainingSummary.metadataKey].flatMap { TrainingSummary(metadata: [TrainingSummary.metadataKey: $0]) }?.keptEpoch,
                       TrainingSummary(metadata: try ModelStore(root: home).load("colors").metadata)?.keptEpoch)

        // ... and so does the Keras file, which predicts the same.
        let h5 = home.appendingPathComponent("colors.h5")
        XCTAssertEqual(try ttl("export", "colors", "--output", h5.path).status, 0)
        XCTAssertEqual(try ttl("predict", h5.path, data + "/red/red_1.png", "--top", "2").out, predicted.out.replacingOccurrences(of: "colors", with: h5.path))

        // An output ttl cannot write is refused before any training.
        let keras = try ttl("finetune", "--data", data, "--model", model, "--output", home.appendingPathComponent("m.keras").path)
        XCTAssertEqual(keras.status, 1)
        XCTAssertFalse(keras.out.contains("epoch"), keras.out)
        XCTAssertTrue(keras.err.contains("fine-tuned models are written as .onnx, .h5 or to the store"), keras.err)

        let bad = try ttl("finetune", "--data", home.appendingPathComponent("nowhere").path, "--model", model)
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.err.split(separator: "\n").last, "ttl: \(home.appendingPathComponent("nowhere").path): not a folder of class folders")
    }

    /// Ctrl-C during `ttl finetune`: a checkpoint beside the output, status 130 and one line
    /// saying how to continue; `--resume` ends with the weights and epochs of a run never stopped.
    func testInterruptAndResume() throws {
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let data = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLFineTuneTests/Fixtures/dataset").path
        let args = ["finetune", "--data", data, "--model", model, "--epochs", "2000", "--lr", "0.05", "--batch-size", "8",
                    "--resize", "squash", "--seed", "3", "--val-split", "0.25"]
        let reference = try ttl(args + ["--output", "reference"])
        XCTAssertEqual(reference.status, 0, reference.err)

        // The handler is installed before the first line; 2000 epoch lines overflow a pipe
        // nobody reads (64 KB), so the run is still training when the signal arrives.
        let p = Process()
        p.executableURL = binary
        p.arguments = args + ["--output", "colors"]
        var env = ProcessInfo.processInfo.environment
        env["TTL_HOME"] = home.path
        p.environment = env
        let outPipe = Pipe(), errPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        var outData = outPipe.fileHandleForReading.availableData
        kill(p.processIdentifier, SIGINT)
        outData += outPipe.fileHandleForReading.readDataToEndOfFile()
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let out = String(decoding: outData, as: UTF8.self), err = String(decoding: errData, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 130, err)
        let epochs = out.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        let stopped = try XCTUnwrap(epochs.last.flatMap { Int($0.dropFirst(6).prefix { $0 != "/" }) })
        XCTAssertEqual(epochs.count, stopped, "every finished epoch printed, then it stops")
        XCTAssertLessThan(stopped, 2000)
        let checkpoint = home.appendingPathComponent("checkpoints/colors.ttlckpt")
        XCTAssertEqual(err.split(separator: "\n").last.map(String.init),
                       "ttl: interrupted after epoch \(stopped)/2000; checkpoint saved in \(checkpoint.path); to continue: "
                       + ([binary.path] + args + ["--output", "colors", "--resume"]).joined(separator: " "))
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("checkpoint.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("models/colors.onnx").path), "no model yet")

        // Other options: refused before anything runs.
        var otherArgs = args
        otherArgs[otherArgs.firstIndex(of: "0.05")!] = "0.1"
        let refused = try ttl(otherArgs + ["--output", "colors", "--resume"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.out, "")
        XCTAssertEqual(refused.err.split(separator: "\n").last.map(String.init),
                       "ttl: \(checkpoint.path): this checkpoint is of another run (options: learningRate 0.05 in the checkpoint, 0.1 now); start over without resuming, or remove it")

        let resumed = try ttl(args + ["--output", "colors", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let lines = resumed.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1], "resuming after epoch \(stopped)/2000 from \(checkpoint.path)")
        // The epochs after the stop, and the kept epoch, as in the run never stopped (timings aside).
        func figures(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("epoch ") || $0.hasPrefix("kept ") }.map {
                $0.components(separatedBy: "  ").filter { !$0.hasSuffix(" s") && !$0.hasSuffix("images/s") }.joined(separator: "  ")
                    .replacingOccurrences(of: "saved to reference", with: "saved to colors")
            }
        }
        XCTAssertEqual(figures(resumed.out), Array(figures(reference.out).dropFirst(stopped)))
        let a = try ModelFile.load(home.appendingPathComponent("models/colors.onnx"))
        let b = try ModelFile.load(home.appendingPathComponent("models/reference.onnx"))
        XCTAssertEqual(a.parameters.paths, b.parameters.paths)
        for path in a.parameters.paths {
            XCTAssertTrue(a.parameters.tensor(path)!.bitwiseEqual(b.parameters.tensor(path)!), "\(path) differs from the run never stopped")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.path), "a finished run removes its checkpoint")
        XCTAssertEqual(try ttl(args + ["--output", "colors", "--resume"]).err.split(separator: "\n").last.map(String.init),
                       "ttl: nothing to resume: no checkpoint at \(checkpoint.path)")
    }

    func testFineTuneInTwoPhases() throws {
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let data = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLFineTuneTests/Fixtures/dataset").path
        let args = ["finetune", "--data", data, "--model", model, "--resize", "squash", "--batch-size", "8", "--output", "two"]
        let r = try ttl(args + ["--fine-tune", "--freeze-epochs", "2", "--epochs", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.map { String($0.prefix(9)) },
                       ["epoch 1/3", "epoch 2/3", "epoch 3/3"])
        XCTAssertEqual(try ttl(args + ["--freeze-epochs", "2"]).err.split(separator: "\n").last, "ttl: --freeze-epochs needs --fine-tune")
        XCTAssertEqual(try ttl(args + ["--backbone-lr", "1e-4"]).err.split(separator: "\n").last,
                       "ttl: --backbone-lr needs --unfreeze-from or --fine-tune (otherwise the backbone is frozen)")
        XCTAssertEqual(try ttl(args + ["--epochs", "0"]).err.split(separator: "\n").last, "ttl: epochs must be at least 1 (got 0)")
    }

    func testEveryCommandHelpShowsAnExample() throws {
        for command in ["import", "show", "list", "remove", "run", "bench", "export", "finetune", "predict", "evaluate", "cache"] {
            let r = try ttl(command, "--help")
            XCTAssertTrue(r.out.contains("Example:") && r.out.contains("ttl \(command)"), "\(command): \(r.out)")
        }
    }

    /// Help reads well at 80 columns (the width off a terminal): the argument parser wraps
    /// discussion text itself, so a hard-wrapped paragraph would come out ragged, and an
    /// example line longer than the screen would break in the middle of a command.
    func testHelpFitsEightyColumns() throws {
        for command in ["", "import", "show", "list", "remove", "run", "bench", "export", "finetune", "features", "predict", "evaluate", "cache"] {
            let r = try ttl(command.isEmpty ? ["--help"] : [command, "--help"])
            XCTAssertEqual(r.status, 0, r.err)
            // USAGE is one line by the parser's own design; everything else fits.
            let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("USAGE:") }
            for line in lines { XCTAssertLessThanOrEqual(line.count, 80, "\(command): \(line)") }
            // A wrapped example continues with the next word flush left; an example's own
            // continuation lines are indented.
            var inExample = false
            for line in lines {
                if line == "Example:" { inExample = true; continue }
                if line.isEmpty || line.hasPrefix("USAGE") || line.hasPrefix("OVERVIEW") { inExample = false; continue }
                if inExample { XCTAssertTrue(line.hasPrefix("  "), "\(command): an example wrapped at \(line)") }
            }
            // A paragraph fills its lines: no line ends far short of the width before another follows.
            for (a, b) in zip(lines, lines.dropFirst()) where !a.isEmpty && !b.isEmpty && !a.hasPrefix(" ") && !b.hasPrefix(" ") && !a.hasSuffix(":") {
                let next = b.split(separator: " ").first.map { $0.count } ?? 0
                XCTAssertGreaterThanOrEqual(a.count + 1 + next, 80, "\(command): a hard-wrapped line: \(a)")
            }
        }
    }

    /// `ttl import` recognises the built-in families by structure, whatever the names.
    func testRecognition() throws {
        let expected: [(Model, String)] = [
            (ResNet.build(.resnet18), "ResNet-18"), (ResNet.build(.resnet34), "ResNet-34"), (ResNet.build(.resnet50), "ResNet-50"),
            (ResNet.build(.resnet101), "ResNet-101"), (ResNet.build(.resnet152), "ResNet-152"),
            (ResNet.build(.resnext50_32x4d), "ResNeXt-50 32x4d"), (ResNet.build(.wide_resnet50_2), "Wide ResNet-50-2"),
            (EfficientNetLite.build(.lite0), "EfficientNet-Lite0"),
        ]
        for (model, family) in expected {
            XCTAssertEqual(try ModelDescription(model).family, family)
        }
    }
}
