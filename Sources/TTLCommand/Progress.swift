// The progress bar on a terminal.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

/// The progress bar of `ttl finetune` on a terminal: images/s and ETA while images go through
/// the backbone, one bar per pass (computing features, each end-to-end epoch); nothing otherwise.
final class ProgressBar {
    let enabled: Bool
    /// Where the current pass started: images already done then, and when.
    private var start: (done: Int, time: Date)? = nil
    /// A bar is drawn on the current line, unfinished.
    private var open = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let now = Date()
        if start == nil || done < start!.done { start = (done, now) }
        let (done0, t0) = start!
        let rate = Double(done - done0) / max(now.timeIntervalSince(t0), 1e-6)
        let eta = rate > 0 ? Int(Double(total - done) / rate) : nil
        let filled = 30 * min(done, total) / total
        print(String(format: "\r[%@%@] %d/%d images  %.1f images/s  ETA %@ ", String(repeating: "=", count: filled),
                     String(repeating: " ", count: 30 - filled), done, total, rate,
                     eta.map { String(format: "%d:%02d", $0 / 60, $0 % 60) } ?? "--:--"), terminator: done >= total ? "\n" : "")
        open = done < total
        if done >= total { start = nil }
        fflush(nil)
    }

    /// Ends a bar left unfinished (the run stopped in the middle of a pass).
    func endLine() {
        if open { print(""); open = false }
    }
}
