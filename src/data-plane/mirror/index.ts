export * from './mirror-comparisons.js';
export * from './mirror-copy.js';
