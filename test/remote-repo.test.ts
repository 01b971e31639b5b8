import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseMissionInput } from '../src/api/input';
import { remoteRef, serveRepo } from './support/git-daemon';
import { useHarness } from './support/harness';
import { git, tempDir, treeAt, writeFiles } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('remote');

test('repo as a URL: the host clones it once, the mission branch is pushed at each milestone, a second mission fetches', async () => {
  const remote = await serveRepo();
  try {
    const plan = makePlan([{ id: 'm1', features: [{ id: 'one', files: ['one.txt'] }] }, { id: 'm2', features: [{ id: 'two', files: ['two.txt'] }] }]);
    h.model.script('plan', [planReply(plan)]);
    h.model.script('feature one', writesFiles({ 'one.txt': 'first' }));
    // When milestone 2's agent starts, milestone 1's work must already be on the remote.
    let onRemoteDuringM2 = '';
    const key = `remote-${Date.now().toString(36)}`;
    h.model.script('feature two', [
      () => {
        onRemoteDuringM2 = remoteRef(remote.url, `refs/heads/mission/${key}`);
        return writesFiles({ 'two.txt': 'second' })[0]!;
      },
      ...writesFiles({ 'two.txt': 'second' }).slice(1),
    ]);
    const first = await h.start({ prompt: 'Two milestones', repo: remote.url, requirePlanApproval: false, useWorktrees: true }, key);
    const result = await first.result();
    expect(result.outcome).toBe('completed');
    expect(onRemoteDuringM2).toBe(result.milestones[0]!.commit);
    expect(remoteRef(remote.url, `refs/heads/${result.branch}`)).toBe(result.milestones[1]!.commit);
    expect(treeAt(remote.bare, result.branch!)).toEqual({ 'README.md': '# team', 'one.txt': 'first', 'two.txt': 'second' });
    // The mission worked in this host's clone, never in a folder of the remote.
    const clones = readdirSync(path.join(h.home, 'repos')).filter((f) => !f.startsWith('.') && !f.endsWith('.url'));
    expect(clones).toHaveLength(1);
    expect(result.repo).toBe(path.join(h.home, 'repos', clones[0]!));

    // The team moves main on; a second mission fetches it into the same clone.
    const work = tempDir('mission-teammate-');
    git(work, 'clone', '-q', remote.bare, '.');
    writeFiles(work, { 'news.txt': 'new on main' });
    git(work, 'add', '-A');
    git(work, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'news');
    git(work, 'push', '-q', 'origin', 'main');
    // Feature four's agent fails: its branch is not merged, and is pushed too, for review.
    h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'three', files: ['three.txt'] }, { id: 'four', files: ['four.txt'] }] }]))]);
    h.model.script('feature three', writesFiles({ 'three.txt': 'third' }));
    h.model.script('feature four', [{ status: 400, message: 'the request is too large for this model' }]);
    const secondKey = `remote-2-${Date.now().toString(36)}`;
    const second = await (await h.start({ prompt: 'Again', repo: remote.url, requirePlanApproval: false, useWorktrees: true }, secondKey)).result();
    expect(second.outcome).toBe('completed-with-issues');
    expect(remoteRef(remote.url, `refs/heads/mission/${secondKey}-four`)).toMatch(/^[0-9a-f]{40}$/);
    expect(remoteRef(remote.url, `refs/heads/mission/${secondKey}-three`)).toBe(''); // merged, so deleted and not pushed
    expect(second.repo).toBe(result.repo);
    expect(readdirSync(path.join(h.home, 'repos')).filter((f) => !f.startsWith('.') && !f.endsWith('.url'))).toEqual(clones);
    expect(treeAt(remote.bare, second.branch!)).toEqual({ 'README.md': '# team', 'news.txt': 'new on main', 'three.txt': 'third' });
  } finally {
    remote.stop();
  }
}, 300_000);

test('repo URLs: https, ssh, git and file are accepted; credentials in the URL and other transports are refused', () => {
  for (const repo of ['https://github.com/me/app.git', 'ssh://git@host/me/app.git', 'git@github.com:me/app.git', 'git://127.0.0.1/app.git', 'file:///srv/app.git']) {
    expect(parseMissionInput({ prompt: 'x', repo })).toMatchObject({ ok: true });
  }
  const refused = (repo: string) => JSON.stringify(parseMissionInput({ prompt: 'x', repo }));
  expect(refused('https://me:hunter2@github.com/me/app.git')).toMatch(/must not carry credentials/);
  expect(refused('ext::sh -c touch% /tmp/pwned')).toMatch(/absolute path .* or a git URL/);
  expect(refused('ftp://host/app.git')).toMatch(/ftp:\/\/ transport is not supported/);
  expect(refused('relative/path')).toMatch(/absolute path/);
});
