export * from './histogram-layout.js';
export * from './istio-metrics.js';
export * from './otlp-exporter.js';
export * from './telemetry-batch.js';
export * from './text-limits.js';
export * from './trace-context.js';
