import type { TestServer } from './test-server';

/** Stops the run's dev server. The workflow bundle stays: it is dist/'s (src/prebuilt-bundle.ts). */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __missionTemporalServer?: TestServer }).__missionTemporalServer?.stop();
}
