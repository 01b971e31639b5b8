import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { executeTool, globToRegExp, runShell, scrubEnv, TOOL_DEFINITIONS, type ToolContext } from '../src/activities/tools';
import { processRunning, uniqueSleep } from './support/processes';
import { git, makeRepo, tempDir } from './support/repo';

/** Running (a killed process may linger as a zombie until something reaps it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const run = (ctx: ToolContext, name: string, args: unknown) => executeTool(ctx, name, typeof args === 'string' ? args : JSON.stringify(args));

function repoCtx(files: Record<string, string> = {}): ToolContext {
  const root = makeRepo({ 'README.md': '# tools\n', ...files });
  return { root, env: { PATH: process.env.PATH } };
}

describe('file tools', () => {
  it('write_file creates folders, read_file numbers lines and pages with offset/limit', async () => {
    const ctx = repoCtx();
    expect(await run(ctx, 'write_file', { path: 'src/deep/a.ts', content: 'one\ntwo\nthree\n' })).toMatchObject({ ok: true, output: 'wrote 14 bytes to src/deep/a.ts', label: 'write_file src/deep/a.ts' });
    const all = await run(ctx, 'read_file', { path: 'src/deep/a.ts' });
    expect(all.output.split('\n').slice(0, 3)).toEqual(['     1\tone', '     2\ttwo', '     3\tthree']);
    const page = await run(ctx, 'read_file', { path: 'src/deep/a.ts', offset: 2, limit: 1 });
    expect(page.output).toBe('     2\ttwo\n(4 lines in all; read on with offset 3)');
  });

  it('read_file explains missing files, folders and binary files', async () => {
    const ctx = repoCtx();
    writeFileSync(path.join(ctx.root, 'blob.bin'), Buffer.from([1, 0, 2]));
    expect(await run(ctx, 'read_file', { path: 'nope.txt' })).toMatchObject({ ok: false, output: expect.stringMatching(/no such file.*list_files/) });
    mkdirSync(path.join(ctx.root, 'dir'));
    expect(await run(ctx, 'read_file', { path: 'dir' })).toMatchObject({ ok: false, output: expect.stringMatching(/folder/) });
    expect(await run(ctx, 'read_file', { path: 'blob.bin' })).toMatchObject({ ok: false, output: expect.stringMatching(/binary/) });
  });

  it('edit_file replaces exactly one match, refuses none or many, and replaces all on request', async () => {
    const ctx = repoCtx({ 'a.txt': 'x = 1\ny = 1\n' });
    expect(await run(ctx, 'edit_file', { path: 'a.txt', old_string: 'z', new_string: 'q' })).toMatchObject({ ok: false, output: expect.stringMatching(/not found/) });
    expect(await run(ctx, 'edit_file', { path: 'a.txt', old_string: '= 1', new_string: '= 2' })).toMatchObject({ ok: false, output: expect.stringMatching(/matches 2 times/) });
    expect(await run(ctx, 'edit_file', { path: 'a.txt', old_string: 'x = 1', new_string: 'x = $&3' })).toMatchObject({ ok: true });
    expect(readFileSync(path.join(ctx.root, 'a.txt'), 'utf8')).toBe('x = $&3\ny = 1\n');
    expect(await run(ctx, 'edit_file', { path: 'a.txt', old_string: ' = ', new_string: '=', replace_all: true })).toMatchObject({ ok: true, output: 'replaced 2 occurrence(s) in a.txt' });
    expect(readFileSync(path.join(ctx.root, 'a.txt'), 'utf8')).toBe('x=$&3\ny=1\n');
    expect(await run(ctx, 'edit_file', { path: 'a.txt', old_string: 'x', new_string: 'x' })).toMatchObject({ ok: false });
  });

  it('list_files respects .gitignore, includes new files and filters by glob', async () => {
    const ctx = repoCtx({ '.gitignore': 'build/\n', 'src/a.ts': '', 'src/b.js': '', 'src/sub/c.ts': '' });
    writeFileSync(path.join(ctx.root, 'new.ts'), '');
    mkdirSync(path.join(ctx.root, 'build'));
    writeFileSync(path.join(ctx.root, 'build/out.ts'), '');
    expect((await run(ctx, 'list_files', {})).output.split('\n')).toEqual(['.gitignore', 'README.md', 'new.ts', 'src/a.ts', 'src/b.js', 'src/sub/c.ts']);
    expect((await run(ctx, 'list_files', { pattern: '**/*.ts' })).output.split('\n')).toEqual(['new.ts', 'src/a.ts', 'src/sub/c.ts']);
    expect((await run(ctx, 'list_files', { path: 'src', pattern: '*.js' })).output).toBe('src/b.js');
    expect((await run(ctx, 'list_files', { pattern: '*.py' })).output).toBe('no files match');
  });

  it('list_files walks folders that are not git work trees', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'a.txt'), '');
    mkdirSync(path.join(root, 'node_modules'));
    writeFileSync(path.join(root, 'node_modules/x.js'), '');
    expect((await run({ root }, 'list_files', {})).output).toBe('a.txt');
  });

  it('search returns file:line: text and explains a bad regex', async () => {
    const ctx = repoCtx({ 'src/a.ts': 'const a = 1;\nexport function hello() {}\n' });
    expect((await run(ctx, 'search', { pattern: 'function \\w+' })).output).toBe('src/a.ts:2: export function hello() {}');
    expect((await run(ctx, 'search', { pattern: 'nothing-like-this' })).output).toBe('no matches');
    expect(await run(ctx, 'search', { pattern: '(' })).toMatchObject({ ok: false, output: expect.stringMatching(/not a valid regular expression/) });
  });

  it('glob patterns', () => {
    expect(globToRegExp('**/*.ts').test('a/b/c.ts')).toBe(true);
    expect(globToRegExp('**/*.ts').test('c.ts')).toBe(true);
    expect(globToRegExp('src/*.{ts,js}').test('src/a.js')).toBe(true);
    expect(globToRegExp('src/*.ts').test('src/a/b.ts')).toBe(false);
  });
});

describe('the working directory is a boundary', () => {
  it.each([
    ['a parent path', { path: '../outside.txt' }, /outside the working directory/],
    ['a deep parent path', { path: 'src/../../x' }, /outside the working directory/],
    ['an absolute path', { path: '/etc/passwd' }, /absolute/],
    ['git internals', { path: '.git/config' }, /\.git/],
    ['nested git internals', { path: 'sub/.git/HEAD' }, /\.git/],
  ])('refuses %s', async (_name, args, message) => {
    const ctx = repoCtx();
    for (const tool of ['read_file', 'write_file']) {
      const result = await run(ctx, tool, tool === 'write_file' ? { ...args, content: 'x' } : args);
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(message);
    }
  });

  it('refuses symlinks that lead outside, for reading and for writing through them', async () => {
    const ctx = repoCtx();
    const outside = tempDir('outside-');
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(ctx.root, 'link.txt'));
    symlinkSync(outside, path.join(ctx.root, 'linkdir'));
    expect(await run(ctx, 'read_file', { path: 'link.txt' })).toMatchObject({ ok: false, output: expect.stringMatching(/symlink/) });
    expect(await run(ctx, 'write_file', { path: 'linkdir/new.txt', content: 'x' })).toMatchObject({ ok: false, output: expect.stringMatching(/symlink/) });
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
    expect(await run(ctx, 'list_files', { path: '../' })).toMatchObject({ ok: false });
    symlinkSync('.git', path.join(ctx.root, 'g'));
    expect(await run(ctx, 'read_file', { path: 'g/config' })).toMatchObject({ ok: false, output: expect.stringMatching(/into \.git/) });
    expect(await run(ctx, 'write_file', { path: 'g/hooks/pre-commit', content: 'x' })).toMatchObject({ ok: false });
  });

  it('search does not follow a tracked symlink out of the tree', async () => {
    const ctx = repoCtx();
    const outside = tempDir('outside-');
    writeFileSync(path.join(outside, 'secret.txt'), 'needle');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(ctx.root, 'link.txt'));
    git(ctx.root, 'add', 'link.txt');
    expect((await run(ctx, 'search', { pattern: 'needle' })).output).toBe('no matches');
  });

  it('turns unknown tools and malformed arguments into errors the model can read', async () => {
    const ctx = repoCtx();
    expect(await run(ctx, 'delete_everything', {})).toMatchObject({ ok: false, output: expect.stringMatching(/unknown tool "delete_everything"; use one of read_file/) });
    expect(await run(ctx, 'read_file', '{"path": ')).toMatchObject({ ok: false, output: expect.stringMatching(/not valid JSON/) });
    expect(await run(ctx, 'read_file', { path: 7 })).toMatchObject({ ok: false, output: expect.stringMatching(/invalid arguments for read_file: path:/) });
    expect(await run(ctx, 'write_file', { path: 'a', content: 'x', mode: 777 })).toMatchObject({ ok: false, output: expect.stringMatching(/mode: unknown field/) });
    expect(await run(ctx, 'finish', { summary: 'ok', status: 'maybe' })).toMatchObject({ ok: false, output: expect.stringMatching(/status/) });
  });
});

describe('run_command', () => {
  it('reports the exit code and output; a failing command is still a completed tool call', async () => {
    const ctx = repoCtx();
    expect(await run(ctx, 'run_command', { command: 'echo hi && ls README.md' })).toEqual({ ok: true, label: 'run_command echo hi && ls README.md', output: 'exit code: 0\nhi\nREADME.md\n' });
    expect(await run(ctx, 'run_command', { command: 'echo oops >&2; exit 3' })).toMatchObject({ ok: true, output: 'exit code: 3\noops\n' });
  });

  it('keeps only the tail of long output', async () => {
    const ctx = { ...repoCtx(), maxOutputChars: 100 };
    const result = await run(ctx, 'run_command', { command: 'seq 1 5000' });
    expect(result.output).toMatch(/^exit code: 0 \(output truncated to its tail\)\n/);
    expect(result.output).toMatch(/4999\n5000\n$/);
    expect(result.output.length).toBeLessThan(200);
  });

  it('kills the whole process group at the timeout, grandchildren included', async () => {
    const ctx = repoCtx();
    const sleep = uniqueSleep();
    const started = Date.now();
    const result = await run(ctx, 'run_command', { command: `bash -c '${sleep} & wait'`, timeoutSec: 1 });
    expect(result.output).toMatch(/^timed out after 1s \(process group killed\)/);
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(processRunning(sleep)).toBe(false);
  });

  it('stops the whole process group when cancelled (activity cancellation)', async () => {
    const root = tempDir();
    const pidFile = path.join(root, 'child.pid');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    const result = await runShell(`sleep 300 & echo $! > ${pidFile}; sleep 300`, { cwd: root, timeoutSec: 60, env: { PATH: process.env.PATH }, signal: abort.signal });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.exitCode).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('does not let background jobs outlive the command', async () => {
    const ctx = repoCtx();
    const sleep = uniqueSleep();
    const result = await run(ctx, 'run_command', { command: `${sleep} & echo started` });
    expect(result.output).toBe('exit code: 0\nstarted\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(processRunning(sleep)).toBe(false);
  });

  it('runs without API keys or other secrets in its environment', async () => {
    const env = scrubEnv({ PATH: process.env.PATH, OPENAI_API_KEY: 'sk-secret', FOO_TOKEN: 't', DB_PASSWORD: 'p', GITHUB_AUTH: 'a', HOME: '/home/x' });
    expect(Object.keys(env).sort()).toEqual(['HOME', 'PATH']);
    const ctx = { ...repoCtx(), env };
    const result = await run(ctx, 'run_command', { command: 'env' });
    expect(result.output).not.toMatch(/sk-secret|FOO_TOKEN|DB_PASSWORD/);
    expect(result.output).toMatch(/PATH=/);
  });

  it('passes only allowlisted variables from the environment it is given (or the worker\'s own)', async () => {
    const ctx = { ...repoCtx(), env: { PATH: process.env.PATH, OPENAI_API_KEY: 'sk-given', GIT_AUTHOR_NAME: 'Ada', LANG: 'C.UTF-8' } };
    const given = await run(ctx, 'run_command', { command: 'env' });
    expect(given.output).not.toContain('sk-given');
    expect(given.output).not.toContain('GIT_AUTHOR_NAME');
    expect(given.output).toContain('LANG=C.UTF-8');
    process.env.MISSION_TEST_SECRET_TOKEN = 'tok-123';
    try {
      const inherited = await run({ root: ctx.root }, 'run_command', { command: 'env' });
      expect(inherited.output).not.toContain('tok-123');
      expect(inherited.output).toMatch(/PATH=/);
    } finally {
      delete process.env.MISSION_TEST_SECRET_TOKEN;
    }
  });

  it('runs in the working directory', async () => {
    const ctx = repoCtx();
    const result = await run(ctx, 'run_command', { command: 'git rev-parse --show-toplevel' });
    expect(result.output.trim().split('\n').pop()).toBe(git(ctx.root, 'rev-parse', '--show-toplevel'));
  });
});

it('tool definitions match the protocol, with JSON schemas the model can follow', () => {
  expect(TOOL_DEFINITIONS.map((t) => t.function.name)).toEqual(['read_file', 'write_file', 'edit_file', 'list_files', 'search', 'run_command', 'read_skill', 'finish']);
  const finish = TOOL_DEFINITIONS.find((t) => t.function.name === 'finish')!;
  expect(finish.function.parameters).toMatchObject({
    type: 'object',
    required: ['summary', 'status'],
    additionalProperties: false,
    properties: { status: { enum: ['done', 'blocked'] } },
  });
});
