import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The control plane serves web/dist at `/` (SPA fallback) and the API under /api/v1; in `vite dev`
// the API is proxied to a local `canary up` on its default port.
export const config = defineConfig({
  base: '/',
  plugins: [react()],
  // The console takes its API types and shared validators from the server's source (web/tsconfig.json `paths`).
  resolve: { alias: { '@canary': fileURLToPath(new URL('../src', import.meta.url)) } },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
});

// Vite loads a config file's default export; this is the one default export of the app.
export default config;
