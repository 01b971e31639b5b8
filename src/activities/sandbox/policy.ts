/**
 * The sandbox as data: what one command may write, read and reach. Backends (bubblewrap on Linux,
 * sandbox-exec on macOS) turn a policy into the arguments or profile of their tool; they decide nothing.
 */

/**
 * Resource limits of one command. `processes`, `memoryBytes` and `diskBytes` are totals over everything the
 * command starts (a cgroup when the worker may create one, else the watchdog; see ./guard.ts); `dataBytes`
 * and `fileBytes` are per process (setrlimit), a first line that holds even between two watchdog looks.
 */
export interface SandboxLimits {
  /** Processes and threads at once. Also RLIMIT_NPROC, which Linux does not apply to root (uid 0 outside the namespace). */
  processes: number;
  /** Memory of all the command's processes together (cgroup memory limit, else the sum of their resident sizes). */
  memoryBytes: number;
  /** New data on disk: what the command adds to the working tree plus its private /tmp and /dev/shm (tmpfs of this size). */
  diskBytes: number;
  /** RLIMIT_DATA in bytes: heap and private writable mappings of each process (RLIMIT_AS would break V8). */
  dataBytes: number;
  /** RLIMIT_FSIZE in bytes: the largest file a process may write. */
  fileBytes: number;
}

export interface SandboxPolicy {
  /** Where the command starts; inside a writable root. */
  cwd: string;
  /** The only places the command may write (the working tree). */
  writable: string[];
  /** Shown read-only even when inside a hidden path (the repository's shared .git). */
  readOnly: string[];
  /** Replaced by an empty folder (HOME, MISSION_HOME, the user's checkout): neither readable nor writable. */
  hidden: string[];
  network: boolean;
  /** The command's whole environment (built by `allowedEnv`): nothing else reaches it. */
  env: Record<string, string>;
  limits: SandboxLimits;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  processes: 1024,
  memoryBytes: 6 * 1024 ** 3,
  diskBytes: 8 * 1024 ** 3,
  dataBytes: 4 * 1024 ** 3,
  fileBytes: 2 * 1024 ** 3,
};

/** HOME and TMPDIR inside the sandbox: empty, private to one command, gone when it ends. */
export const SANDBOX_HOME = '/tmp/home';
export const SANDBOX_TMP = '/tmp';

/** Always passed on when the worker has them: what shells, compilers and test runners need to behave. */
const BASE_NAMES = ['PATH', 'LANG', 'LANGUAGE', 'TERM', 'TZ'];
/** Only for commands with network (the install step): package managers need the proxy to reach a registry. */
const PROXY_NAMES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment of a command, by allowlist: PATH, LANG, LC_*, TERM, TZ, a private HOME and TMPDIR,
 * CI for validation, the proxy variables when it has network, and the names the repository's
 * `.mission/config.json` lists in `env`. Everything else of the worker's environment stays out.
 */
export function allowedEnv(
  source: NodeJS.ProcessEnv,
  opts: { home: string; tmp: string; extra?: readonly string[]; network?: boolean; ci?: boolean },
): Record<string, string> {
  const names = new Set([...BASE_NAMES, ...(opts.network ? PROXY_NAMES : []), ...(opts.extra ?? []).filter((n) => ENV_NAME.test(n))]);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && (names.has(name) || name.startsWith('LC_'))) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.HOME = opts.home;
  env.TMPDIR = opts.tmp;
  if (opts.ci) env.CI = 'true';
  return env;
}

/** Paths that contain `p` or are `p` (for deciding which hidden path a bound one must be re-exposed in). */
export function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * What an agent tried that the sandbox stopped, read from a command's output: writes outside the working tree
 * (EROFS), a full private /tmp (ENOSPC, when `diskBytes` sized it), and network use when network is off. "Permission denied" alone is not counted: ordinary
 * mistakes (running a file that is not executable) print it too.
 */
export function detectRefusal(output: string, network: boolean, diskBytes?: number): string | undefined {
  const lines = output.split('\n');
  const find = (re: RegExp) => lines.find((l) => re.test(l))?.trim().slice(0, 200);
  const write = find(/Read-only file system|EROFS/);
  if (write) return `write outside the working tree: ${write}`;
  // The private /tmp and /dev/shm are tmpfs of the disk limit's size: full, they say ENOSPC.
  const full = diskBytes !== undefined && find(/No space left on device|ENOSPC/);
  if (full) return `disk limit: ${full} (the private /tmp and /dev/shm hold ${Math.round(diskBytes / 1024 ** 2)} MiB at most)`;
  if (!network) {
    const net = find(/Network is unreachable|ENETUNREACH|Could not resolve host|Temporary failure in name resolution|EAI_AGAIN|getaddrinfo ENOTFOUND|Couldn't connect to server|Connection refused|ECONNREFUSED/);
    if (net) return `network access (network is off): ${net}`;
  }
  return undefined;
}
