/**
 * How the worker bundles the workflow code (src/workflows); the worker, the tests and the benchmarks
 * all bundle it this way.
 *
 * Temporal evaluates the bundle's modules again for every new workflow, so that module state never
 * leaks from one workflow to another. For Mission that included all of zod and the setup of its schema
 * classes, ~20 ms of a workflow thread per workflow start, paid six times at once when six features
 * start together (bench/README.md, figure 2). zod keeps no per-workflow state, so it is preloaded
 * (src/zod-preload.ts): evaluated once per workflow thread and shared. Mission's own schemas (src/api)
 * are still built per workflow: zod binds a schema's methods to it on first use, and the SDK freezes
 * what it preloads.
 */
export function workflowBundleOptions(): { workflowsPath: string; preloadModules: string[] } {
  return { workflowsPath: require.resolve('./workflows'), preloadModules: [require.resolve('./zod-preload')] };
}
