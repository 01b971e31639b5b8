import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { useHarness } from './support/harness';
import { makeRepo, tempDir } from './support/repo';

const h = useHarness('input');

async function failure(input: Record<string, unknown>): Promise<{ failure: ApplicationFailure; elapsedMs: number; events: number }> {
  const started = Date.now();
  const handle = await h.start(input);
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  const history = await handle.fetchHistory();
  return { failure: cause as ApplicationFailure, elapsedMs: Date.now() - started, events: history.events?.length ?? 0 };
}

describe('invalid workflow input fails at once, naming the field', () => {
  it.each([
    ['an unknown field', { prompt: 'x', maxConcurency: 2 }, /maxConcurency: unknown field \(did you mean "maxConcurrency"\?\)/],
    ['a negative count', { prompt: 'x', maxMilestones: -3 }, /maxMilestones: must be at least 1/],
    ['an empty prompt', { prompt: '' }, /prompt: must not be empty/],
    ['a relative repo path', { repo: 'src/app' }, /repo: must be an absolute path/],
  ])('%s', async (_name, input, message) => {
    const { failure: f, events } = await failure(input);
    expect(f.type).toBe('INVALID_INPUT');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(message);
    // Failed in the first workflow task: no activity was scheduled, nothing retried.
    expect(events).toBeLessThanOrEqual(5);
    expect(h.model.requests).toHaveLength(0);
  });
});

describe('a bad repository fails fast with a non-retryable error that says what to do', () => {
  it('no repo at all (and no MISSION_REPO on the worker)', async () => {
    const { failure: f } = await failure({ prompt: 'x' });
    expect(f.type).toBe('REPO_NOT_FOUND');
    expect(f.message).toMatch(/pass "repo".*or set MISSION_REPO/);
  });

  it('a repo path that does not exist', async () => {
    const missing = path.join(os.tmpdir(), `no-such-repo-${Date.now()}`);
    const { failure: f } = await failure({ prompt: 'x', repo: missing });
    expect(f.type).toBe('REPO_NOT_FOUND');
    expect(f.message).toContain(missing);
  });

  it('a folder that is not a git repository', async () => {
    const dir = tempDir('not-git-');
    const { failure: f } = await failure({ prompt: 'x', repo: dir });
    expect(f.type).toBe('REPO_NOT_GIT');
    expect(f.message).toMatch(/git init/);
  });

  it('a base branch that does not exist', async () => {
    const repo = makeRepo();
    const { failure: f, elapsedMs } = await failure({ prompt: 'x', repo, baseBranch: 'develop' });
    expect(f.type).toBe('BASE_BRANCH_NOT_FOUND');
    expect(f.message).toMatch(/base branch "develop" does not exist.*branches here: main/);
    expect(elapsedMs).toBeLessThan(10_000); // not retried
    expect(h.model.requests).toHaveLength(0);
  });
});
