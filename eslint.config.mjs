import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain CommonJS entry points and scripts run by Node.
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', console: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // ES module scripts run by Node (bench/real-model.mjs, bench/llama-server.mjs).
    files: ['**/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  {
    // Workflow code is bundled into Temporal's deterministic sandbox: no Node built-ins,
    // no activity implementations (types only), no I/O.
    files: ['src/workflows/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins; do I/O in an activity.' })),
          patterns: [
            {
              group: ['**/activities', '**/activities/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client', 'openai', 'simple-git'],
              allowTypeImports: true,
              message: 'Workflow code may import activity types only (import type); side effects belong in activities.',
            },
          ],
        },
      ],
    },
  },
  {
    // Time in workflow code goes through one helper (src/workflows/state.ts) that says why it is deterministic.
    files: ['src/workflows/**/*.ts'],
    ignores: ['src/workflows/state.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use workflowNow() from ./state (workflow task time, replay-safe).' }],
    },
  },
);
