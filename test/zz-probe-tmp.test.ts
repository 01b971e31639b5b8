import { mkdtempSync, symlinkSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { executeTool } from '/work/main/src/activities/tools';
it('probe', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'probe-'));
  execFileSync('git', ['init', '-q'], { cwd: root });
  const outside = mkdtempSync(path.join(os.tmpdir(), 'out-'));
  symlinkSync(path.join(outside, 'new.txt'), path.join(root, 'dangling'));
  symlinkSync('.git', path.join(root, 'g'));
  process.env.OPENAI_API_KEY = 'sk-probe';
  const log = async (n: string, a: unknown) => console.log(n, JSON.stringify(a), JSON.stringify(await executeTool({ root }, n, JSON.stringify(a))));
  await log('run_command', { command: 'echo $PATH | head -c 20; echo; echo key=$OPENAI_API_KEY' });
  await log('write_file', { path: 'dangling', content: 'escaped' });
  console.log('outside written:', existsSync(path.join(outside, 'new.txt')));
  await log('read_file', { path: 'g/config' });
});
