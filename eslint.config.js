// ESLint flat config: typed rules from the Temporal samples, plus the workflow sandbox boundary.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.artifacts/**', 'coverage/**', 'bench/results/**', 'cli/bin.mjs', 'scripts/parity/**'] },
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
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node builtins, no engine, no AWS SDK.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not import Node builtins (Temporal sandbox).' })),
          patterns: [
            { group: ['**/engine/**', '**/activities/**', '@aws-sdk/*', 'onnxruntime-node'], allowTypeImports: true, message: 'Workflows import only types and pure helpers from shared/.' },
          ],
        },
      ],
    },
  },
);
