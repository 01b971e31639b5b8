import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { dynamicConfigArgs, explainDownloadFailure, LOCAL_SERVER_CONFIG, startEmbeddedServer } from '../../src/embedded';

export interface TestServer {
  address: string;
  stop(): Promise<void>;
}

/**
 * The whole jest run's Temporal dev server. The SDK's own launcher gives a server 5 s to answer, which a
 * fresh, loaded CI machine can miss; with a local binary the server is started the way `mission dev` starts
 * it (ready when it answers, up to 60 s), and a start that fails is tried once more. Says how long it took.
 */
export async function startTestServer(binary: string | undefined, log: (line: string) => void = console.log): Promise<TestServer> {
  const started = Date.now();
  let server: TestServer;
  try {
    server = await startOnce(binary);
  } catch (err) {
    log(`[mission tests] the Temporal dev server's first start failed after ${Date.now() - started} ms (${(err as Error).message.split('\n').join(' ')}); trying once more`);
    server = await startOnce(binary);
  }
  log(`[mission tests] Temporal dev server at ${server.address} (${binary ?? 'SDK download'}), ready in ${Date.now() - started} ms`);
  return server;
}

async function startOnce(binary: string | undefined): Promise<TestServer> {
  if (!binary) {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download' }, log: { format: 'pretty', level: 'error' }, extraArgs: dynamicConfigArgs(LOCAL_SERVER_CONFIG) },
    }).catch((err: unknown) => {
      throw explainDownloadFailure(err);
    });
    return { address: env.address, stop: () => env.teardown() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mission-test-server-'));
  try {
    const server = await startEmbeddedServer({ port: await freePort(), uiPort: await freePort(), db: path.join(dir, 'dev.db') }, { TEMPORAL_CLI_PATH: binary });
    return {
      address: server.address,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
