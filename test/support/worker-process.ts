import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';

const bin = path.join(__dirname, '..', '..', 'bin', 'mission.js');

/** `mission worker` as a real process (from dist/), serving `taskQueue` against the harness's server and model. */
export function startWorkerProcess(h: Harness, taskQueue: string): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  let output = '';
  const child = spawn(process.execPath, [bin, 'worker'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: h.address,
      MISSION_TASK_QUEUE: taskQueue,
      MISSION_HOME: h.home,
      OPENAI_BASE_URL: h.model.baseURL,
      OPENAI_API_KEY: 'sk-test-secret-key-123456',
      MISSION_MODEL: 'test-model',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (output.includes('mission worker: task queue')) {
        clearInterval(check);
        resolve();
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(check);
      reject(new Error(`worker exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { child, output: () => output, ready };
}
