import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { activityContext, heartbeat } from './activity-context';
import { z } from 'zod';
import { describeIssues } from '../api/issues';
import { ValidationSettings } from '../api/input';
import { missionFailure } from '../api/errors';
import type { CommandRun } from '../api/status';
import { Git } from './gitcore';
import type { MissionPaths } from './paths';
import { ENV_NAME } from './sandbox/policy';
import { Sandbox } from './sandbox';
import { scrubEnv } from './shell';

export interface ValidationStep {
  name: string;
  run: string;
  timeoutSec: number;
  /** For dependency installs: the lockfile whose change makes the install run again. */
  lockfile?: string;
}

export interface ValidationPlan {
  source: 'input' | 'config' | 'discovered' | 'none';
  install: ValidationStep[];
  commands: ValidationStep[];
  browser?: ValidationStep;
  /** What discovery saw, in words (shown in the report). */
  notes: string[];
}

/** `.mission/config.json` in the repository. */
export const RepoConfig = z.strictObject({
  validation: ValidationSettings.optional(),
  /** Names of worker variables that commands get beyond the fixed allowlist (read from the base commit). */
  env: z.array(z.string().regex(ENV_NAME, 'must be a variable name such as NODE_OPTIONS')).optional(),
});

const DEFAULT_TIMEOUT_SEC = 600;
const INSTALL_TIMEOUT_SEC = 900;
const OUTPUT_TAIL = 8000;
const SCRIPT_ORDER = ['typecheck', 'lint', 'build', 'test'];
const MAKE_TARGETS = ['check', 'lint', 'build', 'test'];
const NPM_PLACEHOLDER_TEST = /no test specified/;

const step = (name: string, run: string, timeoutSec = DEFAULT_TIMEOUT_SEC): ValidationStep => ({ name, run, timeoutSec });

export function createValidationActivities(deps: { paths: MissionPaths; env?: NodeJS.ProcessEnv; sandbox?: Sandbox }) {
  const sandbox = deps.sandbox ?? new Sandbox({ missionHome: deps.paths.home, env: scrubEnv(deps.env ?? process.env) });
  /**
   * Commands from the input, else `.mission/config.json`, else discovered from the repository's build files. Config
   * and build files are read from the mission's BASE commit, never from the tree the agents edited: an agent must not
   * be able to rewrite the checks its own work is judged by (issue 12, item 5). Only runs recorded before this was
   * passed (no repo and base commit in the input) still read the worktree.
   */
  async function discoverValidation(input: { worktree: string; configured: ValidationSettings; repo?: string; baseCommit?: string }): Promise<ValidationPlan> {
    const { worktree, configured } = input;
    const source = input.repo && input.baseCommit ? commitTree(input.repo, input.baseCommit) : folderTree(worktree);
    const fromConfig = await readRepoConfig(source);
    const browserRun = configured.browser ?? fromConfig?.browser;
    const browser = browserRun ? step('browser walkthrough', browserRun) : undefined;
    const explicit = (commands: ValidationSettings['commands'], from: 'input' | 'config'): ValidationPlan => ({
      source: from,
      install: [],
      commands: (commands ?? []).map((c) => step(c.name, c.run, c.timeoutSec)),
      browser,
      notes: [`commands from ${from === 'input' ? 'the mission input' : `.mission/config.json of ${source.label}`}`],
    });
    if (configured.commands?.length) return explicit(configured.commands, 'input');
    if (fromConfig?.commands?.length) return explicit(fromConfig.commands, 'config');
    const found = await discover(source);
    const none = !found.commands.length;
    return {
      source: none ? 'none' : 'discovered',
      install: found.install,
      commands: found.commands,
      browser,
      notes: none ? [`no validation command found in ${source.label} (no package.json scripts, Makefile, pyproject, Cargo.toml or go.mod)`] : [`discovered in ${source.label}`, ...found.notes],
    };
  }

  /**
   * Runs one validation step in the worktree, sandboxed: timeout, heartbeats, cancellation kills the process group.
   * Dependency installs (`install`) may reach the network (package registries); other steps only when the
   * mission's `sandbox.network` allows it (they run code the agents wrote).
   */
  async function runValidationCommand(input: {
    missionKey: string;
    worktree: string;
    step: ValidationStep;
    install?: boolean;
    sandbox?: { network: boolean; env: string[] };
  }): Promise<CommandRun> {
    const { step: s, worktree } = input;
    const stateFile = path.join(deps.paths.missionDir(input.missionKey), 'install-state.json');
    const lockHash = s.lockfile ? await hashFile(path.join(worktree, s.lockfile)) : undefined;
    if (lockHash && (await readInstallState(stateFile))[s.name] === lockHash) {
      return { name: s.name, command: s.run, exitCode: 0, durationMs: 0, timedOut: false, outputTail: '', skipped: `${s.lockfile} unchanged since the last install` };
    }
    const context = activityContext();
    const result = await sandbox.run({
      command: s.run,
      workdir: worktree,
      network: input.install === true || input.sandbox?.network === true,
      envNames: input.sandbox?.env,
      ci: true,
      timeoutSec: s.timeoutSec,
      maxOutputChars: OUTPUT_TAIL,
      signal: context?.cancellationSignal,
      onProgress: () => heartbeat(context),
    });
    if (lockHash && result.exitCode === 0) await writeInstallState(stateFile, { ...(await readInstallState(stateFile)), [s.name]: lockHash });
    return { name: s.name, command: s.run, exitCode: result.exitCode, durationMs: result.durationMs, timedOut: result.timedOut, outputTail: result.output };
  }

  return { discoverValidation, runValidationCommand };
}

/** Where discovery reads a repository's files: a commit (what validation uses) or a folder. */
export interface RepoTree {
  label: string;
  /** Whether a top-level entry (file or folder) exists. */
  has(name: string): Promise<boolean>;
  /** A file's text, or undefined when there is none. */
  read(name: string): Promise<string | undefined>;
}

/** The files of `commit`, read with git (through Mission's git helper: cat-file runs no textconv or filter). */
export function commitTree(repo: string, commit: string): RepoTree {
  const git = new Git(repo);
  let names: Promise<Set<string>> | undefined;
  return {
    label: `the base commit ${commit.slice(0, 8)}`,
    async has(name) {
      names ??= git.run(['ls-tree', '--name-only', commit]).then((out) => new Set(out.split('\n').filter(Boolean)));
      return (await names).has(name);
    },
    async read(name) {
      return (await git.succeeds(['cat-file', '-e', `${commit}:${name}`])) ? git.run(['cat-file', 'blob', `${commit}:${name}`]) : undefined;
    },
  };
}

export function folderTree(dir: string): RepoTree {
  return {
    label: dir,
    has: (name) => fs.access(path.join(dir, name)).then(() => true, () => false),
    read: (name) => fs.readFile(path.join(dir, name), 'utf8').catch(() => undefined),
  };
}

export async function readRepoConfig(from: string | RepoTree): Promise<ValidationSettings | undefined> {
  const tree = typeof from === 'string' ? folderTree(from) : from;
  const text = await tree.read('.mission/config.json');
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw missionFailure('INVALID_INPUT', `.mission/config.json is not valid JSON (${(err as Error).message}); fix it on the base branch or pass validation.commands in the input`);
  }
  const parsed = RepoConfig.safeParse(json);
  if (!parsed.success) {
    throw missionFailure('INVALID_INPUT', `.mission/config.json is invalid: ${describeIssues(parsed.error, RepoConfig).join('; ')}; expected {"validation": {"commands": [{"name", "run", "timeoutSec?"}], "browser?": "..."}}`);
  }
  return parsed.data.validation;
}

/** Discovery across ecosystems; a repository with several gets the commands of each. */
async function discover(tree: RepoTree): Promise<{ install: ValidationStep[]; commands: ValidationStep[]; notes: string[] }> {
  const install: ValidationStep[] = [];
  const commands: ValidationStep[] = [];
  const notes: string[] = [];
  const has = (file: string) => tree.has(file);

  const pkg = parseJson(await tree.read('package.json'));
  if (pkg) {
    const scripts = (pkg.scripts ?? {}) as Record<string, string>;
    const manager = (await has('pnpm-lock.yaml')) ? 'pnpm' : (await has('yarn.lock')) ? 'yarn' : 'npm';
    const lock = await firstExisting(tree, ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock']);
    const hasDeps = Object.keys({ ...(pkg.dependencies ?? {}), ...(pkg.devDependencies ?? {}) }).length > 0;
    if (lock) {
      // The install follows the worktree's lockfile (the agents' new dependencies must be there to test their work);
      // runValidationCommand hashes that lockfile to skip an install that nothing changed.
      const run = manager === 'pnpm' ? 'pnpm install --frozen-lockfile' : manager === 'yarn' ? 'yarn install --frozen-lockfile' : 'npm ci';
      install.push({ ...step(`${manager} install`, run, INSTALL_TIMEOUT_SEC), lockfile: lock });
    } else if (hasDeps) {
      install.push(step('npm install', 'npm install', INSTALL_TIMEOUT_SEC));
    }
    for (const name of SCRIPT_ORDER) {
      const script = scripts[name];
      if (!script || (name === 'test' && NPM_PLACEHOLDER_TEST.test(script))) continue;
      commands.push(step(`${manager} ${name}`, scriptCommand(scripts, name)));
    }
    notes.push(`package.json scripts: ${Object.keys(scripts).join(', ') || 'none'}${lock ? `; lockfile ${lock}` : ''}`);
  }

  const makefile = await firstExisting(tree, ['Makefile', 'makefile', 'GNUmakefile']);
  if (makefile) {
    const text = (await tree.read(makefile)) ?? '';
    const targets = new Set([...text.matchAll(/^([A-Za-z0-9_.-]+)\s*:(?!=)/gm)].map((m) => m[1]!));
    for (const target of MAKE_TARGETS.filter((t) => targets.has(t))) commands.push(step(`make ${target}`, `make ${target}`));
    notes.push(`${makefile} targets: ${[...targets].join(', ') || 'none'}`);
  }

  const pyproject = (await tree.read('pyproject.toml')) ?? '';
  if (/pytest/.test(pyproject) || (await has('pytest.ini')) || ((pyproject || (await has('setup.py'))) && (await has('tests')))) {
    commands.push(step('pytest', 'python3 -m pytest -q'));
    notes.push('python project with pytest');
  }
  if (await has('Cargo.toml')) {
    commands.push(step('cargo build', 'cargo build --quiet'), step('cargo test', 'cargo test --quiet'));
    notes.push('Cargo.toml');
  }
  if (await has('go.mod')) {
    commands.push(step('go build', 'go build ./...'), step('go test', 'go test ./...'));
    notes.push('go.mod');
  }
  return { install, commands, notes };
}

/**
 * A package.json script as the base commit has it. `npm run test` would run the WORKTREE's package.json, where an
 * agent can have turned `jest` into `exit 0`; so the base commit's text runs itself, as npm would run it: the
 * `pre`/`post` scripts around it, stopping at the first failure, with node_modules/.bin first on PATH (in a subshell
 * each, so a script's own `||` or `;` keeps its meaning). What a script calls in turn (another `npm run`, a test
 * file) is the worktree's: that is the work under test.
 */
export function scriptCommand(scripts: Record<string, string>, name: string): string {
  const parts = [scripts[`pre${name}`], scripts[name], scripts[`post${name}`]].filter((s): s is string => !!s);
  const body = parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' && ');
  return `export PATH="$PWD/node_modules/.bin:$PATH"; ${body}`;
}

async function firstExisting(tree: RepoTree, names: string[]): Promise<string | undefined> {
  for (const name of names) {
    if (await tree.has(name)) return name;
  }
  return undefined;
}

function parseJson(text: string | undefined): Record<string, Record<string, unknown> | undefined> | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, Record<string, unknown>>;
  } catch {
    return undefined;
  }
}

async function hashFile(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

async function readInstallState(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

async function writeInstallState(file: string, state: Record<string, string>): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(state, null, 2));
}

