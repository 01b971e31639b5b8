import { spawnSync } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { isInside, SANDBOX_HOME, type SandboxPolicy } from './policy';

/**
 * The bubblewrap backend: a read-only view of the whole system, fresh /dev, /proc (of a new PID namespace)
 * and /tmp, the hidden paths covered by empty tmpfs, the shared .git re-shown read-only, the working tree
 * the one writable bind. New user, PID, IPC, UTS and cgroup namespaces always; a new network namespace
 * (loopback only) unless the policy has network. --die-with-parent and the PID namespace mean nothing
 * the command started outlives it; --new-session keeps it from the worker's terminal (TIOCSTI).
 */
export function bwrapArgs(policy: SandboxPolicy, resolvConf = resolvConfTarget(), sizedTmpfs = true): string[] {
  const args = ['--die-with-parent', '--new-session', '--unshare-all', ...(policy.network ? ['--share-net'] : []), '--cap-drop', 'ALL'];
  // The private /tmp and /dev/shm hold at most the disk limit each (tmpfs lives in memory; the guard counts both).
  const size = sizedTmpfs ? ['--size', `${policy.limits.diskBytes}`] : [];
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', ...size, '--tmpfs', '/tmp', ...size, '--tmpfs', '/dev/shm');
  // /run holds sockets (docker, dbus) that a read-only mount does not stop anyone from connecting to.
  args.push('--tmpfs', '/run');
  if (policy.network && resolvConf && isInside(resolvConf, '/run')) args.push('--ro-bind', resolvConf, resolvConf);
  const bound = [...policy.readOnly, ...policy.writable];
  const hide = (p: string) => (isDirectory(p) ? ['--tmpfs', p] : ['--ro-bind', '/dev/null', p]);
  for (const p of policy.hidden) args.push(...hide(p));
  // Writable before read-only: a repository's own .git inside the working tree stays read-only.
  for (const p of policy.writable) args.push('--bind', p, p);
  for (const p of policy.readOnly) args.push('--ro-bind', p, p);
  // A hidden path inside a bound one (MISSION_HOME inside a working tree in a test) is covered again.
  for (const p of policy.hidden) if (bound.some((b) => b !== p && isInside(p, b))) args.push(...hide(p));
  // Read-only last (not recursive: the binds inside stay as they are), so a write there fails loudly (EROFS)
  // instead of vanishing into a throwaway tmpfs.
  for (const p of policy.hidden) if (isDirectory(p)) args.push('--remount-ro', p);
  args.push('--dir', SANDBOX_HOME, '--chdir', policy.cwd);
  return args;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return true;
  }
}

function resolvConfTarget(): string | undefined {
  try {
    return realpathSync('/etc/resolv.conf');
  } catch {
    return undefined;
  }
}

/**
 * Whether `bwrap` works here: present, and allowed to create the namespaces it needs (some containers and
 * hardened kernels forbid unprivileged user namespaces). Returns the reason when not.
 */
export function probeBwrap(bwrapPath: string): { ok: true; sizedTmpfs: boolean } | { ok: false; reason: string } {
  const result = spawnSync(bwrapPath, ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? `${bwrapPath} not found` : `${bwrapPath} could not start (${result.error.message})` };
  }
  if (result.status !== 0) return { ok: false, reason: `${bwrapPath} cannot create a sandbox here: ${(result.stderr || `exit ${result.status}`).trim()}` };
  // --size came with bubblewrap 0.7; an older one still sandboxes, with /tmp bounded by the guard alone.
  const sized = spawnSync(bwrapPath, ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '--size', '1048576', '--tmpfs', '/tmp', '--', 'true'], { timeout: 10_000 });
  return { ok: true, sizedTmpfs: sized.status === 0 };
}
