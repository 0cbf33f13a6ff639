// Ctrl-C: stop at a checkpoint, or quit.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

/// Ctrl-C during `ttl finetune`: the first asks the trainer to stop at its next checkpoint, a
/// second quits at once (status 130).
final class InterruptRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var source: DispatchSourceSignal? = nil

    func install() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            let n = lock.withLock {
                count += max(1, Int(self.source?.data ?? 1))
                return count
            }
            if n > 1 { _exit(130) }
            FileHandle.standardError.write(Data("\(isatty(2) == 1 ? "\n" : "")ttl: stopping at the end of this step (batch, epoch or chunk of features) to save a checkpoint; Ctrl-C again quits without one\n".utf8))
        }
        lock.withLock { self.source = source }
        // Registration with the kernel happens asynchronously; until it has, an ignored SIGINT
        // would be lost. Return only once Ctrl-C reaches the handler.
        let registered = DispatchSemaphore(value: 0)
        source.setRegistrationHandler { registered.signal() }
        source.resume()
        registered.wait()
    }

    var requested: Bool { lock.withLock { count > 0 } }
}
