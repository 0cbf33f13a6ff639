// The `ttl` command: thin over the TTL library. Every failure prints one line and exits 1.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

struct TTLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ttl",
        abstract: "Transfer learning in Swift: import pretrained models, fine-tune them, export them.",
        discussion: """
            Models live in the store at $TTL_HOME (default ~/.ttl). MODEL is a stored name or a model file.

            Example:
              ttl import resnet18.onnx
              ttl run resnet18 --input batch.npy --output logits.npy
            """,
        subcommands: [Import.self, Show.self, List.self, Remove.self, Run.self, Bench.self, Export.self,
                      FineTune.self, Features.self, Predict.self, Evaluate.self, Cache.self, ProbeKeras.self]
    )
}

// Errors of the library print as one line on standard error; argument errors keep ArgumentParser's usage help.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("ttl: \(error)\n".utf8))
    exit(1)
}

#if os(Linux)
// libgomp, the OpenMP runtime under oneDNN, reads its wait policy once, as it loads, before any
// of ttl runs. By default its threads spin ~300,000 rounds at every barrier: on a machine whose
// cores other processes also want, a spinning thread holds a core while its partner waits to be
// scheduled, and on a loaded 2-vCPU AMD EPYC Zen 4 that made EfficientNet-Lite0 at batch 1 take
// 190–320 ms instead of 10–15 ms, and plan creation ten times as long. libgomp itself spins only
// 1000 rounds when it knows the machine is oversubscribed (more threads than CPUs), which it
// cannot know when other processes take the CPUs; so the command runs itself again once with
// that (GOMP_SPINCOUNT=1000), unless the caller chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set).
if getenv("OMP_WAIT_POLICY") == nil && getenv("GOMP_SPINCOUNT") == nil {
    setenv("GOMP_SPINCOUNT", "1000", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)  // returns only when it failed: carry on as we are
}
#endif

ModelFile.kerasFileCheck = checkKerasFile

do {
    var command = try TTLCommand.parseAsRoot()
    try command.run()
} catch let e as TTLError { fail(e)
} catch let e as ONNXError { fail(e)
} catch let e as KerasError { fail(e)
} catch let e as HDF5Error { fail(e)
} catch let e as NPYError { fail(e)
} catch let e as GraphError { fail(e)
} catch let e as GraphEditError { fail(e)
} catch let e as LoadError { fail(e)
} catch let e as FreezeError { fail(e)
} catch let e as DatasetError { fail(e)
} catch let e as LabelTableError { fail(e)
} catch let e as FineTuneError { fail(e)
} catch let e as ImageError { fail(e)
} catch {
    TTLCommand.exit(withError: error)
}
