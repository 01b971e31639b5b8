import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { answerQuestions, startMission } from '../src/client';
import { startEmbeddedServer, type EmbeddedServer } from '../src/embedded';
import { startLocalWorker } from '../src/dev';
import { statusQuery } from '../src/api/messages';
import { cliEnv, freePort } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo, tempDir } from './support/repo';
import { makePlan, planReply } from './support/scripts';

const h = useHarness('webui');
const CHROMIUM = process.env.MISSION_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, 'artifacts');

test('the Web UI of the local dev server shows a running mission with its summary and current details (headless Chromium)', async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it with "apt-get install chromium" (.ci/run does) or set MISSION_TEST_CHROMIUM`);
  const [port, uiPort] = [await freePort(), await freePort()];
  const env = cliEnv(h);
  const server: EmbeddedServer = await startEmbeddedServer({ port, uiPort, db: path.join(tempDir('webui-'), 'dev.db') }, env);
  let browser: Browser | undefined;
  const connection = await Connection.connect({ address: server.address });
  const local = await startLocalWorker(server.address, env);
  const running = local.worker.run();
  try {
    const client = new Client({ connection });
    // The planner asks first: the questions are in the current details until they are answered.
    const question = { id: 'q1', question: 'Which port should it listen on?', why: 'the health check calls it', default: '8080' };
    h.model.script('plan', [{ content: JSON.stringify({ questions: [question], plan: null }) }, planReply(makePlan([{ id: 'm1', features: [{ id: 'ui' }] }], 'Browser plan'))]);
    const id = `webui-${Date.now()}`;
    const handle = await startMission(client, { prompt: 'Show me in the browser', repo: makeRepo() }, { missionId: id });
    const reached = async (phase: string) => {
      for (let i = 0; i < 200 && (await handle.query(statusQuery)).phase !== phase; i++) await new Promise((r) => setTimeout(r, 100));
    };
    await reached('awaiting-answers');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId = '${id}'`)}`);
    await page.getByText(id).first().waitFor({ timeout: 60_000 });
    const details = async () => {
      await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
      await page.getByText('mission: Show me in the browser').first().waitFor({ timeout: 60_000 });
      // The summary, static details and current details (kept by the workflow) are under "User Metadata".
      // The UI renders them as Markdown in sandboxed frames.
      await page.getByText('User Metadata', { exact: true }).first().click();
    };
    await details();
    expect(await frameText(page, /Questions from the planner \(round 1 of at most 2\)/)).toBeTruthy();
    expect(await frameText(page, /q1: Which port should it listen on\?/)).toBeTruthy();
    expect(await frameText(page, new RegExp(`mission answer ${id} --round 1 --defaults`))).toBeTruthy();
    await answerQuestions(client, id, { useDefaults: true });
    await reached('awaiting-approval');
    await details();
    expect(await frameText(page, /awaiting-approval: waiting for approvePlan, rejectPlan or revisePlan · milestones 0\/1/)).toBeTruthy();
    expect(await frameText(page, /Repository \/.*, base main/)).toBeTruthy();
    // At the gate the current details carry the plan in Markdown and the commands that decide it.
    expect(await frameText(page, /Plan \(revision 1\): Browser plan/)).toBeTruthy();
    expect(await frameText(page, new RegExp(`mission approve ${id} --revision 1`))).toBeTruthy();
    expect(await frameText(page, new RegExp(`temporal workflow update execute --workflow-id ${id} --name approvePlan`))).toBeTruthy();
    expect(await frameText(page, /^mission: Show me in the browser$/m)).toBeTruthy();
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'webui-mission.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    await handle.cancel();
  } finally {
    await browser?.close();
    local.worker.shutdown();
    await running;
    await local.close();
    await connection.close();
    await server.stop();
  }
}, 180_000);

/** Waits until the page or one of its frames shows text matching `pattern`; returns the match. */
async function frameText(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const text = await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '');
      const match = text.match(pattern);
      if (match) return match[0];
    }
    if (Date.now() > deadline) throw new Error(`the Web UI never showed ${pattern}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
