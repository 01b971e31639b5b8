import type { SandboxPolicy } from './policy';

/** Apple's tool; a fixed path, never looked up on PATH. */
export const SANDBOX_EXEC = '/usr/bin/sandbox-exec';

const quote = (p: string) => `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The macOS backend: a Seatbelt (SBPL) profile for `sandbox-exec -p PROFILE`. Deny by default; processes,
 * sysctl and Mach lookups allowed (compilers and node need them); the whole disk readable except the hidden
 * paths (a read-only or writable root inside one is readable again); writes only in the writable
 * roots, the command's private HOME/TMPDIR (`scratch`) and /dev's character devices; network only when the
 * policy has it. macOS has no PID namespace: the process group is what Mission stops when the command ends.
 */
export function seatbeltProfile(policy: SandboxPolicy, scratch: string): string {
  const lines = [
    '(version 1)',
    '(deny default)',
    '(allow process-exec process-fork)',
    '(allow signal (target same-sandbox))',
    '(allow sysctl-read)',
    '(allow mach-lookup)',
    '(allow ipc-posix-shm ipc-posix-sem)',
  ];
  // Allows only, no denies: the profile means the same whichever way Seatbelt orders overlapping rules.
  const shown = [...policy.readOnly, ...policy.writable, scratch];
  const outsideHidden = policy.hidden.map((p) => ` (require-not (subpath ${quote(p)}))`).join('');
  lines.push(policy.hidden.length ? `(allow file-read* (require-all${outsideHidden}))` : '(allow file-read*)');
  lines.push(`(allow file-read* ${shown.map((p) => `(subpath ${quote(p)})`).join(' ')})`);
  const writable = [...policy.writable, scratch].map((p) => `(subpath ${quote(p)})`);
  lines.push(`(allow file-write* ${writable.join(' ')} (literal "/dev/null") (literal "/dev/tty") (regex #"^/dev/fd/"))`);
  if (policy.network) lines.push('(allow network-outbound)', '(allow network-inbound)', '(allow system-socket)');
  return `${lines.join('\n')}\n`;
}

/** The argv that runs `inner` under the profile. */
export function seatbeltArgv(policy: SandboxPolicy, scratch: string, inner: string[]): string[] {
  return [SANDBOX_EXEC, '-p', seatbeltProfile(policy, scratch), ...inner];
}
