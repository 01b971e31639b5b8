import { existsSync, promises as fs, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { missionFailure } from '../../api/errors';
import type { SandboxInfo } from '../../api/status';
import { Git } from '../gitcore';
import { runShell, type ShellOptions, type ShellResult } from '../shell';
import { bwrapArgs, probeBwrap } from './bwrap';
import { CommandCgroup, usableParents } from './cgroup';
import { ResourceGuard } from './guard';
import { LANDLOCK_IN_SANDBOX, landlockArgv, landlockHelper, type LandlockHelper } from './landlock';
import { allowedEnv, DEFAULT_LIMITS, detectRefusal, ENV_NAME, SANDBOX_HOME, SANDBOX_TMP, type SandboxLimits, type SandboxPolicy } from './policy';
import { SANDBOX_EXEC, seatbeltArgv } from './seatbelt';

export { allowedEnv, detectRefusal, DEFAULT_LIMITS, type SandboxPolicy, type SandboxLimits } from './policy';
export { bwrapArgs } from './bwrap';
export { buildHelper, landlockHelper } from './landlock';
export { seatbeltProfile } from './seatbelt';

/** MISSION_SANDBOX: `auto` picks bubblewrap on Linux and sandbox-exec on macOS; `off` is the explicit opt-out. */
export const SANDBOX_MODES = ['auto', 'bwrap', 'off'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export interface SandboxSettings {
  mode?: SandboxMode;
  /** bubblewrap binary (MISSION_BWRAP_PATH); default `bwrap` on PATH. */
  bwrapPath?: string;
  /** MISSION_SANDBOX_NETWORK=deny: no mission may give agent commands network. */
  allowNetwork?: boolean;
  /** MISSION_HOME: hidden from commands (other missions, conversations, reports). */
  missionHome?: string;
  /** Where allowed variables are taken from (the worker's environment). */
  env?: NodeJS.ProcessEnv;
  limits?: SandboxLimits;
  /** false: never a cgroup per command, the guard alone holds the totals (tests of that path). */
  cgroups?: boolean;
  /** false: no Landlock layer even where it could be had (default: used when the helper builds and the kernel has it). */
  landlock?: boolean;
}

export type Backend = { kind: 'bwrap'; path: string; sizedTmpfs?: boolean } | { kind: 'sandbox-exec' } | { kind: 'off' } | { kind: 'unavailable'; reason: string };

export interface CommandRequest extends Omit<ShellOptions, 'cwd' | 'env' | 'argv'> {
  command: string;
  /** The working tree: the only writable place. */
  workdir: string;
  network: boolean;
  /** Extra variable names from the repository's `.mission/config.json` `env`. */
  envNames?: readonly string[];
  /** Validation commands get CI=true. */
  ci?: boolean;
}

export interface SandboxedResult extends ShellResult {
  /** What the sandbox stopped, when the output shows it (see detectRefusal), or the limit it was stopped at. */
  refused?: string;
  /** The total the command crossed (processes, memory, disk); it was stopped there. */
  limit?: string;
}

const probes = new Map<string, Backend>();

/** Which backend this worker process has; probed once per process and setting, then remembered. */
export function detectBackend(mode: SandboxMode = 'auto', bwrapPath = 'bwrap'): Backend {
  const key = `${mode}\0${bwrapPath}`;
  let found = probes.get(key);
  if (!found) {
    found = probe(mode, bwrapPath);
    probes.set(key, found);
  }
  return found;
}

function probe(mode: SandboxMode, bwrapPath: string): Backend {
  if (mode === 'off') return { kind: 'off' };
  if (mode === 'auto' && process.platform === 'darwin') {
    return existsSync(SANDBOX_EXEC) ? { kind: 'sandbox-exec' } : { kind: 'unavailable', reason: `${SANDBOX_EXEC} not found` };
  }
  if (process.platform !== 'linux') return { kind: 'unavailable', reason: `no sandbox for ${process.platform}` };
  const checked = probeBwrap(bwrapPath);
  return checked.ok ? { kind: 'bwrap', path: bwrapPath, sizedTmpfs: checked.sizedTmpfs } : { kind: 'unavailable', reason: checked.reason };
}

/**
 * The one way Mission runs a command an agent asked for or a validation step: under the worker's sandbox
 * backend with a policy built for the command's working tree, and an allowlisted environment.
 */
export class Sandbox {
  constructor(readonly settings: SandboxSettings) {}

  backend(): Backend {
    return detectBackend(this.settings.mode, this.settings.bwrapPath);
  }

  /**
   * Checked at prepare: the mission fails there, clearly, when no sandbox can be had (unless the worker opted
   * out) or when it asks for more network than the worker allows.
   */
  require(request: { network: boolean; env: string[] }): SandboxInfo {
    const backend = this.backend();
    if (backend.kind === 'unavailable') {
      throw missionFailure(
        'SANDBOX_UNAVAILABLE',
        `no sandbox for agent commands on this worker (${backend.reason}). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; ` +
          'Fedora: dnf install bubblewrap) or point MISSION_BWRAP_PATH at it, then start the mission again; or set MISSION_SANDBOX=off on the worker ' +
          'to run agent commands unsandboxed, with the worker user\'s full access to files, processes, secrets and network.',
      );
    }
    if (request.network && this.settings.allowNetwork === false) {
      throw missionFailure('INVALID_INPUT', 'sandbox.network is true but this worker does not allow network for agent commands (MISSION_SANDBOX_NETWORK=deny); start the mission with "sandbox": {"network": false} or on another worker');
    }
    const info: SandboxInfo = { backend: backend.kind, network: request.network, env: request.env };
    if (backend.kind === 'bwrap') info.layers = this.layers();
    if (backend.kind === 'off') info.note = 'off (opted out with MISSION_SANDBOX=off): agent and validation commands run with the worker user\'s full access';
    return info;
  }

  /** The second layer and what holds the totals, as the status and the report say them. */
  layers(): string[] {
    const ll = this.landlock();
    const parents = this.settings.cgroups === false ? {} : usableParents();
    const kernel = [parents.pids && 'processes', parents.memory && 'memory'].filter(Boolean).join(' and ');
    return [
      ll.ok ? `Landlock ABI ${ll.abi}: writes only in the working tree, /tmp and /dev` : `Landlock: not used (${ll.reason})`,
      kernel ? `limits: ${kernel} held by a cgroup per command, the rest by the resource guard` : 'limits: held by the resource guard (no cgroup the worker may create)',
    ];
  }

  private landlock(): LandlockHelper {
    return this.settings.landlock === false ? { ok: false, reason: 'turned off for this worker' } : landlockHelper();
  }

  /** The policy for one command in `workdir` (pure data; the backends turn it into arguments or a profile). */
  policy(req: Pick<CommandRequest, 'workdir' | 'network' | 'envNames' | 'ci'>, home = SANDBOX_HOME, tmp = SANDBOX_TMP): SandboxPolicy {
    const workdir = realpathSync(req.workdir);
    const git = gitLayout(workdir);
    const env = this.settings.env ?? process.env;
    const hidden = unique([os.homedir(), env.HOME, '/home', '/root', this.settings.missionHome, git.checkout])
      .filter((p): p is string => !!p && p !== '/' && existsSync(p))
      .map((p) => realpathSync(p))
      .filter((p) => p !== workdir);
    return {
      cwd: workdir,
      writable: [workdir],
      readOnly: unique([git.commonDir, git.gitDir]).filter((p): p is string => !!p && existsSync(p)),
      hidden: unique(hidden),
      network: req.network && this.settings.allowNetwork !== false,
      env: allowedEnv(env, { home, tmp, extra: req.envNames, network: req.network, ci: req.ci }),
      limits: this.settings.limits ?? DEFAULT_LIMITS,
    };
  }

  /** Runs `bash -c command` in the sandbox. Rejects with SANDBOX_UNAVAILABLE when the worker has none. */
  async run(req: CommandRequest): Promise<SandboxedResult> {
    const backend = this.backend();
    const shell = { timeoutSec: req.timeoutSec, maxOutputChars: req.maxOutputChars, signal: req.signal, onProgress: req.onProgress };
    if (backend.kind === 'unavailable') {
      throw missionFailure('SANDBOX_UNAVAILABLE', `no sandbox for commands on this worker (${backend.reason}); install bubblewrap or set MISSION_SANDBOX=off`);
    }
    if (backend.kind === 'off') {
      const env = this.settings.env ?? process.env;
      const policyEnv = allowedEnv(env, { home: env.HOME ?? os.homedir(), tmp: env.TMPDIR ?? os.tmpdir(), extra: req.envNames, network: true, ci: req.ci });
      return runShell(req.command, { ...shell, cwd: req.workdir, env: policyEnv });
    }
    if (backend.kind === 'bwrap') {
      return this.runBwrap(backend, req, shell);
    }
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mission-sandbox-'));
    try {
      await Promise.all([fs.mkdir(path.join(scratch, 'home')), fs.mkdir(path.join(scratch, 'tmp'))]);
      const policy = this.policy(req, path.join(scratch, 'home'), path.join(scratch, 'tmp'));
      const result = await runShell(req.command, { ...shell, cwd: policy.cwd, env: policy.env, argv: seatbeltArgv(policy, realpathSync(scratch), limited(policy.limits, req.command)) });
      return withRefusal(result, policy.network);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** bubblewrap, inside the command's own cgroup when the worker may make one, watched by the resource guard. */
  private async runBwrap(bwrap: { path: string; sizedTmpfs?: boolean }, req: CommandRequest, shell: Omit<ShellOptions, 'cwd' | 'env'>): Promise<SandboxedResult> {
    const policy = this.policy(req);
    const cgroup = this.settings.cgroups === false ? undefined : await CommandCgroup.create(policy.limits);
    let guard: ResourceGuard | undefined;
    try {
      const ll = this.landlock();
      const landlock = ll.ok ? { helper: ll.path, writable: [...policy.writable, SANDBOX_TMP, '/dev'] } : undefined;
      const argv = [...(cgroup?.joinArgv() ?? []), ...bwrapArgv(bwrap.path, policy, req.command, { sizedTmpfs: bwrap.sizedTmpfs !== false, landlock })];
      const onStart = (pid: number, info?: Readable) => void (guard = new ResourceGuard(pid, info, { limits: policy.limits, workdir: policy.cwd, cgroup }));
      const result = await runShell(req.command, { ...shell, cwd: policy.cwd, env: policy.env, argv, infoPipe: true, onStart });
      const limit = await guard?.stop();
      if (!limit) return withRefusal(result, policy.network, bwrap.sizedTmpfs !== false ? policy.limits.diskBytes : undefined);
      return { ...result, output: `${result.output}${result.output && !result.output.endsWith('\n') ? '\n' : ''}[sandbox] stopped: ${limit}\n`, limit, refused: limit };
    } finally {
      // Not awaited: the last processes of a killed namespace may hold the cgroups a little longer.
      void cgroup?.remove();
    }
  }
}

/**
 * The whole bubblewrap command line: bwrap (telling its namespace init's pid on fd 3), the policy's mounts,
 * then inside it the Landlock helper when given (bound read-only: it lives in the user's cache, under the
 * hidden HOME), which may write only beneath `landlock.writable`, then the command under its rlimits.
 */
export function bwrapArgv(bwrap: string, policy: SandboxPolicy, command: string, opts: { sizedTmpfs?: boolean; landlock?: { helper: string; writable: string[] } } = {}): string[] {
  const { landlock } = opts;
  const mount = landlock ? ['--ro-bind', landlock.helper, LANDLOCK_IN_SANDBOX] : [];
  const confine = landlock ? landlockArgv(LANDLOCK_IN_SANDBOX, landlock.writable) : [];
  return [bwrap, '--info-fd', '3', ...bwrapArgs(policy, undefined, opts.sizedTmpfs !== false), ...mount, '--', ...confine, ...limited(policy.limits, command)];
}

function withRefusal(result: ShellResult, network: boolean, diskBytes?: number): SandboxedResult {
  const refused = detectRefusal(result.output, network, diskBytes);
  return refused ? { ...result, refused } : result;
}

/**
 * `bash -c command` under the policy's limits. `ulimit` sets soft and hard limits, so the command cannot
 * raise them again; one that the worker's own hard limit already keeps lower stays as it is.
 */
export function limited(limits: SandboxLimits, command: string): string[] {
  const kb = (bytes: number) => Math.floor(bytes / 1024);
  const set = `{ ulimit -c 0; ulimit -u ${limits.processes}; ulimit -d ${kb(limits.dataBytes)}; ulimit -f ${kb(limits.fileBytes)}; } 2>/dev/null`;
  return ['bash', '-c', `${set}; exec bash -c "$1"`, 'mission-sandbox', command];
}

/** The git folders of a working tree: its own (a worktree's, under the shared one) and the shared one. */
export function gitLayout(workdir: string): { gitDir?: string; commonDir?: string; checkout?: string } {
  const dotGit = path.join(workdir, '.git');
  let gitDir: string;
  try {
    if (statSync(dotGit).isDirectory()) gitDir = dotGit;
    else {
      const line = readFileSync(dotGit, 'utf8').match(/^gitdir:\s*(.+)$/m)?.[1]?.trim();
      if (!line) return {};
      gitDir = path.resolve(workdir, line);
    }
  } catch {
    return {};
  }
  let commonDir = gitDir;
  try {
    commonDir = path.resolve(gitDir, readFileSync(path.join(gitDir, 'commondir'), 'utf8').trim());
  } catch {
    // not a linked worktree: its git folder is the shared one
  }
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);
  commonDir = real(commonDir);
  const checkout = path.basename(commonDir) === '.git' ? path.dirname(commonDir) : undefined;
  return { gitDir: real(gitDir), commonDir, checkout };
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/**
 * The `env` names of `.mission/config.json` as committed at `commit` (the mission's base), never as an agent
 * left it in a working tree: an agent must not be able to list the worker's variables it wants to read.
 * Names that look like secrets are dropped by the caller's scrubbing of the source environment anyway.
 */
export async function repoEnvNames(repo: string, commit: string): Promise<string[]> {
  // Through the git helper (no fork of the worker; Mission's git settings), and cat-file: it reads an object only.
  const text = await new Git(repo).attempt(['cat-file', 'blob', `${commit}:.mission/config.json`]);
  if (!text) return [];
  try {
    const env = (JSON.parse(text) as { env?: unknown }).env;
    return Array.isArray(env) ? env.filter((n): n is string => typeof n === 'string' && ENV_NAME.test(n)) : [];
  } catch {
    return []; // prepare reports an invalid config itself
  }
}
