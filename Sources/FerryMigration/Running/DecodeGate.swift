/// Decodes run side by side, except a suspect's: a file that a dead run was decoding (it
/// may have been the one that killed the process, or only decoded next to it) is decoded
/// alone, so if it kills the process again it alone is blamed, and an innocent suspect is
/// cleared. First come, first served.
actor DecodeGate {
    private var running = 0
    private var exclusive = false
    private var queue: [(alone: Bool, resume: CheckedContinuation<Void, Never>)] = []

    func enter(alone: Bool) async {
        await withCheckedContinuation { resume in
            queue.append((alone, resume))
            admit()
        }
    }

    func leave() {
        running -= 1
        if running == 0 { exclusive = false }
        admit()
    }

    private func admit() {
        while let next = queue.first, !exclusive {
            if next.alone {
                guard running == 0 else { return }
                exclusive = true
            }
            running += 1
            queue.removeFirst()
            next.resume.resume()
        }
    }
}
