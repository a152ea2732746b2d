import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { AntDesignVueResolver } from 'unplugin-vue-components/resolvers'

// The console is served by Herald under /console/ and talks to the admin API
// on the same origin. In development, HERALD_ADMIN_URL points the proxy at a
// running `herald dev`.
const adminTarget = process.env.HERALD_ADMIN_URL || 'http://127.0.0.1:18080'

export default defineConfig({
  base: '/console/',
  plugins: [
    vue(),
    // Imports only the Ant Design Vue components the templates use; the
    // library styles itself through CSS-in-JS, so no stylesheet import.
    Components({
      dts: 'src/components.d.ts',
      resolvers: [AntDesignVueResolver({ importStyle: false, resolveIcons: true })],
    }),
  ],
  server: {
    proxy: {
      '/admin': { target: adminTarget, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
})
