import ArgumentParser
import Foundation

/// The candidate closest to a misspelled word, when it is close enough to be what was meant.
///
/// Closeness is the edit distance (insertions, deletions, substitutions, and swaps of two
/// neighbours), at most 1 for short words and a third of the word's length otherwise, so `upp`
/// suggests `up` but `xyz` suggests nothing. A candidate that starts with the word wins ties.
func closestMatch(to word: String, among candidates: [String]) -> String? {
    let limit = max(1, word.count / 3)
    var best: (name: String, distance: Int)?
    for c in candidates where c != word {
        let d = editDistance(word.lowercased(), c.lowercased())
        guard d <= limit else { continue }
        if best == nil || d < best!.distance || (d == best!.distance && c.hasPrefix(word) && !best!.name.hasPrefix(word)) {
            best = (c, d)
        }
    }
    return best?.name
}

/// The optimal-string-alignment distance between two strings.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}

/// ` (did you mean "x"?)`, or nothing.
func didYouMean(_ word: String, among candidates: [String]) -> String {
    closestMatch(to: word, among: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
}

extension Nslab {
    /// The names the first argument may take: every subcommand, its aliases, and `help`.
    static var commandNames: [String] {
        configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases } + ["help"]
    }

    /// Refuses a first argument that is no command, before the parser reads it as a scenario and
    /// complains about "unexpected arguments": `nslab upp router` says `did you mean "up"?`.
    static func checkCommandName(_ arguments: [String]) {
        guard let first = arguments.first, !first.hasPrefix("-"), !commandNames.contains(first) else { return }
        let suggestion = closestMatch(to: first, among: commandNames)
        fail("unknown command \"\(first)\"" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""),
             hint: "`nslab --help` lists the commands", code: 64)
    }
}
