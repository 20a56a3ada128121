export * from './comparison-window.js';
export * from './observed-history.js';
export * from './sqlite-trace-store.js';
export * from './telemetry-hub.js';
export * from './topology-window.js';
export * from './traffic-generator.js';
