#!/usr/bin/env node
// `npm run bench:real-model`: one real mission against a real model, end to end, on a tiny repository.
// Opt-in (not in `npm test`, not in CI): it needs an OpenAI-compatible endpoint and can take an hour on a CPU.
//
//   OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=local MISSION_MODEL=qwen2.5-coder-0.5b npm run bench:real-model
//
// It makes a git repository with src/calc.js (add) and a node:test test, then runs `mission run` (its own
// local Temporal server, worker in the same process, plan approved without asking) with one milestone and
// `npm test` as validation. Every model request goes through a recording proxy (bodies, not headers: no key is
// written). At the end it checks the result itself (is there a mul, a test/mul.test.js, does `npm test` pass on
// the mission's final commit) and appends one run to bench/real-model-results.json and the table in
// bench/real-model-results.md: outcome, turns, tokens, cost (when the product reports one), wall time.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendRun, readLines } from './real-model-results.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const TASK = env.BENCH_TASK ?? 'Add a mul(a, b) function to src/calc.js (exported like add) and a node:test test for it in test/mul.test.js.';
const MAX_TURNS = Number(env.BENCH_MAX_TURNS ?? 15);
const TIMEOUT_MIN = Number(env.BENCH_TIMEOUT_MIN ?? 60);

// `node bench/real-model.mjs --summarize DIR` records a run again from its work folder (for a run whose
// recording was interrupted): the mission's output, run.json and the model requests are all kept there.
if (process.argv[2] === '--summarize') {
  const dir = path.resolve(process.argv[3] ?? '');
  const files = appendRun(summarize(dir, JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'))));
  console.error(`bench:real-model: recorded ${dir} in ${files.join(' and ')}`);
  process.exit(0);
}

if (!env.OPENAI_BASE_URL && !env.OPENAI_API_KEY) {
  console.error('bench:real-model needs a model endpoint: OPENAI_BASE_URL (any OpenAI-compatible server) and/or OPENAI_API_KEY; MISSION_MODEL names the model.');
  process.exit(2);
}
if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'index.js'))) {
  console.error('bench:real-model: the project is not built; run "npm run build" first (npm run bench:real-model does).');
  process.exit(2);
}

const upstream = (env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
const model = env.MISSION_MODEL ?? 'gpt-5';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mission-real-model-'));
const repo = path.join(work, 'repo');

makeRepo(repo);
const proxy = await startProxy(upstream, path.join(work, 'model-requests.jsonl'));
const [port, uiPort] = [await freePort(), await freePort()];
const input = {
  prompt: TASK,
  requirePlanApproval: false,
  maxMilestones: 1,
  maxFeaturesPerMilestone: 2,
  maxConcurrency: 1,
  validation: { commands: [{ name: 'test', run: 'npm test' }] },
  budget: { maxTurnsPerFeature: MAX_TURNS },
};
fs.writeFileSync(path.join(work, 'input.json'), JSON.stringify(input, null, 2));

console.error(`bench:real-model: model ${model} at ${upstream}; work folder ${work} (repository, mission output, model requests)`);
console.error(`bench:real-model: ${loadLine()}; timeout ${TIMEOUT_MIN} min`);
const started = Date.now();
const run = await runMission();
const meta = { at: new Date(started).toISOString(), model, endpoint: redactUrl(upstream), task: TASK, maxTurnsPerFeature: MAX_TURNS, exitCode: run.code, timedOut: run.timedOut, wallMs: Date.now() - started, load: loadLine() };
fs.writeFileSync(path.join(work, 'run.json'), `${JSON.stringify(meta, null, 2)}\n`);
await new Promise((resolve) => proxy.server.close(resolve));
const result = summarize(work, meta);
const written = appendRun(result);
console.log(JSON.stringify(result, null, 2));
console.error(`bench:real-model: ${result.outcome} in ${result.wallSeconds} s; written to ${written.join(' and ')}`);
process.exit(0);

/** One run's record, from its work folder: the mission's JSON output, the model requests, the final commit. */
function summarize(dir, meta) {
  const events = readLines(read(path.join(dir, 'mission-stdout.log')) ?? read(path.join(dir, 'mission-run.log')) ?? '');
  const report = events.filter((e) => e.event === 'report').map((e) => e.report).pop();
  const lastStatus = events.filter((e) => e.phase && e.milestones).pop(); // the progress records of `run --json`
  const features = (report?.milestones ?? lastStatus?.milestones ?? []).flatMap((m) => m.features ?? []);
  const tokens = report?.tokens ?? (typeof lastStatus?.tokens === 'number' ? { total: lastStatus.tokens } : undefined);
  const requests = readLines(read(path.join(dir, 'model-requests.jsonl')) ?? '');
  return {
    at: meta.at,
    model: meta.model,
    endpoint: meta.endpoint,
    task: meta.task,
    maxTurnsPerFeature: meta.maxTurnsPerFeature,
    outcome: report?.outcome ?? (meta.timedOut ? 'timed-out' : 'no-report'),
    phase: lastStatus?.phase ?? null,
    exitCode: meta.exitCode,
    error: report?.error ?? null,
    plan: report?.plan ? { milestones: report.plan.milestones.map((m) => ({ id: m.id, features: m.features.map((f) => f.id) })) } : null,
    features: features.map((f) => ({ id: f.id, state: f.state, turns: f.turns ?? null, tokens: f.tokens?.total ?? null })),
    turns: features.reduce((n, f) => n + (f.turns ?? 0), 0),
    tokens: tokens ? { prompt: tokens.prompt ?? null, completion: tokens.completion ?? null, total: tokens.total } : null,
    // Cost as the product reports it (tokens.costUsd); null when it reports none (no price for the model).
    costUsd: typeof tokens?.costUsd === 'number' ? tokens.costUsd : null,
    unresolved: (report?.unresolved ?? []).map((u) => (typeof u === 'object' && u ? `${u.name ?? u.title ?? u.id}: ${u.detail ?? u.state ?? ''}` : String(u))),
    narrativeFlags: report?.narrativeFlags?.length ?? 0,
    modelRequests: requests.length,
    modelSeconds: Math.round(requests.reduce((ms, r) => ms + (r.ms ?? 0), 0) / 100) / 10,
    wallSeconds: Math.round(meta.wallMs / 100) / 10,
    checked: report?.finalCommit && report.finalCommit !== report.baseCommit ? checkResult(dir, report.finalCommit) : null,
    load: meta.load,
    workFolder: dir,
  };
}

function makeRepo(dir) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'test'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'calc', version: '1.0.0', private: true, scripts: { test: 'node --test' } }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'src', 'calc.js'), "'use strict';\n\nfunction add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n");
  fs.writeFileSync(
    path.join(dir, 'test', 'add.test.js'),
    "'use strict';\nconst test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('../src/calc');\n\ntest('add', () => {\n  assert.strictEqual(add(2, 3), 5);\n});\n",
  );
  fs.writeFileSync(path.join(dir, 'README.md'), '# calc\n\nTiny arithmetic helpers. `npm test` runs the tests (node:test).\n');
  const git = (...args) => spawnSync('git', args, { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '-m', 'calc with add');
}

/** `mission run` as a user runs it: stdout (JSON) in mission-stdout.log, both streams in mission-run.log. */
function runMission() {
  const log = fs.createWriteStream(path.join(work, 'mission-run.log'));
  const out = fs.createWriteStream(path.join(work, 'mission-stdout.log'));
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'mission.js'), 'run', '--repo', repo, '--input', `@${path.join(work, 'input.json')}`, '--json', '--port', String(port), '--ui-port', String(uiPort), '--db', path.join(work, 'dev.db')],
    {
      cwd: repo,
      env: { ...env, OPENAI_BASE_URL: `${proxy.url}/v1`, OPENAI_API_KEY: env.OPENAI_API_KEY ?? 'none', MISSION_MODEL: model, MISSION_HOME: path.join(work, 'home'), TEMPORAL_ADDRESS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (chunk) => {
    out.write(chunk);
    log.write(chunk);
  });
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    process.stderr.write(chunk);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    console.error(`bench:real-model: ${TIMEOUT_MIN} min passed; stopping the mission (its state stays in ${work})`);
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
  }, TIMEOUT_MIN * 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      log.end();
      out.end(() => resolve({ code, timedOut }));
    });
  });
}

/** A pass-through to the real endpoint that writes each exchange (bodies only) as one JSON line. */
function startProxy(target, file) {
  const stats = { count: 0, ms: 0 };
  const out = fs.createWriteStream(file, { flags: 'a' });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(target + req.url.replace(/^\/v1/, ''));
      const t0 = Date.now();
      const headers = { 'content-type': req.headers['content-type'] ?? 'application/json', 'content-length': body.length };
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      const send = (url.protocol === 'https:' ? import('node:https') : Promise.resolve(http)).then((mod) =>
        mod.request(url, { method: req.method, headers, timeout: 0 }, (up) => {
          const parts = [];
          up.on('data', (c) => parts.push(c));
          up.on('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            const ms = Date.now() - t0;
            stats.count++;
            stats.ms += ms;
            out.write(`${JSON.stringify({ at: new Date(t0).toISOString(), ms, path: url.pathname, status: up.statusCode, request: parse(body.toString('utf8')), response: parse(text) })}\n`);
            const h = { 'content-type': up.headers['content-type'] ?? 'application/json' };
            if (up.headers['retry-after']) h['retry-after'] = up.headers['retry-after'];
            res.writeHead(up.statusCode ?? 502, h);
            res.end(text);
          });
        }),
      );
      send.then((upReq) => {
        upReq.on('error', (err) => {
          out.write(`${JSON.stringify({ at: new Date(t0).toISOString(), path: url.pathname, error: err.message })}\n`);
          res.destroy(err);
        });
        upReq.end(body);
      });
    });
  });
  server.requestTimeout = 0;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, stats, url: `http://127.0.0.1:${server.address().port}` })));
}

/** What the repository holds at the mission's final commit, checked here rather than taken from the report. */
function checkResult(dir, commit) {
  if (!commit) return null;
  const check = path.join(dir, 'check');
  fs.rmSync(check, { recursive: true, force: true });
  spawnSync('git', ['worktree', 'prune'], { cwd: path.join(dir, 'repo'), stdio: 'ignore' });
  spawnSync('git', ['worktree', 'add', '-q', '--detach', check, commit], { cwd: path.join(dir, 'repo'), stdio: 'ignore' });
  if (!fs.existsSync(check)) return null;
  const calc = read(path.join(check, 'src', 'calc.js'));
  const test = spawnSync('npm', ['test'], { cwd: check, encoding: 'utf8', timeout: 120_000 });
  return {
    commit,
    mulInCalc: /\bmul\b/.test(calc ?? ''),
    mulTestFile: fs.existsSync(path.join(check, 'test', 'mul.test.js')),
    npmTestPasses: test.status === 0,
    testsRun: Number(/# tests (\d+)/.exec(test.stdout ?? '')?.[1] ?? 0),
  };
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

function redactUrl(u) {
  try {
    const url = new URL(u);
    url.username = '';
    url.password = '';
    url.search = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return '(unparsable OPENAI_BASE_URL)';
  }
}

function loadLine() {
  return `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`;
}
