export * from './create-control-plane.js';
export * from './release-controller.js';
export * from './route-table-feed.js';
export * from './admin-token.js';
export * from './api-error.js';
export * from './api-schemas.js';
export * from './zod-validator.js';
