import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleIsStale, ensureWorkflowBundle } from '../src/prebuilt-bundle';
import { tempDir } from './support/repo';

const src = path.join(__dirname, '..', 'src');
const longAgo = new Date('2001-01-01T00:00:00Z');

test('a bundle older than a file of its tree is stale; a newer one is not; a missing one is', () => {
  const tree = tempDir('mission-bundle-tree-');
  writeFileSync(path.join(tree, 'a.ts'), 'export const a = 1;');
  const bundle = path.join(tempDir('mission-bundle-'), 'b.js');
  expect(bundleIsStale(bundle, tree)).toBe(true);
  writeFileSync(bundle, '');
  utimesSync(path.join(tree, 'a.ts'), longAgo, longAgo);
  expect(bundleIsStale(bundle, tree)).toBe(false);
  utimesSync(bundle, new Date(longAgo.getTime() - 1000), new Date(longAgo.getTime() - 1000));
  expect(bundleIsStale(bundle, tree)).toBe(true);
});

test('in development a stale workflow bundle is rebuilt from the source before a worker loads it; a fresh one is loaded as is', async () => {
  const bundlePath = path.join(tempDir('mission-bundle-'), 'workflows.bundle.js');
  writeFileSync(bundlePath, '/* an old bundle */');
  utimesSync(bundlePath, longAgo, longAgo); // older than every file of src/
  const reasons: string[] = [];

  await ensureWorkflowBundle({ bundlePath, tree: src, checkStale: true, onRebuild: (why) => reasons.push(why) });
  expect(reasons).toEqual([expect.stringMatching(/workflow code changed/)]);
  const rebuilt = readFileSync(bundlePath, 'utf8');
  expect(rebuilt).not.toContain('an old bundle');
  expect(rebuilt).toContain('runMilestone'); // the workflows are in it

  const mtime = statSync(bundlePath).mtimeMs;
  await ensureWorkflowBundle({ bundlePath, tree: src, checkStale: true, onRebuild: (why) => reasons.push(why) });
  expect(reasons).toHaveLength(1);
  expect(statSync(bundlePath).mtimeMs).toBe(mtime);
}, 120_000);

test('an installed package loads the bundle it ships without comparing it to anything', async () => {
  const bundlePath = path.join(tempDir('mission-bundle-'), 'workflows.bundle.js');
  writeFileSync(bundlePath, '/* shipped */');
  utimesSync(bundlePath, longAgo, longAgo);
  const reasons: string[] = [];
  expect(await ensureWorkflowBundle({ bundlePath, tree: src, checkStale: false, onRebuild: (why) => reasons.push(why) })).toEqual({ codePath: bundlePath });
  expect(reasons).toEqual([]);
  expect(readFileSync(bundlePath, 'utf8')).toBe('/* shipped */');
});
