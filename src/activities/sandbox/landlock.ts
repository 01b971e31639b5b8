import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Landlock, a second layer inside bubblewrap: the command may write only beneath the paths it is given (the
 * working tree, its private /tmp and /dev), whatever bubblewrap's mounts would allow, and (Landlock ABI 6,
 * Linux 6.12) may not reach abstract unix sockets or signal processes outside its own domain (abstract sockets
 * belong to the network namespace: with network on, the host's are otherwise reachable). Node cannot make
 * the landlock_* system calls, so a 60-line C helper does, then execs the command. It is compiled on first use
 * with the machine's C compiler into the user's cache (no root, no network, no binary shipped or committed);
 * without a compiler, or on a kernel without Landlock, the layer is skipped and status/report say why.
 */

export const LANDLOCK_C = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Own definitions: the machine's kernel headers may predate Landlock. Same numbers on every architecture. */
#define SYS_create_ruleset 444
#define SYS_add_rule 445
#define SYS_restrict_self 446
#define RULE_PATH_BENEATH 1
#define CREATE_RULESET_VERSION 1U
struct ruleset_attr { uint64_t fs; uint64_t net; uint64_t scoped; };
struct path_beneath { uint64_t allowed; int32_t fd; } __attribute__((packed));
#define READ_RIGHTS ((1ULL << 0) | (1ULL << 2) | (1ULL << 3)) /* execute, read file, read dir */

int main(int argc, char **argv) {
  int abi = (int)syscall(SYS_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
  if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
    if (abi < 1) { printf("0 %s\n", strerror(errno)); return 1; }
    printf("%d\n", abi);
    return 0;
  }
  if (abi < 1) { fprintf(stderr, "mission-landlock: Landlock unavailable: %s\n", strerror(errno)); return 126; }
  uint64_t all = (1ULL << 13) - 1;           /* ABI 1: execute .. make_sym */
  if (abi >= 2) all |= 1ULL << 13;           /* refer */
  if (abi >= 3) all |= 1ULL << 14;           /* truncate */
  if (abi >= 5) all |= 1ULL << 15;           /* ioctl_dev */
  struct ruleset_attr attr = { all, 0, abi >= 6 ? 3 : 0 }; /* scoped: abstract unix sockets, signals */
  size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 16 : 8;
  int ruleset = (int)syscall(SYS_create_ruleset, &attr, size, 0);
  if (ruleset < 0) { perror("mission-landlock: create_ruleset"); return 126; }
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    int rw = strcmp(argv[i], "--rw") == 0;
    if ((!rw && strcmp(argv[i], "--ro") != 0) || i + 1 >= argc) { fprintf(stderr, "mission-landlock: usage: [--ro|--rw PATH]... -- COMMAND...\n"); return 126; }
    const char *p = argv[++i];
    struct path_beneath rule = { rw ? all : (READ_RIGHTS & all), open(p, O_PATH | O_CLOEXEC) };
    if (rule.fd < 0) { fprintf(stderr, "mission-landlock: %s: %s\n", p, strerror(errno)); return 126; }
    if (syscall(SYS_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0)) { fprintf(stderr, "mission-landlock: add_rule %s: %s\n", p, strerror(errno)); return 126; }
    close(rule.fd);
  }
  if (i + 1 >= argc) { fprintf(stderr, "mission-landlock: no command\n"); return 126; }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_restrict_self, ruleset, 0)) { perror("mission-landlock: restrict_self"); return 126; }
  close(ruleset);
  execvp(argv[i + 1], argv + i + 1);
  fprintf(stderr, "mission-landlock: %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
`;

export type LandlockHelper = { ok: true; path: string; abi: number } | { ok: false; reason: string };

/** Where the helper lives inside the sandbox (bound read-only there: the user's HOME, and so the cache, is hidden). */
export const LANDLOCK_IN_SANDBOX = '/run/mission-landlock';

let found: LandlockHelper | undefined;

/** The helper, compiled once per source into `cacheDir` and probed; remembered for the worker process. */
export function landlockHelper(cacheDir = defaultCacheDir()): LandlockHelper {
  found ??= buildHelper(cacheDir);
  return found;
}

function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'mission');
}

export function buildHelper(cacheDir: string, compiler = process.env.CC || 'cc'): LandlockHelper {
  if (process.platform !== 'linux') return { ok: false, reason: `Landlock is Linux only (${process.platform})` };
  const hash = createHash('sha256').update(LANDLOCK_C).digest('hex').slice(0, 12);
  const binary = path.join(cacheDir, `landlock-${hash}`, 'mission-landlock');
  if (!existsSync(binary)) {
    const dir = path.dirname(binary);
    const tmp = `${binary}.${process.pid}.tmp`;
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${tmp}.c`, LANDLOCK_C);
      const cc = spawnSync(compiler, ['-O2', '-o', tmp, `${tmp}.c`], { encoding: 'utf8', timeout: 60_000 });
      if (cc.error || cc.status !== 0) {
        const why = cc.error ? (cc.error as NodeJS.ErrnoException).code === 'ENOENT' ? `no C compiler (${compiler}) to build its helper` : cc.error.message : cc.stderr.trim().split('\n')[0];
        return { ok: false, reason: `${why}; install gcc (apt-get install gcc) for this layer` };
      }
      renameSync(tmp, binary); // atomic: a worker starting at the same time sees all of it or nothing
    } catch (err) {
      return { ok: false, reason: `could not build its helper in ${dir}: ${(err as Error).message}` };
    } finally {
      rmSync(`${tmp}.c`, { force: true });
      rmSync(tmp, { force: true });
    }
  }
  const probe = spawnSync(binary, ['--probe'], { encoding: 'utf8', timeout: 10_000 });
  const abi = Number(probe.stdout?.trim().split(' ')[0]);
  if (probe.status !== 0 || !(abi >= 1)) return { ok: false, reason: `the kernel has no Landlock (${probe.stdout?.trim().split(' ').slice(1).join(' ') || probe.error?.message || 'disabled'})` };
  return { ok: true, path: binary, abi };
}

/** The argv prefix that confines what follows: read and execute everywhere, write only beneath `writable`. */
export function landlockArgv(helper: string, writable: string[]): string[] {
  return [helper, '--ro', '/', ...writable.flatMap((p) => ['--rw', p]), '--'];
}
