// ESLint for the web client (#17): `npx eslint .` here; tests/web/test_lint.py fails on any finding.
// ESLint's recommended rules, with the globals each file really has: the page's modules a browser
// page's, the e2ee frame worker a worker's, the unit tests (and this file) Node's.

import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['*.js', 'ui/**/*.js'],
    ignores: ['e2ee-worker.js', 'eslint.config.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['e2ee-worker.js'],
    languageOptions: { globals: globals.worker },
  },
  {
    files: ['test/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
];
