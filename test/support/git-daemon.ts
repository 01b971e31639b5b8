import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { git, makeRepo, tempDir } from './repo';
import { freePort } from './test-server';

/** The commit of `ref` on the remote, or '' when it has none. */
export const remoteRef = (url: string, ref: string): string => git(tempDir(), 'ls-remote', url, ref).split('\t')[0] ?? '';

/** A bare repository served by `git daemon` on 127.0.0.1 (push allowed), like a team's git server. */
export async function serveRepo(): Promise<{ url: string; bare: string; stop(): void }> {
  const root = tempDir('mission-remote-');
  const bare = path.join(root, 'team.git');
  execFileSync('git', ['clone', '-q', '--bare', makeRepo({ 'README.md': '# team\n' }), bare]);
  const port = await freePort();
  const daemon = spawn('git', ['daemon', '--export-all', '--enable=receive-pack', `--base-path=${root}`, '--listen=127.0.0.1', `--port=${port}`, '--reuseaddr', root], { stdio: 'ignore' });
  const url = `git://127.0.0.1:${port}/team.git`;
  for (let i = 0; i < 100; i++) {
    try {
      remoteRef(url, 'refs/heads/main');
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, bare, stop: () => daemon.kill() };
}
