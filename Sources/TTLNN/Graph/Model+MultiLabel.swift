import TTLCore

extension Model {
    /// Makes the model's output independent probabilities, one per label (multi-label): a
    /// final Softmax becomes a Sigmoid under its name; otherwise a Sigmoid node named
    /// `<head>/sigmoid` is appended after the output and becomes the output. A model that
    /// already ends in a Sigmoid is left as it is. Training reads the head's logits (before
    /// the Sigmoid); every export then ends in the Sigmoid.
    @discardableResult
    public mutating func endingInSigmoid(head: Head) -> Head {
        var head = head
        if head.sigmoid != nil { return head }
        if let name = head.softmax, let i = nodes.firstIndex(where: { $0.name == name }) {
            nodes[i].operation = ActivationOp(.sigmoid)
            head.softmax = nil
            head.sigmoid = name
            return head
        }
        let name = head.node + "/sigmoid"
        nodes.append(Node(name, ActivationOp(.sigmoid), inputs: [outputs[0]], outputs: [name]))
        outputs[0] = name
        head.sigmoid = name
        return head
    }
}
