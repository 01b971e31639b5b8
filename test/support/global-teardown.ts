import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as { __missionTemporalEnv?: TestWorkflowEnvironment }).__missionTemporalEnv;
  await env?.teardown();
}
