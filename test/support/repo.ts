import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const created: string[] = [];

/** A temporary folder, removed after the test file (see ./cleanup.ts). */
export function tempDir(prefix = 'mission-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A real git repository in a temporary folder, with one commit of `files` on `branch`. */
export function makeRepo(files: Record<string, string> = { 'README.md': '# demo\n' }, branch = 'main'): string {
  const dir = tempDir('mission-repo-');
  git(dir, 'init', '-q', '-b', branch);
  git(dir, 'config', 'user.name', 'Test User');
  git(dir, 'config', 'user.email', 'test@example.com');
  writeFiles(dir, files);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
}

/** Every file of a commit, as { path: content }. */
export function treeAt(repo: string, ref: string): Record<string, string> {
  const files = git(repo, 'ls-tree', '-r', '--name-only', ref).split('\n').filter(Boolean);
  return Object.fromEntries(files.map((f) => [f, git(repo, 'show', `${ref}:${f}`)]));
}

/** Every file under a directory (no .git), as { path: content }. */
export function treeOnDisk(dir: string, base = dir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name === '.git') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) Object.assign(out, treeOnDisk(full, base));
    else out[path.relative(base, full)] = readFileSync(full, 'utf8').trim();
  }
  return out;
}

export function branches(repo: string): string[] {
  return git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter(Boolean).sort();
}
