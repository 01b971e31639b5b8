import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { activityContext, heartbeat } from './activity-context';
import { z } from 'zod';
import { describeIssues } from '../api/issues';
import { ValidationSettings } from '../api/input';
import { missionFailure } from '../api/errors';
import type { CommandRun } from '../api/status';
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
  /** Commands from the input, else `.mission/config.json`, else discovered from the repository's build files. */
  async function discoverValidation(input: { worktree: string; configured: ValidationSettings }): Promise<ValidationPlan> {
    const { worktree, configured } = input;
    const fromConfig = await readRepoConfig(worktree);
    const browserRun = configured.browser ?? fromConfig?.browser;
    const browser = browserRun ? step('browser walkthrough', browserRun) : undefined;
    const explicit = (commands: ValidationSettings['commands'], source: 'input' | 'config'): ValidationPlan => ({
      source,
      install: [],
      commands: (commands ?? []).map((c) => step(c.name, c.run, c.timeoutSec)),
      browser,
      notes: [`commands from ${source === 'input' ? 'the mission input' : '.mission/config.json'}`],
    });
    if (configured.commands?.length) return explicit(configured.commands, 'input');
    if (fromConfig?.commands?.length) return explicit(fromConfig.commands, 'config');
    const found = await discover(worktree);
    const none = !found.commands.length;
    return {
      source: none ? 'none' : 'discovered',
      install: found.install,
      commands: found.commands,
      browser,
      notes: none ? ['no validation command found (no package.json scripts, Makefile, pyproject, Cargo.toml or go.mod)'] : found.notes,
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

export async function readRepoConfig(worktree: string): Promise<ValidationSettings | undefined> {
  const file = path.join(worktree, '.mission', 'config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
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
async function discover(dir: string): Promise<{ install: ValidationStep[]; commands: ValidationStep[]; notes: string[] }> {
  const install: ValidationStep[] = [];
  const commands: ValidationStep[] = [];
  const notes: string[] = [];
  const has = async (file: string) => (await firstExisting(dir, [file])) !== undefined;

  const pkg = await readJson(path.join(dir, 'package.json'));
  if (pkg) {
    const scripts = (pkg.scripts ?? {}) as Record<string, string>;
    const manager = (await has('pnpm-lock.yaml')) ? 'pnpm' : (await has('yarn.lock')) ? 'yarn' : 'npm';
    const lock = await firstExisting(dir, ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock']);
    const hasDeps = Object.keys({ ...(pkg.dependencies ?? {}), ...(pkg.devDependencies ?? {}) }).length > 0;
    if (lock) {
      const run = manager === 'pnpm' ? 'pnpm install --frozen-lockfile' : manager === 'yarn' ? 'yarn install --frozen-lockfile' : 'npm ci';
      install.push({ ...step(`${manager} install`, run, INSTALL_TIMEOUT_SEC), lockfile: lock });
    } else if (hasDeps) {
      install.push(step('npm install', 'npm install', INSTALL_TIMEOUT_SEC));
    }
    for (const name of SCRIPT_ORDER) {
      const script = scripts[name];
      if (!script || (name === 'test' && NPM_PLACEHOLDER_TEST.test(script))) continue;
      commands.push(step(`${manager} ${name}`, `${manager} run ${name}`));
    }
    notes.push(`package.json scripts: ${Object.keys(scripts).join(', ') || 'none'}${lock ? `; lockfile ${lock}` : ''}`);
  }

  const makefile = await firstExisting(dir, ['Makefile', 'makefile', 'GNUmakefile']);
  if (makefile) {
    const text = await fs.readFile(path.join(dir, makefile), 'utf8');
    const targets = new Set([...text.matchAll(/^([A-Za-z0-9_.-]+)\s*:(?!=)/gm)].map((m) => m[1]!));
    for (const target of MAKE_TARGETS.filter((t) => targets.has(t))) commands.push(step(`make ${target}`, `make ${target}`));
    notes.push(`${makefile} targets: ${[...targets].join(', ') || 'none'}`);
  }

  const pyproject = (await has('pyproject.toml')) ? await fs.readFile(path.join(dir, 'pyproject.toml'), 'utf8') : '';
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

async function firstExisting(dir: string, names: string[]): Promise<string | undefined> {
  for (const name of names) {
    if (await fs.access(path.join(dir, name)).then(() => true, () => false)) return name;
  }
  return undefined;
}

async function readJson(file: string): Promise<Record<string, Record<string, unknown> | undefined> | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
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

