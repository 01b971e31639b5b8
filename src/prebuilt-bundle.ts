import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workflowBundleOptions } from './workflow-bundle';

/**
 * The workflow bundle, built once (`npm run build`) and loaded by every worker, as Temporal's production
 * sample does: bundling with webpack at each start cost a worker 6–9 s before it polled.
 *
 * The bundle is made from the tree this module runs from (dist/ for the CLI, src/ under jest) and lives in
 * dist/. In the repository it is rebuilt when a file of that tree is newer than it (an edit, or a `tsc` that
 * rewrote dist/); an installed package has no src/ beside dist/ and loads it as shipped.
 */
export const BUNDLE_FILE = 'workflows.bundle.js';

/** The package's root: the folder above src/ or dist/. */
const packageRoot = path.join(__dirname, '..');
/** The tree the bundle is made from. */
const sourceTree = __dirname;

export const defaultBundlePath = () => path.join(packageRoot, 'dist', BUNDLE_FILE);

/** Newest modification time (ms) of the code files under `dir`; the bundle itself does not count. */
export function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(full));
    else if (/\.(ts|js|cjs|mjs|json)$/.test(entry.name) && entry.name !== BUNDLE_FILE) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** A bundle is stale when it is missing or some file of the tree it was made from is newer. */
export function bundleIsStale(bundlePath: string, tree: string): boolean {
  if (!existsSync(bundlePath)) return true;
  return newestSourceMtime(tree) > statSync(bundlePath).mtimeMs;
}

/** Bundles the workflows with webpack (seconds) and writes the bundle atomically: a racing worker reads a whole file. */
export async function writeWorkflowBundle(bundlePath: string = defaultBundlePath()): Promise<string> {
  // Required here, not at the top: only a build or a stale bundle needs the bundler.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    ...workflowBundleOptions(),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  mkdirSync(path.dirname(bundlePath), { recursive: true });
  const temp = `${bundlePath}.${process.pid}.tmp`;
  writeFileSync(temp, code);
  renameSync(temp, bundlePath);
  return bundlePath;
}

/** In the repository (a src/ beside dist/) the bundle follows the code; an installed package uses the one it ships. */
const inRepository = () => existsSync(path.join(packageRoot, 'src', 'workflows'));

/**
 * The bundle a worker loads: the prebuilt one, rebuilt first when stale in the repository, or built when
 * missing. `onRebuild` hears why a start takes seconds (stderr: `--json` keeps stdout for events).
 */
export async function ensureWorkflowBundle(
  opts: { bundlePath?: string; tree?: string; checkStale?: boolean; onRebuild?: (reason: string) => void } = {},
): Promise<{ codePath: string }> {
  const bundlePath = opts.bundlePath ?? defaultBundlePath();
  const tree = opts.tree ?? sourceTree;
  const missing = !existsSync(bundlePath);
  const stale = !missing && (opts.checkStale ?? inRepository()) && bundleIsStale(bundlePath, tree);
  if (missing || stale) {
    opts.onRebuild?.(missing ? `no workflow bundle at ${bundlePath}; building it` : `workflow code changed since ${bundlePath} was built; rebuilding it`);
    await writeWorkflowBundle(bundlePath);
  }
  return { codePath: bundlePath };
}

/** `node dist/prebuilt-bundle.js`: the build step of `npm run build`. */
if (require.main === module) {
  const started = Date.now();
  writeWorkflowBundle().then(
    (file) => console.log(`workflow bundle: ${path.relative(process.cwd(), file)} in ${Date.now() - started} ms`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
