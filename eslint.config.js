// Lint rules for the whole repository. Formatting is Prettier's job (eslint-config-prettier turns the overlap off).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
  {
    ignores: [
      'node_modules/',
      'build/',
      '.flowyard/',
      '.svelte-kit/',
      'app/lib/api/generated/',
      'static/',
      'test-results/',
      'playwright-report/',
      'data/',
      '.data/',
      'examples/plugins/*/dist/',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  prettier,
  ...svelte.configs.prettier,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Log handling strips and matches terminal control characters on purpose.
      'no-control-regex': 'off',
      // The UI is always served from the site root (adapter-static with a fallback), so links need no base path.
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
  {
    // Tests read untyped JSON bodies from the API under test.
    files: ['tests/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { extraFileExtensions: ['.svelte'], parser: ts.parser, svelteConfig } },
  },
);
