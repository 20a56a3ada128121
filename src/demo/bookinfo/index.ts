export * from './bookinfo-services.js';
export * from './trace-headers.js';
