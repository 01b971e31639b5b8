import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedServer, temporalAnswers } from '../src/embedded';
import { tempDir } from './support/repo';
import { freePort } from './support/test-server';

const env = { TEMPORAL_CLI_PATH: process.env.MISSION_TEST_TEMPORAL_BINARY };

test('a pid file left by a crash, whose pid now belongs to another process, does not block the local server', async () => {
  const db = path.join(tempDir('embedded-'), 'dev.db');
  // The old supervisor died without cleaning up; its pid was reused by a live process (this one).
  writeFileSync(`${db}.pid`, String(process.pid));
  const started = Date.now();
  const server = await startEmbeddedServer({ port: await freePort(), uiPort: await freePort(), db }, env);
  try {
    expect(await temporalAnswers(server.address)).toBe(true);
    expect(Date.now() - started).toBeLessThan(25_000);
  } finally {
    await server.stop();
  }
}, 60_000);

test('a second server on the same database is refused with a message that names the database, and starts once the first stops', async () => {
  const db = path.join(tempDir('embedded-'), 'dev.db');
  const first = await startEmbeddedServer({ port: await freePort(), uiPort: await freePort(), db }, env);
  try {
    await expect(startEmbeddedServer({ port: await freePort(), uiPort: await freePort(), db, lockWaitMs: 1500 }, env)).rejects.toThrow(
      new RegExp(`another Temporal dev server is using ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; stop it .*or pass --db`),
    );
  } finally {
    await first.stop();
  }
  const second = await startEmbeddedServer({ port: await freePort(), uiPort: await freePort(), db }, env);
  expect(await temporalAnswers(second.address)).toBe(true);
  await second.stop();
}, 90_000);
