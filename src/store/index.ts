export * from './sqlite-store.js';
export * from './stored-event.js';
export * from './migrations.js';
export * from './database-file.js';
export * from './store-backup.js';
