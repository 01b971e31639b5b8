import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Where the `temporal` CLI is: TEMPORAL_CLI_PATH, else `temporal` on PATH.
 * Undefined means "let the SDK download it" (needs internet).
 */
export function findTemporalBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} does not exist; build it with .ci/run or unset the variable`);
    }
    return fromEnv;
  }
  try {
    const found = execFileSync('which', ['temporal'], { encoding: 'utf8' }).trim();
    return found || undefined;
  } catch {
    return undefined;
  }
}
