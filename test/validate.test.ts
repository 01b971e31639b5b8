import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MissionPaths } from '../src/activities/paths';
import { createValidationActivities, type ValidationStep } from '../src/activities/validate';
import { processRunning, uniqueSleep } from './support/processes';
import { makeRepo, tempDir, writeFiles } from './support/repo';

const acts = createValidationActivities({ paths: new MissionPaths(tempDir('mission-home-')), env: { PATH: process.env.PATH, OPENAI_API_KEY: 'sk-hidden' } });
const discover = (files: Record<string, string>, configured = {}) => acts.discoverValidation({ worktree: makeRepo(files), configured });
const names = (steps: ValidationStep[]) => steps.map((s) => s.name);


describe('discovering validation commands', () => {
  it('finds package.json scripts in a useful order, with the install step its lockfile needs', async () => {
    const plan = await discover({
      'package.json': JSON.stringify({ scripts: { test: 'jest', build: 'tsc', lint: 'eslint .', start: 'node .', typecheck: 'tsc --noEmit' }, devDependencies: { jest: '1' } }),
      'package-lock.json': '{}',
    });
    expect(plan.source).toBe('discovered');
    expect(plan.install).toEqual([{ name: 'npm install', run: 'npm ci', timeoutSec: 900, lockfile: 'package-lock.json' }]);
    // The scripts' own text runs (from the base commit in a mission; see validate-base.test.ts), not `npm run <name>`.
    const bin = 'export PATH="$PWD/node_modules/.bin:$PATH"; ';
    expect(plan.commands.map((c) => c.run)).toEqual([`${bin}tsc --noEmit`, `${bin}eslint .`, `${bin}tsc`, `${bin}jest`]);
    expect(names(plan.commands)).toEqual(['npm typecheck', 'npm lint', 'npm build', 'npm test']);
    expect(plan.browser).toBeUndefined();
  });

  it('uses the package manager the lockfile names and skips npm\'s placeholder test script', async () => {
    const plan = await discover({ 'package.json': JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1', build: 'x' } }), 'pnpm-lock.yaml': '' });
    expect(plan.install.map((s) => s.run)).toEqual(['pnpm install --frozen-lockfile']);
    expect(names(plan.commands)).toEqual(['pnpm build']);
  });

  it('finds Makefile targets', async () => {
    const plan = await discover({ Makefile: 'VAR := 1\nbuild:\n\tcc x.c\ntest: build\n\t./x\nclean:\n\trm x\n' });
    expect(names(plan.commands)).toEqual(['make build', 'make test']);
    expect(plan.install).toEqual([]);
  });

  it('finds pytest, cargo and go projects', async () => {
    expect(names((await discover({ 'pyproject.toml': '[tool.pytest.ini_options]\n' })).commands)).toEqual(['pytest']);
    expect(names((await discover({ 'Cargo.toml': '[package]\nname="x"\n' })).commands)).toEqual(['cargo build', 'cargo test']);
    expect(names((await discover({ 'go.mod': 'module x\n' })).commands)).toEqual(['go build', 'go test']);
  });

  it('says plainly when there is nothing to run', async () => {
    const plan = await discover({ 'README.md': 'hi' });
    expect(plan).toMatchObject({ source: 'none', commands: [], install: [] });
    expect(plan.notes[0]).toMatch(/no validation command found/);
  });

  it('prefers the input, then .mission/config.json, over discovery; the browser command only when configured', async () => {
    const files = {
      'package.json': JSON.stringify({ scripts: { test: 'jest' } }),
      '.mission/config.json': JSON.stringify({ validation: { commands: [{ name: 'smoke', run: './smoke.sh', timeoutSec: 30 }], browser: 'node walk.js' } }),
    };
    const fromConfig = await discover(files);
    expect(fromConfig).toMatchObject({ source: 'config', commands: [{ name: 'smoke', run: './smoke.sh', timeoutSec: 30 }], browser: { run: 'node walk.js' } });
    const fromInput = await discover(files, { commands: [{ name: 'unit', run: 'make unit' }], browser: 'node other.js' });
    expect(fromInput).toMatchObject({ source: 'input', commands: [{ name: 'unit', run: 'make unit', timeoutSec: 600 }], browser: { run: 'node other.js' } });
  });

  it('rejects a broken .mission/config.json naming the file and the field', async () => {
    const err = await discover({ '.mission/config.json': JSON.stringify({ validation: { comands: [] } }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('INVALID_INPUT');
    expect((err as ApplicationFailure).message).toMatch(/\.mission\/config\.json is invalid: validation\.comands: unknown field \(did you mean "commands"\?\)/);
  });
});

describe('running validation commands', () => {
  const run = (worktree: string, s: Partial<ValidationStep> & { run: string }) =>
    acts.runValidationCommand({ missionKey: 'k', worktree, step: { name: s.run, timeoutSec: 60, ...s } });

  it('records command, exit code, duration and the tail of the output, without secrets in the environment', async () => {
    const repo = makeRepo();
    const result = await run(repo, { name: 'check', run: 'echo "key=${OPENAI_API_KEY:-none} ci=$CI"; exit 4' });
    expect(result).toMatchObject({ name: 'check', command: result.command, exitCode: 4, timedOut: false, outputTail: 'key=none ci=true\n' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('kills a hanging command and its children at the timeout', async () => {
    const repo = makeRepo();
    const sleep = uniqueSleep();
    const started = Date.now();
    const result = await run(repo, { run: `${sleep} & sleep 300`, timeoutSec: 1 });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(6000);
    await new Promise((r) => setTimeout(r, 300));
    expect(processRunning(sleep)).toBe(false);
  });

  it('repeats a dependency install only when its lockfile changed, and never records a failed one', async () => {
    const repo = makeRepo({ 'package-lock.json': '{"v":1}' });
    writeFiles(repo, { 'count.sh': 'echo run >> installs.log' });
    const install = { name: 'npm install', run: 'sh count.sh', lockfile: 'package-lock.json' };
    expect((await run(repo, install)).skipped).toBeUndefined();
    expect((await run(repo, install)).skipped).toBe('package-lock.json unchanged since the last install');
    writeFileSync(path.join(repo, 'package-lock.json'), '{"v":2}');
    expect((await run(repo, install)).skipped).toBeUndefined();
    expect(readFileSync(path.join(repo, 'installs.log'), 'utf8')).toBe('run\nrun\n');

    const failing = { name: 'pnpm install', run: 'exit 1', lockfile: 'package-lock.json' };
    expect((await run(repo, failing)).exitCode).toBe(1);
    expect((await run(repo, failing)).skipped).toBeUndefined();
  });
});
