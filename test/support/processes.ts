import { readdirSync, readFileSync } from 'node:fs';

/** A `sleep` no other process on the machine runs: its command line marks the processes a test started. */
export function uniqueSleep(): string {
  return `sleep 300.${process.pid}${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Whether any live (not zombie) process on the machine has `needle` in its command line. Seen from the host,
 * so it also finds processes inside a sandbox's PID namespace, whose own `$!` means nothing out here.
 */
export function processRunning(needle: string): boolean {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}
