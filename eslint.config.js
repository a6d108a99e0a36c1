import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'test/controlplane/**/*.go'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Test harnesses and command-line entry points talk to a terminal on purpose.
    files: ['test/**/*.ts', 'functions/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
