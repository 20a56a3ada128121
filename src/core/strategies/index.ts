export * from './release-strategy.js';
export * from './canary.js';
export * from './blue-green.js';
export * from './mirror.js';
export * from './registry.js';
