// The web UI's build: ui/dist, served by the daemon at / (index.html) and /ui/ (assets).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: {
    // noVNC 1.7 uses top-level await.
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npm run dev` against a running daemon: HANGAR_URL=https://127.0.0.1:8443 npm run dev
    proxy: { '/v1': { target: process.env.HANGAR_URL ?? 'https://127.0.0.1:8443', secure: false, ws: true } },
  },
});
