export * from './istio.js';
export * from './cookie-regex.js';
