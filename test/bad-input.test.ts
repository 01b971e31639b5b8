import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { approvePlanSignal, rejectPlanSignal, resumeSignal, revisePlanSignal } from '../src/api/messages';
import { explainDownloadFailure, portOpen } from '../src/embedded';
import { cli, cliEnv, freePort } from './support/cli-process';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { git, makeRepo, tempDir } from './support/repo';
import { makePlan, planReply } from './support/scripts';

const h = useHarness('bad-input');

/** Starts a mission that must fail at once; returns the failure and how much happened before it. */
async function failsAtStart(input: unknown): Promise<{ message: string; type?: string; nonRetryable: boolean; events: number; retries: number }> {
  const handle = await h.start(input as Record<string, unknown>);
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  const events = (await handle.fetchHistory()).events ?? [];
  const retries = events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
  return { message: cause.message, type: cause.type ?? undefined, nonRetryable: cause.nonRetryable === true, events: events.length, retries };
}

/** Sends a bad signal to a mission at the approval gate; returns what the mission recorded. Ends the mission after. */
async function badSignal(send: (handle: WorkflowHandle) => Promise<void>): Promise<string> {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }]))]);
  const handle = await h.start({ prompt: 'Signals', repo: makeRepo() });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await send(handle);
  const status = await h.waitFor(handle, (s) => s.events.some((e) => e.type === 'signal-ignored'));
  expect(status.phase).toBe('awaiting-approval'); // not stuck, not failed: still waiting for a good decision
  await handle.signal(rejectPlanSignal, { reason: 'test over' });
  await handle.result();
  return status.events.find((e) => e.type === 'signal-ignored')!.message;
}

/** Starts a mission on `repo` and returns the warnings it recorded at the approval gate; rejects it after. */
async function warnings(repo: string, input: Record<string, unknown> = {}): Promise<string> {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }]))]);
  const handle = await h.start({ prompt: 'Warn me', repo, ...input });
  const status = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.signal(rejectPlanSignal, {});
  await handle.result();
  return status.events.filter((e) => e.type === 'warning').map((e) => e.message).join('\n');
}

const repoWithConfig = (config: string) => {
  const repo = makeRepo();
  mkdirSync(path.join(repo, '.mission'));
  writeFileSync(path.join(repo, '.mission', 'config.json'), config);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'config');
  return repo;
};

type Case = [string, () => Promise<string>, RegExp];
/** `raw` may be a function, so a repository is made when the case runs, not when the table is built. */
const input = (raw: unknown, type = 'INVALID_INPUT'): (() => Promise<string>) => async () => {
  const f = await failsAtStart(typeof raw === 'function' ? (raw as () => unknown)() : raw);
  expect(f.type).toBe(type);
  expect(f.nonRetryable).toBe(true);
  expect(f.retries).toBe(0); // not retried
  if (f.message.startsWith('Invalid mission input')) expect(f.events).toBeLessThanOrEqual(5); // failed in the first workflow task
  expect(h.model.requests).toHaveLength(0); // before any model call
  return f.message;
};
const flag = (args: string[]) => async () => {
  const r = await runCli(h, args);
  expect(r.code).toBe(2);
  return r.err.join('\n');
};

const CASES: Case[] = [
  // workflow input
  ['input: an unknown field', input({ prompt: 'x', maxConcurency: 2 }), /maxConcurency: unknown field \(did you mean "maxConcurrency"\?\)/],
  ['input: a negative count', input({ prompt: 'x', maxMilestones: -3 }), /maxMilestones: must be at least 1/],
  ['input: an empty prompt', input({ prompt: '  ' }), /prompt: must not be empty: say what the mission should build/],
  ['input: a relative repo path', input({ repo: 'src/app' }), /repo: must be an absolute path on the worker host/],
  ['input: not an object', input('build it'), /\(input\): must be a JSON object such as \{"prompt": "\.\.\.", "repo": "\/path\/to\/repo"\}/],
  ['input: a fractional concurrency', input({ prompt: 'x', maxConcurrency: 1.5 }), /maxConcurrency: must be a whole number/],
  ['input: a validation command without run', input({ prompt: 'x', validation: { commands: [{ name: 'unit' }] } }), /validation\.commands\.0\.run: /],
  ['input: a zero token budget', input({ prompt: 'x', budget: { maxTokens: 0 } }), /budget\.maxTokens: must be at least 1/],
  ['input: a misspelt nested field', input({ prompt: 'x', budget: { maxToken: 5 } }), /budget\.maxToken: unknown field \(did you mean "maxTokens"\?\)/],
  // repository state
  ['repo: missing', input({ prompt: 'x', repo: path.join(os.tmpdir(), 'no-such-repo-here') }, 'REPO_NOT_FOUND'), /repo ".*no-such-repo-here" does not exist on the worker host .*; pass the absolute path of a git repository/],
  ['repo: not a git repository', input(() => ({ prompt: 'x', repo: tempDir('not-git-') }), 'REPO_NOT_GIT'), /is not a git work tree; run "git init" there and commit/],
  ['repo: missing base branch', input(() => ({ prompt: 'x', repo: makeRepo(), baseBranch: 'develop' }), 'BASE_BRANCH_NOT_FOUND'), /base branch "develop" does not exist .*branches here: main.*set "baseBranch"/],
  ['repo: no commits yet', input(() => ({ prompt: 'x', repo: emptyRepo() }), 'BASE_BRANCH_NOT_FOUND'), /the repository has no commits yet; commit something first/],
  ['repo: uncommitted changes (warned, the mission goes on)', () => warnings(dirtyRepo()), /has uncommitted changes \(1 file\(s\)\); they are not part of the mission.*commit them to main/],
  ['repo: detached HEAD (warned, the mission goes on)', () => warnings(detachedRepo()), /HEAD in .* is detached; the mission starts from branch main .*set "baseBranch"/],
  // config files
  ['config: .mission/config.json is not JSON', input(() => ({ prompt: 'x', repo: repoWithConfig('{ validation: ') })), /\.mission\/config\.json is not valid JSON .*; fix it on the base branch or pass validation\.commands/],
  ['config: .mission/config.json has a misspelt key', input(() => ({ prompt: 'x', repo: repoWithConfig('{"validaton": {}}') })), /\.mission\/config\.json is invalid: validaton: unknown field \(did you mean "validation"\?\)/],
  ['config: an invalid environment for the worker', async () => {
    const r = await cli(['worker'], cliEnv(h, { OPENAI_BASE_URL: 'not a url', TEMPORAL_ADDRESS: h.address }));
    expect(r.code).toBe(1);
    return r.stderr;
  }, /Invalid environment: OPENAI_BASE_URL: must be a URL such as http:\/\/127\.0\.0\.1:11434\/v1/],
  ['config: mission run without a model endpoint (fails before any server starts)', async () => {
    const port = await freePort();
    const r = await cli(['run', 'x', '--port', String(port), '--ui-port', String(await freePort())], cliEnv(h, { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined }));
    expect(r.code).toBe(1);
    expect(await portOpen(port)).toBe(false);
    return r.stderr;
  }, /OPENAI_API_KEY is not set\. Export it \(or OPENAI_BASE_URL for a local OpenAI-compatible server\) and run the command again/],
  // signals
  ['signal: revisePlan without feedback', () => badSignal((hd) => hd.signal(revisePlanSignal, {} as never)), /revisePlan ignored: invalid payload: feedback: /],
  ['signal: approvePlan with a misspelt field', () => badSignal((hd) => hd.signal(approvePlanSignal, { aprovedBy: 'me' } as never)), /approvePlan ignored: invalid payload: aprovedBy: unknown field \(did you mean "approvedBy"\?\)/],
  ['signal: resume with a negative budget', () => badSignal((hd) => hd.signal(resumeSignal, { budget: { maxTokens: -5 } })), /resume ignored: invalid payload: budget\.maxTokens: must be greater than 0/],
  // CLI flags
  ['cli: a flag value out of range', flag(['run', 'x', '--max-concurrency', '99']), /--max-concurrency: must be at most 16/],
  ['cli: a number flag that is not a number', flag(['run', 'x', '--budget.max-tokens', 'lots']), /--budget\.max-tokens: "lots" is not a number/],
  ['cli: an unknown option', flag(['run', 'x', '--paralel', '3']), /Unknown option '--paralel'[\s\S]*usage: mission run/],
  ['cli: approve without an id', flag(['approve']), /expected one mission id\nusage: mission approve MISSION_ID/],
];

test(`the table has at least 20 bad inputs (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(20));

test.each(CASES)('%s → a clear message', async (_name, run, message) => {
  expect(await run()).toMatch(message);
  // No workflow left hanging: every mission this case started has ended.
  for (const id of h.started) expect((await h.client.workflow.getHandle(id).describe()).status.name).not.toBe('RUNNING');
  expect(h.model.requestsFor('feature a')).toHaveLength(0);
});

function emptyRepo(): string {
  const dir = tempDir('empty-repo-');
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}
function dirtyRepo(): string {
  const repo = makeRepo();
  writeFileSync(path.join(repo, 'README.md'), 'edited but not committed\n');
  return repo;
}
function detachedRepo(): string {
  const repo = makeRepo();
  git(repo, 'checkout', '-q', '--detach', 'HEAD');
  return repo;
}

test('with no temporal binary on an offline machine, the download failure says how to provide one', () => {
  // The SDK's own message, as seen on a machine without internet access.
  const offline = new Error('Failed to start ephemeral server: failed to download ephemeral server executable: error sending request for url (https://temporal.download/cli/default): dns error');
  const explained = explainDownloadFailure(offline) as Error;
  expect(explained.message).toMatch(/no Temporal CLI found and downloading one failed \(Failed to start ephemeral server/);
  expect(explained.message).toMatch(/go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1/);
  expect(explained.message).toMatch(/TEMPORAL_CLI_PATH/);
  expect(explained.cause).toBe(offline);
  const other = new Error('port 7233 is already in use');
  expect(explainDownloadFailure(other)).toBe(other);
});
