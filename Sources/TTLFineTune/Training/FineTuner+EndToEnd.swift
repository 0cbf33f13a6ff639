// End-to-end training: the network runs on decoded (and augmented) images every epoch, training
// what is unfrozen; it stops between batches and resumes mid-epoch.
import Dispatch
import Foundation
import TTLCore
import TTLNN

extension FineTuner {
    static func trainEndToEnd(_ model: Model, head: Head, phase: Phase, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                              state: inout RunState, progress: (EpochReport) -> Void,
                              imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws {
        var model = model
        model.parameters = state.parameters
        let input = model.inputs[0].name
        let headPaths = Set([head.weight] + (head.bias.map { [$0] } ?? []))
        var optimizer = makeOptimizer(options, state: state.optimizer)
        let batchSize = options.batchSize, batches = (data.train.count + batchSize - 1) / batchSize
        let steps = max(1, batches) * phase.epochs.count
        let images = data.train.count + data.validation.count
        for epoch in state.epochsDone + 1 ... phase.epochs.upperBound {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var run = state.epochInProgress
                ?? EpochInProgress(order: shuffled(data.train.count, &state.rng), batchesDone: 0, loss: 0, correct: 0, learningRate: options.learningRate)
            state.epochInProgress = nil
            var done = min(run.batchesDone * batchSize, data.train.count)
            imagesDone(done, images)
            var bad = false
            for b in run.batchesDone ..< batches {
                let idx = Array(run.order[b * batchSize ..< min((b + 1) * batchSize, data.train.count)])
                let x = try load(ArraySlice(idx.map { data.train[$0] }), preprocessing, augment: options.augment, seed: state.rng.next())
                let y = idx.map { data.train[$0].label }
                let (outs, tape): ([String: Tensor], Tape)
                do { (outs, tape) = try model.forward([input: x], outputs: [head.logits]) } catch { throw FineTuneError.model("\(error)") }
                let z = outs[head.logits]!
                let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing)
                guard loss.isFinite else { bad = true; break }
                let grads = model.backward(tape, outputGradients: [head.logits: SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: options.labelSmoothing)])
                let lr = options.schedule.rate(options.learningRate, step: state.step, totalSteps: steps)
                let backboneLR = options.schedule.rate(phase.backboneRate, step: state.step, totalSteps: steps)
                optimizer.step(&model.parameters, gradients: grads, learningRate: { headPaths.contains($0) ? lr : backboneLR })
                state.step += 1
                run.loss += Double(loss) * Double(idx.count)
                run.correct += accuracy(z, y) * Double(idx.count)
                run.batchesDone = b + 1
                run.learningRate = lr
                done += idx.count
                imagesDone(done, images)
                if b + 1 < batches && shouldStop() {
                    state.parameters = model.parameters
                    state.optimizer = optimizer.state
                    state.epochInProgress = run
                    throw Interrupted()
                }
            }
            state.parameters = model.parameters
            state.optimizer = optimizer.state
            if bad || !allFinite(model.parameters, frozen: model.frozen) {
                state.stopped = try diverged(epoch, state)
                return
            }
            var validation: (loss: Double, accuracy: Double)? = nil
            if !data.validation.isEmpty {
                var valLoss = 0.0, valCorrect = 0.0
                for start in stride(from: 0, to: data.validation.count, by: batchSize) {
                    let slice = data.validation[start ..< min(start + batchSize, data.validation.count)]
                    let x = try load(slice, preprocessing)
                    let z: Tensor
                    do { z = try model.run([input: x], outputs: [head.logits])[head.logits]! } catch { throw FineTuneError.model("\(error)") }
                    let y = slice.map(\.label)
                    valLoss += Double(SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing).loss) * Double(y.count)
                    valCorrect += accuracy(z, y) * Double(y.count)
                    done += y.count
                    imagesDone(done, images)
                }
                let n = Double(data.validation.count)
                validation = (valLoss / n, valCorrect / n)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let n = Double(data.train.count)
            try finishEpoch(epoch, phase: phase, train: (run.loss / n, run.correct / n), validation: validation, learningRate: run.learningRate,
                            seconds: seconds, data: data, options: options, state: &state, progress: progress)
            if state.stopped != nil { return }
            if epoch < options.totalEpochs && shouldStop() { throw Interrupted() }
        }
    }
}
