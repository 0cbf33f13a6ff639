import Foundation
import Synchronization

/// How many threads ttl's kernels and BLAS use.
///
/// Defaults to `TTL_NUM_THREADS` when set, else the number of active processors.
/// Setting it also sets OpenBLAS's and oneDNN's thread counts, so one number governs all.
public enum ComputeThreads {
    private static let state = Mutex<Int?>(nil)

    /// The thread count; a value below 1 is stored as 1.
    public static var count: Int {
        get {
            state.withLock { current in
                if let current { return current }
                let n = defaultCount
                current = n
                BLAS.setThreadCount(n)
                return n
            }
        }
        set {
            let n = max(1, newValue)
            state.withLock { $0 = n }
            BLAS.setThreadCount(n)
            OneDNN.threadCountChanged(n)
        }
    }

    static var defaultCount: Int {
        if let s = ProcessInfo.processInfo.environment["TTL_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// Runs `body(i)` for every `i` in `0 ..< count`, split over ``ComputeThreads/count`` threads
/// in contiguous chunks. Small loops (`count * costPerItem` below ~32 k operations) run inline.
/// `serial: true` runs inline, for callers that are already one of several workers.
@inlinable
public func parallelFor(_ count: Int, costPerItem: Int = 1, serial: Bool = false, _ body: (Int) -> Void) {
    let threads = min(ComputeThreads.count, count)
    if serial || threads <= 1 || count.multipliedReportingOverflow(by: costPerItem).partialValue < 32_768 {
        for i in 0 ..< count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = count * t / threads, hi = count * (t + 1) / threads
            for i in lo ..< hi { box.value(i) }
        }
    }
}

/// Runs `body(range)` over `threads` contiguous ranges covering `0 ..< count`.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeThreads.count, max(1, count / max(1, minimumChunk)))
    if threads <= 1 {
        body(0 ..< count)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            box.value(count * t / threads ..< count * (t + 1) / threads)
        }
    }
}

/// Runs `body(t)` for `t` in `0 ..< threads`, each on its own thread.
@inlinable
public func onThreads(_ threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 { body(0); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: threads) { box.value($0) }
    }
}

/// Carries a value across a `concurrentPerform` boundary whose tasks touch disjoint memory.
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
