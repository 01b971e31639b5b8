import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as { __missionTemporalEnv?: TestWorkflowEnvironment }).__missionTemporalEnv;
  await env?.teardown();
  const bundle = process.env.MISSION_TEST_WORKFLOW_BUNDLE;
  if (bundle) rmSync(path.dirname(bundle), { recursive: true, force: true });
}
