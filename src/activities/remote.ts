import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { missionFailure } from '../api/errors';
import { repoTransport } from '../api/repo-url';
import { Git, exists } from './gitcore';
import { withLock } from './locks';

/**
 * Repositories named by URL. The host keeps one clone per URL in <home>/repos/<name> (cloned by the first mission,
 * fetched by later ones), missions work there as in any repository, and each milestone pushes the mission branch and
 * the feature branches not merged into it back to the URL, so the work survives the host and can be reviewed where
 * the team works.
 *
 * Mission's git otherwise allows no transport (git-safety.ts); these commands allow the URL's own transport, and name
 * the URL itself rather than a remote, so nothing in the clone's config (remote.origin.url, .uploadpack,
 * .receivepack, which an agent could edit) decides where or what git runs. The URL is kept beside the clone, in
 * MISSION_HOME, not in the clone. Credentials come from the worker's git configuration (ssh keys, credential helpers).
 */
export function remoteCache(home: string) {
  const dir = path.join(home, 'repos');
  const urlFile = (clone: string) => `${clone}.url`;

  /** The clone of `url` on this host, with `baseBranch` fetched from it (cloned first if there is none yet). */
  async function cloneOrFetch(url: string, baseBranch: string): Promise<string> {
    const clone = path.join(dir, cacheName(url));
    return withLock(`clone:${clone}`, async () => path.join(dir, '.locks', `${path.basename(clone)}.lock`), async () => {
      await fs.mkdir(dir, { recursive: true });
      if (!(await exists(path.join(clone, '.git')))) {
        await fs.rm(clone, { recursive: true, force: true }); // a clone that a crash cut short
        await remote(url, new Git(dir), ['clone', '--no-checkout', '--quiet', url, clone]);
        await fs.writeFile(urlFile(clone), `${url}\n`);
      }
      const git = new Git(clone);
      // HEAD detached: the base branch can then be fetched into refs/heads (git refuses to fetch into a checked-out branch).
      const head = await git.resolveCommit('HEAD');
      if (head && (await git.succeeds(['symbolic-ref', '-q', 'HEAD']))) await git.run(['update-ref', '--no-deref', 'HEAD', head]);
      const fetched = await remote(url, git, ['fetch', '--quiet', url, `+refs/heads/${baseBranch}:refs/heads/${baseBranch}`]).catch((err: unknown) => err);
      if (fetched instanceof Error && !/couldn't find remote ref/i.test(fetched.message)) throw fetched;
      return clone; // a base branch the remote lacks: prepare says which branches there are
    });
  }

  /**
   * Pushes the mission branch and its unmerged feature branches to the URL the clone came from (none: not a clone).
   * `merged`: feature branches merged in this milestone whose removal (off the milestone's path) may not be done yet.
   */
  async function push(repo: string, missionWorktree: string, merged: string[] = []): Promise<void> {
    const url = (await fs.readFile(urlFile(path.resolve(repo)), 'utf8').catch(() => '')).trim();
    if (!url || path.dirname(path.resolve(repo)) !== dir) return;
    const git = new Git(missionWorktree);
    const branch = (await git.run(['symbolic-ref', '--short', 'HEAD']));
    // Feature branches are <mission branch>-<feature>; the merged ones are deleted when their worktrees are removed,
    // which happens off the milestone's path and may come after this push: those are left out by name.
    const features = (await git.run(['for-each-ref', '--format=%(refname:short)', `refs/heads/${branch}-*`])).split('\n').filter((b) => b && !merged.includes(b));
    await remote(url, git, ['push', '--quiet', '--no-verify', url, ...[branch, ...features].map((b) => `+refs/heads/${b}:refs/heads/${b}`)]);
  }

  /**
   * A mission moved here from a host that is gone: the pushed mission branch is the truth. Fetches it aside (the
   * branch itself may be checked out in a worktree here, if the mission lived here before) and checks that `head`,
   * the last milestone commit the workflow recorded, is there. Work pushed after it (a milestone whose end the
   * workflow never heard of) is not taken: that milestone is redone.
   */
  async function adopt(url: string, clone: string, branch: string, head: string): Promise<void> {
    const git = new Git(clone);
    const fetched = await remote(url, git, ['fetch', '--quiet', url, `+refs/heads/${branch}:refs/mission-moved/${branch}`]).catch((err: unknown) => err);
    if (fetched instanceof Error && !/couldn't find remote ref/i.test(fetched.message)) throw fetched;
    if (await git.resolveCommit(head)) return;
    throw missionFailure(
      'MOVE_NOT_PUSHED',
      `commit ${head.slice(0, 8)} of ${branch} is not on ${url} (its last milestone was never pushed there), so the mission cannot continue on another host; bring its old host back, or push ${branch} from it`,
    );
  }

  return { cloneOrFetch, push, adopt };
}

/** A command that talks to `url`, with its transport allowed; its failure is retried (network, server, credentials). */
async function remote(url: string, git: Git, args: string[]): Promise<string> {
  const transport = repoTransport(url);
  try {
    return await git.run(['-c', `protocol.${transport}.allow=always`, ...args]);
  } catch (err) {
    if (!(err instanceof ApplicationFailure) || err.type !== 'GIT_FAILED') throw err;
    throw missionFailure('GIT_REMOTE', `${err.message}; check that the worker reaches ${url} with its own git credentials; the step is retried`);
  }
}

/** A readable and unique folder name per URL: its last path part and a hash of the whole URL. */
function cacheName(url: string): string {
  const base = url.replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/).pop()?.replace(/[^A-Za-z0-9._-]/g, '-') || 'repo';
  return `${base}-${createHash('sha256').update(url).digest('hex').slice(0, 10)}`;
}
