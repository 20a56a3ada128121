export * from './edge-aggregator.js';
export * from './proxy-telemetry.js';
export * from './proxy-tracer.js';
export * from './span-buffer.js';
