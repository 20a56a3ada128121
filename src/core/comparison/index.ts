export * from './compare-answers.js';
export * from './json-diff.js';
export * from './json-path.js';
