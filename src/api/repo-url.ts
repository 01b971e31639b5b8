/**
 * A mission's `repo` may be a git URL instead of a path on the worker host: the host clones it into its cache
 * (src/activities/remote.ts) and pushes the mission's branches back. Only plain transports: https, ssh (also the
 * scp-like `user@host:path`), git and file. Credentials never come in the URL (they would be in the workflow's
 * input and history): the worker's own git configuration (ssh keys, credential helpers) supplies them.
 */
export type RepoTransport = 'https' | 'ssh' | 'git' | 'file';

const SCP_LIKE = /^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;

/** The URL's transport, or undefined when `repo` is not a URL (a path). */
export function repoTransport(repo: string): RepoTransport | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(repo)?.[1]?.toLowerCase();
  if (scheme) return scheme === 'https' || scheme === 'ssh' || scheme === 'git' || scheme === 'file' ? scheme : undefined;
  return !repo.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(repo) && SCP_LIKE.test(repo) ? 'ssh' : undefined;
}

export const isRepoUrl = (repo: string): boolean => repoTransport(repo) !== undefined;

/** Why a URL-looking `repo` is refused (an unknown scheme, a password in it), or undefined when it is fine. */
export function repoUrlProblem(repo: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(repo)?.[1];
  if (scheme && !repoTransport(repo)) return `the ${scheme}:// transport is not supported; use https, ssh, git or file`;
  if (/^(https|git):\/\/[^/@]*@/i.test(repo) || /^ssh:\/\/[^/@]*:[^/@]*@/i.test(repo)) {
    return 'must not carry credentials; configure them for the worker (ssh key, git credential helper) instead';
  }
  return undefined;
}
