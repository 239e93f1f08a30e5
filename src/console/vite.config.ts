import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Built by console.build.ts (npm start, the e2e test, npm run console:build), which sets outDir.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    chunkSizeWarningLimit: 4000,
    reportCompressedSize: false,
  },
});
