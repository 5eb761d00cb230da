// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-pkg/', 'node_modules/', 'coverage/', 'ui/dist/', 'ui/node_modules/', 'test-artifacts/', 'test/fixtures/releases/*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [
        { name: 'child_process', importNames: ['exec', 'execSync'], message: 'Spawn with an argv array, never a shell string.' },
        { name: 'node:child_process', importNames: ['exec', 'execSync'], message: 'Spawn with an argv array, never a shell string.' },
      ] }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // CommonJS (bin/package.json): see bin/hangar. packaging/wait-ready.cjs: run by the package's Node; the released bundles' unpacker too.
    files: ['bin/hangar', 'packaging/*.cjs', 'test/fixtures/releases/extract.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly', require: 'readonly', __dirname: 'readonly', setTimeout: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
