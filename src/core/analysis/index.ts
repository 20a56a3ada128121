export * from './analysis-spec.js';
export * from './judge.js';
export * from './latency-bins.js';
export * from './mann-whitney.js';
export * from './sequential-test.js';
export * from './analysis-simulation.js';
export * from './analysis-status.js';
