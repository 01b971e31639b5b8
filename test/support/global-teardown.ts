import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestServer } from './test-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __missionTemporalServer?: TestServer }).__missionTemporalServer?.stop();
  const bundle = process.env.MISSION_TEST_WORKFLOW_BUNDLE;
  if (bundle) rmSync(path.dirname(bundle), { recursive: true, force: true });
}
