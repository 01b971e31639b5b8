import { Git, STEP_TRAILER } from './gitcore';
import { withRepoLock } from './locks';

export interface SetAsideInput {
  repo: string;
  /** The shared working directory the failed agent worked in (the mission worktree). */
  worktree: string;
  /** Where its work is kept: the branch the agent would have had with worktrees. */
  branch: string;
  message: string;
  step: string;
}

/**
 * When features run one after another in the mission worktree, an agent that failed leaves its edits
 * there, and the next feature's commit (`add -A`) would take them. This keeps them on a branch of their
 * own (a commit on top of HEAD, made without moving HEAD) and restores the worktree to HEAD. Files git
 * ignores (installed dependencies, build output) stay. Safe to retry: once the branch exists, only the
 * restore is left to do.
 */
export function createSetAsideActivities() {
  async function setAsideWork(input: SetAsideInput): Promise<{ branch: string | null }> {
    return withRepoLock(input.repo, async () => {
      const git = new Git(input.worktree);
      const kept = await git.branchExists(input.branch);
      if (!kept) {
        if (await git.isClean()) return { branch: null };
        await git.run(['add', '-A']);
        const tree = await git.run(['write-tree']);
        const commit = await git.run([...(await git.identityArgs()), 'commit-tree', tree, '-p', 'HEAD', '-m', input.message, '-m', `${STEP_TRAILER}: ${input.step}`]);
        await git.run(['branch', input.branch, commit]);
      }
      await git.run(['reset', '--hard', '--no-recurse-submodules', 'HEAD']);
      await git.run(['clean', '-fd']);
      return { branch: input.branch };
    });
  }
  return { setAsideWork };
}
