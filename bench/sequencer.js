const Sequencer = require('@jest/test-sequencer').default;

/** Runs the benchmarks in file-name order (1-overhead … 6-git), not by jest's size and timing heuristics. */
class ByName extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

module.exports = ByName;
