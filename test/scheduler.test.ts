import { filesOverlap, nextToStart, prefixOverlap, type Schedulable } from '../src/workflows/scheduler';

const f = (id: string, files: string[] = [], dependsOn: string[] = []): Schedulable => ({ id, files, dependsOn });
const state = (started: string[] = [], finished: string[] = [], maxConcurrency = 3) => ({
  started: new Set(started),
  finished: new Set(finished),
  maxConcurrency,
});

describe('scheduler', () => {
  it('starts independent features in plan order up to the concurrency limit', () => {
    const features = [f('a', ['a.ts']), f('b', ['b.ts']), f('c', ['c.ts']), f('d', ['d.ts'])];
    expect(nextToStart(features, state([], [], 3))).toEqual(['a', 'b', 'c']);
    expect(nextToStart(features, state(['a', 'b', 'c'], ['b'], 3))).toEqual(['d']);
    expect(nextToStart(features, state(['a', 'b', 'c'], [], 3))).toEqual([]);
  });

  it('never runs features with overlapping files at the same time', () => {
    const features = [f('a', ['src/x.ts']), f('b', ['src/x.ts']), f('c', ['lib/']), f('d', ['lib/y.ts'])];
    expect(nextToStart(features, state())).toEqual(['a', 'c']);
    expect(nextToStart(features, state(['a', 'c'], ['a']))).toEqual(['b']);
  });

  it('waits for dependencies of the same milestone, not for earlier milestones', () => {
    const features = [f('a', ['a.ts']), f('b', ['b.ts'], ['a']), f('c', ['c.ts'], ['m0-feature'])];
    expect(nextToStart(features, state())).toEqual(['a', 'c']);
    expect(nextToStart(features, state(['a', 'c'], ['a']))).toEqual(['b']);
  });

  it('runs a feature that declares no files alone: it may touch anything', () => {
    const features = [f('a', ['a.ts']), f('b', []), f('c', ['c.ts'])];
    expect(nextToStart(features, state())).toEqual(['a', 'c']);
    expect(nextToStart(features, state(['a', 'c'], ['a', 'c']))).toEqual(['b']);
    expect(nextToStart([f('x', []), f('y', ['y.ts'])], state())).toEqual(['x']);
  });

  it('runs one at a time with a limit of 1', () => {
    expect(nextToStart([f('a'), f('b')], state([], [], 1))).toEqual(['a']);
  });

  it.each([
    [['src/a.ts'], ['src/a.ts'], true],
    [['./src/a.ts'], ['src/a.ts'], true],
    [['src'], ['src/a.ts'], true],
    [['src/**/*.ts'], ['src/deep/a.ts'], true],
    [['src/a.ts'], ['src/ab.ts'], false],
    [['src/a*.ts'], ['src/ab.ts'], true],
    [['src/*.test.ts'], ['src/x.ts'], false],
    [['src/{a,b}.ts'], ['src/b.ts'], true],
    [['src/**'], ['src/deep/x/y.ts'], true],
    [['**/*.md'], ['docs/a.md'], true],
    [['**/*.md'], ['docs/a.ts'], false],
    [['lib/*.ts'], ['lib/sub/x.ts'], false],
    [['a.ts'], ['b.ts'], false],
    // Declaring no files means "may touch anything".
    [[], ['b.ts'], true],
    [[], [], true],
  ])('overlap %j ~ %j is %s', (a, b, expected) => {
    expect(filesOverlap(a, b)).toBe(expected);
    expect(filesOverlap(b, a)).toBe(expected);
  });
});

describe('the comparison of missions recorded before glob matching (replay only)', () => {
  it.each([
    [['src/a.ts'], ['src/a.ts'], true],
    [['src/**/*.ts'], ['src/deep/a.ts'], true],
    [['src/a*.ts'], ['src/ab.ts'], false],
    [[], ['b.ts'], false],
  ])('prefix overlap %j ~ %j is %s', (a, b, expected) => {
    expect(prefixOverlap(a, b)).toBe(expected);
  });
});
