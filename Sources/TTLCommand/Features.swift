// `ttl features`: the frozen backbone's features of a dataset, or of one shard of it, into a
// feature cache that `ttl finetune` then reads; on this machine, or as the array tasks of a
// Slurm job (any scheduler that runs N copies with an index will do).
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLFineTune
import TTLNN

/// `--cache DIR`: where features are kept.
struct CacheOption: ParsableArguments {
    @Option(help: "The feature cache folder; it may be on a file system that several machines share (default: $TTL_HOME/cache/features).")
    var cache: String?

    func folder(_ store: ModelStore) -> URL {
        cache.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? store.root.appendingPathComponent("cache/features")
    }
}

extension PreprocessingOptions {
    /// The options as given, for a command line that must compute the same features.
    var arguments: [String] {
        [("--mean", mean), ("--std", std), ("--resize", resize), ("--size", size.map(String.init)), ("--channels", channels)]
            .compactMap { name, value in value.map { [name, $0] } }.flatMap { $0 }
    }
}

extension TTLCommand {
    struct Features: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put the frozen backbone's features of DIR's images (all, or one shard) into the feature cache, here or as Slurm array jobs.",
            discussion: """
                `ttl finetune` with the same --data, --model, --cache and preprocessing then trains the head from the cache and computes only what is missing. Shard K/N holds the images whose path relative to DIR hashes to K modulo N: every machine agrees on it without talking, and adding images moves none of the others. Several processes, on several machines, may fill one cache at once (entries are written under a temporary name, renamed into place, and checked when read); a shard that was killed, run again, computes only what it had not stored.

                --slurm writes a batch script whose array task K runs shard K of --array-size, submits it with sbatch, and with --then-finetune submits `ttl finetune ... ARGS` to run once every task has succeeded (--dependency=afterok). Scripts and logs go to --script-dir. --tasks submits only some tasks: a Slurm index list (2 or 0,3) or `missing`, the shards --status finds incomplete. Any other scheduler that runs N copies of a command with an index works the same way (Kubernetes Indexed Job: --shard "$JOB_COMPLETION_INDEX/N").

                Example:
                  ttl features --data photos --model resnet50 --cache /shared/c --shard 3/16
                  ttl features --data photos --model resnet50 --cache /shared/c \\
                      --status --array-size 16
                  ttl features --data /shared/photos --model resnet50 --cache /shared/c \\
                      --slurm --array-size 16 --partition cpu --cpus-per-task 8 \\
                      --then-finetune "--epochs 10 --output /shared/birds.onnx"
                """)
        @Option(help: "The dataset folder.") var data: String
        @Option(help: "The backbone: a stored name or a model file (default: the embedded EfficientNet-Lite0).") var model: String?
        @Option(help: "Only shard K of N (K from 0), e.g. 3/16.") var shard: String?
        @OptionGroup var cacheOption: CacheOption
        @Flag(help: "Report what is cached instead of computing: per shard with --shard or --array-size.") var status = false
        @Option(name: .customLong("array-size"), help: "With --slurm: the number of shards (array tasks); with --status: the shards to report on.") var arraySize: Int?
        @Flag(help: "Submit the shards as the tasks of one Slurm array job (needs --array-size).") var slurm = false
        @Option(help: "With --slurm: the Slurm partition.") var partition: String?
        @Option(name: .customLong("cpus-per-task"), help: "With --slurm: CPUs per task; ttl runs that many threads (default: Slurm's, 1).") var cpusPerTask: Int?
        @Option(help: "With --slurm: the time limit per task (Slurm's syntax, e.g. 2:00:00).") var time: String?
        @Option(name: .customLong("sbatch"), parsing: .unconditionalSingleValue, help: "With --slurm: one more sbatch option for every job, e.g. --sbatch --mem=8G (repeatable).") var sbatchOptions: [String] = []
        @Option(help: "With --slurm: submit only these array tasks: a Slurm index list (2, 0,3, 4-7) or `missing` (the shards not complete).") var tasks: String?
        @Option(name: .customLong("then-finetune"), parsing: .unconditional, help: "With --slurm: `ttl finetune` options (quoted as one argument) for a job that trains the head once every task has succeeded.") var thenFinetune: String?
        @Option(name: .customLong("script-dir"), help: "With --slurm: where the batch scripts and their logs go (default: $TTL_HOME/slurm).") var scriptDir: String?
        @Flag(name: .customLong("dry-run"), help: "With --slurm: print the scripts instead of submitting them.") var dryRun = false
        @Flag(help: "Fail on an unreadable image instead of skipping it.") var strict = false
        @OptionGroup var preprocessing: PreprocessingOptions
        @OptionGroup var threads: Threads

        func validate() throws {
            let slurmOnly = [("--partition", partition != nil), ("--cpus-per-task", cpusPerTask != nil), ("--time", time != nil),
                             ("--sbatch", !sbatchOptions.isEmpty), ("--tasks", tasks != nil), ("--then-finetune", thenFinetune != nil),
                             ("--script-dir", scriptDir != nil), ("--dry-run", dryRun)]
            if !slurm, let (name, _) = slurmOnly.first(where: { $0.1 }) { throw ValidationError("\(name) needs --slurm") }
            if slurm && arraySize == nil { throw ValidationError("--slurm needs --array-size N (the number of shards)") }
            if slurm && (shard != nil || status) { throw ValidationError("--slurm submits every shard: without --shard and --status") }
            if arraySize != nil && !slurm && !status { throw ValidationError("--array-size needs --slurm or --status") }
            if arraySize != nil && shard != nil { throw ValidationError("--shard and --array-size exclude each other") }
            if let arraySize, !(1 ... 1_000_000).contains(arraySize) { throw ValidationError("--array-size takes 1 to 1000000 (got \(arraySize))") }
            if let shard, Shard(parsing: shard) == nil { throw ValidationError("--shard takes K/N with 0 ≤ K < N (got '\(shard)')") }
            if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be at least 1") }
        }

        func run() throws {
            threads.apply()
            let store = ModelStore()
            let (backbone, backboneName) = try loadBackbone(model, store: store)
            let (p, notice) = try preprocessing.apply(to: backbone)
            if let notice, !slurm { FileHandle.standardError.write(Data("ttl: note: \(notice)\n".utf8)) }
            let extractor = try FeatureExtractor(backbone: backbone, preprocessing: p)
            let cache = FeatureCache(folder: cacheOption.folder(store))
            let root = URL(fileURLWithPath: data)
            if slurm {
                try submit(store: store, backboneName: backboneName) {
                    try shardStatus(ImageFolder(root: root, strict: strict), count: arraySize!, extractor, cache)
                }
                return
            }
            let shard = self.shard.flatMap { Shard(parsing: $0) } ?? .all
            let dataset = try ImageFolder(root: root, strict: strict, shard: shard)
            if !dataset.skipped.isEmpty {
                FileHandle.standardError.write(Data("ttl: warning: skipped \(dataset.skipped.count) unreadable image(s): \(dataset.skipped.joined(separator: "; "))\n".utf8))
            }
            if status {
                print("features of \(backboneName) (key \(extractor.key)) in \(cache.folder!.path)")
                let count = arraySize ?? shard.count
                let rows = arraySize != nil ? shardStatus(dataset, count: count, extractor, cache)
                    : [ShardStatus(shard: shard.count > 1 ? shard : nil, images: dataset.allSamples.count, cached: extractor.cached(dataset.allSamples, in: cache).filter { $0 }.count)]
                for row in rows { print(row.line) }
                if rows.count > 1 {
                    print(ShardStatus(shard: nil, images: rows.map(\.images).reduce(0, +), cached: rows.map(\.cached).reduce(0, +)).line)
                }
                return
            }
            let interrupt = InterruptRequest()
            interrupt.install()
            let samples = dataset.allSamples
            let label = shard.count > 1 ? "shard \(shard)" : "all shards"
            print("features of \(backboneName) for \(label): \(samples.count) images into \(cache.folder!.path)")
            fflush(nil)
            let bar = ProgressBar(enabled: isatty(1) == 1)
            var lines = PlainProgress(enabled: isatty(1) != 1)
            let started = Date()
            do {
                _ = try extractor.features(of: samples, cache: cache, imagesDone: { done, total in
                    bar.update(done, total)
                    lines.update(done, total)
                }, shouldStop: { interrupt.requested })
            } catch is Interrupted {
                bar.endLine()
                FileHandle.standardError.write(Data("ttl: interrupted; the \(cache.computed) images computed are cached: the same command computes the rest\n".utf8))
                throw ExitCode(130)
            }
            let seconds = Date().timeIntervalSince(started)
            let rate = cache.computed > 0 ? String(format: ", %.1f images/s", Double(cache.computed) / seconds) : ""
            print(String(format: "%@: %d computed, %d already cached in %.1f s%@", label, cache.computed, cache.found, seconds, rate))
        }

        // MARK: Slurm

        /// Writes the batch scripts and submits them (or prints them with --dry-run).
        func submit(store: ModelStore, backboneName: String, shardsStatus: () throws -> [ShardStatus]) throws {
            let n = arraySize!
            var indices = "0-\(n - 1)"
            if let tasks {
                if tasks == "missing" {
                    let missing = try shardsStatus().filter { $0.cached < $0.images }.map { $0.shard!.index }
                    guard !missing.isEmpty else {
                        print("every shard of \(n) is complete: nothing to submit")
                        return
                    }
                    indices = missing.map(String.init).joined(separator: ",")
                } else {
                    guard tasks.allSatisfy({ $0.isNumber || $0 == "," || $0 == "-" }), !tasks.isEmpty else {
                        throw TTLError.usage("--tasks takes a Slurm index list (2, 0,3, 4-7) or missing (got '\(tasks)')")
                    }
                    indices = tasks
                }
            }
            let folder = scriptDir.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? store.root.appendingPathComponent("slurm")
            let logs = folder.appendingPathComponent("logs")
            let name = URL(fileURLWithPath: data).standardizedFileURL.lastPathComponent
            let featuresFile = folder.appendingPathComponent("features-\(name)-\(n).sbatch")
            let finetuneFile = folder.appendingPathComponent("finetune-\(name).sbatch")
            let scripts = SlurmScripts(command: self, store: store, logs: logs)
            let featuresText = scripts.features(shards: n, indices: indices, file: featuresFile)
            let finetuneText = try thenFinetune.map { try scripts.finetune($0) }
            if dryRun {
                print("# \(featuresFile.path)")
                print(featuresText)
                if let finetuneText {
                    print("# \(finetuneFile.path) (sbatch --dependency=afterok:<the array job>)")
                    print(finetuneText)
                }
                return
            }
            do { try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true) } catch {
                throw TTLError.io(file: logs.path, message: error.localizedDescription)
            }
            try writeAtomically(featuresText, to: featuresFile)
            let arrayJob = try sbatch([featuresFile.path])
            print("submitted \(featuresFile.path) as array job \(arrayJob) (tasks \(indices) of shards 0-\(n - 1)); logs in \(logs.path)")
            print("one task again, alone: sbatch --array=K \(shellQuoted(featuresFile.path))")
            if let finetuneText {
                try writeAtomically(finetuneText, to: finetuneFile)
                // A failed task cancels it, rather than leaving it queued for ever: resubmit with --tasks missing.
                let job = try sbatch(["--dependency=afterok:\(arrayJob)", "--kill-on-invalid-dep=yes", finetuneFile.path])
                print("submitted \(finetuneFile.path) as job \(job), to start when every task of \(arrayJob) has succeeded")
            }
        }
    }
}

/// What the cache holds of one shard's images (of all, for `shard` nil).
struct ShardStatus {
    var shard: Shard?
    var images: Int
    var cached: Int

    var line: String {
        let name = shard.map { "shard \($0)" } ?? "all"
        let state = cached == images ? "complete" : "\(images - cached) missing"
        return "\(name): \(images) images, \(cached) cached, \(state)"
    }
}

/// Each of `count` shards' images in `dataset` (a whole dataset), and how many are cached.
func shardStatus(_ dataset: ImageFolder, count: Int, _ extractor: FeatureExtractor, _ cache: FeatureCache) -> [ShardStatus] {
    let samples = dataset.allSamples
    let cached = extractor.cached(samples, in: cache)
    var rows = (0 ..< count).map { ShardStatus(shard: Shard(index: $0, count: count), images: 0, cached: 0) }
    for (sample, isCached) in zip(samples, cached) {
        let k = Shard.index(of: dataset.relativePath(of: sample), count: count)
        rows[k].images += 1
        if isCached { rows[k].cached += 1 }
    }
    return rows
}

/// The batch scripts of `ttl features --slurm`: absolute paths throughout, since tasks start
/// on other machines in whatever folder Slurm gives them.
struct SlurmScripts {
    let command: TTLCommand.Features
    let store: ModelStore
    let logs: URL

    /// This `ttl`, by absolute path.
    var executable: String {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if me != "/proc/self/exe" { return me }
        return (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).standardizedFileURL.path
    }

    /// What names the same data, backbone, cache and preprocessing on every node.
    var common: [String] {
        var args = ["--data", URL(fileURLWithPath: command.data).standardizedFileURL.path]
        if let model = command.model {
            let url = URL(fileURLWithPath: model)
            args += ["--model", FileManager.default.fileExists(atPath: url.path) ? url.standardizedFileURL.path : model]
        }
        args += ["--cache", command.cacheOption.folder(store).path] + command.preprocessing.arguments
        if command.strict { args.append("--strict") }
        return args
    }

    func header(_ jobName: String, output: String) -> [String] {
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(jobName)", "#SBATCH --output=\(logs.appendingPathComponent(output).path)",
                     "#SBATCH --chdir=\(FileManager.default.currentDirectoryPath)"]
        if let p = command.partition { lines.append("#SBATCH --partition=\(p)") }
        if let c = command.cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(c)") }
        if let t = command.time { lines.append("#SBATCH --time=\(t)") }
        lines += command.sbatchOptions.map { "#SBATCH \($0)" }
        return lines
    }

    /// The environment both jobs need: the model store a stored name refers to.
    var environment: [String] { ["export TTL_HOME=\(shellQuoted(store.root.path))"] }

    /// Array task K computes shard K of `shards`. The count is written in, not taken from
    /// `$SLURM_ARRAY_TASK_COUNT`, so that a task submitted again alone (`sbatch --array=K`)
    /// still computes shard K of `shards`.
    func features(shards: Int, indices: String, file: URL) -> String {
        let run = [executable, "features"] + common
        return (header("ttl-features", output: "%x-%A_%a.out") + ["#SBATCH --array=\(indices)",
            "# Written by ttl features --slurm: array task K computes shard K of \(shards) into the shared feature cache.",
            "# Run one task again with: sbatch --array=K \(shellQuoted(file.path))",
            "set -eu"] + environment + [
            "SHARDS=\(shards)",
            "exec " + run.map(shellQuoted).joined(separator: " ") + " --shard \"$SLURM_ARRAY_TASK_ID/$SHARDS\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"",
        ]).joined(separator: "\n") + "\n"
    }

    /// The fine-tune that reads the cache: `options` are the user's own `ttl finetune` options,
    /// written in as given (they are shell words).
    func finetune(_ options: String) throws -> String {
        let words = options.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let taken = ["--data", "--model", "--cache", "--mean", "--std", "--resize", "--size", "--channels", "--strict"]
        if let clash = words.first(where: { w in taken.contains { w == $0 || w.hasPrefix($0 + "=") } }) {
            throw TTLError.usage("--then-finetune takes finetune's other options: \(clash) comes from this command")
        }
        let run = [executable, "finetune"] + common
        return (header("ttl-finetune", output: "%x-%j.out") + [
            "# Written by ttl features --slurm: trains the head from the shared feature cache once every shard is in it.",
            "set -eu"] + environment + [
            "exec " + run.map(shellQuoted).joined(separator: " ") + " --threads \"${SLURM_CPUS_PER_TASK:-1}\" " + options,
        ]).joined(separator: "\n") + "\n"
    }
}

/// Runs sbatch with `arguments` (and --parsable) and returns the job id.
func sbatch(_ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["sbatch", "--parsable"] + arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    do { try p.run() } catch { throw TTLError.usage("cannot run sbatch: \(error.localizedDescription)") }
    let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let message = String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard p.terminationStatus == 0 else {
        if p.terminationStatus == 127 {
            throw TTLError.usage("sbatch not found: --slurm needs Slurm's client commands (Debian: slurm-client); --dry-run prints the scripts")
        }
        throw TTLError.io(file: arguments.last!, message: "sbatch failed: " + (message.split(separator: "\n").last.map(String.init) ?? "status \(p.terminationStatus)"))
    }
    // --parsable prints "id" or "id;cluster".
    let id = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    guard !id.isEmpty, id.allSatisfy(\.isNumber) else { throw TTLError.io(file: arguments.last!, message: "sbatch printed no job id") }
    return id
}

/// Writes `text` to a temporary name beside `url` and renames it into place.
func writeAtomically(_ text: String, to url: URL) throws {
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
        throw TTLError.io(file: url.path, message: error.localizedDescription)
    }
}

/// Progress as plain lines, for logs: about every tenth of the images, and at the end.
struct PlainProgress {
    let enabled: Bool
    private var printed = -1

    init(enabled: Bool) { self.enabled = enabled }

    mutating func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let tenth = done * 10 / total
        guard tenth > printed else { return }
        printed = tenth
        if done > 0 { print("\(done)/\(total) images"); fflush(nil) }
    }
}
