// The results of `npm run bench:real-model`: bench/real-model-results.json (every run, newest last) and the
// table bench/real-model-results.md made from it. Written so that a bad line or a damaged file never loses the run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_JSON = path.join(DIR, 'real-model-results.json');
export const RESULTS_MD = path.join(DIR, 'real-model-results.md');

/**
 * The JSON objects in a command's output: one per line (`--json` progress records) or pretty-printed over many
 * lines (`mission run --json` prints its final report that way). Top-level {...} spans are found by matching
 * braces outside strings; a span that does not parse (a log line like "{ sdkComponent: 'worker' }", an object
 * cut short) is skipped rather than failing the run.
 */
export function readLines(text) {
  const s = String(text);
  const out = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"' && depth > 0) inString = true;
    else if (ch === '{') {
      if (depth++ === 0) start = i;
    } else if (ch === '}' && depth > 0 && --depth === 0) {
      try {
        out.push(JSON.parse(s.slice(start, i + 1)));
      } catch {
        // not JSON: skipped
      }
    }
  }
  return out;
}

/** The runs recorded so far; a file that does not parse is kept aside (…json.bad-<time>) and the list starts again. */
export function readRuns(file = RESULTS_JSON) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const value = JSON.parse(text);
    if (Array.isArray(value?.runs)) return value.runs;
  } catch {
    // fall through
  }
  const aside = `${file}.bad-${Date.now()}`;
  fs.renameSync(file, aside);
  console.error(`bench:real-model: ${path.basename(file)} did not parse; kept as ${path.basename(aside)}, starting a new list`);
  return [];
}

/** Appends a run and rewrites both files (each written whole, then renamed over the old one). */
export function appendRun(run, { json = RESULTS_JSON, md = RESULTS_MD } = {}) {
  const runs = [...readRuns(json), run];
  writeAtomic(json, `${JSON.stringify({ about: 'npm run bench:real-model: one real mission per run against a real model (see bench/README.md)', runs }, null, 2)}\n`);
  writeAtomic(md, markdown(runs));
  return [json, md];
}

function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

const cell = (v) => String(v ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdown(runs) {
  const rows = runs.map((r) => {
    const c = r.checked;
    const checked = c ? `mul ${c.mulInCalc ? 'yes' : 'no'}, test/mul.test.js ${c.mulTestFile ? 'yes' : 'no'}, npm test ${c.npmTestPasses ? `passes (${c.testsRun})` : 'fails'}` : 'no commit by the mission';
    const features = (r.features ?? []).map((f) => `${f.id}: ${f.state}, ${f.turns ?? '?'} turns`).join('; ');
    const tokens = r.tokens ? `${r.tokens.total} (${r.tokens.prompt ?? '?'} in, ${r.tokens.completion ?? '?'} out)` : '—';
    const cost = r.costUsd === null || r.costUsd === undefined ? 'not reported' : `$${r.costUsd.toFixed(4)}`;
    return `| ${cell(r.at?.slice(0, 16).replace('T', ' '))} | ${cell(r.model)} | ${cell(r.outcome)}${r.error ? ` (${cell(r.error.type)})` : ''} | ${cell(features)} | ${cell(r.turns)} | ${cell(tokens)} | ${cost} | ${cell(r.modelRequests)} in ${cell(r.modelSeconds)} s | ${cell(r.wallSeconds)} s | ${cell(checked)} | ${cell(r.load)} |`;
  });
  return [
    '# Real-model runs',
    '',
    'Written by `npm run bench:real-model` (see [README.md](README.md#a-real-model)); raw data in [real-model-results.json](real-model-results.json).',
    '"Checked" is the benchmark looking at the final commit itself, not the report.',
    '',
    '| when (UTC) | model | outcome | features | turns | tokens | cost | model requests | wall time | checked | load |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
