import { z } from 'zod';

/**
 * Preloaded into every workflow thread (src/workflow-bundle.ts): zod is evaluated once per thread and
 * shared by its workflows, instead of once per workflow.
 *
 * Importing zod from here, as src/api does, makes the bundler resolve the same build of zod that the
 * workflows use (its ESM build when the bundle is made from the TypeScript sources, its CommonJS build
 * from dist/). Temporal freezes a preloaded module's exports, and zod sets parts of its global config on
 * first use (its default locale and memoizer, whether it may compile parsers): the parses below make
 * zod do that here, before the freeze, rather than in a workflow, where the write would throw.
 *
 * So in workflow code (src/workflows and the schemas it parses): no `z.config()`, and none of zod's string
 * formats that reuse a shared regex (`z.email()`, `.lowercase()`, cuid, ulid, ...), which reset the frozen
 * regex's lastIndex. The tests' bundle (built from these sources) freezes more of zod than the worker's,
 * so such a schema fails the workflow tests with "Cannot assign to read only property" first.
 */
const warmUp = z.strictObject({
  text: z.string().trim().min(1).optional(),
  count: z.number().int().min(0).default(0),
  flag: z.boolean().optional(),
  list: z.array(z.enum(['a', 'b'])).optional(),
  nested: z.object({ id: z.string() }).prefault({ id: 'x' }),
});
warmUp.safeParse({ text: 'ok', count: 1, list: ['a'] });
warmUp.safeParse({ text: 1, count: -1, flag: 'no', list: ['c'], extra: true });

/** Exported: the bundler drops an import of zod that nothing uses (zod declares itself free of side effects). */
export const zod = z;
