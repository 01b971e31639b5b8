import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MergeState } from '../api/status';
import type { SearchAttributeSupport } from '../api/search';
import { missionFailure } from '../api/errors';
import { readRepoContext, saveContext, type RepoContext } from './context';
import { Git, STEP_TRAILER, exists } from './gitcore';
import { withRepoLock, withWorktreeLock } from './locks';
import { featureBranch, missionBranch } from '../api/ids';
import { isRepoUrl } from '../api/repo-url';
import { remoteCache } from './remote';
import type { MissionPaths } from './paths';
import { commitTree, readRepoConfig } from './validate';

export interface PrepareInput {
  missionId: string;
  missionKey: string;
  /** The first run id of the workflow: marks the mission's own branch as opposed to a stranger's. */
  runId: string;
  repo?: string;
  baseBranch: string;
  /**
   * The mission moved here from another host (moveHost; a repository URL only): its base commit, and the commit to
   * continue from, the last milestone's as pushed. The branch and worktree are made at that commit.
   */
  moved?: { baseCommit: string; head: string };
}

export interface PrepareResult {
  repo: string;
  worktree: string;
  branch: string;
  baseCommit: string;
  context: { agentsMd: boolean; skills: string[]; fileCount: number };
  /** Whether this worker's namespace has the mission search attributes (decided by the worker, recorded here). */
  searchAttributes: SearchAttributeSupport;
  /** Things the user should know about the checkout (uncommitted changes, a detached HEAD): recorded as warnings. */
  notes?: string[];
}

export interface MergeInput {
  repo: string;
  worktree: string;
  branch: string;
  message: string;
  step: string;
}

export interface MergeResult {
  state: Extract<MergeState, 'merged' | 'conflict'>;
  commit?: string;
  conflictFiles?: string[];
}

interface RunMarker {
  runId: string;
  missionId: string;
  repo: string;
  baseCommit: string;
}

export function createGitActivities(deps: { paths: MissionPaths; defaultRepo?: string; searchAttributes?: SearchAttributeSupport }) {
  const { paths } = deps;
  const remotes = remoteCache(paths.home);

  async function prepareMission(input: PrepareInput): Promise<PrepareResult> {
    const source = input.repo ?? deps.defaultRepo;
    const fromUrl = source !== undefined && isRepoUrl(source);
    const repo = await checkRepo(fromUrl ? await remotes.cloneOrFetch(source, input.baseBranch) : source);
    const git = new Git(repo);
    return withRepoLock(repo, async () => {
      const marker = await readMarker(paths.runFile(input.missionKey));
      const branch = missionBranch(input.missionKey);
      if (input.moved && !fromUrl) throw missionFailure('MOVE_NEEDS_URL', `the mission's repository ${source} is a local path: only a mission whose repo is a git URL can move to another host`);
      if (input.moved) await remotes.adopt(source!, repo, branch, input.moved.head);
      if (marker && (marker.runId !== input.runId || marker.repo !== repo)) {
        throw missionFailure(
          'MISSION_BRANCH_CONFLICT',
          `mission "${input.missionKey}" already has data from an earlier run (repo ${marker.repo}, branch ${branch}); choose another mission id, or remove ${paths.missionDir(input.missionKey)} and the branch after saving its work`,
        );
      }
      // Two reads, asked together (the first failure, in this order, is the one reported).
      const [base, taken] = await Promise.allSettled([
        marker?.baseCommit ?? input.moved?.baseCommit ?? resolveBase(git, input.baseBranch),
        !marker && !input.moved ? git.branchExists(branch) : false,
      ]);
      for (const r of [base, taken]) if (r.status === 'rejected') throw r.reason;
      const baseCommit = (base as PromiseFulfilledResult<string>).value;
      const worktree = paths.missionWorktree(input.missionKey);
      if (input.moved) {
        // The old host's branch wins over anything this host kept of an earlier stay (a worktree, a branch).
        await git.removeWorktree(worktree);
        await git.run(['branch', '-f', branch, input.moved.head]);
      }
      if (!marker) {
        if ((taken as PromiseFulfilledResult<boolean>).value) {
          throw missionFailure('MISSION_BRANCH_CONFLICT', `branch ${branch} already exists in ${repo}; merge or delete it (git branch -D ${branch}) or choose another mission id`);
        }
        await writeMarker(paths.runFile(input.missionKey), { runId: input.runId, missionId: input.missionId, repo, baseCommit });
      }
      const added = await git.ensureWorktree(worktree, branch, baseCommit);
      // The checkout, the config check and the reading of the repository (by commit, not from the worktree) do not
      // depend on one another: together they take the time of the slowest, on the way to the plan. All settle before
      // the lock is released; the first failure, in this order, is the one reported.
      const [checkedOut, config, noted, read] = await Promise.allSettled([
        new Git(worktree).checkout(added),
        // A broken .mission/config.json fails here, before any model call, not at the first validation.
        readRepoConfig(commitTree(repo, baseCommit)),
        fromUrl ? Promise.resolve([]) : checkoutNotes(git, repo, input.baseBranch, baseCommit),
        readRepoContext(git, repo, input.baseBranch, baseCommit),
      ]);
      for (const r of [checkedOut, config, noted, read]) if (r.status === 'rejected') throw r.reason;
      const notes = (noted as PromiseFulfilledResult<string[]>).value;
      const context = (read as PromiseFulfilledResult<RepoContext>).value;
      await saveContext(paths.contextFile(input.missionKey), context);
      return {
        repo,
        worktree,
        branch,
        baseCommit,
        context: { agentsMd: Boolean(context.agentsMd), skills: context.skills.map((s) => s.name), fileCount: context.fileCount },
        searchAttributes: deps.searchAttributes ?? false,
        notes,
      };
    });
  }

  /** After a rejection or a cancel at the gate: removes the mission branch and worktree when they hold no work. */
  async function discardMission(input: { repo: string; missionKey: string; baseCommit: string }): Promise<{ removed: boolean }> {
    const git = new Git(input.repo);
    return withRepoLock(input.repo, async () => {
      const branch = missionBranch(input.missionKey);
      const worktree = paths.missionWorktree(input.missionKey);
      const head = await git.resolveCommit(`refs/heads/${branch}`);
      const dirty = (await exists(worktree)) && !(await new Git(worktree).isClean());
      if ((head && head !== input.baseCommit) || dirty) return { removed: false };
      await git.removeWorktree(worktree);
      if (head) await git.run(['branch', '-D', branch]);
      await fs.rm(paths.missionDir(input.missionKey), { recursive: true, force: true });
      return { removed: true };
    });
  }

  async function createFeatureWorktree(input: {
    repo: string;
    missionKey: string;
    featureId: string;
    startPoint: string;
    /** Branches of the features this one depends on, merged in so it builds on their work. */
    mergeBranches: string[];
  }): Promise<{ worktree: string; branch: string; startCommit: string }> {
    const branch = featureBranch(input.missionKey, input.featureId);
    const worktree = paths.featureWorktree(input.missionKey, input.featureId);
    return withWorktreeLock(worktree, async () => {
      const state = await withRepoLock(input.repo, () => new Git(input.repo).ensureWorktree(worktree, branch, input.startPoint));
      const git = new Git(worktree);
      await git.checkout(state);
      // A new worktree with nothing to merge starts at its start point: no need to ask git where HEAD is.
      if (state === 'added' && !input.mergeBranches.length && FULL_SHA.test(input.startPoint)) return { worktree, branch, startCommit: input.startPoint };
      // A merge that a crash interrupted would make the next one fail: start it again from the commit before it.
      if (input.mergeBranches.length && (await git.resolveCommit('MERGE_HEAD'))) await git.run(['merge', '--abort']);
      if (input.mergeBranches.length) await git.requireMissionBranch();
      const identity = input.mergeBranches.length ? await git.identityArgs() : [];
      for (const dep of input.mergeBranches) {
        if (!(await git.branchExists(dep)) || (await git.isAncestor(dep, 'HEAD'))) continue;
        if (!(await git.succeeds([...identity, 'merge', '--no-ff', '--no-edit', '--no-verify', dep]))) await git.run(['merge', '--abort']);
      }
      return { worktree, branch, startCommit: await git.head() };
    });
  }

  /** Commits the agent's work once: a retry finds the commit by its step trailer. */
  async function commitWork(input: CommitWorkInput): Promise<{ commit: string | null }> {
    return { commit: await commitAgentWork(input) };
  }

  /**
   * Merges a feature branch into the mission branch. A conflicted merge is left in progress (for the
   * integration agent) and reported with its files; a retry finds that merge and reports it again.
   */
  async function mergeFeature(input: MergeInput): Promise<MergeResult> {
    return withRepoLock(input.repo, () => mergeBranch(input));
  }

  /**
   * Merges feature branches one after another, in the order given, under one lock: features that finished
   * together merge in one step. Stops at the first conflict (left in progress, as mergeFeature does); returns a
   * result per branch it got to. Safe to retry: a branch already merged is reported merged.
   */
  async function mergeFeatures(inputs: MergeInput[]): Promise<MergeResult[]> {
    if (!inputs.length) return [];
    return withRepoLock(inputs[0]!.repo, async () => {
      const results: MergeResult[] = [];
      for (const input of inputs) {
        results.push(await mergeBranch(input));
        if (results.at(-1)!.state !== 'merged') break;
      }
      return results;
    });
  }

  /**
   * Ends a merge left in progress: commits it when `resolve` and no conflict marker is left in the
   * conflicted files, else aborts it (the feature branch keeps the work). Safe to retry.
   */
  async function concludeMerge(input: MergeInput & { conflictFiles: string[]; resolve: boolean }): Promise<MergeResult> {
    return withRepoLock(input.repo, async () => {
      const git = new Git(input.worktree);
      if (!(await git.resolveCommit('MERGE_HEAD'))) {
        if (await git.isAncestor(input.branch, 'HEAD')) return { state: 'merged', commit: await git.head() };
        return { state: 'conflict', conflictFiles: input.conflictFiles };
      }
      const marked = input.resolve ? await filesWithMarkers(input.worktree, input.conflictFiles) : input.conflictFiles;
      if (marked.length) {
        await git.run(['merge', '--abort']);
        return { state: 'conflict', conflictFiles: marked };
      }
      await git.requireMissionBranch();
      await git.run(['add', '-A']);
      await git.run([...(await git.identityArgs()), 'commit', '--no-verify', '-m', input.message, '-m', `${STEP_TRAILER}: ${input.step}`]);
      return { state: 'merged', commit: await git.head() };
    });
  }

  async function currentHead(input: { worktree: string }): Promise<string> {
    return new Git(input.worktree).head();
  }

  /** Removes a feature's worktree; deletes its branch only when the mission branch contains it. */
  async function removeFeatureWorktree(input: { repo: string; missionWorktree: string; worktree: string; branch: string }): Promise<{ branchDeleted: boolean }> {
    return withRepoLock(input.repo, async () => {
      const git = new Git(input.repo);
      if ((await exists(input.worktree)) && !(await new Git(input.worktree).isClean())) return { branchDeleted: false };
      await git.removeWorktree(input.worktree);
      const mission = new Git(input.missionWorktree);
      if (!(await git.branchExists(input.branch)) || !(await mission.isAncestor(input.branch, 'HEAD'))) return { branchDeleted: false };
      await git.run(['branch', '-D', input.branch]);
      return { branchDeleted: true };
    });
  }

  /** Makes sure the milestone ends with a commit on the mission branch (pending changes, or an empty marker). */
  async function commitMilestone(input: { repo: string; worktree: string; message: string; step: string; since: string; merged?: string[] }): Promise<{ commit: string }> {
    return withRepoLock(input.repo, async () => {
      const git = new Git(input.worktree);
      const commit = (await git.findStepCommit(input.step, input.since)) ?? (await commitOnce(git, input));
      // A repository named by URL: the milestone's work goes back to it (again on a retry: the push may have failed).
      await remotes.push(input.repo, input.worktree, input.merged ?? []);
      return { commit };
    });
  }

  return { prepareMission, discardMission, createFeatureWorktree, commitWork, mergeFeature, mergeFeatures, concludeMerge, currentHead, removeFeatureWorktree, commitMilestone };
}

export interface CommitWorkInput {
  repo: string;
  workdir: string;
  message: string;
  step: string;
  since: string;
}

/**
 * Commits an agent's work once (its own step, or its finish tool call): a retry finds the commit by its step
 * trailer. Null when the agent changed nothing since `since`.
 */
export function commitAgentWork(input: CommitWorkInput): Promise<string | null> {
  // The agent's own working directory: a feature worktree, or the mission worktree when features run one after another.
  return withWorktreeLock(input.workdir, async () => {
    const git = new Git(input.workdir);
    const done = await git.findStepCommit(input.step, input.since);
    if (done) return done;
    const created = await git.commitAll(input.message, input.step);
    if (created) return created;
    const head = await git.head();
    return head === input.since ? null : head;
  });
}

/** One merge into the mission worktree (callers hold the repository's lock). */
async function mergeBranch(input: MergeInput): Promise<MergeResult> {
  const git = new Git(input.worktree);
  // What the merge needs to know only reads: asked together (one git process's time), before anything is written.
  const [, inProgress, merged, identity] = await Promise.all([git.requireMissionBranch(), git.resolveCommit('MERGE_HEAD'), git.isAncestor(input.branch, 'HEAD'), git.identityArgs()]);
  if (inProgress && inProgress === (await git.resolveCommit(input.branch))) return { state: 'conflict', conflictFiles: await unmergedFiles(git) };
  if (inProgress) await git.run(['merge', '--abort']); // a stranger's merge, left by a crash
  if (inProgress ? await git.isAncestor(input.branch, 'HEAD') : merged) return { state: 'merged', commit: await git.head() };
  const args = [...identity, 'merge', '--no-ff', '--no-verify', '-m', input.message, '-m', `${STEP_TRAILER}: ${input.step}`, input.branch];
  if (await git.succeeds(args)) return { state: 'merged', commit: await git.head() };
  const files = await unmergedFiles(git);
  if (files.length) return { state: 'conflict', conflictFiles: files };
  if (await git.resolveCommit('MERGE_HEAD')) await git.run(['merge', '--abort']);
  throw missionFailure('GIT_FAILED', `merging ${input.branch} into ${input.worktree} failed without a conflict`);
}

async function checkRepo(repo: string | undefined): Promise<string> {
  if (!repo) {
    throw missionFailure('REPO_NOT_FOUND', 'no repository given: pass "repo" (an absolute path on the worker host) or set MISSION_REPO for the worker');
  }
  const stat = await fs.stat(repo).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw missionFailure('REPO_NOT_FOUND', `repo "${repo}" does not exist on the worker host (${os.hostname()}); pass the absolute path of a git repository`);
  }
  // One git process for both: whether it is a work tree, and where its top is.
  const [inside, top] = (await new Git(repo).attempt(['rev-parse', '--is-inside-work-tree', '--show-toplevel']))?.split('\n') ?? [];
  if (inside !== 'true' || !top) {
    throw missionFailure('REPO_NOT_GIT', `repo "${repo}" is not a git work tree; run "git init" there and commit, or pass another path`);
  }
  return top;
}

/** Warnings about the user's checkout: the mission works from the base branch, never from it. */
async function checkoutNotes(git: Git, repo: string, baseBranch: string, baseCommit: string): Promise<string[]> {
  const notes: string[] = [];
  const [status, onBranch] = await Promise.all([git.run(['status', '--porcelain', '--untracked-files=no']), git.succeeds(['symbolic-ref', '-q', 'HEAD'])]);
  if (status.trim()) {
    notes.push(`the checkout at ${repo} has uncommitted changes (${status.trim().split('\n').length} file(s)); they are not part of the mission, which starts from ${baseBranch} at ${baseCommit.slice(0, 8)}: commit them to ${baseBranch} and start again if the mission needs them`);
  }
  if (!onBranch) {
    notes.push(`HEAD in ${repo} is detached; the mission starts from branch ${baseBranch} (${baseCommit.slice(0, 8)}), not from HEAD: set "baseBranch" if you meant another branch`);
  }
  return notes;
}

async function resolveBase(git: Git, baseBranch: string): Promise<string> {
  const commit = await git.resolveCommit(`refs/heads/${baseBranch}`);
  if (commit) return commit;
  const branches = (await git.run(['for-each-ref', '--format=%(refname:short)', 'refs/heads'])).split('\n').filter(Boolean);
  const known = branches.length ? `branches here: ${branches.slice(0, 10).join(', ')}` : 'the repository has no commits yet; commit something first';
  throw missionFailure('BASE_BRANCH_NOT_FOUND', `base branch "${baseBranch}" does not exist in ${git.dir} (${known}); set "baseBranch" to one of them`);
}

async function readMarker(file: string): Promise<RunMarker | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as RunMarker;
  } catch {
    return undefined;
  }
}

async function writeMarker(file: string, marker: RunMarker): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(marker, null, 2));
}

/** The milestone's commit: its pending changes, or an empty marker when nothing was committed since `since`. */
async function commitOnce(git: Git, input: { message: string; step: string; since: string }): Promise<string> {
  const head = await git.head();
  // Usually the merges are the milestone's commits and nothing is pending: one status says so, where a commit
  // attempt (refused) and the question why would take three commands.
  if (head !== input.since) {
    const [, clean] = await Promise.all([git.requireMissionBranch(), git.isClean()]);
    if (clean) return head;
  }
  return (await git.commitAll(input.message, input.step, { allowEmpty: head === input.since })) ?? head;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

async function unmergedFiles(git: Git): Promise<string[]> {
  return (await git.run(['diff', '--name-only', '--diff-filter=U'])).split('\n').filter(Boolean);
}

/** Conflicted files that still hold a conflict marker (`=======` alone is left out: it is also a Markdown underline). */
async function filesWithMarkers(worktree: string, files: string[]): Promise<string[]> {
  const marked: string[] = [];
  for (const file of files) {
    const text = await fs.readFile(path.join(worktree, file), 'utf8').catch(() => '');
    if (/^(<{7}|>{7})( |$)/m.test(text)) marked.push(file);
  }
  return marked;
}
